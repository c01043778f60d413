"""Webhooks to the marketplace (SPEC §9) against a real HTTP receiver on 127.0.0.1.

The receiver is `http.server` in a thread; it records every request and answers with the
statuses the test scripts (200 when it runs out). Deliveries are attempted inline after the
commit that created them (no Redis); retries are deadlines, applied by moving the frozen
clock to `next_attempt_at` and running `desk.core.deadlines.advance_due()`.
"""
import datetime as dt
import json
import logging
import time

import pytest

from desk.cases.models import Remedy
from desk.core import clock, deadlines
from desk.core.errors import Forbidden, Invalid
from desk.messaging import webhooks
from desk.messaging.models import WebhookDelivery
from tests.arbitration.test_negotiation import case, parties, propose  # noqa: F401  (parties: a fixture)
from tests.support import act, file_ok, ok
from tests.webhook_receiver import SECRET, closed_port_url, verify


@pytest.fixture
def integration(users):
    return users('integration')


def delivery(event):
    return WebhookDelivery.get(WebhookDelivery.event == event)


# --- signing -------------------------------------------------------------------------------

def test_the_receiver_verifies_the_signature_and_a_tampered_body_fails(client, parties, receiver,  # noqa: F811
                                                                       integration, frozen):
    webhooks.subscribe(integration, receiver.url(), ['complaint.filed'], secret=SECRET)
    ticket = file_ok(client, parties['buyer'])['ticket_no']

    (got,) = receiver.requests
    headers, body = got['headers'], got['body']
    assert headers['X-Desk-Event'] == 'complaint.filed'
    assert headers['Content-Type'] == 'application/json'
    assert verify(SECRET, headers, body)
    assert abs(int(headers['X-Desk-Timestamp']) - time.time()) < 60       # real seconds, for replay checks
    payload = json.loads(body)
    assert payload['event'] == 'complaint.filed'
    assert payload['data'] == {'ticket_no': ticket, 'order_no': 'O-1', 'category': 'not_as_described',
                                    'state': 'negotiating', 'tier': 'L2'}

    tampered = body.replace(b'"negotiating"', b'"resolved"')
    assert tampered != body and not verify(SECRET, headers, tampered)
    assert not verify('another-secret', headers, body)
    assert not verify(SECRET, dict(headers, **{'X-Desk-Timestamp': str(int(headers['X-Desk-Timestamp']) + 1)}), body)

    row = delivery('complaint.filed')
    assert (row.state, row.attempts, row.last_status, row.delivered_at) == ('delivered', 1, 200, clock.now())
    assert headers['X-Desk-Idempotency-Key'] == row.idempotency_key


def test_a_resent_webhook_carries_the_same_idempotency_key(client, parties, receiver, integration,  # noqa: F811
                                                           users, frozen):
    webhooks.subscribe(integration, receiver.url(), ['*'], secret=SECRET)
    file_ok(client, parties['buyer'])
    row = delivery('complaint.filed')
    assert webhooks.resend(users('supervisor'), row.id) is True
    assert webhooks.resend(users('admin'), row.id) is True
    with pytest.raises(Forbidden):
        webhooks.resend(users('agent'), row.id)
    with pytest.raises(Forbidden):
        webhooks.resend(integration, row.id)

    sent = [r for r in receiver.requests if r['headers']['X-Desk-Event'] == 'complaint.filed']
    assert len(sent) == 3
    assert {r['headers']['X-Desk-Idempotency-Key'] for r in sent} == {row.idempotency_key}
    assert {r['body'] for r in sent} == {sent[0]['body']}
    assert all(verify(SECRET, r['headers'], r['body']) for r in sent)
    row = WebhookDelivery.get_by_id(row.id)
    assert (row.state, row.attempts) == ('delivered', 3)


def test_a_failure_is_retried_with_backoff_and_delivered_once(client, parties, receiver, integration,  # noqa: F811
                                                              frozen, caplog):
    caplog.set_level(logging.INFO, logger='desk.messaging.webhooks')
    webhooks.subscribe(integration, receiver.url(), ['complaint.filed'], secret=SECRET)
    receiver.statuses = [500, 200]
    file_ok(client, parties['buyer'])

    row = delivery('complaint.filed')
    assert (row.state, row.attempts, row.last_status, row.last_error) == ('pending', 1, 500, 'HTTP 500')
    assert row.next_attempt_at == clock.now() + dt.timedelta(seconds=30)
    assert deadlines.advance_due() == 0 and len(receiver.requests) == 1   # not yet

    clock.freeze(row.next_attempt_at)
    assert deadlines.advance_due() >= 1
    row = WebhookDelivery.get_by_id(row.id)
    assert (row.state, row.attempts, row.last_status, row.last_error) == ('delivered', 2, 200, None)
    assert (row.delivered_at, row.next_attempt_at) == (clock.now(), None)
    assert [r['headers']['X-Desk-Idempotency-Key'] for r in receiver.requests] == [row.idempotency_key] * 2

    clock.advance(hours=30)
    deadlines.advance_due()
    assert len(receiver.requests) == 2                    # delivered once: nothing more
    log = [r.getMessage() for r in caplog.records if r.name == 'desk.messaging.webhooks']
    assert [line.rsplit(': ', 1)[-1] for line in log] == ['HTTP 500 (attempt 1)', 'HTTP 200 (attempt 2)']
    assert [r.levelno for r in caplog.records if r.name == 'desk.messaging.webhooks'] == [logging.WARNING, logging.INFO]


