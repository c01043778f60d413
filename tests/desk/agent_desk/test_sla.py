"""The SLA engine (SPEC §3): first-response and resolution targets per tier, pauses while the
platform waits on a party, a warning 15 minutes ahead and the breach at the due time — each
recorded once as an `SlaEvent` with the owner at that moment — the owner and the supervisors
notified, business hours and the editable policy table.

Time moves with the injected clock (T0 = Tue 2026-11-24 10:00 Beijing); the sweep is
`deadlines.advance_due`, the function the exact-time job and the minute cron both call.
"""
import datetime as dt
import functools

import pytest

from desk.agent_desk import assignment, sla
from desk.agent_desk.models import BusinessHours, Holiday, SlaEvent, SlaPolicy
from desk.cases import complaints
from desk.cases.models import FAR_FUTURE, Event
from desk.core import clock, deadlines
from desk.core.db import atomic
from tests import builders as b
from tests.conftest import T0
from tests.support import shanghai

#: local(day, hour, minute=0): Beijing wall time on day `day` of November 2026 (31 = Dec 1)
local = functools.partial(shanghai, 2026, 11)

MINUTE = dt.timedelta(minutes=1)
HOUR = dt.timedelta(hours=1)


def sweep(at):
    """Move the clock to `at` and run the deadline sweep there."""
    clock.freeze(at)
    return deadlines.advance_due(at)


def claim(user, complaint):
    return assignment.claim(user, b.reload(complaint))


@pytest.fixture
def staff(users):
    """An online cs agent, two supervisors (one inactive) and a bystander agent."""
    sup = users('supervisor', username='sup1')
    off_sup = users('supervisor', username='sup-gone')
    off_sup.active = False
    off_sup.save()
    return {'agent': b.agent(users, 'ann'), 'other': b.agent(users, 'bob'),
            'senior': b.agent(users, 'sen', role='senior_agent'),
            'sup': sup, 'off_sup': off_sup}


# --- targets per tier ----------------------------------------------------------------------

@pytest.mark.parametrize('category, amount_fen, tier, first, resolution', [
    ('service_attitude', 4990, 'L2', 2 * HOUR, 24 * HOUR),
    ('account_security', 4990, 'L1', 30 * MINUTE, 4 * HOUR),
    ('service_attitude', 500000, 'L1', 30 * MINUTE, 4 * HOUR),  # a large amount is L1
])
def test_a_platform_case_starts_its_tiers_targets_when_filed(app, frozen, category, amount_fen,
                                                             tier, first, resolution):
    complaint = b.case('O-1', category=category, amount_fen=amount_fen)
    assert complaint.tier == tier
    assert complaint.first_response_due_at == T0 + first
    assert complaint.resolution_due_at == T0 + resolution
    assert complaint.sla_check_at == T0 + first - 15 * MINUTE
    assert complaint.next_due_at == T0 + first
    assert complaint.queue_rank == (1 if tier == 'L1' else 2), 'L1 ranks with the external complaints'
    started = list(SlaEvent.select().where(SlaEvent.complaint == complaint.id).order_by(SlaEvent.target))
    assert [(e.target, e.kind, e.at, e.due_at, e.owner_id) for e in started] == [
        ('first_response', 'started', T0, T0 + first, None),
        ('resolution', 'started', T0, T0 + resolution, None)]


def test_merchant_and_self_service_cases_have_no_platform_clock(app, frozen):
    negotiating = b.case('O-1', category='not_as_described')
    inquiry = b.case('O-2', category='inquiry')
    for complaint in (negotiating, inquiry):
        assert b.sla_events(complaint) == []
        assert complaint.sla_check_at is None and complaint.first_response_due_at is None


def test_not_helped_puts_an_inquiry_on_the_l2_clock_from_that_moment(app, frozen):
    inquiry = b.case('O-1', category='inquiry')
    clock.advance(hours=3)
    complaints.self_service_answer(b.buyer_login(), inquiry, helped=False)
    escalated = b.reload(inquiry)
    assert (escalated.state, escalated.tier) == ('pending_agent', 'L2')
    assert escalated.first_response_due_at == T0 + 5 * HOUR
    assert escalated.resolution_due_at == T0 + 27 * HOUR


