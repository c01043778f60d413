"""The transactional outbox and notifications (SPEC §9): what a change announces is written with
the change, delivered once (pending -> sent by compare-and-set) into each recipient's inbox in
their language, e-mail and SMS follow the commit, and a failed delivery waits for the relay."""
import json
import logging
import threading

import pytest

from desk.cases.models import Complaint
from desk.core import clock
from desk.core.db import connection
from desk.messaging import outbox
from desk.messaging.models import InboxMessage, Outbox
from desk.messaging.notifications import render
from desk.parties.models import User
from tests import builders as b
from tests.support import file_ok, post_complaint


@pytest.fixture
def people(app, users, api_key):
    """Buyer b-1 with two logins (Chinese, English), merchant m-1 with two staff (one with no
    language set, so the default Chinese), and a buyer of another merchant's order."""
    b.order('O-1')
    alice_zh = b.buyer_user(users, 'b-1', username='alice_zh')
    alice_en = b.buyer_user(users, 'b-1', username='alice_en')
    staff_default = b.staff_user(users, 'm-1', username='staff_default')
    staff_en = b.staff_user(users, 'm-1', username='staff_en')
    other_staff = b.staff_user(users, 'm-2', username='other_staff')
    User.update(locale='zh').where(User.id == alice_zh.id).execute()
    User.update(locale='en', email='alice@example.com').where(User.id == alice_en.id).execute()
    User.update(locale='en').where(User.id == staff_en.id).execute()
    return {'headers': api_key(alice_zh), 'alice_zh': alice_zh, 'alice_en': alice_en,
            'staff_default': staff_default, 'staff_en': staff_en, 'other_staff': other_staff}


def inbox(user):
    return list(InboxMessage.select().where(InboxMessage.user == user.id).order_by(InboxMessage.id))


def pending_row(recipients, complaint=None, template='complaint_message'):
    """An outbox row as a service writes it, but not yet delivered."""
    params = {'ticket': 'TS20261124-000001', 'author': '客服小王', 'excerpt': '已核实'}
    return Outbox.create(topic='notify', complaint=complaint.id if complaint else None,
                         payload=json.dumps({'template': template, 'recipients': [u.id for u in recipients],
                                             'params': params, 'link': None, 'sms': False}))


def test_filing_writes_outbox_rows_and_delivers_inbox_messages_in_each_language(client, people, frozen):
    ticket = file_ok(client, people['headers'])['ticket_no']
    complaint = Complaint.get(Complaint.ticket_no == ticket)
    rows = list(Outbox.select().where(Outbox.complaint == complaint.id).order_by(Outbox.id))
    templates = [json.loads(r.payload)['template'] for r in rows]
    assert templates == ['complaint_filed_buyer', 'complaint_filed_merchant']
    assert all(r.state == 'sent' and r.attempts == 1 and r.sent_at == clock.now() for r in rows)

    buyer_params = json.loads(rows[0].payload)['params']
    merchant_params = json.loads(rows[1].payload)['params']
    (en,) = inbox(people['alice_en'])
    (zh,) = inbox(people['alice_zh'])
    assert en.title == f'Complaint {ticket} received'
    assert (zh.title, zh.body) == render('complaint_filed_buyer', buyer_params, 'zh')
    assert en.link == zh.link == f'/buyer/complaints/{ticket}'
    assert en.complaint_id == complaint.id

    (staff_en,) = inbox(people['staff_en'])
    (staff_default,) = inbox(people['staff_default'])
    assert staff_en.title == f'New complaint {ticket}'
    assert '2026-11-25 10:00' in staff_en.body  # the merchant's deadline, local time
    assert (staff_default.title, staff_default.body) == render('complaint_filed_merchant',
                                                               merchant_params, 'zh')
    if render('complaint_filed_merchant', merchant_params, 'zh') != (staff_en.title, staff_en.body):
        assert ticket in staff_default.title  # translated, still naming the ticket
    assert inbox(people['other_staff']) == []


