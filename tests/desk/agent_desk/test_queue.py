"""The department queue (SPEC §3 routing): overdue first, then tier, then the next SLA due
time, then id; keyset pages that return every case once even while cases arrive; filters
and the counts beside them; who may look at which department.
"""
import base64
import datetime as dt
import json

import pytest

from desk.agent_desk import assignment, queue
from desk.core import clock, deadlines
from desk.core.errors import Forbidden, Invalid
from tests import builders as b
from tests.conftest import T0

MINUTE = dt.timedelta(minutes=1)
HOUR = dt.timedelta(hours=1)


def tickets(rows):
    return [r.ticket_no for r in rows]


def walk(department, limit, filters=None, between_pages=None):
    """Every page of `department`'s queue; `between_pages(n)` runs after page n."""
    seen, cursor, pages = [], None, 0
    while True:
        rows, cursor = queue.page(queue.base_query(department), filters or {}, cursor, limit)
        seen += rows
        pages += 1
        assert len(rows) <= limit
        if cursor is None:
            return seen, pages
        if between_pages:
            between_pages(pages)


def key(row):
    return (row.queue_rank, row.tier, row.next_due_at, row.id)


@pytest.fixture
def ordered(app, users, frozen):
    """Seven cs cases whose right order is overdue-L1, overdue-L2, L1, then L2 by due, id."""
    ann = b.agent(users, 'ann')
    clock.freeze(T0 - 2 * HOUR)
    overdue_l2 = b.case('C-7')                                  # first response due T0
    clock.freeze(T0)
    l2_early = b.case('C-1')                                    # due T0+2h
    clock.freeze(T0 + 5 * MINUTE)
    answered = b.case('C-6')                                    # claimed: resolution due next day
    clock.freeze(T0 + 6 * MINUTE)
    assignment.claim(ann, answered)
    clock.freeze(T0 + 10 * MINUTE)
    overdue_l1 = b.case('C-2', amount_fen=600000)               # due T0+40m
    clock.freeze(T0 + 20 * MINUTE)
    l2_late, l2_same_time = b.case('C-3'), b.case('C-5')        # both due T0+2h20, by id
    clock.freeze(T0 + 30 * MINUTE)
    l1 = b.case('C-4', amount_fen=600000)                       # due T0+1h
    b.case('M-1', category='not_as_described')                  # merchant path: not queued
    b.case('X-1', category='account_security')                  # ops
    clock.freeze(T0 + 45 * MINUTE)
    deadlines.advance_due()
    return [overdue_l1, overdue_l2, l1, l2_early, l2_late, l2_same_time, answered]


def test_queue_order_is_overdue_then_tier_then_due_then_id(ordered):
    rows, cursor = queue.page(queue.base_query('cs'), {})
    assert tickets(rows) == [c.ticket_no for c in ordered]
    assert cursor is None
    assert [r.queue_rank for r in rows] == [0, 0, 1, 2, 2, 2, 2]  # 1: L1 (with external ones)
    assert rows[0].next_due_at == T0 + 40 * MINUTE and rows[1].next_due_at == T0
    assert rows[4].next_due_at == rows[5].next_due_at and rows[4].id < rows[5].id
    assert rows[6].next_due_at == T0 + 5 * MINUTE + 24 * HOUR


def test_the_queue_row_shows_its_nearest_target(ordered):
    overdue_l1, _l2o, l1, _e, _l, _s, answered = (b.reload(c) for c in ordered)
    assert queue.next_target(l1) == ('first_response', T0 + HOUR)
    assert queue.next_target(overdue_l1) == ('first_response', T0 + 40 * MINUTE)
    assert queue.next_target(answered) == ('resolution', T0 + 5 * MINUTE + 24 * HOUR)


