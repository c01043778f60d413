"""Deadlines applied in batches are the same deadlines applied one at a time.

`desk.core.deadlines` applies a batch deadline (SLA checks, merchant deadlines) to up to `BATCH`
due rows in one transaction with set-based SQL, and the exact-time job calls the very same
handler with one id. These tests build two identical sets of cases, apply one set a row at
a time (`apply_one`, as the exact-time jobs do) and the other in one sweep (`advance_due`),
and compare everything the transition writes: states and queue columns, timeline events
(and their hash chains), violations, SLA clocks and events, remedies, outbox rows and inbox
messages — ids and ticket numbers aside. Then: a human action between the sweep's read and
its write leaves that row to the human; applying twice is applying once; two sweeps at once
apply each row once.
"""
import datetime as dt
import json
import threading

import pytest

from arbitration import negotiation
from arbitration.penalties.models import Violation
from desk.agent_desk.models import SlaClock, SlaEvent
from desk.cases.complaints import file_complaint, withdraw
from desk.cases.models import Complaint, Event, Remedy
from desk.cases.timeline import verify_chain
from desk.core import clock, deadlines
from desk.core.db import connection
from desk.messaging import webhooks
from desk.messaging.models import InboxMessage, Outbox
from tests import builders as b
from tests.conftest import T0

HOUR = dt.timedelta(hours=1)
DUE = T0 + 24 * HOUR

#: Dozens of complaints against m-1 would also record complaint_spike violations on filing
#: (tests/arbitration/penalties/test_spike.py covers those); these tests compare what the
#: deadlines write.
pytestmark = pytest.mark.usefixtures('no_complaint_spike')


@pytest.fixture
def people(app, users):
    buyer = b.buyer_user(users, 'b-1')
    staff = b.staff_user(users, 'm-1')
    supervisor = users('supervisor')
    integration = users('integration')
    webhooks.subscribe(integration, 'http://127.0.0.1:9/hook', ['*'])  # publish writes its rows
    return {'buyer': buyer, 'staff': staff, 'supervisor': supervisor}


def file_cases(people, prefix, n, category='not_as_described', amounts=None):
    """n complaints filed now on fresh orders of buyer b-1 at merchant m-1; their ids."""
    ids = []
    for i in range(n):
        amount = (amounts or {}).get(i, 4990)
        b.order(f'{prefix}-{i}', amount_fen=amount)
        ids.append(file_complaint(people['buyer'], b.body(order_no=f'{prefix}-{i}', category=category)).id)
    return ids


def without_ids(data):
    data = json.loads(data)
    data.pop('remedy', None)  # a remedy's id
    return data


def snapshot(ids):
    """Everything the timers wrote about the complaints `ids`, position by position, with
    ids, ticket numbers and webhook keys taken out."""
    labels = {}
    for n, complaint_id in enumerate(ids):
        complaint = Complaint.get_by_id(complaint_id)
        labels[complaint.ticket_no] = f'T{n}'
        labels[complaint.order.order_no] = f'O{n}'

    def plain(value):
        text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
        for original in sorted(labels, key=len, reverse=True):
            text = text.replace(original, labels[original])
        return json.loads(text)

    result = []
    for complaint_id in ids:
        c = Complaint.get_by_id(complaint_id)
        assert verify_chain(complaint_id) is None, f'chain of {c.ticket_no}: {verify_chain(complaint_id)}'
        outbox = []
        for row in Outbox.select().where(Outbox.complaint == complaint_id):
            payload = json.loads(row.payload)
            payload.pop('key', None)
            if isinstance(payload.get('data'), dict):
                payload['data'].pop('id', None)
                payload['data'].pop('idempotency_key', None)
            outbox.append((row.topic, plain(payload), row.state))
        result.append(plain({
            'complaint': [c.state, c.version, c.in_queue, c.queue_rank, c.next_due_at, c.sla_check_at,
                          c.first_response_due_at, c.resolution_due_at, c.merchant_due_at,
                          c.merchant_remind_at, c.resolved_at, c.rating_due_at, c.timeline_length,
                          c.owner_id, c.updated_at],
            'events': [(e.seq, e.at, e.actor_id, e.actor_role, e.kind, e.public, without_ids(e.data))
                       for e in Event.select().where(Event.complaint == complaint_id).order_by(Event.seq)],
            'violations': sorted((v.merchant_id, v.code, v.points, v.fine_fen, v.at, v.expires_at, v.state)
                                 for v in Violation.select().where(Violation.complaint == complaint_id)),
            'clocks': sorted((k.target, k.state, k.started_at, k.due_at, k.paused_at, k.warned, k.finished_at)
                             for k in SlaClock.select().where(SlaClock.complaint == complaint_id)),
            'sla_events': sorted((e.target, e.kind, e.at, e.owner_id, e.department, e.due_at)
                                 for e in SlaEvent.select().where(SlaEvent.complaint == complaint_id)),
            'remedies': sorted((r.kind, r.amount_fen, r.source, r.state, r.confirm_due_at)
                               for r in Remedy.select().where(Remedy.complaint == complaint_id)),
            'outbox': sorted(outbox, key=lambda o: json.dumps(o, sort_keys=True)),
            'inbox': sorted((m.user_id, m.title, m.body, m.link)
                            for m in InboxMessage.select().where(InboxMessage.complaint == complaint_id)),
        }))
    return result


