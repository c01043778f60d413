"""The transactional outbox: what a change announces is written in the same transaction as
the change, and delivered after commit.

A row moves pending -> sent exactly once: delivery claims it with a compare-and-set on its
state inside the transaction that also writes its database effects (inbox messages), so two
relays running at once deliver it once. Side effects outside the database (e-mail, SMS)
follow the commit. Rows whose immediate delivery was lost (Redis down, a worker died) are
picked up by the periodic relay; nothing is lost while Redis is away.
"""
import datetime as dt
import json
import logging

from desk import clock
from desk.complaint_models import Outbox
from desk.db import after_commit, atomic
from desk.tasks import enqueue

log = logging.getLogger(__name__)

#: topic -> handler(row, payload) run inside the delivery transaction; returns a list of
#: callables to run after it commits (external sends). Filled by `register_handler`.
HANDLERS = {}
#: How long a fresh row is left to its immediate delivery before the relay takes it.
RELAY_GRACE_SECONDS = 30
RELAY_BATCH = 500
#: Back-off before the relay retries a row whose delivery failed.
RETRY_SECONDS = 300


def register_handler(topic, handler):
    HANDLERS[topic] = handler


def emit(topic, payload, complaint=None):
    """Write an outbox row (inside the caller's transaction) and deliver it after commit."""
    row = Outbox.create(topic=topic, payload=json.dumps(payload, ensure_ascii=False),
                        complaint=complaint.id if complaint is not None else None)
    from desk.jobs import deliver_outbox
    enqueue(deliver_outbox, row.id)
    return row


def deliver(outbox_id):
    """Deliver one row if it is still pending; True when this call delivered it.

    A failing handler rolls its effects back; the row stays pending with the attempt and
    the error recorded, and the relay retries it after a back-off.
    """
    try:
        with atomic():
            claimed = (Outbox
                       .update(state='sent', sent_at=clock.now(), attempts=Outbox.attempts + 1)
                       .where((Outbox.id == outbox_id) & (Outbox.state == 'pending'))
                       .execute())
            if not claimed:
                return False
            row = Outbox.get_by_id(outbox_id)
            handler = HANDLERS.get(row.topic)
            if handler is None:
                raise LookupError(f'no outbox handler for topic {row.topic!r}')
            followups = handler(row, json.loads(row.payload or '{}')) or []
            for followup in followups:
                after_commit(_guarded(followup, outbox_id))
    except Exception as err:
        _record_failure(outbox_id, err)
        raise
    return True


def _record_failure(outbox_id, err):
    (Outbox
     .update(attempts=Outbox.attempts + 1, last_error=str(err)[:2000],
             available_at=clock.now() + dt.timedelta(seconds=RETRY_SECONDS))
     .where((Outbox.id == outbox_id) & (Outbox.state == 'pending'))
     .execute())


def _guarded(followup, outbox_id):
    def run():
        try:
            followup()
        except Exception:
            log.exception('outbox %s: a send after delivery failed', outbox_id)
    return run


def relay(now=None, batch=RELAY_BATCH):
    """Deliver every pending row older than the grace period (the periodic safety net).

    Returns how many rows this call delivered.
    """
    now = now or clock.now()
    cutoff = now - dt.timedelta(seconds=RELAY_GRACE_SECONDS)
    delivered = 0
    ids = [r.id for r in (Outbox
                          .select(Outbox.id)
                          .where((Outbox.state == 'pending') & (Outbox.available_at <= now)
                                 & (Outbox.created_at <= cutoff))
                          .order_by(Outbox.id)
                          .limit(batch))]
    for outbox_id in ids:
        try:
            delivered += deliver(outbox_id)
        except Exception:  # recorded on the row by deliver(); the next relay retries it
            log.exception('outbox %s: delivery failed', outbox_id)
    return delivered
