"""The agent desk over the API (SPEC §3 routing, §9): GET /api/v1/me, GET /api/v1/queue (for
wallboards and integrations) and PUT /api/v1/agents/me/status."""
import datetime as dt

import pytest

from desk.agent_desk import assignment
from desk.core import clock, deadlines
from desk.parties.models import User
from tests import builders as b
from tests.conftest import T0
from tests.support import error

HOUR = dt.timedelta(hours=1)


# --- who am I ------------------------------------------------------------------------------

def test_me_names_the_keys_user(en_client, users, api_key):
    agent = b.agent(users, 'ann', department='ops', status='away')
    assert en_client.get('/api/v1/me', headers=api_key(agent)).get_json() == {
        'username': 'ann', 'role': 'agent', 'department': 'ops', 'status': 'away'}
    supervisor = users('supervisor', username='sue')
    assert en_client.get('/api/v1/me', headers=api_key(supervisor)).get_json() == {
        'username': 'sue', 'role': 'supervisor', 'department': None, 'status': None}
    buyer = b.buyer_login()
    assert en_client.get('/api/v1/me', headers=api_key(buyer)).get_json()['role'] == 'buyer'


def test_me_without_a_key_is_401(en_client):
    response = en_client.get('/api/v1/me')
    assert response.status_code == 401
    assert response.headers['WWW-Authenticate'] == 'Bearer'


# --- the queue -----------------------------------------------------------------------------

@pytest.fixture
def desk(app, users, frozen):
    """cs: one overdue L2, one L1, one plain L2 owned by ann; ops: one case."""
    ann = b.agent(users, 'ann')
    clock.freeze(T0 - 3 * HOUR)
    overdue = b.case('Q-1')
    clock.freeze(T0)
    large = b.case('Q-2', amount_fen=600000)
    owned = b.case('Q-3')
    assignment.claim(ann, owned)
    b.case('Q-4', category='account_security')
    deadlines.advance_due()
    return {'ann': ann, 'cases': [b.reload(c) for c in (overdue, large, owned)]}


def test_an_agent_reads_their_departments_queue(en_client, api_key, desk):
    response = en_client.get('/api/v1/queue', headers=api_key(desk['ann']))
    assert response.status_code == 200
    body = response.get_json()
    overdue, large, owned = desk['cases']
    assert body['department'] == 'cs'
    assert [i['ticket_no'] for i in body['items']] == [overdue.ticket_no, large.ticket_no, owned.ticket_no]
    assert body['next_cursor'] is None
    first, second, third = body['items']
    assert first == {
        'ticket_no': overdue.ticket_no, 'state': 'pending_agent', 'tier': 'L2',
        'category': 'service_attitude', 'overdue': True, 'owner': None, 'order_no': 'Q-1',
        'amount': '49.90', 'merchant': '商家 m-1', 'next_target': 'first_response',
        'due': '2026-11-24T09:00:00+08:00', 'seconds_left': -3600}
    assert (second['tier'], second['overdue'], second['amount'], second['seconds_left']) == \
        ('L1', False, '6000.00', 30 * 60)
    assert (third['owner'], third['state'], third['next_target'], third['due']) == \
        ('ann', 'in_progress', 'resolution', '2026-11-25T10:00:00+08:00')
    assert body['counts'] == {'all': 3, 'overdue': 1, 'unassigned': 2, 'tier': {'L1': 1, 'L2': 2},
                              'state': {'in_progress': 1, 'pending_agent': 2}}


def test_filters_and_counts_follow_the_query_string(en_client, api_key, desk):
    headers = api_key(desk['ann'])
    body = en_client.get('/api/v1/queue?flag=unassigned&tier=L2', headers=headers).get_json()
    assert [i['ticket_no'] for i in body['items']] == [desk['cases'][0].ticket_no]
    assert body['counts']['all'] == 1
    bad = en_client.get('/api/v1/queue?tier=L7&flag=vip', headers=headers)
    assert bad.status_code == 422
    assert set(error(bad)['fields']) == {'tier', 'flag'}