@pytest.mark.parametrize('amount_fen, first, resolution', [
    (4990, 2 * HOUR, 24 * HOUR),           # L2
    (500000, 30 * MINUTE, 4 * HOUR),       # L1 (large amount), same cs queue
])
def test_targets_met_in_time(app, frozen, staff, amount_fen, first, resolution):
    complaint = b.case('O-1', amount_fen=amount_fen)
    owner = staff['senior']  # seniors may take L1 and L2
    clock.freeze(T0 + first - dt.timedelta(seconds=1))
    claim(owner, complaint)
    assert b.clock_of(complaint, 'first_response').state == 'achieved'
    clock.freeze(T0 + resolution - dt.timedelta(seconds=1))
    with atomic():
        sla.achieve(b.reload(complaint), 'resolution')
    for at in (T0 + first, T0 + resolution, T0 + 3 * resolution):
        sweep(at)
    assert b.sla_events(complaint, 'first_response') == ['started', 'achieved']
    assert b.sla_events(complaint, 'resolution') == ['started', 'achieved']
    assert b.clock_of(complaint, 'resolution').state == 'achieved'
    done = b.reload(complaint)
    assert done.sla_check_at is None and done.next_due_at == FAR_FUTURE
    assert done.queue_rank == (1 if done.tier == 'L1' else 2)


@pytest.mark.parametrize('amount_fen, first, resolution', [
    (4990, 2 * HOUR, 24 * HOUR),           # L2
    (500000, 30 * MINUTE, 4 * HOUR),       # L1 (large amount), same cs queue
])
def test_targets_breached(app, frozen, staff, amount_fen, first, resolution):
    complaint = b.case('O-1', amount_fen=amount_fen)
    sweep(T0 + first - dt.timedelta(seconds=1))
    assert b.sla_events(complaint, 'first_response') == ['started', 'warned']
    sweep(T0 + first)
    assert b.sla_events(complaint, 'first_response') == ['started', 'warned', 'breached']
    breached = b.reload(complaint)
    assert breached.queue_rank == 0, 'an overdue case jumps to the top of the queue'
    assert breached.next_due_at == T0 + first
    assert b.sla_event(complaint, 'first_response', 'breached').at == T0 + first

    # answered late: the breach stands, the clock is finished, the case leaves the top
    clock.freeze(T0 + first + 5 * MINUTE)
    claim(staff['senior'], complaint)
    late = b.clock_of(complaint, 'first_response')
    assert (late.state, late.finished_at) == ('breached', T0 + first + 5 * MINUTE)
    assert b.sla_events(complaint, 'first_response') == ['started', 'warned', 'breached', 'achieved']
    assert b.reload(complaint).queue_rank == (1 if complaint.tier == 'L1' else 2)

    sweep(T0 + resolution - 15 * MINUTE)
    sweep(T0 + resolution)
    assert b.sla_events(complaint, 'resolution') == ['started', 'warned', 'breached']
    assert b.reload(complaint).queue_rank == 0


def test_warning_and_breach_each_happen_once_however_often_the_sweep_runs(app, frozen, staff):
    complaint = b.case('O-1')
    at = T0
    while at <= T0 + 3 * HOUR:          # every minute for three hours, twice each time
        sweep(at)
        sweep(at)
        at += MINUTE
    assert b.sla_events(complaint, 'first_response') == ['started', 'warned', 'breached']
    assert b.sla_event(complaint, 'first_response', 'warned').at == T0 + 105 * MINUTE
    assert b.sla_event(complaint, 'first_response', 'breached').at == T0 + 2 * HOUR
    assert b.sla_events(complaint, 'resolution') == ['started']
    # nobody owns the case yet: the warning goes to the supervisors, so does the breach
    assert b.notices(staff['sup'], complaint) == ['sla_warning_first_response',
                                                  'sla_breached_first_response']
    assert b.notices(staff['off_sup']) == [] and b.notices(staff['agent']) == []


def test_a_breach_notifies_the_owner_and_every_active_supervisor(app, frozen, staff):
    complaint = b.case('O-1')
    clock.advance(minutes=10)
    claim(staff['agent'], complaint)
    sweep(T0 + 24 * HOUR - 15 * MINUTE)
    sweep(T0 + 24 * HOUR)
    assert b.notices(staff['agent'], complaint) == ['sla_warning_resolution', 'sla_breached_resolution']
    assert b.notices(staff['sup'], complaint) == ['sla_breached_resolution'], \
        'the owner alone is warned; supervisors hear of the breach'
    assert b.notices(staff['off_sup']) == []
    assert b.notices(staff['other']) == []


