"""Who sees which complaint through the API (SPEC §1, §9a): a forbidden case answers exactly
like a missing one, lists only hold what the caller may see, and the parties never see the
staff's internal notes."""
import pytest

from desk.cases.models import Complaint, Event
from tests import builders as b
from tests.support import act, file_ok, post_complaint


@pytest.fixture
def world(app, users, api_key, frozen, client):
    """Two buyers at two merchants, each with one complaint, plus staff of every kind.

    Alice (b-1) complains about O-A at merchant m-1 (not_as_described, queue cs);
    Bob (b-2) complains about O-B at merchant m-2 (fake_delivery, queue ops).
    """
    b.order('O-A', buyer_ref='b-1', merchant_ref='m-1')
    b.order('O-B', buyer_ref='b-2', merchant_ref='m-2')
    w = {
        'alice': api_key(b.buyer_user(users, 'b-1')),
        'bob': api_key(b.buyer_user(users, 'b-2')),
        'm1': api_key(b.staff_user(users, 'm-1')),
        'm2': api_key(b.staff_user(users, 'm-2')),
        'cs_agent_user': users('agent', department='cs'),
        'ops_agent': api_key(users('agent', department='ops')),
        'tech_agent_user': users('senior_agent', department='tech'),
        'supervisor': api_key(users('supervisor')),
        'admin': api_key(users('admin')),
        'integration': api_key(users('integration')),
    }
    w['cs_agent'] = api_key(w['cs_agent_user'])
    w['tech_agent'] = api_key(w['tech_agent_user'])
    w['A'] = file_ok(client, w['alice'], order_no='O-A')['ticket_no']
    w['B'] = file_ok(client, w['bob'], order_no='O-B', category='fake_delivery')['ticket_no']
    return w


def listed(client, headers, query=''):
    response = client.get('/api/v1/complaints' + query, headers=headers)
    assert response.status_code == 200, response.get_json()
    return {item['ticket_no'] for item in response.get_json()['items']}


def read(client, headers, ticket):
    return client.get(f'/api/v1/complaints/{ticket}', headers=headers)


def events(client, headers, ticket):
    return client.get(f'/api/v1/complaints/{ticket}/events', headers=headers)


def same_as_missing(response, ticket, client, headers):
    """`response` is the 404 a ticket that does not exist would get (existence never leaks)."""
    missing = read(client, headers, 'TS20990101-999999')
    assert response.status_code == missing.status_code == 404
    message = response.get_json()['error']['message']
    assert message.replace(ticket, '#') == missing.get_json()['error']['message'].replace('TS20990101-999999', '#')


# --- buyers -------------------------------------------------------------------------------

def test_a_buyer_lists_only_their_own_complaints(client, world):
    assert listed(client, world['alice']) == {world['A']}
    assert listed(client, world['bob']) == {world['B']}
    # filtering on the other buyer's ref or merchant shows nothing either
    assert listed(client, world['alice'], '?buyer=b-2') == set()
    assert listed(client, world['alice'], '?merchant=m-2') == set()


def test_a_buyer_cannot_read_another_buyers_complaint(client, world):
    assert read(client, world['alice'], world['A']).status_code == 200
    same_as_missing(read(client, world['alice'], world['B']), world['B'], client, world['alice'])


def test_a_buyer_cannot_see_another_buyers_events(client, world):
    response = events(client, world['alice'], world['B'])
    assert response.status_code == 404
    assert 'items' not in response.get_json()


@pytest.mark.parametrize('action, data', [
    ('withdraw', {}), ('message', {'body': 'hello'}), ('edit', {'facts': 'mine now'}),
    ('mark_external', {'external': ['12315']}), ('claim', {}), ('teleport', {}),
])
def test_a_buyer_cannot_act_on_another_buyers_complaint(client, world, action, data):
    before = Complaint.get(Complaint.ticket_no == world['B'])
    response = act(client, world['alice'], world['B'], action, data)
    assert response.status_code == 404
    after = Complaint.get(Complaint.ticket_no == world['B'])
    assert (after.state, after.version, after.facts) == (before.state, before.version, before.facts)
    assert Event.select().where(Event.complaint == after.id).count() == 1


# --- merchants ----------------------------------------------------------------------------

def test_merchant_staff_see_only_their_merchants_complaints(client, world):
    assert listed(client, world['m1']) == {world['A']}
    assert read(client, world['m1'], world['A']).status_code == 200
    same_as_missing(read(client, world['m1'], world['B']), world['B'], client, world['m1'])
    assert events(client, world['m1'], world['B']).status_code == 404
    assert act(client, world['m1'], world['B'], 'message', {'body': 'hi'}).status_code == 404


# --- agents -------------------------------------------------------------------------------

def test_an_agent_sees_their_departments_queue_not_another(client, world):
    assert listed(client, world['cs_agent']) == {world['A']}
    assert listed(client, world['ops_agent']) == {world['B']}
    same_as_missing(read(client, world['cs_agent'], world['B']), world['B'], client, world['cs_agent'])
    assert events(client, world['cs_agent'], world['B']).status_code == 404
    assert act(client, world['cs_agent'], world['B'], 'message', {'body': 'x'}).status_code == 404


