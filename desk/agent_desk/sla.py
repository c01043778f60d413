"""The SLA engine: clocks per target (first response, resolution) of each platform case.

A clock starts when the platform takes the case, pauses while the platform waits on a
party (evidence asked of the buyer, a proposal awaiting the buyer) and resumes when they
act, counting only business time when a calendar is set. Every change is recorded as an
`SlaEvent` with the owner at that moment. The complaint row carries what the queue and the
timers need: `next_due_at` (queue order), `queue_rank` (0 = overdue, jumps the queue; 1 = filed externally too) and
`sla_check_at` (the next warning or breach, swept by `desk.core.deadlines`).
"""
import datetime as dt
from typing import NamedTuple

from desk.agent_desk.business_calendar import Calendar
from desk.agent_desk.models import TARGETS, SlaClock, SlaEvent, SlaPolicy
from desk.cases.models import FAR_FUTURE, Complaint
from desk.core import clock, deadlines
from desk.core.db import among, insert_rows, update_each
from desk.messaging.notifications import notify_many
from desk.parties.accounts import supervisor_ids

WARN_BEFORE = dt.timedelta(minutes=15)
#: Used when the policy table has no row for a tier (SPEC §3 defaults).
DEFAULT_POLICIES = {'L1': (30 * 60, 4 * 3600), 'L2': (2 * 3600, 24 * 3600), 'L3': (None, None)}
OPEN_CLOCK_STATES = ('running', 'paused')


def policy(tier):
    """(first response seconds, resolution seconds) for `tier`; None = no target."""
    row = SlaPolicy.get_or_none(SlaPolicy.tier == tier)
    if row is None:
        return DEFAULT_POLICIES.get(tier, (None, None))
    return row.first_response_seconds, row.resolution_seconds


def targets(tier, start, calendar=None):
    """(first_response_due, resolution_due) for a case the platform takes at `start`."""
    calendar = calendar or Calendar.load()
    first, resolution = policy(tier)
    return (calendar.add(start, first) if first else None,
            calendar.add(start, resolution) if resolution else None)


#: Called as listener(sla_events) with the SLA events just written, all of a batch at once
#: (the metric rollups).
LISTENERS = []


def add_listener(listener):
    """Call `listener(sla_events)` with the SLA events of every later write."""
    if listener not in LISTENERS:
        LISTENERS.append(listener)


def _event(complaint, target, kind, at, due_at=None):
    event = SlaEvent.create(**_event_row(complaint, target, kind, at, due_at))
    for listener in LISTENERS:
        listener([event])


class _Clock(NamedTuple):
    """A clock `start_many` just wrote, as `_columns` reads it."""
    target: str
    state: str
    due_at: dt.datetime
    warned: bool
    finished_at: dt.datetime


def _event_row(complaint, target, kind, at, due_at=None):
    return {'complaint': complaint.id, 'target': target, 'kind': kind, 'at': at,
            'owner': complaint.owner_id, 'department': complaint.department, 'due_at': due_at}


_EVENT_FIELDS = (SlaEvent.complaint, SlaEvent.target, SlaEvent.kind, SlaEvent.at, SlaEvent.owner,
                 SlaEvent.department, SlaEvent.due_at)


def _insert_events(rows):
    insert_rows(SlaEvent, _EVENT_FIELDS, [[row[f.name] for f in _EVENT_FIELDS] for row in rows])
    if LISTENERS and rows:
        events = [SlaEvent(**row) for row in rows]
        for listener in LISTENERS:
            listener(events)


def _clocks(complaint, states=OPEN_CLOCK_STATES):
    return list(SlaClock.select().where((SlaClock.complaint == complaint.id) & SlaClock.state.in_(states)))


def start(complaint, now=None):
    """Start (or restart, e.g. after a reopen) both targets of `complaint` at `now`."""
    start_many([complaint], now)


