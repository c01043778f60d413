"""Negotiation and the 24-hour merchant timer end to end through the API (SPEC §4, §3a).

The clock is frozen at T0 and moved by the tests; timers are applied the way the ticker and
the cron sweep apply them, with `desk.core.deadlines.advance_due()`. The merchant acts with a
merchant staff key, the buyer with a buyer key.
"""
import datetime as dt
import random

import pytest

from arbitration.penalties.models import Violation
from desk.agent_desk.models import SlaEvent
from desk.cases import remedies
from desk.cases.models import Complaint, Event, Proposal, Remedy
from desk.core import clock, deadlines
from desk.core.errors import Invalid
from desk.messaging.models import InboxMessage
from tests import builders as b
from tests.conftest import T0
from tests.support import act, error, file_ok, isolated_client, ok

HOUR = dt.timedelta(hours=1)
DUE = T0 + 24 * HOUR          # the merchant's deadline for a complaint filed at T0


# --- shared helpers (the other negotiation test modules import these) ----------------------

@pytest.fixture
def parties(app, users, api_key):
    """Order O-1 (49.90) of buyer b-1 at merchant m-1; keys for the buyer (English), a staff
    member of m-1 (English) and one of another merchant m-2."""
    b.order('O-1')
    buyer = b.buyer_user(users, 'b-1')
    staff = b.staff_user(users, 'm-1')
    for user in (buyer, staff):  # inbox messages in English, whatever the catalogue holds
        user.locale = 'en'
        user.save()
    return {'buyer': api_key(buyer), 'merchant': api_key(staff),
            'other_merchant': api_key(b.staff_user(users, 'm-2')),
            'buyer_user': buyer, 'staff_user': staff}


def file_case(client, parties, order_no='O-1', **kwargs):
    """File a merchant-path complaint as the buyer; returns its ticket number."""
    return file_ok(client, parties['buyer'], order_no=order_no, **kwargs)['ticket_no']


def case(ticket):
    return Complaint.get(Complaint.ticket_no == ticket)


def proposal(kind='refund', amount=None, message='核实后同意退款,请查收。'):
    data = {'type': kind, 'message': message}
    if amount is not None:
        data['amount'] = amount
    return data


def propose(client, parties, ticket, **kwargs):
    return act(client, parties['merchant'], ticket, 'propose', proposal(**kwargs))


def violations(ticket, code='no_response'):
    return list(Violation.select().where((Violation.complaint == case(ticket).id) & (Violation.code == code)))


def inbox_titles(user):
    return [m.title for m in InboxMessage.select().where(InboxMessage.user == user.id).order_by(InboxMessage.id)]


def events(ticket):
    return [e.kind for e in Event.select().where(Event.complaint == case(ticket).id).order_by(Event.seq)]


def at(moment):
    """Move the frozen clock to `moment` and apply every due deadline."""
    clock.freeze(moment)
    return deadlines.advance_due()


# --- the merchant answers ----------------------------------------------------------------

def test_an_answer_in_time_waits_for_the_buyer(client, parties, frozen):
    ticket = file_case(client, parties)
    filed = ok(client.get(f'/api/v1/complaints/{ticket}', headers=parties['merchant']))
    assert filed['state'] == 'negotiating'
    assert filed['deadlines']['merchant_due'] == '2026-11-25T10:00:00+08:00'
    assert 'propose' in filed['allowed_actions']

    at(T0 + 23 * HOUR)
    answered = ok(propose(client, parties, ticket, amount='20.00'))
    assert answered['state'] == 'awaiting_buyer'
    assert 'merchant_due' not in answered['deadlines']
    assert answered['deadlines']['buyer_due'] == '2026-11-28T09:00:00+08:00'  # 72 h later
    assert [(p['seq'], p['type'], p['amount'], p['state']) for p in answered['proposals']] == \
        [(1, 'refund', '20.00', 'pending')]
    row = case(ticket)
    assert (row.merchant_answered_at, row.merchant_due_at, row.proposal_count) == (clock.now(), None, 1)

    at(DUE + HOUR)                                   # the old deadline has no effect any more
    assert case(ticket).state == 'awaiting_buyer'
    assert violations(ticket) == []
    assert 'The merchant answered' in ' '.join(inbox_titles(parties['buyer_user']))

    buyer_view = ok(client.get(f'/api/v1/complaints/{ticket}', headers=parties['buyer']))
    assert {'accept', 'reject', 'escalate'} <= set(buyer_view['allowed_actions'])
    accepted = ok(act(client, parties['buyer'], ticket, 'accept'))
    assert accepted['state'] == 'resolved'
    assert accepted['proposals'][0]['state'] == 'accepted'
    (remedy,) = accepted['remedies']
    assert (remedy['kind'], remedy['amount'], remedy['source'], remedy['state']) == \
        ('refund', '20.00', 'agreement', 'pending')
    assert 'rating_due' in accepted['deadlines']


