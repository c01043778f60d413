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

from desk.core import clock
from desk.core.db import after_commit, atomic, insert_rows
from desk.core.tasks import enqueue, enqueue_many
from desk.messaging.models import Outbox

log = logging.getLogger(__name__)

#: topic -> handler(row, payload) run inside the delivery transaction; returns a list of
#: callables to run after it commits (external sends). Filled by `register_handler`.
HANDLERS = {}
#: How long a fresh row is left to its immediate delivery before the relay takes it.
RELAY_GRACE_SECONDS = 30
RELAY_BATCH = 500
#: Rows written together are delivered by one job per this many.
DELIVERY_CHUNK = 500
#: Back-off before the relay retries a row whose delivery failed.
RETRY_SECONDS = 300


def register_handler(topic, handler):
    HANDLERS[topic] = handler


def emit(topic, payload, complaint=None):
    """Write an outbox row (inside the caller's transaction) and deliver it after commit."""
    return emit_many([(topic, payload, complaint)])[0]


def emit_many(rows):
    """Write outbox rows [(topic, payload, complaint or complaint id or None)] with one
    multi-row INSERT (inside the caller's transaction); returns them in order. After commit
    one row gets its `deliver_outbox` job as always; many rows one `deliver_outbox_batch`
    job per `DELIVERY_CHUNK`, all enqueued through one Redis pipeline."""
    if not rows:
        return []
    now = clock.now()
    objects = [Outbox(topic=topic, payload=json.dumps(payload, ensure_ascii=False),
                      complaint=_complaint_id(complaint), state='pending', attempts=0,
                      available_at=now, created_at=now)
               for topic, payload, complaint in rows]
    fields = [Outbox.topic, Outbox.payload, Outbox.complaint, Outbox.state, Outbox.attempts,
              Outbox.available_at, Outbox.created_at]
    inserted = insert_rows(Outbox, fields, [[o.topic, o.payload, o.complaint_id, o.state, o.attempts,
                                             o.available_at, o.created_at] for o in objects], returning=True)
    for obj, outbox_id in zip(objects, inserted):
        obj.id = outbox_id
    ids = [o.id for o in objects]
    if len(ids) == 1:
        enqueue('desk.jobs.deliver_outbox', ids[0])
    else:
        enqueue_many('desk.jobs.deliver_outbox_batch', [(ids[i:i + DELIVERY_CHUNK],)
                                            for i in range(0, len(ids), DELIVERY_CHUNK)])
    return objects


def _complaint_id(complaint):
    if complaint is None or isinstance(complaint, int):
        return complaint
    return complaint.id


def deliver_many(outbox_ids):
    """Deliver each of `outbox_ids` (each in its own transaction); how many this call
    delivered. A failing row is recorded by `deliver` and left to the relay."""
    delivered = 0
    for outbox_id in outbox_ids:
        try:
            delivered += deliver(outbox_id)
        except Exception:
            log.exception('outbox %s: delivery failed', outbox_id)
    return delivered


def deliver(outbox_id):
    """Deliver one row if it is still pending; True when this call delivered it.

    A failing handler rolls its effects back; the row stays pending with the attempt and
    the error recorded, and the relay retries it after a back-off.
    """
    try:
        with atomic():
            # claimed and read in one statement (RETURNING): nothing comes back when another
            # delivery claimed it first
            row = next(iter(Outbox
                            .update(state='sent', sent_at=clock.now(), attempts=Outbox.attempts + 1)
                            .where((Outbox.id == outbox_id) & (Outbox.state == 'pending'))
                            .returning(Outbox)
                            .objects()
                            .execute()), None)
            if row is None:
                return False
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