def test_events_carry_the_owner_at_that_moment(app, frozen, staff):
    """The warning belongs to the first owner, the breach to the agent a supervisor moved
    the case to in between, so per-agent SLA reports are exact."""
    ann, bob = staff['agent'], staff['other']
    complaint = b.case('O-1')
    clock.advance(minutes=5)
    claim(ann, complaint)
    sweep(T0 + 24 * HOUR - 15 * MINUTE)
    clock.freeze(T0 + 24 * HOUR - 10 * MINUTE)
    assignment.reassign(staff['sup'], b.reload(complaint), {'to': 'bob', 'reason': 'ann 下班'})
    sweep(T0 + 24 * HOUR)

    def owner(target, kind):
        return b.sla_event(complaint, target, kind).owner_id

    assert owner('first_response', 'started') is None
    assert owner('first_response', 'achieved') == ann.id
    assert owner('resolution', 'warned') == ann.id
    assert owner('resolution', 'breached') == bob.id
    assert SlaEvent.select().where((SlaEvent.kind == 'breached') & (SlaEvent.owner == ann.id)).count() == 0
    assert b.sla_event(complaint, 'resolution', 'breached').department == 'cs'
    assert b.notices(bob, complaint)[-1] == 'sla_breached_resolution'
    assert 'sla_breached_resolution' not in b.notices(ann, complaint)


# --- pauses --------------------------------------------------------------------------------

def test_a_30_minute_pause_pushes_both_targets_by_30_minutes(app, frozen):
    complaint = b.case('O-1')
    clock.freeze(T0 + 30 * MINUTE)
    with atomic():
        sla.pause(b.reload(complaint))
    paused = b.reload(complaint)
    assert paused.sla_check_at is None and paused.next_due_at == FAR_FUTURE
    clock.freeze(T0 + HOUR)
    with atomic():
        sla.resume(b.reload(complaint))
    resumed = b.reload(complaint)
    assert resumed.first_response_due_at == T0 + 2 * HOUR + 30 * MINUTE
    assert resumed.resolution_due_at == T0 + 24 * HOUR + 30 * MINUTE
    assert resumed.sla_check_at == T0 + 2 * HOUR + 15 * MINUTE
    assert b.clock_of(complaint, 'first_response').paused_seconds == 30 * 60
    assert b.sla_events(complaint, 'first_response') == ['started', 'paused', 'resumed']
    assert b.sla_event(complaint, 'first_response', 'resumed').due_at == T0 + 2 * HOUR + 30 * MINUTE

    sweep(T0 + 2 * HOUR + 29 * MINUTE)
    assert b.sla_events(complaint, 'first_response') == ['started', 'paused', 'resumed', 'warned']
    sweep(T0 + 2 * HOUR + 30 * MINUTE)
    assert b.sla_events(complaint, 'first_response')[-1] == 'breached'


def test_a_paused_clock_never_warns_or_breaches(app, frozen, staff):
    complaint = b.case('O-1')
    clock.freeze(T0 + HOUR)
    with atomic():
        sla.pause(b.reload(complaint))
    for at in (T0 + 2 * HOUR, T0 + 25 * HOUR, T0 + 30 * 24 * HOUR):
        sweep(at)
    assert b.sla_events(complaint) == [('first_response', 'started'), ('resolution', 'started'),
                                       ('first_response', 'paused'), ('resolution', 'paused')]
    assert b.clock_of(complaint, 'first_response').state == 'paused'
    assert b.notices(staff['sup']) == []
    # resumed a month later, it still has the hour it had left
    with atomic():
        sla.resume(b.reload(complaint))
    assert b.reload(complaint).first_response_due_at == T0 + 30 * 24 * HOUR + HOUR


def test_pausing_twice_counts_both_pauses(app, frozen):
    complaint = b.case('O-1')
    for pause_at, resume_at in ((10, 20), (40, 70)):
        clock.freeze(T0 + pause_at * MINUTE)
        with atomic():
            sla.pause(b.reload(complaint))
        clock.freeze(T0 + resume_at * MINUTE)
        with atomic():
            sla.resume(b.reload(complaint))
    assert b.reload(complaint).first_response_due_at == T0 + 2 * HOUR + 40 * MINUTE
    assert b.clock_of(complaint, 'first_response').paused_seconds == 40 * 60


def test_a_withdrawn_case_stops_its_clocks(app, frozen, staff):
    complaint = b.case('O-1')
    clock.advance(minutes=20)
    complaints.withdraw(b.buyer_login(), b.reload(complaint))
    sweep(T0 + 48 * HOUR)
    assert b.sla_events(complaint) == [('first_response', 'started'), ('resolution', 'started')]
    assert b.clock_of(complaint, 'resolution').state == 'cancelled'
    assert b.reload(complaint).sla_check_at is None


# --- business hours and the policy table ---------------------------------------------------

@pytest.fixture
def office(app):
    """Mon–Fri 09:00–18:00 Beijing; L2 edited to 4 h first response, 16 business hours to resolve."""
    for weekday in range(5):
        BusinessHours.create(weekday=weekday, opens='09:00', closes='18:00')
    SlaPolicy.update(first_response_seconds=4 * 3600, resolution_seconds=16 * 3600).where(
        SlaPolicy.tier == 'L2').execute()