def test_paging_through_the_api(en_client, api_key, desk):
    headers = api_key(desk['ann'])
    seen, cursor = [], None
    while True:
        url = '/api/v1/queue?limit=1' + (f'&cursor={cursor}' if cursor else '')
        body = en_client.get(url, headers=headers).get_json()
        seen += [i['ticket_no'] for i in body['items']]
        cursor = body['next_cursor']
        if cursor is None:
            break
    assert seen == [c.ticket_no for c in desk['cases']]


@pytest.mark.parametrize('query, field', [
    ('limit=0', 'limit'), ('limit=101', 'limit'), ('limit=ten', 'limit'), ('cursor=bogus', 'cursor')])
def test_bad_paging_parameters_are_422(en_client, api_key, desk, query, field):
    response = en_client.get(f'/api/v1/queue?{query}', headers=api_key(desk['ann']))
    assert response.status_code == 422
    assert field in error(response)['fields']


def test_an_agent_of_another_department_is_403(en_client, users, api_key, desk):
    ops_agent = b.agent(users, 'opsy', department='ops')
    headers = api_key(ops_agent)
    assert en_client.get('/api/v1/queue?department=cs', headers=headers).status_code == 403
    own = en_client.get('/api/v1/queue', headers=headers).get_json()
    assert own['department'] == 'ops' and own['counts']['all'] == 1
    assert en_client.get('/api/v1/queue?department=ops', headers=headers).status_code == 200


def test_supervisors_must_name_a_department(en_client, users, api_key, desk):
    headers = api_key(users('supervisor'))
    for query in ('', '?department=', '?department=sales'):
        response = en_client.get('/api/v1/queue' + query, headers=headers)
        assert response.status_code == 422
        assert 'department' in error(response)['fields']
    body = en_client.get('/api/v1/queue?department=ops', headers=headers).get_json()
    assert body['department'] == 'ops' and len(body['items']) == 1


@pytest.mark.parametrize('role', ['buyer', 'merchant_staff'])
def test_parties_have_no_queue(en_client, users, api_key, desk, role):
    user = b.buyer_login() if role == 'buyer' else users('merchant_staff', merchant_ref='m-1')
    assert en_client.get('/api/v1/queue?department=cs', headers=api_key(user)).status_code == 403


# --- agent status --------------------------------------------------------------------------

def put_status(en_client, headers, status):
    return en_client.put('/api/v1/agents/me/status', json={'status': status}, headers=headers)


def test_an_agent_sets_their_status(en_client, users, api_key):
    agent = b.agent(users, 'ann', status='offline')
    headers = api_key(agent)
    for status in ('online', 'away', 'offline'):
        response = put_status(en_client, headers, status)
        assert response.status_code == 200
        assert response.get_json() == {'username': 'ann', 'status': status}
        assert User.get_by_id(agent.id).status == status


@pytest.mark.parametrize('status', ['busy', '', None, 1, 'ONLINE'])
def test_an_unknown_status_is_422(en_client, users, api_key, status):
    agent = b.agent(users, 'ann', status='away')
    response = put_status(en_client, api_key(agent), status)
    assert response.status_code == 422
    assert 'status' in error(response)['fields']
    assert User.get_by_id(agent.id).status == 'away'


def test_a_status_needs_a_json_body(en_client, users, api_key):
    headers = api_key(b.agent(users, 'ann'))
    response = en_client.put('/api/v1/agents/me/status', data='online', headers=headers)
    assert response.status_code == 422


@pytest.mark.parametrize('role', ['supervisor', 'admin', 'buyer'])
def test_only_agents_have_a_status(en_client, users, api_key, role):
    user = b.buyer_login() if role == 'buyer' else users(role)
    response = put_status(en_client, api_key(user), 'online')
    assert response.status_code == 403


def test_coming_online_takes_waiting_cases(en_client, users, api_key, frozen):
    b.set_mode('cs', 'round_robin')
    agent = b.agent(users, 'ann', status='offline', capacity=2)
    waiting = [b.case(f'W-{i}') for i in range(3)]
    assert all(b.reload(c).owner_id is None for c in waiting)
    assert put_status(en_client, api_key(agent), 'online').status_code == 200
    owners = [b.reload(c).owner_id for c in waiting]
    assert owners == [agent.id, agent.id, None], 'up to the capacity, in queue order'
