"""The platform's job functions, for RQ workers and the inline runner alike.

Each takes ids (never model objects) and is idempotent: running it twice has the effect of
running it once. The work itself lives in the service modules; these are thin entry points.
"""
from desk import accounts, imports, outbox
from desk.tasks import job


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
