"""The complaint timeline: append-only events, hash-chained per complaint.

Each event stores the SHA-256 of its own content together with the previous event's hash,
so altering, removing or reordering any stored event breaks the chain from that point on.
`verify_all` (the `desk verify-audit` command) walks every chain and names the complaints
whose history no longer matches.
"""
import datetime as dt
import hashlib
import json

from peewee import Tuple, fn

from desk.cases.models import Complaint, Event
from desk.core import clock
from desk.core.db import among, insert_rows, is_sqlite, update_each

GENESIS = '0' * 64
#: Called as listener(complaint, event) for each event once its complaint's row is written,
#: inside the writer's transaction (the rating timers and the metric rollups follow the
#: timeline this way).
LISTENERS = []


def add_listener(listener):
    """Call `listener(complaint, event)` for every event recorded from now on."""
    if listener not in LISTENERS:
        LISTENERS.append(listener)


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
    return record_many([(complaint, actor, kind, data, public, actor_role)])[0]


def record_many(entries, columns=None):
    """Append events to many timelines at once (inside the caller's transaction).

    `entries` are (complaint or complaint id, actor, kind, data, public, actor_role) tuples;
    several for one complaint are chained in the order given. The complaints are locked (in
    id order), the newest event of each read in one query, the chains computed here with
    `_digest`, the events written with one multi-row INSERT and the heads with one UPDATE —
    the same rows `record` writes one at a time. Returns the events in order.

    With `columns` (a {complaint id: {column: value}} dict the caller writes itself, in
    its own compare-and-set UPDATE) the new heads are put there instead of written here.
    """
    if not entries:
        return []
    ids = sorted({_id(entry[0]) for entry in entries})
    if not is_sqlite():
        (Complaint
         .select(Complaint.id)
         .where(among(Complaint.id, ids))
         .order_by(Complaint.id)
         .for_update()
         .execute())
    newest = (Event
              .select(Event.complaint, fn.MAX(Event.seq))
              .where(among(Event.complaint, ids))
              .group_by(Event.complaint))
    heads = {complaint_id: (seq, digest) for complaint_id, seq, digest in (
        Event
        .select(Event.complaint, Event.seq, Event.hash)
        .where(Tuple(Event.complaint, Event.seq).in_(newest))
        .tuples())}
    at = clock.now()
    events = []
    for complaint, actor, kind, data, public, actor_role in entries:
        complaint_id = _id(complaint)
        last_seq, prev = heads.get(complaint_id, (0, GENESIS))
        seq = last_seq + 1
        payload = data or {}
        role = actor_role or (actor.role if actor is not None else 'system')
        actor_id = actor.id if actor is not None else None
        event = Event(
            complaint=complaint_id, seq=seq, at=at, actor=actor_id, actor_role=role, kind=kind,
            public=public, data=json.dumps(payload, ensure_ascii=False, sort_keys=True),
            prev_hash=prev,
            hash=_digest(complaint_id, seq, at, actor_id, role, kind, public, payload, prev))
        heads[complaint_id] = (seq, event.hash)
        events.append(event)
    fields = [Event.complaint, Event.seq, Event.at, Event.actor, Event.actor_role, Event.kind,
              Event.public, Event.data, Event.prev_hash, Event.hash]
    inserted = insert_rows(Event, fields, [[e.complaint_id, e.seq, e.at, e.actor_id, e.actor_role, e.kind,
                                            e.public, e.data, e.prev_hash, e.hash] for e in events],
                           returning=True)
    for event, event_id in zip(events, inserted):
        event.id = event_id
    # The head of the chain lives on the complaint, so removing the newest events is caught too.
    touched = {e.complaint_id: {'timeline_length': heads[e.complaint_id][0],
                                'timeline_head': heads[e.complaint_id][1]} for e in events}
    if columns is None:
        update_each(Complaint, touched)
        run_listeners([entry[0] for entry in entries], events)
    else:
        for complaint_id, head in touched.items():
            columns.setdefault(complaint_id, {}).update(head)
    return events


def run_listeners(complaints, events):
    """Tell the LISTENERS about `events`. `record_many` does it itself; a caller that passed
    `columns` calls this once its own compare-and-set UPDATE has written the complaints (so
    the listeners see the new state)."""
    if not LISTENERS or not events:
        return
    by_id = {c.id: c for c in complaints if not isinstance(c, int)}
    for event in events:
        complaint = by_id.get(event.complaint_id)
        if complaint is None:
            complaint = by_id[event.complaint_id] = Complaint.get_by_id(event.complaint_id)
        for listener in LISTENERS:
            listener(complaint, event)


def _id(complaint):
    return complaint if isinstance(complaint, int) else complaint.id


def events_for(complaint, include_internal):
    query = Event.select().where(Event.complaint == complaint.id)
    if not include_internal:
        query = query.where(Event.public == True)  # noqa: E712
    return query.order_by(Event.seq)


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
