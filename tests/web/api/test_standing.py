"""`GET /api/v1/merchants/<ref>/standing`: who may read which merchant, and the shape
(the OpenAPI `Standing` schema is the real representation)."""
import datetime as dt

import pytest

from arbitration.health import merchant_health
from arbitration.penalties import violations
from arbitration.penalties.models import DepositEntry, Violation
from desk.core import clock
from desk.core.db import atomic
from tests import builders as b
from tests.conftest import T0
from tests.support import assert_valid, count_queries

URL = '/api/v1/merchants/{}/standing'


@pytest.fixture
def keys(app, users, api_key, frozen):
    return {'integration': api_key(users('integration')),
            'agent': api_key(users('agent')),
            'supervisor': api_key(users('supervisor')),
            'staff_a': api_key(b.staff_user(users, 'm-a')),
            'staff_b': api_key(b.staff_user(users, 'm-b')),
            'buyer': api_key(b.buyer_user(users, 'b-1'))}


def get(client, headers, ref):
    return client.get(URL.format(ref), headers=headers)


def test_who_reads_which_standing(client, keys):
    for who in ('integration', 'agent', 'supervisor', 'staff_a'):
        assert get(client, keys[who], 'm-a').status_code == 200, who
    for who in ('staff_b', 'buyer'):
        answer = get(client, keys[who], 'm-a')
        assert answer.status_code == 404, who
        assert answer.get_json()['error']['code'] == 'not_found'
    on_behalf = dict(keys['integration'], **{'X-On-Behalf-Of': 'b-1'})
    assert get(client, on_behalf, 'm-a').status_code == 404, 'an integration acting for a buyer is a buyer'
    unknown, hidden = get(client, keys['integration'], 'm-nope'), get(client, keys['staff_b'], 'm-a')
    assert unknown.get_json()['error']['message'].replace('m-nope', 'X') == \
        hidden.get_json()['error']['message'].replace('m-a', 'X'), 'existence is not leaked'
    assert client.get(URL.format('m-a')).status_code == 401


def test_shape_and_schema(client, keys, frozen):
    merchant = b.merchant('m-a')
    b.order('O-1', merchant_ref='m-a')
    from desk.cases.complaints import file_complaint
    from desk.parties.models import User
    buyer = User.get(User.role == 'buyer')
    complaint = file_complaint(buyer, b.body(order_no='O-1'))
    DepositEntry.create(merchant=merchant.id, kind='top_up', amount_fen=100000, balance_after_fen=100000)  # the fine below leaves 500.00
    with atomic():
        fake = violations.record_violation(merchant.id, 'fake_delivery', complaint)
        violations.record_violation(merchant.id, 'no_response', complaint)
    old = Violation.create(merchant=merchant.id, code='manual', points=5, fine_fen=0, reason='x',
                           at=T0 - dt.timedelta(days=400), expires_at=T0 - dt.timedelta(days=35),
                           state='expired', ended_at=T0 - dt.timedelta(days=35))
    recent = Violation.create(merchant=merchant.id, code='manual', points=5, fine_fen=0, reason='y',
                              at=T0 - dt.timedelta(days=3), expires_at=T0 + dt.timedelta(days=362),
                              state='revoked', ended_at=T0 - dt.timedelta(days=1))
    clock.advance(seconds=5)
    answer = get(client, keys['staff_a'], 'm-a')
    assert answer.status_code == 200, answer.get_json()
    data = answer.get_json()
    assert data == {
        'merchant': 'm-a', 'level': 'warning', 'level_since': '2026-11-24T10:00:00+08:00',
        'active_points': 14,
        'violations': [
            {'id': data['violations'][0]['id'], 'code': 'no_response', 'points': 2, 'fine': '0.00',
             'ticket_no': complaint.ticket_no, 'at': '2026-11-24T10:00:00+08:00',
             'expires_at': '2027-11-24T10:00:00+08:00', 'state': 'active', 'ended_at': None},
            {'id': fake.id, 'code': 'fake_delivery', 'points': 12, 'fine': '500.00',
             'ticket_no': complaint.ticket_no, 'at': '2026-11-24T10:00:00+08:00',
             'expires_at': '2027-11-24T10:00:00+08:00', 'state': 'active', 'ended_at': None},
            {'id': recent.id, 'code': 'manual', 'points': 5, 'fine': '0.00', 'ticket_no': None,
             'at': '2026-11-21T10:00:00+08:00', 'expires_at': '2027-11-21T10:00:00+08:00',
             'state': 'revoked', 'ended_at': '2026-11-23T10:00:00+08:00'}],
        'restrictions': [{'kind': 'search_demotion', 'until': None, 'reason': 'standing'}],
        'next_change_at': '2027-11-24T10:00:00+08:00',
        'deposit': {'balance': '500.00'},
        'health': merchant_health.figures_for(merchant.id)}
    assert data['health']['orders'] == 1 and data['health']['trusted'] is False
    assert old.id not in [v['id'] for v in data['violations']], 'ended over 30 days ago: not listed'
    document = client.get('/api/openapi.json').get_json()
    schema = document['components']['schemas']['Standing']
    assert set(schema['required']) == set(schema['properties']) == set(data)
    assert_valid(document, 'Standing', data)
    assert set(document['components']['schemas']['StandingViolation']['required']) == set(data['violations'][0])


def test_a_merchant_without_violations_is_normal(client, keys):
    data = get(client, keys['integration'], 'm-b').get_json()
    assert (data['level'], data['active_points'], data['violations'], data['restrictions'],
            data['next_change_at'], data['deposit']) == ('normal', 0, [], [], None, {'balance': '0.00'})


def test_reading_takes_a_fixed_number_of_statements(client, keys, frozen):
    """However many violations a merchant carries, a read is the same few queries."""
    merchant = b.merchant('m-a')
    get(client, keys['integration'], 'm-a')  # the key's first use records when it was used

    def statements():
        with count_queries() as queries:
            assert get(client, keys['integration'], 'm-a').status_code == 200
        return len(queries)

    few = statements()
    for n in range(40):
        Violation.create(merchant=merchant.id, code='manual', points=1, fine_fen=0, reason='r',
                         at=T0, expires_at=T0 + dt.timedelta(days=365), state='active')
    from arbitration.penalties.standing import recompute
    recompute([merchant.id])
    many = statements()
    # the key, the merchant with its standing, levels, violations, its health row and policy
    assert few == many == 6, (few, many)