def start_many(complaints, now=None, columns=None):
    """`start` for many cases the platform takes at the same moment: policies and the
    calendar are read once, the existing clocks in one query, new clocks and their
    `started` events written with one INSERT each, the queue columns by `refresh_many`
    (into `columns` when given: see `refresh_many`)."""
    now = now or clock.now()
    complaints = list({c.id: c for c in complaints}.values())
    if not complaints:
        return
    calendar = Calendar.load()
    policies, dues = {}, {}
    existing = {(c.complaint_id, c.target): c for c in SlaClock.select().where(
        among(SlaClock.complaint, [c.id for c in complaints]))}
    stale, clocks, events = [], [], []
    for complaint in complaints:
        if complaint.tier not in policies:
            policies[complaint.tier] = policy(complaint.tier)
        for target, seconds in zip(TARGETS, policies[complaint.tier]):
            if not seconds:
                continue
            if seconds not in dues:
                dues[seconds] = calendar.add(now, seconds)
            due = dues[seconds]
            found = existing.get((complaint.id, target))
            if found is not None and found.state in OPEN_CLOCK_STATES:
                continue
            if found is not None:
                stale.append(found.id)
            clocks.append((complaint.id, target, 'running', now, due, 0, False))
            events.append(_event_row(complaint, target, 'started', now, due))
    if stale:
        SlaClock.delete().where(SlaClock.id.in_(stale)).execute()
    if clocks:
        insert_rows(SlaClock, [SlaClock.complaint, SlaClock.target, SlaClock.state, SlaClock.started_at,
                               SlaClock.due_at, SlaClock.paused_seconds, SlaClock.warned], clocks)
        _insert_events(events)
    gone = set(stale)
    known = {c.id: [] for c in complaints}
    for (complaint_id, _target), found in existing.items():
        if found.id not in gone:
            known[complaint_id].append(found)
    for complaint_id, target, state, _started, due, _paused, warned in clocks:
        known[complaint_id].append(_Clock(target, state, due, warned, None))
    refresh_many(complaints, now, columns, clocks=known)


def pause(complaint, now=None):
    """The platform waits on a party: running clocks stop counting."""
    now = now or clock.now()
    for c in _clocks(complaint, ('running',)):
        SlaClock.update(state='paused', paused_at=now).where(SlaClock.id == c.id).execute()
        _event(complaint, c.target, 'paused', now, c.due_at)
    refresh(complaint, now)


def resume(complaint, now=None):
    """The party acted: paused clocks run again, due times pushed by the business time lost."""
    now = now or clock.now()
    calendar = Calendar.load()
    for c in _clocks(complaint, ('paused',)):
        remaining = calendar.between(c.paused_at, c.due_at)
        due = calendar.add(now, remaining)
        SlaClock.update(state='running', paused_at=None, due_at=due,
                        paused_seconds=c.paused_seconds + calendar.between(c.paused_at, now)
                        ).where(SlaClock.id == c.id).execute()
        _event(complaint, c.target, 'resumed', now, due)
    refresh(complaint, now)


def achieve(complaint, target, now=None):
    """The target was met (or met late, after a breach: the breach stands)."""
    now = now or clock.now()
    for c in _clocks(complaint, ('running', 'paused', 'breached')):
        if c.target != target or c.finished_at is not None:
            continue
        state = 'breached' if c.state == 'breached' else 'achieved'
        SlaClock.update(state=state, finished_at=now, paused_at=None).where(SlaClock.id == c.id).execute()
        _event(complaint, target, 'achieved', now, c.due_at)
    refresh(complaint, now)


def cancel(complaint, now=None):
    """The case left the platform's hands without a result (withdrawn): clocks stop, no event."""
    now = now or clock.now()
    (SlaClock
     .update(state='cancelled', finished_at=now)
     .where((SlaClock.complaint == complaint.id) & SlaClock.finished_at.is_null())
     .execute())
    refresh(complaint, now)


def refresh(complaint, now=None):
    """Recompute the complaint's queue and timer columns from its clocks."""
    refresh_many([complaint], now)


def refresh_many(complaints, now=None, columns=None, clocks=None):
    """`refresh` for many complaints: their clocks read in one query, the columns written
    with one UPDATE, next checks scheduled in one go. With `columns` (a {complaint id:
    {column: value}} dict the caller writes in its own compare-and-set UPDATE) the new
    values are put there instead of written here. `clocks` ({complaint id: its clocks}),
    when the caller knows them all, saves reading them again."""
    complaints = list(complaints)
    if not complaints:
        return
    if clocks is None:
        clocks = {}
        for c in (SlaClock
                  .select()
                  .where(among(SlaClock.complaint, [c.id for c in complaints]))
                  .namedtuples()):
            clocks.setdefault(c.complaint, []).append(c)
    updates, moves = {}, []
    for complaint in complaints:
        changes = _columns(complaint, clocks.get(complaint.id, []))
        moved = changes['sla_check_at'] != getattr(complaint, 'sla_check_at', None)
        updates[complaint.id] = changes
        for key, value in changes.items():
            setattr(complaint, key, value)
        if moved and changes['sla_check_at'] is not None:
            moves.append((complaint.id, changes['sla_check_at']))
    if columns is None:
        update_each(Complaint, updates)
    else:
        for complaint_id, changes in updates.items():
            columns.setdefault(complaint_id, {}).update(changes)
    deadlines.schedule_many('sla', moves)