def test_a_platform_case_tells_the_buyer_but_not_the_merchant(client, people, frozen):
    ticket = file_ok(client, people['headers'], category='service_attitude')['ticket_no']
    assert len(inbox(people['alice_en'])) == 1
    assert inbox(people['staff_en']) == inbox(people['staff_default']) == []
    assert Outbox.select().where(Outbox.complaint ==
                                 Complaint.get(Complaint.ticket_no == ticket).id).count() == 1


def test_a_refused_filing_writes_no_outbox_row(client, people, frozen):
    assert post_complaint(client, people['headers'], facts='').status_code == 422
    assert Outbox.select().count() == 0 and InboxMessage.select().count() == 0


def test_a_row_is_delivered_once_when_deliver_runs_twice(people):
    row = pending_row([people['alice_en'], people['staff_en']])
    assert outbox.deliver(row.id) is True
    assert outbox.deliver(row.id) is False
    row = Outbox.get_by_id(row.id)
    assert (row.state, row.attempts) == ('sent', 1)
    assert [m.title for m in inbox(people['alice_en'])] == ['New message on TS20261124-000001']
    assert len(inbox(people['staff_en'])) == 1


def test_an_inactive_recipient_gets_nothing(people):
    User.update(active=False).where(User.id == people['staff_en'].id).execute()
    row = pending_row([people['alice_en'], people['staff_en']])
    outbox.deliver(row.id)
    assert inbox(people['staff_en']) == []
    assert len(inbox(people['alice_en'])) == 1


