"""The breach notice of a supervisor review (deadline `review_overdue`): a review of a
dissatisfied rating still open at its due time (24 h) is marked breached, every active
supervisor is told once (inbox, in their language) and the case's timeline gets an internal
event; a review done in time gets nothing. Time is the injected clock throughout.
"""
import datetime as dt
import json

import pytest

from desk.cases.models import Event
from desk.core import clock, deadlines
from desk.messaging.models import InboxMessage
from desk.satisfaction.models import Review
from desk.satisfaction.ratings import REVIEW_SLA
from tests import builders as b
from tests.desk.satisfaction.test_ratings import desk, dissatisfied  # noqa: F401 (desk: a fixture)
from tests.support import act, ok

SECOND = dt.timedelta(seconds=1)
UPHOLD = {'finding': 'agent_fault', 'actions': ['uphold'], 'note': '处理偏慢,已提醒。'}


@pytest.fixture
def case(desk):  # noqa: F811
    """A dissatisfied rating just given: its review is open, due in 24 hours. Two active
    supervisors (English) and an inactive one."""
    boss = desk['users']['supervisor']
    boss.locale = 'en'  # titles asserted in English: the UI default is Chinese
    boss.save()
    second = _user('boss2', locale='en')
    inactive = _user('gone', active=False)
    complaint = dissatisfied(desk)
    review = Review.get(Review.complaint == complaint.id)
    return dict(complaint=complaint, review=review, supervisors=[boss, second],
                inactive=inactive)


def _user(username, **fields):
    from desk.parties import accounts
    from tests.conftest import PASSWORD
    user = accounts.create_user(username, PASSWORD, 'supervisor')
    for key, value in fields.items():
        setattr(user, key, value)
    user.save()
    return user


def overdue_notices(user, complaint):
    return [m for m in InboxMessage.select().where((InboxMessage.user == user.id) &
                                                   (InboxMessage.complaint == complaint.id))
            if m.title.startswith('Review of ')]


def overdue_events(complaint):
    return list(Event.select().where((Event.complaint == complaint.id) & (Event.kind == 'review_overdue')))


def test_opening_a_review_sets_its_breach_check_and_schedules_it_at_the_due_time(desk, monkeypatch):  # noqa: F811
    scheduled = []
    original = deadlines.schedule
    monkeypatch.setattr(deadlines, 'schedule', lambda name, row_id, at: (
        scheduled.append((name, row_id, at)), original(name, row_id, at)))
    complaint = dissatisfied(desk)
    review = Review.get(Review.complaint == complaint.id)
    assert review.due_at == clock.now() + REVIEW_SLA
    assert review.overdue_check_at == review.due_at + SECOND  # late means after the due second
    assert not review.breached
    assert ('review_overdue', review.id, review.due_at + SECOND) in scheduled


def test_nothing_before_the_due_time_then_breached_and_the_supervisors_told_once(case, desk):  # noqa: F811
    complaint, review = case['complaint'], case['review']
    for before in (review.due_at - SECOND, review.due_at):  # the due second is still in time
        clock.freeze(before)
        deadlines.advance_due()
        assert not Review.get_by_id(review.id).breached
        assert all(overdue_notices(s, complaint) == [] for s in case['supervisors'])
        assert overdue_events(complaint) == []

    clock.freeze(review.due_at + SECOND)
    assert deadlines.apply_one('review_overdue', review.id)  # the exact-time job
    deadlines.advance_due()  # the sweep after it finds nothing due
    deadlines.advance_due()
    assert not deadlines.apply_one('review_overdue', review.id)  # a duplicate job neither
    row = Review.get_by_id(review.id)
    assert row.breached and row.state == 'open' and row.overdue_check_at is None
    for supervisor in case['supervisors']:
        [notice] = overdue_notices(supervisor, complaint)
        assert notice.title == f'Review of {complaint.ticket_no} is overdue'
        assert notice.link == '/admin/reviews/'
        assert complaint.ticket_no in notice.body and 'still open' in notice.body
    assert overdue_notices(case['inactive'], complaint) == []
    assert b.notices(desk['users']['arbiter'], complaint).count('review_overdue') == 0
    [event] = overdue_events(complaint)
    assert not event.public and event.actor_role == 'system'
    assert json.loads(event.data)['review'] == review.id
    # internal: staff read it, the buyer does not
    staff = ok(desk['client'].get(f'/api/v1/complaints/{complaint.ticket_no}/events', headers=desk['supervisor']))
    assert 'review_overdue' in [e['kind'] for e in staff['items']]
    buyer = ok(desk['client'].get(f'/api/v1/complaints/{complaint.ticket_no}/events', headers=desk['buyer']))
    assert 'review_overdue' not in [e['kind'] for e in buyer['items']]
    # the review queue's overdue flag agrees
    clock.freeze(review.due_at + SECOND)
    listed = ok(desk['client'].get('/api/v1/reviews?state=open', headers=desk['supervisor']))
    assert [i['overdue'] for i in listed['items']] == [True]