def spy(monkeypatch, name):
    """Record each call of deadline `name`'s batch handler: (ids it got, what it applied).
    (The webhook retries of these cases are due too, so `advance_due`'s total says less.)"""
    calls = []
    deadline = deadlines.REGISTRY[name]

    def handler(ids, now):
        applied = deadline.handler(ids, now)
        calls.append((list(ids), applied))
        return applied

    monkeypatch.setitem(deadlines.REGISTRY, name, deadline._replace(handler=handler))
    return calls


def one_at_a_time(name, ids, now):
    return sum(deadlines.apply_one(name, complaint_id, now) for complaint_id in ids)


# --- the merchant's deadline ---------------------------------------------------------------

def test_merchant_deadlines_in_one_batch_equal_one_at_a_time(app, people, frozen, monkeypatch):
    """Silent merchants (one case answered earlier, so no violation; two small orders
    refunded at once by auto-refund) — one set through the exact-time path, the other
    through one sweep batch: the same rows come out."""
    app.config['AUTO_REFUND_MAX_FEN'] = 3000
    small = {1: 2000, 4: 2990}
    singles = file_cases(people, 'A', 6, amounts=small)
    batch = file_cases(people, 'B', 6, amounts=small)
    # case 2 of each set: the merchant answered, the buyer rejected; the new window runs out
    clock.advance(hours=1)
    for ids in (singles, batch):
        complaint = Complaint.get_by_id(ids[2])
        negotiation.propose(people['staff'], complaint, {'type': 'reissue', 'message': '补发'})
        negotiation.reject(people['buyer'], Complaint.get_by_id(ids[2]), {'reason': '没收到'})
    for moment in (DUE - 12 * HOUR, DUE - 2 * HOUR):  # the reminders, for both sets alike
        clock.freeze(moment)
        deadlines.advance_due()
    clock.freeze(DUE + HOUR)  # case 2's second window ends at DUE + 1 h
    assert one_at_a_time('merchant_due', singles, clock.now()) == 6
    calls = spy(monkeypatch, 'merchant_due')
    deadlines.advance_due()
    assert calls == [(sorted(batch), 6)], 'the other set, in one sweep batch'
    assert Complaint.select().where(Complaint.id.in_(batch) & (Complaint.state == 'negotiating')).count() == 0

    first, second = snapshot(singles), snapshot(batch)
    for n, (single, batched) in enumerate(zip(first, second)):
        assert single == batched, f'case {n} differs'
    states = [row['complaint'][0] for row in first]
    assert states == ['pending_agent', 'resolved', 'pending_agent', 'pending_agent', 'resolved', 'pending_agent']
    assert [len(row['violations']) for row in first] == [1, 1, 0, 1, 1, 1]
    assert [len(row['remedies']) for row in first] == [0, 1, 0, 0, 1, 0]
    assert all(len(row['clocks']) == 2 for n, row in enumerate(first) if states[n] == 'pending_agent')
    assert all(row['inbox'] for row in first), 'buyer and merchant told'


def test_a_human_action_between_the_sweeps_read_and_write_keeps_its_row(app, people, frozen, monkeypatch):
    """The sweep reads the due ids, then — before it locks and writes them — the buyer
    withdraws one case and escalates another: those two keep the human outcome, the rest
    time out."""
    ids = file_cases(people, 'H', 5)
    clock.freeze(DUE)
    real_due_ids = deadlines.due_ids
    humans = []

    def due_ids_then_humans(deadline, now, after=None, batch=None):
        rows = real_due_ids(deadline, now, after, batch)
        if deadline.name == 'merchant_due' and not humans:
            humans.append(withdraw(people['buyer'], Complaint.get_by_id(ids[1]), {'reason': '不用了'}))
            humans.append(negotiation.escalate(people['buyer'], Complaint.get_by_id(ids[3]),
                                               {'reason': '商家不理我'}))
        return rows

    monkeypatch.setattr(deadlines, 'due_ids', due_ids_then_humans)
    deadlines.advance_due()
    rows = {c.id: c for c in Complaint.select().where(Complaint.id.in_(ids))}
    assert [rows[i].state for i in ids] == ['pending_agent', 'withdrawn', 'pending_agent', 'pending_agent',
                                            'pending_agent']
    kinds = {i: [e.kind for e in Event.select().where(Event.complaint == i).order_by(Event.seq)] for i in ids}
    assert kinds[ids[1]] == ['filed', 'withdrawn']
    assert kinds[ids[3]] == ['filed', 'escalated']
    for i in (ids[0], ids[2], ids[4]):
        assert kinds[i] == ['filed', 'merchant_timeout']
    assert Violation.select().where(Violation.complaint == ids[3]).count() == 1, 'the escalation recorded it once'
    assert Violation.select().where(Violation.complaint == ids[1]).count() == 0
    assert SlaEvent.select().where((SlaEvent.complaint == ids[3]) & (SlaEvent.kind == 'started')).count() == 2
    assert all(rows[i].merchant_due_at is None for i in ids)
    monkeypatch.undo()
    calls = spy(monkeypatch, 'merchant_due')
    deadlines.advance_due()
    assert calls == []