def test_two_concurrent_relays_deliver_each_row_once(app, people, frozen, caplog):
    """Both relays select the same 50 pending rows; the compare-and-set on each row's state
    lets exactly one of them deliver it (on PostgreSQL truly in parallel; SQLite serialises
    the two writers' transactions, which still interleave row by row)."""
    caplog.set_level(logging.INFO, logger='desk.messaging.notifications')
    recipients = [people['alice_en'], people['staff_en']]
    ids = [pending_row(recipients).id for _ in range(50)]
    clock.advance(seconds=outbox.RELAY_GRACE_SECONDS + 1)
    barrier = threading.Barrier(2, timeout=20)
    delivered, failures = [], []

    def relay():
        try:
            with app.app_context(), connection():
                barrier.wait()
                delivered.append(outbox.relay())
        except Exception as err:  # pragma: no cover - reported by the assertion below
            failures.append(err)

    threads = [threading.Thread(target=relay) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures == []
    assert sum(delivered) == 50
    rows = list(Outbox.select().where(Outbox.id.in_(ids)))
    assert all(r.state == 'sent' and r.attempts == 1 for r in rows)
    for user in recipients:
        assert sorted(m.outbox_id for m in inbox(user)) == sorted(ids)
    # e-mail (after commit) went out once per row too
    mails = [r for r in caplog.records if r.getMessage().startswith('e-mail to alice@example.com')]
    assert len(mails) == 50


def test_the_relay_leaves_fresh_rows_to_their_immediate_delivery(people, frozen):
    row = pending_row([people['alice_en']])
    assert outbox.relay() == 0
    clock.advance(seconds=outbox.RELAY_GRACE_SECONDS)
    assert outbox.relay() == 1
    assert Outbox.get_by_id(row.id).state == 'sent'


@pytest.fixture
def flaky_topic(monkeypatch):
    """A topic whose handler fails the first `failures` times it runs."""
    state = {'failures': 1, 'calls': 0}

    def handler(row, payload):
        state['calls'] += 1
        if state['calls'] <= state['failures']:
            raise RuntimeError('webhook endpoint answered 503')
        InboxMessage.create(user=payload['user'], outbox=row.id, title='ok')
        return []

    monkeypatch.setitem(outbox.HANDLERS, 'test_flaky', handler)
    return state


def test_a_failed_delivery_stays_pending_and_the_relay_retries_it_later(people, frozen, flaky_topic, caplog):
    row = Outbox.create(topic='test_flaky', payload=json.dumps({'user': people['alice_en'].id}))
    clock.advance(minutes=1)
    assert outbox.relay() == 0
    row = Outbox.get_by_id(row.id)
    assert (row.state, row.attempts) == ('pending', 1)
    assert '503' in row.last_error
    assert inbox(people['alice_en']) == []  # nothing half-written
    assert any('delivery failed' in r.getMessage() for r in caplog.records)
    # not retried at once ...
    clock.advance(minutes=1)
    assert outbox.relay() == 0 and flaky_topic['calls'] == 1
    # ... but after the back-off
    clock.advance(minutes=5)
    assert outbox.relay() == 1
    row = Outbox.get_by_id(row.id)
    assert (row.state, row.attempts) == ('sent', 2)
    assert [m.title for m in inbox(people['alice_en'])] == ['ok']


def test_a_failed_immediate_delivery_counts_the_attempt_and_waits_for_the_relay(people, frozen, flaky_topic):
    from desk.core.db import atomic
    with atomic():
        row = outbox.emit('test_flaky', {'user': people['alice_en'].id})
    row = Outbox.get_by_id(row.id)  # delivered inline after commit, and it failed
    assert flaky_topic['calls'] == 1
    assert (row.state, row.attempts) == ('pending', 1)
    assert '503' in row.last_error
    clock.advance(minutes=6)
    assert outbox.relay() == 1
    assert Outbox.get_by_id(row.id).state == 'sent'


def test_an_unknown_topic_is_a_failure_not_a_silent_send(people, frozen):
    row = Outbox.create(topic='no_such_topic', payload='{}')
    clock.advance(minutes=1)
    assert outbox.relay() == 0
    row = Outbox.get_by_id(row.id)
    assert (row.state, row.attempts) == ('pending', 1)
    assert 'no_such_topic' in row.last_error


def test_a_failing_email_does_not_undo_the_delivery(people, frozen, monkeypatch, caplog):
    def broken_smtp(to, subject, body):
        raise OSError('SMTP server unreachable')

    monkeypatch.setattr('desk.messaging.notifications.send_email', broken_smtp)
    row = pending_row([people['alice_en']])
    assert outbox.deliver(row.id) is True
    assert Outbox.get_by_id(row.id).state == 'sent'
    assert len(inbox(people['alice_en'])) == 1
    assert any('send after delivery failed' in r.getMessage() for r in caplog.records)


def test_email_and_sms_are_printed_to_the_log_in_development(client, people, frozen, caplog):
    caplog.set_level(logging.INFO, logger='desk.messaging.notifications')
    ticket = file_ok(client, people['headers'])['ticket_no']
    lines = [r.getMessage() for r in caplog.records if r.name == 'desk.messaging.notifications']
    mails = [line for line in lines if line.startswith('e-mail to')]
    assert len(mails) == 1  # only alice_en has an address
    assert mails[0].startswith(f'e-mail to alice@example.com: Complaint {ticket} received')
    sms = [line for line in lines if line.startswith('SMS to')]
    assert sms and all(line.startswith('SMS to 13800001234') for line in sms)


def test_nothing_is_lost_when_redis_is_down(app, client, people, frozen, monkeypatch):
    """With Redis configured but unreachable the filing still succeeds; its outbox rows wait
    and the relay delivers them."""
    import redis
    down = redis.Redis.from_url('redis://127.0.0.1:1/0', socket_connect_timeout=0.2)
    monkeypatch.setitem(app.extensions, 'desk_redis', down)
    response = post_complaint(client, people['headers'])
    assert response.status_code == 201, response.get_data(as_text=True)
    ticket = response.get_json()['ticket_no']
    complaint = Complaint.get(Complaint.ticket_no == ticket)
    assert [r.state for r in Outbox.select().where(Outbox.complaint == complaint.id)] == ['pending', 'pending']
    assert InboxMessage.select().count() == 0
    monkeypatch.setitem(app.extensions, 'desk_redis', None)
    clock.advance(seconds=outbox.RELAY_GRACE_SECONDS)
    assert outbox.relay() == 2
    assert len(inbox(people['alice_en'])) == 1