@pytest.mark.parametrize('holiday, first_due, resolution_due', [
    # Fri 16:00 + 4 h: Fri 2 h, Mon 2 h; + 16 h: Fri 2 h, Mon 9 h, Tue 5 h
    (None, local(30, 11), local(31, 14)),
    # Monday 11-30 a holiday: everything slides to Tuesday and Wednesday
    (('2026-11-30', 'holiday'), local(31, 11), local(32, 14)),
    # Saturday 11-28 a make-up working day (调休): it counts like a Monday
    (('2026-11-28', 'workday'), local(28, 11), local(30, 14)),
])
def test_business_hours_across_a_weekend_a_holiday_and_a_make_up_day(app, office, holiday,
                                                                    first_due, resolution_due):
    if holiday:
        Holiday.create(date=dt.date.fromisoformat(holiday[0]), kind=holiday[1])
    clock.freeze(local(27, 16))  # Friday 16:00
    complaint = b.case('O-1')
    assert complaint.first_response_due_at == first_due
    assert complaint.resolution_due_at == resolution_due
    sweep(first_due - 16 * MINUTE)
    assert b.sla_events(complaint, 'first_response') == ['started']
    sweep(first_due - 15 * MINUTE)
    assert b.sla_events(complaint, 'first_response') == ['started', 'warned']
    sweep(first_due - dt.timedelta(seconds=1))
    assert b.sla_events(complaint, 'first_response') == ['started', 'warned']
    sweep(first_due)
    assert b.sla_events(complaint, 'first_response') == ['started', 'warned', 'breached']


def test_a_pause_over_the_weekend_costs_only_the_business_time_it_spans(app, office):
    clock.freeze(local(27, 16))
    complaint = b.case('O-1')                # first response due Mon 11:00
    clock.freeze(local(27, 17))              # Friday 17:00: 3 business hours left
    with atomic():
        sla.pause(b.reload(complaint))
    clock.freeze(local(30, 10))              # Monday 10:00: Fri 1 h + Mon 1 h passed
    with atomic():
        sla.resume(b.reload(complaint))
    assert b.reload(complaint).first_response_due_at == local(30, 13)
    assert b.clock_of(complaint, 'first_response').paused_seconds == 2 * 3600


def test_policy_edits_apply_to_cases_filed_after_them(app, frozen):
    before = b.case('O-1')
    SlaPolicy.update(first_response_seconds=3600, resolution_seconds=None).where(
        SlaPolicy.tier == 'L2').execute()
    after = b.case('O-2')
    assert b.reload(before).first_response_due_at == T0 + 2 * HOUR, 'a running clock keeps its target'
    assert b.reload(before).resolution_due_at == T0 + 24 * HOUR
    assert after.first_response_due_at == T0 + HOUR
    assert after.resolution_due_at is None, 'no resolution target for L2 any more'
    assert b.sla_events(after) == [('first_response', 'started')]
    sweep(T0 + HOUR)
    assert b.sla_events(after, 'first_response')[-1] == 'breached'
    assert b.sla_events(before, 'first_response') == ['started']


def test_without_a_policy_row_the_spec_defaults_apply(app, frozen):
    SlaPolicy.delete().where(SlaPolicy.tier == 'L1').execute()
    complaint = b.case('O-1', category='account_security')
    assert complaint.first_response_due_at == T0 + 30 * MINUTE
    assert complaint.resolution_due_at == T0 + 4 * HOUR


def test_the_timeline_is_untouched_by_the_sla_sweep(app, frozen):
    """SLA events live in their own table; the public timeline only shows what people did."""
    complaint = b.case('O-1')
    sweep(T0 + 3 * HOUR)
    assert [e.kind for e in Event.select().where(Event.complaint == complaint.id)] == ['filed']


def test_a_late_sweep_records_the_breach_without_a_stale_warning(app, frozen, staff):
    """A sweep that first runs after the due time (a dead worker, Redis away) breaches once
    and does not send a "due in 15 minutes" warning for a target already passed."""
    complaint = b.case('O-1')
    sweep(T0 + 2 * HOUR + 40 * MINUTE)
    sweep(T0 + 2 * HOUR + 41 * MINUTE)
    assert b.sla_events(complaint, 'first_response') == ['started', 'breached']
    assert b.sla_event(complaint, 'first_response', 'breached').at == T0 + 2 * HOUR + 40 * MINUTE
    assert b.notices(staff['sup'], complaint) == ['sla_breached_first_response']