def test_silence_reminds_twice_then_the_platform_steps_in_with_one_violation(client, parties, frozen):
    staff = parties['staff_user']
    ticket = file_case(client, parties)
    assert case(ticket).merchant_remind_at == T0 + 12 * HOUR

    at(T0 + 12 * HOUR - dt.timedelta(seconds=1))
    assert not [t for t in inbox_titles(staff) if 'hours left' in t]
    at(T0 + 12 * HOUR)
    assert [t for t in inbox_titles(staff) if 'hours left' in t] == [f'{ticket}: about 12 hours left to answer']
    assert case(ticket).merchant_remind_at == T0 + 22 * HOUR
    at(T0 + 22 * HOUR)
    at(T0 + 23 * HOUR)
    assert [t for t in inbox_titles(staff) if 'hours left' in t] == [
        f'{ticket}: about 12 hours left to answer', f'{ticket}: about 2 hours left to answer']
    assert case(ticket).merchant_remind_at is None
    assert case(ticket).state == 'negotiating'

    at(DUE - dt.timedelta(seconds=1))
    assert case(ticket).state == 'negotiating'
    at(DUE)
    row = case(ticket)
    assert row.state == 'pending_agent' and row.in_queue
    assert (row.merchant_due_at, row.merchant_remind_at) == (None, None)
    (violation,) = violations(ticket)
    assert (violation.merchant_id, violation.points, violation.at) == (row.merchant_id, 2, DUE)
    started = SlaEvent.select().where((SlaEvent.complaint == row.id) & (SlaEvent.kind == 'started'))
    assert sorted(e.target for e in started) == ['first_response', 'resolution']
    assert row.first_response_due_at == DUE + 2 * HOUR
    assert row.resolution_due_at == DUE + 24 * HOUR
    assert 'merchant_timeout' in events(ticket)
    assert f'{ticket}: the time to answer ran out' in inbox_titles(staff)
    assert f'The platform is taking over {ticket}' in inbox_titles(parties['buyer_user'])

    at(DUE + HOUR)                                    # applying it again changes nothing
    deadlines.apply_one('merchant_due', row.id, DUE + HOUR)
    assert len(violations(ticket)) == 1
    assert events(ticket).count('merchant_timeout') == 1
    assert error(propose(client, parties, ticket), 409)


def test_a_chat_message_does_not_stop_the_timer(client, parties, frozen):
    ticket = file_case(client, parties)
    clock.advance(hours=1)
    ok(act(client, parties['merchant'], ticket, 'message', {'body': '已记录,会尽快处理'}))
    assert case(ticket).merchant_answered_at is None
    assert case(ticket).merchant_due_at == DUE
    view = ok(client.get(f'/api/v1/complaints/{ticket}', headers=parties['buyer']))
    assert 'escalate' not in view['allowed_actions']   # a message is not an answer
    at(DUE)
    assert case(ticket).state == 'pending_agent'
    assert len(violations(ticket)) == 1


