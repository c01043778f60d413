"""The platform floor of Arbiter Desk: accounts, orders, complaints and their lifecycle, queues and
SLA, timeline, outbox, notifications, webhooks, buyer credit, ratings and agent metrics.

Its packages, each named after what it holds: `core` (clock, database, errors, money, times,
labels, background work, the deadline machinery), `parties`, `orders`, `cases` (the complaint
aggregate and the lifecycle kernel), `messaging`, `agent_desk`, `credit`, `satisfaction`; the job
entry points are in `jobs`, the schema history in `migrations/`.

It imports `config` and nothing else of ours: never `arbitration` nor `web` (an import-linter
contract checks it). What the floors above add to it — actions, guards, timers, listeners —
they register through the hooks it offers, in their own `init_app`.
"""
from desk.agent_desk import assignment, sla
from desk.agent_desk import models as agent_desk_models
from desk.cases import complaints, remedies
from desk.cases import models as cases_models
from desk.credit import ledger, screening
from desk.credit import models as credit_models
from desk.messaging import models as messaging_models
from desk.messaging import notifications, webhooks
from desk.orders import models as orders_models
from desk.parties import models as parties_models
from desk.satisfaction import metrics, ratings
from desk.satisfaction import models as satisfaction_models

#: Every table of this floor, in dependency order.
MODELS = (parties_models.MODELS + orders_models.MODELS + cases_models.MODELS + messaging_models.MODELS
          + agent_desk_models.MODELS + satisfaction_models.MODELS + credit_models.MODELS)


def init_app(app):
    """Register what each part of the floor contributes: outbox handlers, deadlines, the
    lifecycle actions and guards, notification texts, listeners."""
    notifications.init_app(app)
    webhooks.init_app(app)
    sla.init_app(app)
    complaints.init_app(app)
    assignment.init_app(app)
    remedies.init_app(app)
    ledger.init_app(app)
    screening.init_app(app)
    ratings.init_app(app)
    metrics.init_app(app)
