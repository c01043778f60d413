"""The OpenAPI document at /api/openapi.json: valid OpenAPI 3, complete, and true to the
representations the API really returns."""
import re

import pytest
from flask import jsonify
from openapi_spec_validator import validate

from desk.cases import lifecycle
from tests import builders as b
from tests.support import assert_valid
from web.api.base import authenticated
from web.api.openapi import ACTION_BODIES, API_PREFIX, CALLABLE_ACTIONS, action_schema_name, build_document, operation

ERROR_STATUSES = ('400', '401', '403', '404', '409', '413', '415', '422')
IGNORED_METHODS = {'HEAD', 'OPTIONS'}


def api_operations(app):
    """(openapi path, method) of every rule under /api/v1."""
    found = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(API_PREFIX + '/'):
            path = re.sub(r'<(?:[^:<>]+:)?([^<>]+)>', r'{\1}', rule.rule[len(API_PREFIX):])
            found |= {(path, m.lower()) for m in rule.methods - IGNORED_METHODS}
    return found


def documented_operations(document):
    return {(path, method) for path, item in document['paths'].items()
            for method in item if method in ('get', 'put', 'post', 'patch', 'delete')}


@pytest.fixture
def document(client):
    response = client.get('/api/openapi.json')  # no key needed
    assert response.status_code == 200
    assert response.mimetype == 'application/json'
    return response.get_json()


ORDER = {'buyer': {'ref': 'B1', 'name': 'Zhang San', 'phone': '13812341234'},
         'merchant': {'ref': 'M1', 'name': 'Card Shop'},
         'product': 'Game card 100', 'sku': 'GC100', 'goods_type': 'game_card', 'amount': '100.00',
         'paid_at': '2026-11-23T10:00:00+08:00', 'payment_method': 'alipay', 'card_code': 'ABCD-1234'}


@pytest.fixture
def filed(client, users, api_key, frozen):
    """An order and a complaint on it, through the API; returns (headers of the buyer, JSON)."""
    integration = api_key(users('integration'))
    order = client.put('/api/v1/orders/O100', headers=integration, json=ORDER)
    assert order.status_code == 201, order.get_json()
    buyer = dict(integration, **{'X-On-Behalf-Of': 'B1'})
    complaint = client.post('/api/v1/complaints', headers=buyer, json={
        'order_no': 'O100', 'category': 'recharge_not_arrived', 'facts': 'Never arrived.',
        'scenario': {'receiving_account': '13812341234', 'minutes_late': 90},
        'demand': {'type': 'partial_refund', 'amount': '50.00'}, 'external': ['12315']})
    assert complaint.status_code == 201, complaint.get_json()
    return buyer, order.get_json(), complaint.get_json()


def test_the_document_is_valid_openapi_3(document):
    assert document['openapi'].startswith('3.0')
    validate(document)  # raises with the first violation


def test_every_api_route_is_documented(app, document):
    routes, documented = api_operations(app), documented_operations(document)
    assert routes, 'no API routes found'
    assert not routes - documented, (
        f'undocumented API operations {sorted(routes - documented)}: annotate the view with '
        '@operation(...) from web/api/openapi.py')
    assert not documented - routes, f'documented but not served: {sorted(documented - routes)}'


def test_a_new_undocumented_route_is_noticed(make_app):
    other = make_app()

    @authenticated()
    def ping():
        return jsonify(ok=True)
    other.add_url_rule(API_PREFIX + '/ping', 'api.ping', ping)
    with other.app_context():
        missing = api_operations(other) - documented_operations(build_document(other))
    assert missing == {('/ping', 'get')}

    @operation(tag='orders', responses={200: 'Order'})
    @authenticated()
    def pong(number):
        """Pong."""
        return jsonify(ok=number)
    other.add_url_rule(API_PREFIX + '/pong/<int:number>', 'api.pong', pong)
    with other.app_context():
        document = build_document(other)
    assert ('/ping', 'get') not in documented_operations(document)
    op = document['paths']['/pong/{number}']['get']
    assert (op['summary'], op['security']) == ('Pong.', [{'bearerAuth': []}])
    assert document['paths']['/pong/{number}']['parameters'][0]['schema'] == {'type': 'integer'}


def test_the_minimum_surface_is_there(document):
    assert documented_operations(document) >= {
        ('/orders/{order_no}', 'put'), ('/orders/{order_no}', 'get'),
        ('/complaints', 'post'), ('/complaints', 'get'), ('/complaints/{ticket_no}', 'get'),
        ('/complaints/{ticket_no}/actions/{action}', 'post'),
        ('/complaints/{ticket_no}/events', 'get')}
    assert document['servers'] == [{'url': API_PREFIX}]