def test_applying_the_merchant_deadline_twice_is_applying_it_once(app, people, frozen, monkeypatch):
    ids = file_cases(people, 'I', 4)
    clock.freeze(DUE)
    calls = spy(monkeypatch, 'merchant_due')
    deadlines.advance_due()
    assert calls == [(sorted(ids), 4)]
    before = snapshot(ids)
    deadlines.advance_due()
    assert len(calls) == 1, 'nothing due any more'
    assert deadlines.apply_many('merchant_due', ids) == 0, 'the exact-time group job, late'
    assert negotiation._merchant_due_many(ids, clock.now()) == 0, 'the handler itself on the same ids'
    assert snapshot(ids) == before


# --- SLA checks ----------------------------------------------------------------------------

def test_sla_checks_in_one_batch_equal_one_at_a_time(app, people, frozen, monkeypatch):
    """Platform cases (first response 2 h, resolution 24 h): the warning and then the breach
    of the first response, one set by exact-time jobs and the other by the sweep."""
    singles = file_cases(people, 'S', 5, category='service_attitude')
    batch = file_cases(people, 'P', 5, category='service_attitude')
    calls = spy(monkeypatch, 'sla')
    for moment in (T0 + 2 * HOUR - dt.timedelta(minutes=15), T0 + 2 * HOUR):
        clock.freeze(moment)
        assert one_at_a_time('sla', singles, moment) == 5
        del calls[:]
        deadlines.advance_due()
        assert calls == [(sorted(batch), 5)], 'the other set, in one sweep batch'
    first, second = snapshot(singles), snapshot(batch)
    for n, (single, batched) in enumerate(zip(first, second)):
        assert single == batched, f'case {n} differs'
    kinds = [k for _t, k, *_rest in first[0]['sla_events']]
    assert sorted(kinds) == ['breached', 'started', 'started', 'warned']
    assert first[0]['complaint'][3] == 0, 'overdue: jumps the queue'
    supervisor_notices = InboxMessage.select().where(InboxMessage.user == people['supervisor'].id).count()
    assert supervisor_notices == 2 * 10, 'warning (no owner: supervisors) and breach, every case'
    del calls[:]
    deadlines.advance_due()
    assert calls == []


def test_a_failing_batch_falls_back_to_rows_and_the_good_ones_are_applied(app, people, frozen, monkeypatch,
                                                                           caplog):
    ids = file_cases(people, 'F', 4, category='service_attitude')
    real = deadlines.REGISTRY['sla'].handler
    bad = ids[2]

    def handler(row_ids, now):
        if bad in row_ids:
            raise RuntimeError('a bad row')
        return real(row_ids, now)

    monkeypatch.setitem(deadlines.REGISTRY, 'sla', deadlines.REGISTRY['sla']._replace(handler=handler))
    clock.freeze(T0 + 2 * HOUR)
    with caplog.at_level('WARNING', logger='desk.core.deadlines'):
        deadlines.advance_due()
    assert any('a bad row' in str(r.exc_info[1]) for r in caplog.records if r.exc_info)
    still = [c.id for c in Complaint.select().where(Complaint.id.in_(ids) &
                                                   (Complaint.sla_check_at <= clock.now()))]
    assert still == [bad]


# --- two sweeps at once --------------------------------------------------------------------

def test_two_sweeps_at_once_time_each_merchant_out_once(app, people, frozen, monkeypatch):
    """Batches of 7 over 30 due cases, two sweeps in threads (each its own connection): on
    PostgreSQL they share the work (SKIP LOCKED), on SQLite they take turns; either way one
    timeout, one violation and one set of clocks per case."""
    monkeypatch.setattr(deadlines, 'BATCH', 7)
    ids = file_cases(people, 'W', 30)
    clock.freeze(DUE)
    calls = spy(monkeypatch, 'merchant_due')
    barrier = threading.Barrier(2, timeout=60)
    results = [None, None]

    def sweep(index):
        try:
            with app.app_context(), connection():
                barrier.wait()
                results[index] = deadlines.advance_due()
        except Exception as err:  # reported below
            results[index] = err

    threads = [threading.Thread(target=sweep, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert all(isinstance(r, int) for r in results), results
    assert sum(applied for _ids, applied in calls) == 30, calls
    handled = [i for batch, applied in calls for i in batch]
    assert sorted(handled) == sorted(ids), 'each row handed to a handler once'
    assert Violation.select().where(Violation.complaint.in_(ids)).count() == 30
    assert SlaClock.select().where(SlaClock.complaint.in_(ids)).count() == 60
    timeouts = Event.select().where(Event.complaint.in_(ids) & (Event.kind == 'merchant_timeout')).count()
    assert timeouts == 30
    assert all(verify_chain(i) is None for i in ids)
