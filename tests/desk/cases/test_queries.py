"""Listing complaints (SPEC §9): filters, 422 for a bad filter value, and keyset pagination
whose opaque cursor returns every complaint exactly once, even while new ones arrive."""
import base64

import pytest

from desk.cases.models import Complaint
from desk.cases.queries import encode_cursor
from desk.core import clock
from tests import builders as b
from tests.support import act, file_ok


@pytest.fixture
def supervisor(users, api_key):
    return api_key(users('supervisor'))


@pytest.fixture
def four(app, client, users, api_key, supervisor, frozen):
    """Four complaints an hour apart (T0 = 10:00 Beijing):
    c1 b-1/m-1 not_as_described (negotiating, L2) · c2 b-1/m-2 account_security (pending_agent, L1)
    · c3 b-2/m-1 inquiry (self_service, L3) · c4 b-2/m-2 card_invalid, withdrawn (L2)."""
    b1 = api_key(b.buyer_user(users, 'b-1'))
    b2 = api_key(b.buyer_user(users, 'b-2'))
    specs = [('c1', b1, 'b-1', 'm-1', 'not_as_described'), ('c2', b1, 'b-1', 'm-2', 'account_security'),
             ('c3', b2, 'b-2', 'm-1', 'inquiry'), ('c4', b2, 'b-2', 'm-2', 'card_invalid')]
    tickets = {}
    for n, (name, headers, buyer_ref, merchant_ref, category) in enumerate(specs):
        b.order(f'O-{n}', buyer_ref=buyer_ref, merchant_ref=merchant_ref)
        tickets[name] = file_ok(client, headers, order_no=f'O-{n}', category=category)['ticket_no']
        clock.advance(hours=1)
    assert act(client, b2, tickets['c4'], 'withdraw').status_code == 200
    return tickets