def test_an_agent_also_sees_the_cases_they_own_in_other_queues(client, world):
    assert read(client, world['tech_agent'], world['A']).status_code == 404
    b.force_state(world['A'], None, owner=world['tech_agent_user'].id)
    assert listed(client, world['tech_agent']) == {world['A']}
    body = read(client, world['tech_agent'], world['A']).get_json()
    assert body['owner'] == world['tech_agent_user'].username
    assert 'message' in body['allowed_actions']
    assert events(client, world['tech_agent'], world['A']).status_code == 200


def test_supervisors_and_admins_see_everything(client, world):
    for who in ('supervisor', 'admin'):
        assert listed(client, world[who]) == {world['A'], world['B']}
        assert read(client, world[who], world['B']).status_code == 200


# --- integration keys and X-On-Behalf-Of --------------------------------------------------

def test_integration_acting_for_a_buyer_is_that_buyer(client, world):
    as_alice = dict(world['integration'], **{'X-On-Behalf-Of': 'b-1'})
    assert listed(client, as_alice) == {world['A']}
    assert read(client, as_alice, world['A']).status_code == 200
    assert read(client, as_alice, world['B']).status_code == 404
    assert act(client, as_alice, world['B'], 'withdraw').status_code == 404
    assert act(client, as_alice, world['A'], 'message', {'body': '代买家留言'}).status_code == 200


def test_integration_files_for_a_buyer_only_on_their_orders(client, world):
    b.order('O-A2', buyer_ref='b-1')
    b.order('O-B2', buyer_ref='b-2')
    as_alice = dict(world['integration'], **{'X-On-Behalf-Of': 'b-1'})
    assert post_complaint(client, as_alice, order_no='O-B2').status_code == 404
    filed = post_complaint(client, as_alice, order_no='O-A2')
    assert filed.status_code == 201
    assert filed.get_json()['channel'] == 'api'
    # without acting for someone an integration key cannot file
    assert post_complaint(client, world['integration'], order_no='O-B2').status_code == 403


def test_on_behalf_of_an_unknown_buyer_is_404(client, world):
    headers = dict(world['integration'], **{'X-On-Behalf-Of': 'b-404'})
    assert client.get('/api/v1/complaints', headers=headers).status_code == 404
    assert post_complaint(client, headers, order_no='O-A').status_code == 404
    assert Complaint.select().count() == 2


@pytest.mark.parametrize('who', ['alice', 'm1', 'cs_agent', 'supervisor', 'admin'])
def test_only_an_integration_key_may_act_on_behalf_of_a_buyer(client, world, who):
    headers = dict(world[who], **{'X-On-Behalf-Of': 'b-2'})
    assert client.get('/api/v1/complaints', headers=headers).status_code == 403
    assert read(client, headers, world['B']).status_code == 403


# --- internal notes -----------------------------------------------------------------------

def test_parties_see_public_events_only_staff_see_all(client, world):
    note = act(client, world['cs_agent'], world['A'], 'message',
                 {'body': '疑似职业索赔人,核对历史订单', 'internal': True})
    assert note.status_code == 200
    reply = act(client, world['m1'], world['A'], 'message', {'body': '正在核实'})
    assert reply.status_code == 200

    def kinds(headers):
        response = events(client, headers, world['A'])
        assert response.status_code == 200
        return [e['kind'] for e in response.get_json()['items']]

    for party in ('alice', 'm1'):
        assert kinds(world[party]) == ['filed', 'message'], party
        text = events(client, world[party], world['A']).get_data(as_text=True)
        assert '职业索赔人' not in text
    for staff in ('cs_agent', 'supervisor', 'admin'):
        assert kinds(world[staff]) == ['filed', 'internal_note', 'message'], staff
    as_alice = dict(world['integration'], **{'X-On-Behalf-Of': 'b-1'})
    assert kinds(as_alice) == ['filed', 'message']


@pytest.mark.parametrize('who', ['alice', 'm1'])
def test_a_party_posting_an_internal_note_is_403(client, world, who):
    response = act(client, world[who], world['A'], 'message', {'body': 'secret', 'internal': True})
    assert response.status_code == 403
    assert not Event.select().where(Event.kind == 'internal_note').exists()


def test_allowed_actions_depend_on_who_asks(client, world):
    buyer = set(read(client, world['alice'], world['A']).get_json()['allowed_actions'])
    merchant = set(read(client, world['m1'], world['A']).get_json()['allowed_actions'])
    agent = set(read(client, world['cs_agent'], world['A']).get_json()['allowed_actions'])
    assert {'withdraw', 'edit', 'message'} <= buyer
    assert 'withdraw' not in merchant and 'edit' not in merchant and 'message' in merchant
    assert 'withdraw' not in agent and 'message' in agent
