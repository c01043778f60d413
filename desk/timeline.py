"""The complaint timeline: append-only events, hash-chained per complaint.

Each event stores the SHA-256 of its own content together with the previous event's hash,
so altering, removing or reordering any stored event breaks the chain from that point on.
`verify_all` (the `desk verify-audit` command) walks every chain and names the complaints
whose history no longer matches.
"""
import hashlib
import json

from desk import clock
from desk.complaint_models import Complaint, Event
from desk.db import is_sqlite
from desk.times import to_iso

GENESIS = '0' * 64
#: Called as listener(complaint, event) after each event, inside the writer's transaction
#: (rating timers and the metric rollups follow the timeline this way).
LISTENERS = []


def _digest(complaint_id, seq, at, actor_id, actor_role, kind, public, data, prev_hash):
    material = json.dumps([complaint_id, seq, at.isoformat(), actor_id, actor_role, kind,
                           bool(public), data, prev_hash], ensure_ascii=False, sort_keys=True,
                          separators=(',', ':'))
    return hashlib.sha256(material.encode()).hexdigest()


def record(complaint, actor, kind, data=None, public=True, actor_role=None):
    """Append an event to `complaint`'s timeline (call inside the service's transaction).

    On PostgreSQL the complaint row is locked first, so two writers on the same complaint
    queue up and the second reads the event the first appended (locking the last event
    instead would hand the waiter that same, stale, row); SQLite transactions take the write
    lock when they begin. The unique (complaint, seq) index is the backstop everywhere.
    """
    if not is_sqlite():
        Complaint.select(Complaint.id).where(Complaint.id == complaint.id).for_update().execute()
    last = (Event
            .select(Event.seq, Event.hash)
            .where(Event.complaint == complaint.id)
            .order_by(Event.seq.desc())
            .limit(1)
            .first())
    seq, prev = (last.seq + 1, last.hash) if last else (1, GENESIS)
    at = clock.now()
    payload = data or {}
    role = actor_role or (actor.role if actor is not None else 'system')
    actor_id = actor.id if actor is not None else None
    event = Event.create(
        complaint=complaint.id, seq=seq, at=at, actor=actor_id, actor_role=role, kind=kind,
        public=public, data=json.dumps(payload, ensure_ascii=False, sort_keys=True),
        prev_hash=prev,
        hash=_digest(complaint.id, seq, at, actor_id, role, kind, public, payload, prev))
    # The head of the chain lives on the complaint, so removing the newest events is caught too.
    (Complaint
     .update(timeline_length=seq, timeline_head=event.hash)
     .where(Complaint.id == complaint.id)
     .execute())
    for listener in LISTENERS:
        listener(complaint, event)
    return event


def events_for(complaint, include_internal):
    query = Event.select().where(Event.complaint == complaint.id)
    if not include_internal:
        query = query.where(Event.public == True)  # noqa: E712
    return query.order_by(Event.seq)


def event_to_dict(event):
    return {'seq': event.seq, 'at': to_iso(event.at), 'kind': event.kind,
            'actor_role': event.actor_role, 'public': event.public,
            'data': json.loads(event.data or '{}')}


def verify_chain(complaint_id, length=None, head=None):
    """None when the chain of `complaint_id` is intact, else a description of the first break.

    `length` and `head` are the complaint's record of its newest event (read when omitted).
    """
    if length is None:
        row = Complaint.get_by_id(complaint_id)
        length, head = row.timeline_length, row.timeline_head
    prev, expected_seq = GENESIS, 1
    for event in Event.select().where(Event.complaint == complaint_id).order_by(Event.seq):
        if event.seq != expected_seq:
            return f'event {expected_seq} is missing'
        if event.prev_hash != prev:
            return f'event {event.seq} does not follow event {event.seq - 1}'
        try:
            data = json.loads(event.data or '{}')
        except ValueError:
            return f'event {event.seq} has unreadable data'
        at = event.at
        if isinstance(at, str):
            import datetime as dt
            at = dt.datetime.fromisoformat(at)
        actual = _digest(complaint_id, event.seq, at, event.actor_id, event.actor_role,
                         event.kind, event.public, data, event.prev_hash)
        if actual != event.hash:
            return f'event {event.seq} was altered'
        prev, expected_seq = event.hash, expected_seq + 1
    if expected_seq == 1:  # filing records its event in the same transaction: never empty
        return 'event 1 is missing'
    if expected_seq - 1 < length:
        return f'event {expected_seq} is missing'
    if prev != head:
        return f'event {expected_seq - 1} does not match the head recorded on the complaint'
    return None


def verify_all(batch=1000):
    """Yield (ticket_no, problem) for every complaint whose chain is broken."""
    last_id = 0
    while True:
        rows = list(Complaint
                    .select(Complaint.id, Complaint.ticket_no, Complaint.timeline_length,
                            Complaint.timeline_head)
                    .where(Complaint.id > last_id)
                    .order_by(Complaint.id)
                    .limit(batch))
        if not rows:
            return
        for row in rows:
            problem = verify_chain(row.id, row.timeline_length, row.timeline_head)
            if problem:
                yield row.ticket_no, problem
        last_id = rows[-1].id
