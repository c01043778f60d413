"""The platform's job functions, for RQ workers and the inline runner alike.

Each takes ids (never model objects) and is idempotent: running it twice has the effect of
running it once. The work itself lives in the service modules; these are thin entry points.
"""
from desk.agent_desk import assignment
from desk.core import deadlines
from desk.core.tasks import job
from desk.credit import ledger as credit
from desk.messaging import outbox
from desk.orders import imports
from desk.parties import accounts


@job
def import_orders(run_id):
    """Import the CSV of `ImportRun` `run_id` (a finished run is left alone)."""
    imports.run_import(run_id)


@job
def purge_login_failures():
    """Forget login failures older than a day."""
    return accounts.purge_login_failures()


@job
def deliver_outbox(outbox_id):
    """Deliver one outbox row (a no-op when it was already delivered)."""
    outbox.deliver(outbox_id)


@job
def relay_outbox():
    """The periodic safety net: deliver rows whose immediate delivery was lost."""
    return outbox.relay()


@job
def apply_deadline(name, row_id):
    """The exact-time job `deadlines.schedule` enqueues for one deadline of one row."""
    return deadlines.apply_one(name, row_id)


@job
def sweep_deadlines():
    """The minute sweep: every due deadline, whether or not its exact-time job ran."""
    return deadlines.advance_due()


@job
def assign_case(complaint_id):
    """Hand a case that just entered a queue to an agent, if its department auto-assigns."""
    return assignment.auto_assign(complaint_id) is not None


@job
def assign_waiting():
    """Periodic: waiting cases to agents who became free."""
    return assignment.assign_waiting()


@job
def apply_deadline_batch(name, row_ids):
    """The exact-time job for rows whose deadline `name` falls due at the same second."""
    return deadlines.apply_many(name, row_ids)


@job
def deliver_outbox_batch(outbox_ids):
    """Deliver outbox rows written together (a batch of deadlines); each in its own
    transaction, a failure recorded on its row and left to the relay."""
    return outbox.deliver_many(outbox_ids)


@job
def recover_buyer_credit():
    """Daily: +5 credit for each buyer whose last calendar month was clean (once per month)."""
    return credit.recover()


@job
def assign_cases(complaint_ids):
    """`assign_case` for cases that entered their queues together (a batch of deadlines)."""
    return sum(assignment.auto_assign(complaint_id) is not None for complaint_id in complaint_ids)
