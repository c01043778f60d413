"""Webhooks in the backoffice: admins subscribe integration accounts (the signing secret is
shown once), supervisors and admins read the delivery log and re-send; a re-send really
reaches a local receiver that checks the signature."""
import json
import re

import pytest

from desk.cases.complaints import file_complaint
from desk.messaging import webhooks
from desk.messaging.models import WebhookDelivery, WebhookSubscription
from tests import builders as b
from tests.support import csrf_token, form_errors, isolated_client, logged_in
from tests.webhook_receiver import Receiver

SUBSCRIPTIONS = '/admin/webhooks/'
DELIVERIES = '/admin/webhook-deliveries/'


@pytest.fixture
def people(app, users):
    return {role: users(role, username=role) for role in
            ('admin', 'supervisor', 'agent', 'integration')}


def _subscribe(client, user, url, events):
    data = {'csrf_token': csrf_token(client, SUBSCRIPTIONS), 'user': str(user.id), 'url': url,
            'events': events}
    return client.post(SUBSCRIPTIONS + 'create', data=data)


def test_access_by_role(app, people, users):
    b.staff_user(users, 'm-1', username='shop1')
    expected = {'admin': (200, 200), 'supervisor': (403, 200), 'agent': (403, 403),
                'shop1': (403, 403)}
    for username, (subscriptions, deliveries) in expected.items():
        client = logged_in(app, username)
        assert client.get(SUBSCRIPTIONS).status_code == subscriptions, username
        assert client.get(DELIVERIES).status_code == deliveries, username
    anonymous = isolated_client(app)
    assert anonymous.get(SUBSCRIPTIONS).status_code == 302
    assert anonymous.get(DELIVERIES).status_code == 302
    # the menu shows each role only what it may open
    admin_menu = logged_in(app, 'admin').get('/admin/').get_data(as_text=True)
    assert SUBSCRIPTIONS in admin_menu and DELIVERIES in admin_menu
    supervisor_menu = logged_in(app, 'supervisor').get('/admin/').get_data(as_text=True)
    assert SUBSCRIPTIONS not in supervisor_menu and DELIVERIES in supervisor_menu


def test_admin_subscribes_an_integration_and_sees_the_secret_once(app, people):
    client = logged_in(app, 'admin')
    page = client.get(SUBSCRIPTIONS).get_data(as_text=True)
    for event in webhooks.EVENTS:
        assert f'name="events" value="{event}"' in page
    assert 'name="events" value="*"' in page

    response = _subscribe(client, people['integration'], 'https://market.example.com/hooks',
                          ['remedy.created', 'remedy.confirmed'])
    assert response.status_code == 200
    sub = WebhookSubscription.get()
    assert sub.user_id == people['integration'].id
    assert json.loads(sub.events) == ['remedy.created', 'remedy.confirmed']
    html = response.get_data(as_text=True)
    assert re.search(r'id="new-secret"[^>]*>' + sub.secret + '<', html)
    listing = client.get(SUBSCRIPTIONS).get_data(as_text=True)
    assert sub.secret not in listing  # shown once, never listed
    assert 'https://market.example.com/hooks' in listing and 'remedy.confirmed' in listing

    everything = _subscribe(client, people['integration'], 'https://market.example.com/all',
                            ['*', 'remedy.created'])
    assert everything.status_code == 200
    assert json.loads(WebhookSubscription.get(WebhookSubscription.url.endswith('/all')).events) == ['*']


def test_bad_subscriptions_are_refused_next_to_the_field(app, people):
    client = logged_in(app, 'admin')
    response = _subscribe(client, people['integration'], 'ftp://example.com', [])
    assert response.status_code == 422
    errors = form_errors(response.get_data(as_text=True))
    assert set(errors) == {'url', 'events'}
    assert 'value="ftp://example.com"' in response.get_data(as_text=True)  # input kept
    # only integration accounts receive webhooks
    response = _subscribe(client, people['agent'], 'https://example.com/h', ['*'])
    assert response.status_code == 422 and 'user' in form_errors(response.get_data(as_text=True))
    token = csrf_token(client, SUBSCRIPTIONS)
    response = client.post(SUBSCRIPTIONS + 'create', data={'csrf_token': token, 'user': 'x',
                                                          'url': 'https://example.com/h', 'events': ['*']})
    assert response.status_code == 422
    assert WebhookSubscription.select().count() == 0
    # a supervisor may not subscribe
    supervisor = logged_in(app, 'supervisor')
    response = supervisor.post(SUBSCRIPTIONS + 'create', data={
        'csrf_token': csrf_token(supervisor, DELIVERIES), 'user': str(people['integration'].id),
        'url': 'https://example.com/h', 'events': ['*']})
    assert response.status_code == 403
    assert WebhookSubscription.select().count() == 0