@pytest.mark.parametrize('limit', [1, 2, 3, 7, 100])
def test_pages_cut_anywhere_return_every_case_once_in_order(ordered, limit):
    seen, pages = walk('cs', limit)
    assert tickets(seen) == [c.ticket_no for c in ordered]
    assert pages == max(1, -(-len(ordered) // limit))


def test_pages_stay_stable_while_cases_arrive(app, users, frozen):
    """Cases filed between two page reads never make a case repeat or go missing: those that
    sort before the cursor are simply on earlier pages, those after it show up later."""
    originals = []
    for i in range(20):
        clock.advance(minutes=3)
        originals.append(b.case(f'P-{i}', amount_fen=600000 if i % 4 == 0 else 4990))
    arrived = []

    def file_more(page_number):
        clock.advance(minutes=1)
        arrived.append(b.case(f'NEW-{page_number}-early', amount_fen=600000))   # sorts first
        arrived.append(b.case(f'NEW-{page_number}-late'))                      # sorts last

    seen, _pages = walk('cs', 6, between_pages=file_more)
    seen_tickets = tickets(seen)
    assert len(seen_tickets) == len(set(seen_tickets)), 'a case came twice'
    assert set(c.ticket_no for c in originals) <= set(seen_tickets), 'a case went missing'
    assert [key(r) for r in seen] == sorted(key(r) for r in seen)
    late = [c.ticket_no for c in arrived if c.ticket_no in seen_tickets]
    assert late, 'cases filed after the cursor appear on later pages'


def test_a_bad_cursor_or_page_size_is_422(ordered):
    base = queue.base_query('cs')
    for cursor in ('garbage!', base64.urlsafe_b64encode(b'[1, "L9", "x", 1]').decode(),
                   base64.urlsafe_b64encode(json.dumps({'a': 1}).encode()).decode()):
        with pytest.raises(Invalid) as err:
            queue.page(base, {}, cursor)
        assert 'cursor' in err.value.fields
    for limit in (0, queue.PAGE_MAX + 1):
        with pytest.raises(Invalid) as err:
            queue.page(base, {}, None, limit)
        assert 'limit' in err.value.fields


# --- filters and counts --------------------------------------------------------------------

@pytest.fixture
def mixed(app, users, frozen):
    ann = b.agent(users, 'ann')
    clock.freeze(T0 - 3 * HOUR)
    cases = {'overdue': b.case('F-1')}
    clock.freeze(T0)
    cases['plain'] = b.case('F-2')
    cases['large'] = b.case('F-3', amount_fen=600000)          # L1, needs a payment proof
    cases['owned'] = b.case('F-4')
    assignment.claim(ann, cases['owned'])
    cases['external'] = b.case('F-5', external=['12315'])
    cases['other_shop'] = b.case('F-6', merchant_ref='m-2')
    deadlines.advance_due()
    return {name: b.reload(c) for name, c in cases.items()}


@pytest.mark.parametrize('filters, expected', [
    ({}, ['overdue', 'large', 'external', 'plain', 'other_shop', 'owned']),
    ({'state': 'in_progress'}, ['owned']),
    ({'state': 'pending_agent', 'tier': 'L2'}, ['overdue', 'external', 'plain', 'other_shop']),
    ({'tier': 'L1'}, ['large']),
    ({'category': 'service_attitude'}, ['overdue', 'large', 'external', 'plain', 'owned', 'other_shop']),
    ({'category': 'card_invalid'}, []),
    ({'owner': 'ann'}, ['owned']),
    ({'owner': 'nobody'}, []),
    ({'merchant': 'm-2'}, ['other_shop']),
    ({'merchant': 'm-404'}, []),
    ({'flag': 'overdue'}, ['overdue']),
    ({'flag': 'unassigned'}, ['overdue', 'large', 'external', 'plain', 'other_shop']),
    ({'flag': 'external'}, ['external']),
    ({'flag': 'needs_payment_proof'}, ['large']),
])
def test_filters(mixed, filters, expected):
    rows, _cursor = queue.page(queue.base_query('cs'), filters)
    assert set(tickets(rows)) == {mixed[name].ticket_no for name in expected}
    if not filters:
        assert tickets(rows) == [mixed[name].ticket_no for name in expected]


@pytest.mark.parametrize('filters, field', [
    ({'state': 'closed'}, 'state'), ({'tier': 'L9'}, 'tier'), ({'flag': 'vip'}, 'flag')])
def test_a_bad_filter_is_422_naming_it(mixed, filters, field):
    with pytest.raises(Invalid) as err:
        queue.page(queue.base_query('cs'), filters)
    assert set(err.value.fields) == {field}


def test_counts_beside_the_filters(mixed):
    assert queue.counts(queue.base_query('cs')) == {
        'all': 6, 'overdue': 1, 'unassigned': 5,
        'tier': {'L1': 1, 'L2': 5},
        'state': {'pending_agent': 5, 'in_progress': 1},
    }
    l2 = queue.counts(queue.filtered(queue.base_query('cs'), {'tier': 'L2'}))
    assert (l2['all'], l2['overdue'], l2['unassigned'], l2['tier']) == (5, 1, 4, {'L2': 5})
    assert queue.counts(queue.base_query('tech'))['all'] == 0


def test_an_agents_own_cases_are_a_queue_too(mixed, users):
    ann = b.reload(mixed['owned']).owner
    rows, _ = queue.page(queue.base_query(owner=ann), {})
    assert tickets(rows) == [mixed['owned'].ticket_no]


def test_a_case_leaves_the_queue_when_it_leaves_the_platform(mixed):
    from desk.cases import complaints
    complaints.withdraw(b.buyer_login(), mixed['plain'])
    rows, _ = queue.page(queue.base_query('cs'), {})
    assert mixed['plain'].ticket_no not in tickets(rows)
    assert queue.counts(queue.base_query('cs'))['all'] == 5


# --- who sees which department -------------------------------------------------------------

def test_agents_see_their_own_department_only(app, users):
    agent = b.agent(users, 'ann', department='ops')
    assert queue.queue_department(agent, None) == 'ops'
    assert queue.queue_department(agent, 'ops') == 'ops'
    with pytest.raises(Forbidden):
        queue.queue_department(agent, 'cs')


@pytest.mark.parametrize('role', ['supervisor', 'admin', 'integration'])
def test_supervisors_name_a_department(app, users, role):
    user = users(role)
    assert queue.queue_department(user, 'tech') == 'tech'
    for department in (None, '', 'sales'):
        with pytest.raises(Invalid) as err:
            queue.queue_department(user, department)
        assert 'department' in err.value.fields


def test_parties_see_no_queue(app, users):
    with pytest.raises(Forbidden):
        queue.queue_department(b.buyer_login(), 'cs')