def page(client, headers, **params):
    response = client.get('/api/v1/complaints', query_string=params, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def names(four, body):
    by_ticket = {ticket: name for name, ticket in four.items()}
    return [by_ticket[item['ticket_no']] for item in body['items']]


# --- filters ------------------------------------------------------------------------------

def test_no_filter_lists_everything_newest_first(client, supervisor, four):
    body = page(client, supervisor)
    assert names(four, body) == ['c4', 'c3', 'c2', 'c1']
    assert body['next_cursor'] is None
    assert {'ticket_no', 'state', 'deadlines', 'allowed_actions'} <= set(body['items'][0])


@pytest.mark.parametrize('params, expected', [
    ({'state': 'negotiating'}, ['c1']),
    ({'state': 'withdrawn'}, ['c4']),
    ({'state': 'resolved'}, []),
    ({'category': 'account_security'}, ['c2']),
    ({'category': 'no_such_category'}, []),
    ({'tier': 'L1'}, ['c2']),
    ({'tier': 'L2'}, ['c4', 'c1']),
    ({'tier': 'L3'}, ['c3']),
    ({'merchant': 'm-1'}, ['c3', 'c1']),
    ({'merchant': 'm-404'}, []),
    ({'buyer': 'b-2'}, ['c4', 'c3']),
    ({'buyer': 'b-404'}, []),
    ({'merchant': 'm-1', 'buyer': 'b-2'}, ['c3']),
    ({'state': 'pending_agent', 'tier': 'L1', 'merchant': 'm-2'}, ['c2']),
])
def test_filters(client, supervisor, four, params, expected):
    assert names(four, page(client, supervisor, **params)) == expected


@pytest.mark.parametrize('params, expected', [
    ({'created_from': '2026-11-24T11:00:00+08:00'}, ['c4', 'c3', 'c2']),
    ({'created_to': '2026-11-24T12:00:00+08:00'}, ['c2', 'c1']),     # the end is exclusive
    ({'created_from': '2026-11-24T11:00:00+08:00', 'created_to': '2026-11-24T12:00:00+08:00'}, ['c2']),
    ({'created_from': '2026-11-24T03:00:00Z'}, ['c4', 'c3', 'c2']),   # UTC
    ({'created_from': '2026-11-24T12:30:00'}, ['c4']),                # no offset: Beijing time
    ({'created_from': '2026-11-25T00:00:00+08:00'}, []),
])
def test_created_between(client, supervisor, four, params, expected):
    assert names(four, page(client, supervisor, **params)) == expected


def test_filters_narrow_what_the_caller_may_see_never_widen_it(client, users, api_key, four):
    merchant = api_key(b.staff_user(users, 'm-1'))
    assert names(four, page(client, merchant)) == ['c3', 'c1']
    assert names(four, page(client, merchant, merchant='m-2')) == []
    assert names(four, page(client, merchant, buyer='b-1')) == ['c1']


@pytest.mark.parametrize('params, field', [
    ({'state': 'open'}, 'state'),
    ({'state': 'NEGOTIATING'}, 'state'),
    ({'tier': 'L4'}, 'tier'),
    ({'tier': 'l1'}, 'tier'),
    ({'created_from': 'yesterday'}, 'created_from'),
    ({'created_to': '2026-13-01T00:00:00'}, 'created_to'),
    ({'created_from': '9999-01-01T00:00:00+08:00'}, 'created_from'),
    ({'limit': '0'}, 'limit'),
    ({'limit': '101'}, 'limit'),
    ({'limit': '-5'}, 'limit'),
    ({'limit': 'ten'}, 'limit'),
    ({'limit': '2.5'}, 'limit'),
    ({'limit': '9' * 40}, 'limit'),
])
def test_a_bad_filter_value_is_422_naming_it(client, supervisor, four, params, field):
    response = client.get('/api/v1/complaints', query_string=params, headers=supervisor)
    assert response.status_code == 422
    assert field in response.get_json()['error']['fields']


def test_every_bad_filter_is_named_at_once(client, supervisor, four):
    response = client.get('/api/v1/complaints', headers=supervisor,
                          query_string={'state': 'x', 'tier': 'y', 'limit': '0', 'created_to': 'z'})
    assert response.status_code == 422
    assert set(response.get_json()['error']['fields']) == {'state', 'tier', 'limit', 'created_to'}


# --- cursor pagination --------------------------------------------------------------------

def bulk(n, start=0):
    """`n` complaints inserted directly (the list is what is under test here, not filing)."""
    for i in range(start, start + n):
        order = b.order(f'BULK-{i}', buyer_ref=f'b-{i % 3}', merchant_ref=f'm-{i % 2}')
        Complaint.create(ticket_no=f'TS20261124-{i + 1:06d}', order=order, buyer=order.buyer_id,
                         merchant=order.merchant_id, category='not_as_described', path='merchant',
                         tier='L2', department='cs', state='negotiating', facts='—',
                         demand_type='full_refund', demand_fen=order.amount_fen, channel='api')


def walk(client, headers, limit, between_pages=None, **params):
    """Follow next_cursor to the end; returns the pages' ticket lists."""
    pages, cursor = [], None
    while True:
        query = dict(params, limit=limit)
        if cursor:
            query['cursor'] = cursor
        body = page(client, headers, **query)
        pages.append([item['ticket_no'] for item in body['items']])
        cursor = body['next_cursor']
        if cursor is None:
            return pages
        if between_pages:
            between_pages(len(pages))
        assert len(pages) < 50, 'the cursor does not advance'


def test_paging_over_120_complaints_returns_each_exactly_once(app, client, supervisor, frozen):
    bulk(120)
    pages = walk(client, supervisor, limit=50)
    assert [len(p) for p in pages] == [50, 50, 20]
    seen = [ticket for p in pages for ticket in p]
    assert len(seen) == len(set(seen)) == 120
    assert seen == sorted(seen, reverse=True)  # newest first, across pages


def test_a_full_last_page_has_no_next_cursor(client, supervisor, frozen):
    bulk(100)
    pages = walk(client, supervisor, limit=50)
    assert [len(p) for p in pages] == [50, 50]


def test_paging_with_a_filter(client, supervisor, frozen):
    bulk(120)
    pages = walk(client, supervisor, limit=7, merchant='m-1')
    seen = [ticket for p in pages for ticket in p]
    assert len(seen) == len(set(seen)) == 60


def test_paging_is_stable_while_new_complaints_arrive(client, supervisor, frozen):
    bulk(120)
    added = []

    def insert_more(pages_so_far):
        start = 120 + len(added)
        bulk(5, start=start)
        added.extend(f'TS20261124-{i + 1:06d}' for i in range(start, start + 5))

    pages = walk(client, supervisor, limit=40, between_pages=insert_more)
    seen = [ticket for p in pages for ticket in p]
    assert len(seen) == len(set(seen)) == 120
    assert not set(seen) & set(added)  # newer ones show up on a fresh first page
    assert len(added) == 10
    fresh = page(client, supervisor, limit=10)['items']
    assert {item['ticket_no'] for item in fresh} == set(added)


@pytest.mark.parametrize('cursor', [
    'not-a-cursor', '!!!', 'Yzk5OTk5OTk5OTk5OTk5OTk5OTk5', 'eDEy',  # 'c' + 20 nines, 'x12'
    base64.urlsafe_b64encode(b'cabc').decode(), base64.urlsafe_b64encode('c１２'.encode()).decode(),
    encode_cursor(10 ** 20), encode_cursor(2 ** 63), encode_cursor(0), '投诉',
    base64.urlsafe_b64encode(b'\xff\xfe').decode(),
])
def test_a_forged_cursor_is_422(client, supervisor, four, cursor):
    response = client.get('/api/v1/complaints', query_string={'cursor': cursor}, headers=supervisor)
    assert response.status_code == 422, response.get_data(as_text=True)
    assert 'cursor' in response.get_json()['error']['fields']


@pytest.mark.parametrize('limit, count', [('1', 1), ('100', 100), (None, 50)])
def test_limit_bounds(client, supervisor, frozen, limit, count):
    bulk(120)
    params = {'limit': limit} if limit else {}
    body = page(client, supervisor, **params)
    assert len(body['items']) == count
    assert body['next_cursor'] is not None