def _file_one(users, order_no='O-1'):
    """File a complaint (it publishes complaint.filed) for buyer b-1."""
    from desk.parties.models import User
    buyer = User.get_or_none(User.role == 'buyer') or b.buyer_user(users, 'b-1')
    b.order(order_no)
    return file_complaint(buyer, b.body(order_no))


def test_delivery_log_filters_and_a_resend_reaches_the_receiver(app, people, users):
    with Receiver() as receiver:
        sub = webhooks.subscribe(people['integration'], receiver.url, ['complaint.filed'])
        receiver.secret = sub.secret
        receiver.fail_next(1)
        first = _file_one(users, 'O-1')        # delivered at once, the receiver answers 500
        second = _file_one(users, 'O-2')       # delivered at once, accepted
        failed, delivered = WebhookDelivery.select().order_by(WebhookDelivery.id)
        assert (failed.state, failed.attempts, failed.last_status) == ('pending', 1, 500)
        assert failed.next_attempt_at is not None                    # a retry is scheduled
        assert (delivered.state, delivered.attempts, delivered.last_status) == ('delivered', 1, 200)
        assert [e['data']['ticket_no'] for e in receiver.received('complaint.filed')] == [second.ticket_no]

        client = logged_in(app, 'supervisor')
        html = client.get(DELIVERIES).get_data(as_text=True)
        ids = [int(i) for i in re.findall(r'data-resend="(\d+)"', html)]
        assert ids == [delivered.id, failed.id]                       # latest first
        assert 'HTTP 500' in html and receiver.url in html
        pending = client.get(DELIVERIES + '?flt0_0=pending').get_data(as_text=True)
        assert re.findall(r'data-resend="(\d+)"', pending) == [str(failed.id)]
        by_event = client.get(DELIVERIES + '?flt1_1=remedy.created').get_data(as_text=True)
        assert re.findall(r'data-resend="(\d+)"', by_event) == []
        details = client.get(DELIVERIES + f'details/?id={failed.id}').get_data(as_text=True)
        assert first.ticket_no in details  # the payload

        token = csrf_token(client, DELIVERIES)
        response = client.post(DELIVERIES + f'resend/{failed.id}',
                               data={'csrf_token': token, 'next': DELIVERIES + '?flt0_0=pending'})
        assert response.status_code == 302
        assert response.headers['Location'].endswith(DELIVERIES + '?flt0_0=pending')
        failed = WebhookDelivery.get_by_id(failed.id)
        assert (failed.state, failed.attempts, failed.last_status) == ('delivered', 2, 200)
        got = receiver.received('complaint.filed')
        assert [e['data']['ticket_no'] for e in got] == [second.ticket_no, first.ticket_no]
        assert all(e['verified'] for e in got)
        assert got[1]['headers']['X-Desk-Idempotency-Key'] == failed.idempotency_key
        html = client.get(DELIVERIES).get_data(as_text=True)
        assert 'was re-sent and the receiver accepted it' in html

        # a re-send that fails again says so and stays pending for the retries
        receiver.fail_next(1)
        client.post(DELIVERIES + f'resend/{failed.id}', data={'csrf_token': token})
        assert WebhookDelivery.get_by_id(failed.id).state == 'pending'
        assert 'failed again' in client.get(DELIVERIES).get_data(as_text=True)


def test_agents_cannot_resend(app, people, users):
    with Receiver() as receiver:
        sub = webhooks.subscribe(people['integration'], receiver.url, ['*'])
        receiver.secret = sub.secret
        _file_one(users)
    delivery = WebhookDelivery.get()
    agent = logged_in(app, 'agent')
    token = csrf_token(agent, '/admin/')
    assert agent.post(DELIVERIES + f'resend/{delivery.id}', data={'csrf_token': token}).status_code == 403
    assert WebhookDelivery.get_by_id(delivery.id).attempts == 1
    admin = logged_in(app, 'admin')
    response = admin.post(DELIVERIES + 'resend/999999', data={'csrf_token': csrf_token(admin, DELIVERIES)})
    assert response.status_code == 302
    assert 'No such delivery.' in admin.get(DELIVERIES).get_data(as_text=True)