def test_three_rejected_proposals_send_the_case_to_the_platform(client, parties, frozen):
    ticket = file_case(client, parties)
    for n in (1, 2, 3):
        ok(propose(client, parties, ticket, kind='reissue', message=f'第 {n} 次:补发新卡密'))
        clock.advance(hours=1)
        rejected = ok(act(client, parties['buyer'], ticket, 'reject', {'reason': f'第 {n} 张也无效'}))
        if n < 3:
            assert rejected['state'] == 'negotiating'
            # a new 24 h for the next proposal, with its reminders
            assert case(ticket).merchant_due_at == clock.now() + 24 * HOUR
            assert case(ticket).merchant_remind_at == clock.now() + 12 * HOUR
        clock.advance(hours=1)
    assert rejected['state'] == 'pending_agent'
    assert [(p['seq'], p['state']) for p in rejected['proposals']] == [(1, 'rejected'), (2, 'rejected'),
                                                                     (3, 'rejected')]
    assert Proposal.get((Proposal.complaint == case(ticket).id) & (Proposal.seq == 3)).buyer_reason == \
        '第 3 张也无效'
    row = case(ticket)
    assert (row.merchant_due_at, row.buyer_due_at, row.proposal_count) == (None, None, 3)
    assert SlaEvent.select().where((SlaEvent.complaint == row.id) & (SlaEvent.kind == 'started')).count() == 2
    assert violations(ticket) == []                   # the merchant did answer
    # a fourth proposal is refused
    assert error(propose(client, parties, ticket), 409)['code'] == 'conflict'
    assert Proposal.select().where(Proposal.complaint == row.id).count() == 3


def test_a_fourth_proposal_is_409_even_while_negotiating(client, parties, frozen):
    """The lifecycle allows at most three proposals; the guard holds even if the case were
    back in negotiation with three proposals made (defence in depth)."""
    ticket = file_case(client, parties)
    for n in (1, 2):
        ok(propose(client, parties, ticket, kind='reissue'))
        ok(act(client, parties['buyer'], ticket, 'reject', {'reason': '无效'}))
    ok(propose(client, parties, ticket, kind='reissue'))
    assert error(propose(client, parties, ticket, kind='reissue'), 409)   # awaiting the buyer
    b.force_state(ticket, 'negotiating', merchant_due_at=clock.now() + HOUR)
    assert 'at most 3 proposals' in error(propose(client, parties, ticket, kind='reissue'), 409)['message']
    assert Proposal.select().where(Proposal.complaint == case(ticket).id).count() == 3


def test_buyer_silence_for_72_hours_accepts_the_proposal(client, parties, frozen):
    ticket = file_case(client, parties)
    clock.advance(hours=2)
    ok(propose(client, parties, ticket, amount='30.00'))
    proposed_at = clock.now()
    at(proposed_at + 72 * HOUR - dt.timedelta(seconds=1))
    assert case(ticket).state == 'awaiting_buyer'
    at(proposed_at + 72 * HOUR)
    row = case(ticket)
    assert (row.state, row.resolved_at, row.buyer_due_at) == ('resolved', clock.now(), None)
    (prop,) = Proposal.select().where(Proposal.complaint == row.id)
    assert (prop.state, prop.accepted_by_timeout) == ('accepted', True)
    (remedy,) = Remedy.select().where(Remedy.complaint == row.id)
    assert (remedy.kind, remedy.amount_fen, remedy.source) == ('refund', 3000, 'timeout')
    assert 'buyer_timeout' in events(ticket) and 'remedy_created' in events(ticket)
    at(proposed_at + 80 * HOUR)
    assert Remedy.select().where(Remedy.complaint == row.id).count() == 1
    assert error(act(client, parties['buyer'], ticket, 'accept'), 409)


def test_a_rejection_timed_out_by_the_buyer_creates_no_remedy(client, parties, frozen):
    ticket = file_case(client, parties)
    ok(propose(client, parties, ticket, kind='reject', message='卡密已核实有效,拒绝退款。'))
    at(T0 + 72 * HOUR)
    assert case(ticket).state == 'resolved'
    assert Remedy.select().count() == 0


@pytest.mark.parametrize('limit, state, remedy', [(10000, 'resolved', ('refund', 4990, 'auto_refund')),
                                                  (4989, 'pending_agent', None)])
def test_auto_refund_under_the_limit_resolves_at_once_and_still_records_the_violation(
        make_app, parties, frozen, limit, state, remedy):
    auto = make_app(AUTO_REFUND_MAX_FEN=limit)
    client = isolated_client(auto)
    ticket = file_case(client, parties)
    with auto.app_context():
        at(DUE)
    row = case(ticket)
    assert row.state == state
    remedies_made = [(r.kind, r.amount_fen, r.source) for r in Remedy.select().where(Remedy.complaint == row.id)]
    assert remedies_made == ([remedy] if remedy else [])
    assert len(violations(ticket)) == 1
    if remedy:
        assert row.rating_due_at is not None and not row.in_queue
        assert events(ticket)[-2:] == ['merchant_timeout', 'remedy_created']


