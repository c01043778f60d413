"""The SLA engine: clocks per target (first response, resolution) of each platform case.

A clock starts when the platform takes the case, pauses while the platform waits on a
party (evidence asked of the buyer, a proposal awaiting the buyer) and resumes when they
act, counting only business time when a calendar is set. Every change is recorded as an
`SlaEvent` with the owner at that moment. The complaint row carries what the queue and the
timers need: `next_due_at` (queue order), `queue_rank` (0 = overdue, jumps the queue; 1 = filed externally too) and
`sla_check_at` (the next warning or breach, swept by `desk.deadlines`).
"""
import datetime as dt

from desk import clock, deadlines
from desk.business_calendar import Calendar
from desk.complaint_models import FAR_FUTURE, Complaint
from desk.models import User
from desk.queue_models import TARGETS, SlaClock, SlaEvent, SlaPolicy

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


#: Called as listener(complaint, sla_event) after each SLA event (the metric rollups).
LISTENERS = []


def _event(complaint, target, kind, at, due_at=None):
    event = SlaEvent.create(complaint=complaint.id, target=target, kind=kind, at=at,
                            owner=complaint.owner_id, department=complaint.department, due_at=due_at)
    for listener in LISTENERS:
        listener(complaint, event)


def _clocks(complaint, states=OPEN_CLOCK_STATES):
    return list(SlaClock.select().where((SlaClock.complaint == complaint.id) & SlaClock.state.in_(states)))


def start(complaint, now=None):
    """Start (or restart, e.g. after a reopen) both targets of `complaint` at `now`."""
    now = now or clock.now()
    calendar = Calendar.load()
    for target, seconds in zip(TARGETS, policy(complaint.tier)):
        if not seconds:
            continue
        due = calendar.add(now, seconds)
        existing = SlaClock.get_or_none((SlaClock.complaint == complaint.id) & (SlaClock.target == target))
        if existing is not None and existing.state in OPEN_CLOCK_STATES:
            continue
        if existing is not None:
            existing.delete_instance()
        SlaClock.create(complaint=complaint.id, target=target, started_at=now, due_at=due)
        _event(complaint, target, 'started', now, due)
    refresh(complaint, now)


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
    clocks = list(SlaClock.select().where(SlaClock.complaint == complaint.id))
    running = [c for c in clocks if c.state == 'running']
    overdue = any(c.state == 'breached' and c.finished_at is None for c in clocks)
    checks = [c.due_at - WARN_BEFORE if not c.warned else c.due_at for c in running]
    due = {c.target: c.due_at for c in clocks if c.state in ('running', 'paused', 'breached')
           and c.finished_at is None}
    pending = running + [c for c in clocks if c.state == 'breached' and c.finished_at is None]
    changes = {
        'next_due_at': min((c.due_at for c in pending), default=FAR_FUTURE),
        'queue_rank': queue_rank(complaint, overdue),
        'sla_check_at': min(checks, default=None),
        'first_response_due_at': due.get('first_response'),
        'resolution_due_at': due.get('resolution'),
    }
    moved = changes['sla_check_at'] != getattr(complaint, 'sla_check_at', None)
    Complaint.update(**changes).where(Complaint.id == complaint.id).execute()
    for key, value in changes.items():
        setattr(complaint, key, value)
    if moved and changes['sla_check_at'] is not None:
        deadlines.schedule('sla', complaint.id, changes['sla_check_at'])


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
    from desk.notifications import notify
    complaint = Complaint.get_or_none(Complaint.id == complaint_id)
    if complaint is None:
        return
    supervisors = [u.id for u in User.select(User.id).where(
        (User.role == 'supervisor') & (User.active == True))]  # noqa: E712
    params = {'ticket': complaint.ticket_no}
    for c in _clocks(complaint, ('running',)):
        if c.due_at <= now:
            SlaClock.update(state='breached').where(SlaClock.id == c.id).execute()
            _event(complaint, c.target, 'breached', now, c.due_at)
            notify(f'sla_breached_{c.target}', [complaint.owner_id] + supervisors, params, complaint)
        elif not c.warned and c.due_at - WARN_BEFORE <= now:
            SlaClock.update(warned=True).where(SlaClock.id == c.id).execute()
            _event(complaint, c.target, 'warned', now, c.due_at)
            notify(f'sla_warning_{c.target}', [complaint.owner_id] if complaint.owner_id else supervisors,
                   params, complaint)
    refresh(complaint, now)


deadlines.register('sla', Complaint, Complaint.sla_check_at, check_due)
