"""The case timeline (SPEC §9): events are chained per complaint (seq 1..n, each carrying the
previous event's hash), and `desk verify-audit` names every complaint whose stored history
was altered or cut."""
import json
import threading

import pytest

from desk.cases.models import Complaint, Event
from desk.cases.timeline import GENESIS, verify_all, verify_chain
from desk.core import clock
from desk.core.db import database
from tests import builders as b
from tests.support import act, file_ok


@pytest.fixture
def case(app, users, api_key, client, frozen):
    """Two complaints; the first has five events (filed, edited, internal note, message,
    withdrawn), the second only its filing."""
    alice = api_key(b.buyer_user(users, 'b-1'))
    agent = api_key(users('agent', department='cs'))
    b.order('O-1')
    b.order('O-2')
    first = file_ok(client, alice, order_no='O-1')['ticket_no']
    second = file_ok(client, alice, order_no='O-2')['ticket_no']
    clock.advance(minutes=5)
    assert act(client, alice, first, 'edit', {'facts': '补充说明:到账 50 元。'}).status_code == 200
    clock.advance(minutes=5)
    assert act(client, agent, first, 'message', {'body': '先核对商家发货记录', 'internal': True}).status_code == 200
    assert act(client, alice, first, 'message', {'body': '请尽快处理'}).status_code == 200
    clock.advance(minutes=5)
    assert act(client, alice, first, 'withdraw', {'reason': '已自行解决'}).status_code == 200
    return {'first': first, 'second': second, 'alice': alice, 'agent': agent}


def chain(ticket):
    complaint = Complaint.get(Complaint.ticket_no == ticket)
    return list(Event.select().where(Event.complaint == complaint.id).order_by(Event.seq))


def sql(statement, *params):
    """Run raw SQL the way someone with database access would (placeholders per backend)."""
    database.execute_sql(statement.replace('?', database.param), params)


def run_verify(app):
    return app.test_cli_runner().invoke(args=['desk', 'verify-audit'])


def test_events_are_chained_in_order(case):
    events = chain(case['first'])
    assert [e.kind for e in events] == ['filed', 'edited', 'internal_note', 'message', 'withdrawn']
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    assert events[0].prev_hash == GENESIS
    for before, after in zip(events, events[1:]):
        assert after.prev_hash == before.hash
        assert after.at >= before.at
    assert len({e.hash for e in events}) == 5
    assert verify_chain(events[0].complaint_id) is None
    assert list(verify_all()) == []


def test_the_events_api_returns_the_chain_in_order(client, case):
    items = client.get(f'/api/v1/complaints/{case["first"]}/events',
                       headers=case['agent']).get_json()['items']
    assert [e['seq'] for e in items] == [1, 2, 3, 4, 5]
    assert items[4]['data'] == {'reason': '已自行解决'}
    assert items[0]['at'] == '2026-11-24T10:00:00+08:00'


def test_an_intact_database_verifies_with_exit_0(app, case):
    result = run_verify(app)
    assert result.exit_code == 0, result.output
    assert 'intact' in result.output


@pytest.mark.parametrize('column, value', [
    ('data', json.dumps({'reason': '商家已退款'}, ensure_ascii=False)),
    ('kind', 'message'),
    ('actor_role', 'supervisor'),
    ('at', '2026-11-20 02:00:00'),
])
def test_an_altered_event_is_named(app, case, column, value):
    target = chain(case['first'])[4]
    sql(f'UPDATE event SET {column} = ? WHERE id = ?', value, target.id)
    assert list(verify_all()) == [(case['first'], 'event 5 was altered')]
    result = run_verify(app)
    assert result.exit_code == 1
    assert case['first'] in result.output
    assert case['second'] not in result.output


def test_publishing_an_internal_note_is_detected(app, case):
    note = chain(case['first'])[2]
    assert note.kind == 'internal_note' and not note.public
    Event.update(public=True).where(Event.id == note.id).execute()
    assert list(verify_all()) == [(case['first'], 'event 3 was altered')]


def test_rewriting_one_event_with_a_fresh_hash_breaks_the_next_link(case):
    """Someone who recomputes the altered event's own hash still breaks the chain after it."""
    from desk.cases import timeline
    events = chain(case['first'])
    target = events[1]
    data = json.loads(target.data)
    data['changed'] = ['demand']
    new_hash = timeline._digest(target.complaint_id, target.seq, target.at, target.actor_id,
                                target.actor_role, target.kind, target.public, data, target.prev_hash)
    Event.update(data=json.dumps(data, sort_keys=True), hash=new_hash).where(Event.id == target.id).execute()
    assert list(verify_all()) == [(case['first'], 'event 3 does not follow event 2')]


def test_a_deleted_event_is_detected(app, case):
    target = chain(case['first'])[1]
    sql('DELETE FROM event WHERE id = ?', target.id)
    assert list(verify_all()) == [(case['first'], 'event 2 is missing')]
    result = run_verify(app)
    assert result.exit_code == 1
    assert case['first'] in result.output


def test_a_deleted_first_event_is_detected(case):
    sql('DELETE FROM event WHERE id = ?', chain(case['first'])[0].id)
    assert list(verify_all()) == [(case['first'], 'event 1 is missing')]


def test_a_complaint_whose_whole_timeline_was_deleted_is_detected(case):
    sql('DELETE FROM event WHERE id = ?', chain(case['second'])[0].id)
    assert list(verify_all()) == [(case['second'], 'event 1 is missing')]


def test_a_deleted_last_event_is_detected(case):
    sql('DELETE FROM event WHERE id = ?', chain(case['first'])[-1].id)
    assert list(verify_all()) == [(case['first'], 'event 5 is missing')]


def test_verify_names_every_broken_complaint_and_only_those(app, case, client):
    alice = case['alice']
    for n in range(3, 8):
        b.order(f'O-{n}')
        file_ok(client, alice, order_no=f'O-{n}')
    broken = [case['second'], Complaint.select().order_by(Complaint.id.desc()).first().ticket_no]
    for ticket in broken:
        sql('UPDATE event SET data = ? WHERE id = ?', '{}', chain(ticket)[0].id)
    assert sorted(t for t, _ in verify_all(batch=2)) == sorted(broken)
    result = run_verify(app)
    assert result.exit_code == 1
    assert all(t in result.output for t in broken)
    assert '2 complaint(s)' in result.output


def test_concurrent_messages_keep_one_linear_chain(app, case, client):
    """Two writers on one complaint at once: each message is either recorded in the chain
    or refused with 409 — never a fork, a duplicate seq or a 500."""
    ticket = case['second']
    headers = case['alice']
    barrier = threading.Barrier(4, timeout=20)
    statuses = []

    def post(n):
        client = app.test_client()
        barrier.wait()
        for i in range(5):
            try:
                response = act(client, headers, ticket, 'message', {'body': f'writer {n} message {i}'})
            except Exception as err:  # the test app propagates what would be a 500
                statuses.append(repr(err))
                continue
            statuses.append(response.status_code)

    threads = [threading.Thread(target=post, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert set(statuses) <= {200, 409}, statuses
    events = chain(ticket)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert len(events) == 1 + statuses.count(200)
    assert statuses.count(200) >= 1
    assert list(verify_all()) == []