def test_auto_refund_refunds_only_what_is_left(make_app, parties, frozen):
    """An order already partly refunded by an earlier complaint gets the rest, not the whole."""
    auto = make_app(AUTO_REFUND_MAX_FEN=10000)
    client = isolated_client(auto)
    first = file_case(client, parties)
    ok(propose(client, parties, first, amount='10.00'))
    ok(act(client, parties['buyer'], first, 'accept'))
    close(first)
    second = file_case(client, parties, category='card_invalid')
    with auto.app_context():
        at(DUE)
    amounts = sorted(r.amount_fen for r in Remedy.select())
    assert amounts == [1000, 3990]
    assert case(second).state == 'resolved'


# --- urge and escalate ---------------------------------------------------------------------

def test_urge_once_every_four_hours(client, parties, frozen):
    ticket = file_case(client, parties)
    ok(act(client, parties['buyer'], ticket, 'urge'))
    clock.advance(hours=3, minutes=59)
    view = ok(client.get(f'/api/v1/complaints/{ticket}', headers=parties['buyer']))
    assert 'urge' not in view['allowed_actions']
    refused = error(act(client, parties['buyer'], ticket, 'urge'), 409)
    assert '2026-11-24 14:00' in refused['message']       # T0 + 4 h, Beijing time
    clock.advance(minutes=1)
    ok(act(client, parties['buyer'], ticket, 'urge'))
    row = case(ticket)
    assert (row.urge_count, row.last_urged_at) == (2, clock.now())
    assert inbox_titles(parties['staff_user']).count(f'The buyer urges {ticket}') == 2
    assert error(act(client, parties['merchant'], ticket, 'urge'), 403)


def test_escalate_needs_an_answer_or_the_time_to_have_run_out(client, parties, frozen):
    ticket = file_case(client, parties)
    refused = error(act(client, parties['buyer'], ticket, 'escalate', {'reason': '商家不理我'}), 409)
    assert '2026-11-25 10:00' in refused['message']
    assert error(act(client, parties['merchant'], ticket, 'escalate', {'reason': '请平台处理'}), 409)
    assert case(ticket).state == 'negotiating'


def test_escalate_after_a_rejection(client, parties, frozen):
    ticket = file_case(client, parties)
    ok(propose(client, parties, ticket, kind='reissue'))
    ok(act(client, parties['buyer'], ticket, 'reject', {'reason': '不要补发'}))
    assert error(act(client, parties['buyer'], ticket, 'escalate', {}), 422)['fields'] == {'reason': 'is required'}
    done = ok(act(client, parties['buyer'], ticket, 'escalate', {'reason': '协商不成'}))
    assert done['state'] == 'pending_agent'
    row = case(ticket)
    assert (row.merchant_due_at, row.merchant_remind_at) == (None, None)
    assert 'escalated' in events(ticket)
    at(DUE + 48 * HOUR)
    assert violations(ticket) == []


def test_the_merchant_may_escalate_a_pending_proposal(client, parties, frozen):
    ticket = file_case(client, parties)
    ok(propose(client, parties, ticket, kind='reissue'))
    done = ok(act(client, parties['merchant'], ticket, 'escalate', {'reason': '买家要求不合理'}))
    assert done['state'] == 'pending_agent'
    assert done['proposals'][0]['state'] == 'superseded'
    assert case(ticket).buyer_due_at is None
    refused = error(act(client, parties['buyer'], ticket, 'accept'), 409)   # superseded
    assert refused['code'] == 'conflict'
    at(T0 + 100 * HOUR)
    assert case(ticket).state == 'pending_agent'
    assert Remedy.select().count() == 0