def test_the_sweep_alone_applies_it_once(case):
    complaint, review = case['complaint'], case['review']
    clock.freeze(review.due_at + dt.timedelta(minutes=1))
    assert deadlines.advance_due() >= 1
    deadlines.advance_due()
    assert Review.get_by_id(review.id).breached
    assert len(overdue_notices(case['supervisors'][0], complaint)) == 1
    assert len(overdue_events(complaint)) == 1


def test_a_review_done_in_time_gets_no_notice_and_its_check_is_cleared(case, desk):  # noqa: F811
    complaint, review = case['complaint'], case['review']
    clock.freeze(review.due_at - dt.timedelta(hours=1))
    ok(act(desk, 'supervisor', complaint, 'review', UPHOLD))
    row = Review.get_by_id(review.id)
    assert row.state == 'done' and row.overdue_check_at is None and not row.breached
    clock.freeze(review.due_at + dt.timedelta(hours=1))
    deadlines.advance_due()
    assert not deadlines.apply_one('review_overdue', review.id)  # the exact-time job, late
    assert not Review.get_by_id(review.id).breached
    assert overdue_notices(case['supervisors'][0], complaint) == []
    assert overdue_events(complaint) == []


def test_a_review_done_late_is_breached_as_before(case, desk):  # noqa: F811
    """Done after its due time: breached whether or not the check ran first."""
    complaint, review = case['complaint'], case['review']
    clock.freeze(review.due_at + dt.timedelta(hours=2))  # no sweep ran: the worker was down
    ok(act(desk, 'supervisor', complaint, 'review', UPHOLD))
    row = Review.get_by_id(review.id)
    assert row.state == 'done' and row.breached and row.overdue_check_at is None
    deadlines.advance_due()
    assert overdue_notices(case['supervisors'][0], complaint) == []


def test_a_review_done_in_its_due_second_is_on_time_whatever_runs_first(case, desk):  # noqa: F811
    """`review`, the queue's overdue flag and the breach check agree: late is after `due_at`."""
    complaint, review = case['complaint'], case['review']
    clock.freeze(review.due_at)
    deadlines.advance_due()
    assert deadlines.apply_one('review_overdue', review.id) is False  # not due yet
    listed = ok(desk['client'].get('/api/v1/reviews?state=open', headers=desk['supervisor']))
    assert [i['overdue'] for i in listed['items']] == [False]
    ok(act(desk, 'supervisor', complaint, 'review', UPHOLD))
    row = Review.get_by_id(review.id)
    assert row.state == 'done' and not row.breached and row.overdue_check_at is None
    clock.freeze(review.due_at + dt.timedelta(minutes=1))
    deadlines.advance_due()
    assert not Review.get_by_id(review.id).breached
    assert overdue_notices(case['supervisors'][0], complaint) == []


def test_a_check_armed_at_the_due_second_waits_for_the_next_sweep(case):
    """Reviews opened before the check moved a second on (migration 0017 armed them at
    `due_at`): the run at that second marks nothing and keeps the check; the next one does."""
    complaint, review = case['complaint'], case['review']
    Review.update(overdue_check_at=review.due_at).where(Review.id == review.id).execute()
    clock.freeze(review.due_at)
    deadlines.apply_one('review_overdue', review.id)
    row = Review.get_by_id(review.id)
    assert not row.breached and row.overdue_check_at == review.due_at
    clock.freeze(review.due_at + dt.timedelta(minutes=1))
    deadlines.advance_due()
    row = Review.get_by_id(review.id)
    assert row.breached and row.overdue_check_at is None
    assert len(overdue_notices(case['supervisors'][0], complaint)) == 1

