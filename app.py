"""Arbiter Desk (仲裁台): the application factory. `python app.py` serves it.

This is the composition root: it reads the settings, binds the database, and registers
every blueprint, console, job and command of `desk` and `arbitration`.
"""
import os

from flask import Flask

from config import load_config
from desk.parties import accounts
from desk import jobs
from desk.messaging import notifications, webhooks
from desk.core import tasks  # noqa: F401  (register handlers)
from web.api import remedies as arbitration_api, evidence as evidence_api
from arbitration import negotiation  # noqa: F401  (actions, timers, routes)
from web.consoles import penalties as penalty_views
from web.api import violations as violation_api  # noqa: F401  (penalty appeals, manual violations, deposit ledger: routes, views)
from arbitration import intervention, rulings
from web.consoles import workspace  # noqa: F401  (evidence period, rulings, appeals)
from desk.satisfaction import metrics, ratings
from web.api import ratings as rating_api
from web.consoles import ratings as rating_views  # noqa: F401  (rate, review, reopen, timers, rollups; routes, views)
from desk.credit import ledger as credit, screening
from web.consoles import screening as screening_views  # noqa: F401  (buyer credit: flag_malicious; the pre-screen actions and queue)
from arbitration.penalties import standing
from web.api import standing as standing_api  # noqa: F401  (standing timer, GET /api/v1/merchants/<ref>/standing)
from web.consoles import health as health_views
from arbitration.penalties import spike  # noqa: F401  (complaint spike on filing; merchant health views)
from arbitration.jobs import purge_orphan_files, refresh_merchant_health
from desk.core.db import BaseModel, database, default_sqlite_url, init_database

from desk.parties import models as parties_models
from desk.orders import models as orders_models
from desk.cases import models as cases_models
from desk.messaging import models as messaging_models
from desk.agent_desk import models as agent_desk_models
from desk.satisfaction import models as satisfaction_models
from desk.credit import models as credit_models
from arbitration.penalties import models as penalties_models
from arbitration.health import models as health_models

ALL_MODELS = [m for module in (parties_models, orders_models, cases_models, messaging_models,
                               agent_desk_models, satisfaction_models, credit_models,
                               penalties_models, health_models)
              for m in vars(module).values()
              if isinstance(m, type) and issubclass(m, BaseModel) and m is not BaseModel
              and m.__module__ == module.__name__]

#: Periodic work ticked by the development thread, or by `rq cron web/cron.py`:
#: (job function, interval in seconds).
PERIODIC_JOBS = [
    (jobs.purge_login_failures, 3600),
    (jobs.relay_outbox, 60),
    (jobs.sweep_deadlines, 60),
    (jobs.assign_waiting, 60),
    (jobs.recover_buyer_credit, 86400),
    (standing.schedule_upcoming_job, 3600),
    (refresh_merchant_health, 86400),
    (purge_orphan_files, 86400),
]


def create_app(overrides=None):
    settings = load_config(overrides)
    app = Flask(__name__, instance_path=os.path.join(os.path.dirname(os.path.abspath(__file__)), 'instance'))
    app.config.update(settings)
    app.config.update(
        TESTING=settings['ENV'] == 'testing',
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE='Lax',
        SESSION_COOKIE_SECURE=settings['ENV'] == 'production',
        REMEMBER_COOKIE_HTTPONLY=True,
        MAX_CONTENT_LENGTH=max(settings['MAX_UPLOAD_BYTES'], settings['EVIDENCE_MAX_BYTES']) + 1024 * 1024,
        WTF_CSRF_TIME_LIMIT=None,
        FLASK_ADMIN_SWATCH='default',
    )
    os.makedirs(app.instance_path, exist_ok=True)
    app.config['DATA_DIR'] = settings['DATA_DIR'] or os.path.join(app.instance_path, 'evidence')
    if settings['ENV'] == 'testing':
        accounts.use_fast_hashing()

    init_database(settings['DATABASE_URL'] or default_sqlite_url(app.instance_path))

    @app.before_request
    def _open_db():
        database.connect(reuse_if_open=True)

    @app.teardown_appcontext
    def _close_db(exc):
        if not database.is_closed() and not database.in_transaction():
            database.close()

    tasks.init_tasks(app, PERIODIC_JOBS)

    from web.i18n import init_i18n
    init_i18n(app)

    from web import auth as web
    web.init_web(app)

    from web.api import init_api
    init_api(app)

    from web.consoles import init_consoles
    init_consoles(app)

    from web import evidence as evidence_views
    evidence_views.init_app(app)
    from web import arbitration_panel as party_views
    party_views.init_app(app)
    penalty_views.init_app(app)
    from web.buyer import rating as rating_portal
    rating_portal.init_app(app)

    from web.cli import desk_cli
    app.cli.add_command(desk_cli)
    return app


if __name__ == '__main__':
    application = create_app()
    port = int(os.environ.get('PORT', '5000'))
    application.run(host='127.0.0.1', port=port, debug=False)