def test_escalate_once_the_time_ran_out_before_the_sweep_applied_it(client, parties, frozen):
    """SPEC §4: either party can ask the platform to step in once the time ran out — also
    in the (up to a minute) gap before the timer is applied; the silent merchant still gets
    the no_response violation."""
    ticket = file_case(client, parties)
    clock.freeze(DUE + dt.timedelta(seconds=20))      # the sweep has not run yet
    view = ok(client.get(f'/api/v1/complaints/{ticket}', headers=parties['buyer']))
    assert 'escalate' in view['allowed_actions']
    done = ok(act(client, parties['buyer'], ticket, 'escalate', {'reason': '商家超时未处理'}))
    assert done['state'] == 'pending_agent'
    at(DUE + HOUR)
    assert len(violations(ticket)) == 1


# --- bad input -----------------------------------------------------------------------------

def test_a_proposal_after_the_deadline_is_409(client, parties, frozen):
    ticket = file_case(client, parties)
    clock.freeze(DUE)                                  # not yet swept: the guard says no
    refused = error(propose(client, parties, ticket), 409)
    assert 'run out' in refused['message']
    assert case(ticket).proposal_count == 0


def test_a_missing_message_or_type_is_422(client, parties, frozen):
    ticket = file_case(client, parties)
    assert error(act(client, parties['merchant'], ticket, 'propose', {'type': 'reissue'}), 422)[
        'fields'] == {'message': 'is required'}
    assert 'message' in error(propose(client, parties, ticket, kind='reissue', message='   '), 422)['fields']
    assert 'type' in error(act(client, parties['merchant'], ticket, 'propose', {'message': 'x'}), 422)['fields']
    assert 'type' in error(propose(client, parties, ticket, kind='coupon'), 422)['fields']
    assert 'message' in error(propose(client, parties, ticket, kind='reissue', message='长' * 1001), 422)['fields']
    assert error(propose(client, parties, ticket, kind='compensation'), 422)['fields'].keys() == {'amount'}
    assert 'amount' in error(propose(client, parties, ticket, amount=12), 422)['fields']
    assert 'amount' in error(propose(client, parties, ticket, amount='0'), 422)['fields']
    assert 'amount' in error(propose(client, parties, ticket, amount='-1.00'), 422)['fields']
    assert case(ticket).state == 'negotiating' and Proposal.select().count() == 0


def test_a_refund_above_the_order_or_what_is_left_is_422(client, parties, frozen):
    ticket = file_case(client, parties)
    refused = error(propose(client, parties, ticket, amount='49.91'), 422)
    assert refused['fields'] == {'amount': 'at most 49.90'}
    ok(propose(client, parties, ticket, amount='40.00'))
    ok(act(client, parties['buyer'], ticket, 'accept'))
    close(ticket)

    again = file_case(client, parties, category='card_invalid')
    assert error(propose(client, parties, again, amount='9.91'), 422)['fields'] == {'amount': 'at most 9.90'}
    full = ok(propose(client, parties, again))        # no amount: the whole rest
    assert full['proposals'][0]['amount'] == '9.90'
    ok(act(client, parties['buyer'], again, 'accept'))
    close(again)

    third = file_case(client, parties, category='fake_delivery')
    assert error(propose(client, parties, third, amount='0.01'), 422)['fields'] == {'amount': 'at most 0.00'}
    assert 'amount' in error(propose(client, parties, third), 422)['fields']   # nothing left at all
    assert sum(r.amount_fen for r in Remedy.select()) == 4990


def test_compensation_above_the_order_amount_is_422(client, parties, frozen):
    ticket = file_case(client, parties)
    refused = error(propose(client, parties, ticket, kind='compensation', amount='49.91'), 422)
    assert refused['fields'] == {'amount': 'at most 49.90'}
    done = ok(propose(client, parties, ticket, kind='compensation', amount='49.90'))
    assert done['proposals'][0]['amount'] == '49.90'