def test_bearer_auth_and_on_behalf_of_on_every_operation(document):
    assert document['components']['securitySchemes']['bearerAuth'] == {
        'type': 'http', 'scheme': 'bearer',
        'description': document['components']['securitySchemes']['bearerAuth']['description']}
    header = document['components']['parameters']['OnBehalfOf']
    assert (header['in'], header['name'], header['required']) == ('header', 'X-On-Behalf-Of', False)
    for path, item in document['paths'].items():
        for method, op in item.items():
            if method == 'parameters':
                continue
            assert op['security'] == [{'bearerAuth': []}], (path, method)
            assert {'$ref': '#/components/parameters/OnBehalfOf'} in op['parameters'], (path, method)
            assert op['summary'], (path, method)
            assert {'401', '403', '404'} <= set(op['responses']), (path, method)


def test_error_responses_share_the_error_schema(document):
    responses = document['components']['responses']
    by_status = {}
    for item in document['paths'].values():
        for method, op in item.items():
            if method != 'parameters':
                by_status.update({s: r for s, r in op['responses'].items() if s >= '400'})
    assert set(by_status) == set(ERROR_STATUSES)
    for status, ref in by_status.items():
        name = ref['$ref'].rsplit('/', 1)[-1]
        content = responses[name]['content']['application/json']
        assert content['schema'] == {'$ref': '#/components/schemas/Error'}
        assert_valid(document, 'Error', content['example'])


def test_the_action_enum_and_bodies_come_from_the_lifecycle(document):
    expected = [a for a in lifecycle.ACTIONS if a != 'file' and a not in lifecycle.TIMER_ACTIONS]
    assert list(CALLABLE_ACTIONS) == expected
    assert set(ACTION_BODIES) == set(expected), (
        'ACTION_BODIES in web/api/openapi.py must have one entry per callable lifecycle action; '
        f'missing {sorted(set(expected) - set(ACTION_BODIES))}, '
        f'extra {sorted(set(ACTION_BODIES) - set(expected))}')
    path = document['paths']['/complaints/{ticket_no}/actions/{action}']
    (action,) = [p for p in path['parameters'] if p['name'] == 'action']
    assert action['schema']['enum'] == expected
    op = path['post']
    assert op['requestBody']['content']['application/json']['schema'] == {
        '$ref': '#/components/schemas/ActionBody'}
    assert set(op['x-action-bodies']) == set(expected)
    schemas = document['components']['schemas']
    for name in expected:
        schema = schemas[action_schema_name(name)]
        assert op['x-action-bodies'][name] == {'$ref': f'#/components/schemas/{action_schema_name(name)}'}
        assert_valid(document, action_schema_name(name), schema['example'])
        built = all(t.built for t in lifecycle.rows_for(name))
        assert ('not available yet' in schema['description']) is not built, name
    complaint_actions = schemas['Complaint']['properties']['allowed_actions']['items']['enum']
    assert complaint_actions == expected


def test_the_complaint_schema_is_the_real_representation(client, document, filed):
    buyer, _order, created = filed
    schema = document['components']['schemas']['Complaint']
    read = client.get(f'/api/v1/complaints/{created["ticket_no"]}', headers=buyer).get_json()
    assert set(schema['required']) == set(read), (
        f'Complaint schema requires {sorted(set(schema["required"]) - set(read))} the API does not '
        f'return, and misses {sorted(set(read) - set(schema["required"]))}')
    assert set(schema['properties']) == set(read)
    assert set(read['deadlines']) <= set(schema['properties']['deadlines']['properties'])
    assert read['allowed_actions'], 'a buyer can act on a fresh complaint'
    assert_valid(document, 'Complaint', created)
    assert_valid(document, 'Complaint', read)
    listed = client.get('/api/v1/complaints', headers=buyer).get_json()
    assert_valid(document, 'ComplaintList', listed)
    acted = client.post(f'/api/v1/complaints/{created["ticket_no"]}/actions/message', headers=buyer,
                        json=schema_example(document, 'message'))
    assert acted.status_code == 200, acted.get_json()
    assert_valid(document, 'Complaint', acted.get_json())


def test_order_and_event_schemas_are_the_real_representations(client, document, filed):
    buyer, order, complaint = filed
    schemas = document['components']['schemas']
    read = client.get('/api/v1/orders/O100', headers=buyer).get_json()
    assert set(schemas['Order']['required']) == set(order) == set(read)
    assert_valid(document, 'Order', order)
    assert_valid(document, 'Order', read)
    events = client.get(f'/api/v1/complaints/{complaint["ticket_no"]}/events', headers=buyer).get_json()
    assert events['items']
    assert set(schemas['Event']['required']) == set(events['items'][0])
    assert_valid(document, 'EventList', events)