def _columns(complaint, clocks):
    """The queue and timer columns of `complaint` given its clocks."""
    running = [c for c in clocks if c.state == 'running']
    overdue = any(c.state == 'breached' and c.finished_at is None for c in clocks)
    checks = [c.due_at - WARN_BEFORE if not c.warned else c.due_at for c in running]
    due = {c.target: c.due_at for c in clocks if c.state in ('running', 'paused', 'breached')
           and c.finished_at is None}
    pending = running + [c for c in clocks if c.state == 'breached' and c.finished_at is None]
    return {
        'next_due_at': min((c.due_at for c in pending), default=FAR_FUTURE),
        'queue_rank': queue_rank(complaint, overdue),
        'sla_check_at': min(checks, default=None),
        'first_response_due_at': due.get('first_response'),
        'resolution_due_at': due.get('resolution'),
    }


def queue_rank(complaint, overdue):
    """0 overdue (jumps the queue); 1 tier L1 or also filed externally (SPEC §3: priority), so
    within the same tier an external complaint comes first; 2 the rest."""
    if overdue:
        return 0
    return 1 if complaint.priority > 0 or complaint.tier == 'L1' else 2


def check_due(complaint_id, now):
    """Deadline handler for `sla_check_at`: warn 15 minutes ahead, then record the breach.

    Idempotent: a clock is warned once and breached once; re-running changes nothing.
    """
    check_due_many([complaint_id], now)


def check_due_many(complaint_ids, now):
    """The `sla` deadline's batch handler: `check_due` for every complaint of
    `complaint_ids` in one go — running clocks read in one query, breaches and warnings
    written with one UPDATE each, their SLA events with one INSERT, the owner/supervisor
    notifications with one outbox INSERT, the queue columns and next checks by
    `refresh_many`. Returns how many complaints it checked."""
    complaints = list(Complaint
                      .select(Complaint.id, Complaint.ticket_no, Complaint.owner, Complaint.department,
                              Complaint.tier, Complaint.priority, Complaint.sla_check_at)
                      .where(among(Complaint.id, complaint_ids))
                      .order_by(Complaint.id))
    if not complaints:
        return 0
    supervisors = supervisor_ids()
    running = {}
    for c in (SlaClock
              .select()
              .where(among(SlaClock.complaint, [c.id for c in complaints]) & (SlaClock.state == 'running'))
              .order_by(SlaClock.id)):
        running.setdefault(c.complaint_id, []).append(c)
    breached, warned, events, notices = [], [], [], []
    for complaint in complaints:
        params = {'ticket': complaint.ticket_no}
        for c in running.get(complaint.id, []):
            if c.due_at <= now:
                breached.append(c.id)
                events.append(_event_row(complaint, c.target, 'breached', now, c.due_at))
                notices.append((f'sla_breached_{c.target}', [complaint.owner_id] + supervisors, params,
                                complaint, None, False))
            elif not c.warned and c.due_at - WARN_BEFORE <= now:
                warned.append(c.id)
                events.append(_event_row(complaint, c.target, 'warned', now, c.due_at))
                notices.append((f'sla_warning_{c.target}',
                                [complaint.owner_id] if complaint.owner_id else supervisors,
                                params, complaint, None, False))
    if breached:
        SlaClock.update(state='breached').where(among(SlaClock.id, breached)).execute()
    if warned:
        SlaClock.update(warned=True).where(among(SlaClock.id, warned)).execute()
    if events:
        _insert_events(events)
    notify_many(notices)
    refresh_many(complaints, now)
    return len(complaints)


def init_app(app):
    deadlines.register('sla', Complaint, Complaint.sla_check_at, check_due_many, batch=True)