def test_who_may_do_what(client, parties, frozen):
    ticket = file_case(client, parties)
    assert error(act(client, parties['other_merchant'], ticket, 'propose', proposal()), 404)['code'] == 'not_found'
    assert error(act(client, parties['buyer'], ticket, 'propose', proposal()), 403)['code'] == 'forbidden'
    ok(propose(client, parties, ticket, kind='reissue'))
    assert error(act(client, parties['other_merchant'], ticket, 'escalate', {'reason': 'x'}), 404)
    assert error(act(client, parties['merchant'], ticket, 'accept'), 403)
    assert error(act(client, parties['merchant'], ticket, 'reject', {'reason': 'x'}), 403)
    assert error(act(client, parties['buyer'], ticket, 'buyer_timeout'), 403)
    assert error(act(client, parties['merchant'], ticket, 'merchant_timeout'), 403)
    assert error(act(client, parties['buyer'], ticket, 'reject', {}), 422)['fields'] == {'reason': 'is required'}
    assert error(act(client, parties['buyer'], ticket, 'reject', {'reason': '  '}), 422)
    assert case(ticket).state == 'awaiting_buyer'
    assert error(act(client, parties['buyer'], 'TS20261124-999999', 'accept'), 404)


# --- refunds never add up to more than was paid ----------------------------------------------

def close(ticket):
    """Close a resolved complaint so the order can be complained about again (the
    close_timeout timer that does this in production is not built yet)."""
    b.force_state(ticket, 'closed', closed_at=clock.now(), in_queue=False)


def test_refunds_on_one_order_never_exceed_what_was_paid(client, parties, frozen):
    """Random sequences of complaints on one order: refund proposals of random size (some
    above what is left), accepted by the buyer or by timeout, and remedies decided outside
    negotiation (as a ruling would): the sum of refunds never passes the amount paid, and
    every refusal is a 422 naming the amount."""
    rng = random.Random(20261124)
    categories = ['not_as_described', 'card_invalid', 'fake_delivery', 'refund_delay', 'recharge_not_arrived']
    seen = {'refused': 0, 'accepted': 0, 'timeout': 0, 'ruling': 0, 'ruling_refused': 0}
    for n in range(12):
        clock.freeze(T0 + dt.timedelta(days=20 * n))   # each order inside its complaint window
        paid = rng.randint(1, 20000)
        order = b.order(f'P-{n}', amount_fen=paid)
        for step in range(rng.randint(2, 5)):
            ticket = file_case(client, parties, order_no=order.order_no,
                               category=categories[step % len(categories)])
            left = paid - remedies.refunded_fen(order.id)
            choice = rng.random()
            if choice < 0.2:
                amount = None                                  # the full rest
            elif choice < 0.4:
                amount = left + rng.randint(1, 500)            # too much
            else:
                amount = rng.randint(1, max(1, paid))
            body = proposal(amount=None if amount is None else f'{amount // 100}.{amount % 100:02d}')
            response = act(client, parties['merchant'], ticket, 'propose', body)
            expect = left if amount is None else amount
            if expect <= 0 or expect > left:
                assert error(response, 422)['fields'].keys() == {'amount'}
                seen['refused'] += 1
                ok(propose(client, parties, ticket, kind='reissue', message='补发'))
            elif rng.random() < 0.5:
                ok(act(client, parties['buyer'], ticket, 'accept'))
                seen['accepted'] += 1
            else:
                at(clock.now() + 72 * HOUR)
                assert case(ticket).state == 'resolved'
                seen['timeout'] += 1
            # a remedy decided elsewhere (a ruling) on the same order obeys the same cap
            extra = rng.randint(1, paid)
            try:
                remedies.create(case(ticket), 'refund', extra, 'ruling')
                seen['ruling'] += 1
            except Invalid as err:
                assert extra > paid - remedies.refunded_fen(order.id) and 'amount' in err.fields
                seen['ruling_refused'] += 1
            assert remedies.refunded_fen(order.id) <= paid
            assert remedies.refundable(order) == paid - remedies.refunded_fen(order.id)
            if case(ticket).state == 'awaiting_buyer':
                ok(act(client, parties['buyer'], ticket, 'accept'))
            close(ticket)
        assert remedies.refunded_fen(order.id) <= paid
    assert all(seen.values()), seen                # every branch was exercised


def test_a_nul_in_the_proposal_message_is_422_from_the_service_itself(client, parties, frozen):
    """The API refuses NUL in any JSON body; the console forms reach `propose` directly."""
    from arbitration import negotiation
    ticket = file_case(client, parties)
    with pytest.raises(Invalid) as err:
        negotiation.propose(parties['staff_user'], case(ticket), proposal(message='退款\x00'))
    assert err.value.status == 422 and set(err.value.fields) == {'message'}
    assert not Proposal.select().exists()