def test_errors_match_the_error_schema(client, document, filed):
    buyer, _order, complaint = filed
    answers = [
        client.get('/api/v1/complaints/TS-NOPE', headers=buyer),                          # 404
        client.get('/api/v1/complaints'),                                                  # 401
        client.post(f'/api/v1/complaints/{complaint["ticket_no"]}/actions/merchant_timeout',
                    headers=buyer),                                                        # 403
        client.post(f'/api/v1/complaints/{complaint["ticket_no"]}/actions/accept',
                    headers=buyer),                                                        # 409
        client.post('/api/v1/complaints', headers=buyer, json={                            # 409
            'order_no': 'O100', 'category': 'not_as_described', 'facts': 'Again.',
            'demand': {'type': 'full_refund'}}),
        client.post('/api/v1/complaints', headers=buyer, json={}),                         # 422
    ]
    assert [a.status_code for a in answers] == [404, 401, 403, 409, 409, 422]
    for answer in answers:
        assert_valid(document, 'Error', answer.get_json())
    assert answers[4].get_json()['error']['ticket_no'] == complaint['ticket_no']


def schema_example(document, action):
    return document['components']['schemas'][action_schema_name(action)]['example']


def test_agent_desk_schemas_are_the_real_representations(client, users, api_key, document, filed):
    buyer, _order, _complaint = filed
    agent = api_key(users('agent', department='cs'))
    me = client.get('/api/v1/me', headers=buyer).get_json()
    assert set(document['components']['schemas']['Me']['required']) == set(me)
    assert_valid(document, 'Me', me)
    assert_valid(document, 'Me', client.get('/api/v1/me', headers=agent).get_json())
    status = client.put('/api/v1/agents/me/status', headers=agent, json={'status': 'away'})
    assert status.status_code == 200, status.get_json()
    assert_valid(document, 'AgentStatus', status.get_json())
    integration = {'Authorization': buyer['Authorization']}
    assert client.put('/api/v1/orders/O101', headers=integration, json=ORDER).status_code == 201
    platform_case = client.post('/api/v1/complaints', headers=buyer, json={
        'order_no': 'O101', 'category': 'service_attitude', 'facts': 'Rude on the phone.',
        'demand': {'type': 'other'}})
    assert platform_case.json['state'] == 'pending_agent'
    queue = client.get('/api/v1/queue', headers=agent)
    assert queue.status_code == 200, queue.get_json()
    assert [item['ticket_no'] for item in queue.json['items']] == [platform_case.json['ticket_no']]
    assert set(document['components']['schemas']['Queue']['required']) == set(queue.get_json())
    assert_valid(document, 'Queue', queue.get_json())


def test_penalty_schemas_are_the_real_representations(client, users, api_key, document, frozen):
    """Issue 8: manual violation, penalty appeal and decision, deposit top-up and ledger."""
    b.merchant('m-1')
    boss, market = api_key(users('supervisor')), api_key(users('integration'))
    shop = api_key(b.staff_user(users, 'm-1'))
    paths = document['paths']
    for path, method in [('/violations/{violation_id}/appeal', 'post'),
                         ('/violation-appeals/{appeal_id}/decision', 'post'),
                         ('/merchants/{ref}/violations', 'post'), ('/merchants/{ref}/deposit', 'get'),
                         ('/merchants/{ref}/deposit/top-ups', 'post')]:
        assert method in paths[path], path
    top_up_params = paths['/merchants/{ref}/deposit/top-ups']['post']['parameters']
    assert {'$ref': '#/components/parameters/IdempotencyKey'} in top_up_params
    schemas = document['components']['schemas']
    entry = client.post('/api/v1/merchants/m-1/deposit/top-ups', headers=market, json={'amount': '1.00'})
    assert entry.status_code == 201, entry.get_json()
    assert set(schemas['DepositEntry']['required']) == set(entry.get_json())
    assert_valid(document, 'DepositEntry', entry.get_json())
    v = client.post('/api/v1/merchants/m-1/violations', headers=boss,
                    json={'points': 2, 'fine': '5.00', 'reason': 'x', 'ticket_no': b.case('O-5').ticket_no}).get_json()
    assert set(schemas['Violation']['required']) == set(v)
    assert_valid(document, 'Violation', v)
    appeal = client.post(f'/api/v1/violations/{v["id"]}/appeal', headers=shop, json={'reason': 'x'}).get_json()
    assert set(schemas['ViolationAppeal']['required']) == set(appeal)
    assert_valid(document, 'ViolationAppeal', appeal)
    decided = client.post(f'/api/v1/violation-appeals/{appeal["id"]}/decision', headers=boss,
                          json={'decision': 'uphold', 'note': 'x'}).get_json()
    assert_valid(document, 'ViolationAppeal', decided)
    ledger = client.get('/api/v1/merchants/m-1/deposit', headers=shop).get_json()
    assert set(schemas['DepositLedger']['required']) == set(ledger)
    assert_valid(document, 'DepositLedger', ledger)
    assert (ledger['balance'], ledger['on_hold']) == ('-4.00', True)