def test_subscriptions_get_only_the_events_they_asked_for(client, parties, receiver, integration,  # noqa: F811
                                                          users, frozen):
    webhooks.subscribe(integration, receiver.url('/remedies'), ['remedy.created'])
    webhooks.subscribe(integration, receiver.url('/all'), ['*'])
    webhooks.subscribe(integration, receiver.url('/negotiation'), ['proposal.created', 'complaint.state_changed'])
    off = webhooks.subscribe(users('integration'), receiver.url('/off'), ['*'])
    off.active = False
    off.save()

    ticket = file_ok(client, parties['buyer'])['ticket_no']
    ok(propose(client, parties, ticket, amount='10.00'))
    ok(act(client, parties['buyer'], ticket, 'accept'))

    assert receiver.events('/remedies') == ['remedy.created']
    assert receiver.events('/negotiation') == ['proposal.created', 'complaint.state_changed']
    assert sorted(receiver.events('/all')) == sorted(['complaint.filed', 'proposal.created', 'remedy.created',
                                                      'complaint.state_changed'])
    assert receiver.events('/off') == []
    remedy = [json.loads(r['body']) for r in receiver.requests if r['path'] == '/remedies'][0]['data']
    assert (remedy['ticket_no'], remedy['kind'], remedy['amount'], remedy['source']) == \
        (ticket, 'refund', '10.00', 'agreement')


def test_without_a_subscription_nothing_is_queued(client, parties, receiver, integration, frozen):  # noqa: F811
    from desk.messaging.models import Outbox
    webhooks.subscribe(integration, receiver.url(), ['remedy.created'])
    file_ok(client, parties['buyer'])
    assert Outbox.select().where(Outbox.topic == 'webhook').count() == 0   # nobody wants complaint.filed
    assert WebhookDelivery.select().count() == 0 and receiver.requests == []
    assert Outbox.select().where(Outbox.topic == 'notify').count() == 2     # the notifications still go


def test_a_bad_subscription_is_refused(integration, users):
    with pytest.raises(Invalid) as refused:
        webhooks.subscribe(integration, 'ftp://example.com/x', ['complaint.filed'])
    assert 'url' in refused.value.fields
    with pytest.raises(Invalid) as refused:
        webhooks.subscribe(integration, 'https://example.com/x', ['complaint.exploded'])
    assert 'events' in refused.value.fields
    with pytest.raises(Invalid) as refused:
        webhooks.subscribe(users('admin'), 'https://example.com/x', ['*'])
    assert 'user' in refused.value.fields


def test_an_unreachable_receiver_is_given_up_after_24_hours(client, parties, integration, frozen):  # noqa: F811
    webhooks.subscribe(integration, closed_port_url(), ['complaint.filed'])
    file_ok(client, parties['buyer'])
    row = delivery('complaint.filed')
    created = row.created_at
    waits = []
    while row.state == 'pending':
        assert row.next_attempt_at is not None and row.last_status is None and row.last_error
        waits.append(int((row.next_attempt_at - clock.now()).total_seconds()))
        clock.freeze(row.next_attempt_at)
        deadlines.advance_due()
        row = WebhookDelivery.get_by_id(row.id)
        assert len(waits) < 30, 'never gave up'
    assert row.state == 'failed' and row.next_attempt_at is None
    assert clock.now() == created + dt.timedelta(hours=24)
    assert waits[:6] == [30, 60, 120, 240, 480, 960]              # 30 s doubling
    assert sum(waits) == 24 * 3600                                # the last try at exactly 24 h
    assert row.attempts == len(waits) + 1
    clock.advance(days=3)
    deadlines.advance_due()                                       # (the complaint's own timers run)
    assert not deadlines.apply_one('webhook_retry', row.id)
    assert WebhookDelivery.get_by_id(row.id).attempts == row.attempts


def test_resend_after_giving_up_tries_again(client, parties, receiver, integration, users, frozen):  # noqa: F811
    sub = webhooks.subscribe(integration, closed_port_url(), ['complaint.filed'])
    file_ok(client, parties['buyer'])
    row = delivery('complaint.filed')
    WebhookDelivery.update(state='failed', next_attempt_at=None).where(WebhookDelivery.id == row.id).execute()
    sub.url = receiver.url()                  # the marketplace fixed its endpoint
    sub.save()
    assert webhooks.resend(users('admin'), row.id) is True
    assert WebhookDelivery.get_by_id(row.id).state == 'delivered'
    assert receiver.requests[0]['headers']['X-Desk-Idempotency-Key'] == row.idempotency_key


def test_a_confirmed_remedy_is_announced_once(client, parties, receiver, integration, api_key, frozen):  # noqa: F811
    webhooks.subscribe(integration, receiver.url(), ['remedy.created', 'remedy.confirmed'], secret=SECRET)
    ticket = file_ok(client, parties['buyer'])['ticket_no']
    ok(propose(client, parties, ticket, amount='10.00'))
    ok(act(client, parties['buyer'], ticket, 'accept'))
    remedy = Remedy.get(Remedy.complaint == case(ticket).id)
    headers = api_key(integration)
    for _ in range(2):
        ok(client.post(f'/api/v1/remedies/{remedy.id}/confirm', headers=headers))
    assert receiver.events() == ['remedy.created', 'remedy.confirmed']
    created, confirmed = (json.loads(r['body'])['data'] for r in receiver.requests)
    assert created['state'] == 'pending' and confirmed['state'] == 'confirmed'
    assert created['idempotency_key'] == confirmed['idempotency_key'] == remedy.idempotency_key
    keys = [r['headers']['X-Desk-Idempotency-Key'] for r in receiver.requests]
    assert len(set(keys)) == 2 and all(verify(SECRET, r['headers'], r['body']) for r in receiver.requests)
