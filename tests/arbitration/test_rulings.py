"""Platform intervention through the API (SPEC §5, issue 6): the evidence period, evidence
requests and declarations, rulings with their guards, platform resolutions and appeals.

Disputes reach `in_arbitration` the real way (filed, a proposal, escalated, claimed); the
clock is frozen at T0 and timers are applied with `desk.core.deadlines.advance_due()`. Evidence
items are forced straight into the table (`builders.forced_evidence`), so that each test puts
them exactly where its rule needs them (before or after a ruling, in the same second).
"""
import datetime as dt
import json

import pytest

from arbitration.intervention import on_evidence_submitted
from arbitration.penalties.models import Violation
from desk.agent_desk.models import SlaClock
from desk.cases import remedies
from desk.cases.models import Appeal, Event, EvidenceRequest, Remedy, Ruling
from desk.core import clock, deadlines
from tests import builders as b
from tests.conftest import T0
from tests.support import act, error, isolated_client, ok

HOUR = dt.timedelta(hours=1)
EVIDENCE = dt.timedelta(seconds=172800)
RULE = {'outcome': 'buyer_partial', 'responsibility': 'merchant',
        'remedy': {'type': 'refund', 'amount': '30.00'}, 'clause': 'R-DESC-01',
        'reasoning': '商家的发货记录显示面值为 50 元,与商品页描述不符。'}


@pytest.fixture
def desk(app, users, api_key, frozen):
    """A first arbiter (a senior agent, so that only the "first arbiter" rule can stop them),
    another senior and a plain agent of cs; the case's buyer and merchant; keys for all."""
    first = b.agent(users, 'arbiter', role='senior_agent')
    second = b.agent(users, 'senior2', role='senior_agent')
    plain = b.agent(users, 'plain')
    buyer, staff = b.buyer_login('b-1'), b.merchant_login('m-1')
    for user in (buyer, staff):
        user.locale = 'en'
        user.save()
    other_buyer, other_staff = b.buyer_login('b-2'), b.merchant_login('m-2')
    keys = {name: api_key(u) for name, u in (('first', first), ('second', second), ('plain', plain),
                                             ('buyer', buyer), ('merchant', staff),
                                             ('other_buyer', other_buyer), ('other_merchant', other_staff))}
    return dict(keys, users={'first': first, 'second': second, 'plain': plain, 'buyer': buyer,
                             'merchant': staff}, client=isolated_client(app))


def past_evidence_period():
    clock.freeze(T0 + EVIDENCE + HOUR)
    deadlines.advance_due()


def ruled(desk, order_no='O-1', **kwargs):
    """A dispute ruled by the first arbiter with RULE (refund 30.00 of 100.00)."""
    complaint = b.dispute(order_no, desk['users']['first'], **kwargs)
    past_evidence_period()
    ok(act(desk, 'first', complaint, 'rule', RULE))
    return b.reload(complaint)


# --- the evidence period --------------------------------------------------------------------

def test_claiming_a_dispute_opens_the_evidence_period_and_tells_both_parties(desk):
    complaint = b.dispute('O-1', desk['users']['first'])
    assert complaint.state == 'in_arbitration'
    assert complaint.evidence_due_at == T0 + EVIDENCE
    view = ok(desk['client'].get(f'/api/v1/complaints/{complaint.ticket_no}', headers=desk['buyer']))
    assert view['deadlines']['evidence_due'].startswith('2026-11-26T10:00:00')
    assert 'evidence_done' in view['allowed_actions']
    for party in ('buyer', 'merchant'):
        assert 'evidence_period_opened' in b.notices(desk['users'][party], complaint)
    assert 'evidence_period_opened' in b.event_kinds(complaint, public_only=True)


def test_ruling_during_the_evidence_period_is_409_then_allowed_when_it_ends(desk):
    complaint = b.dispute('O-1', desk['users']['first'])
    refused = error(act(desk, 'first', complaint, 'rule', RULE), 409)
    assert 'evidence period is open until 2026-11-26 10:00' in refused['message']
    owner_view = ok(desk['client'].get(f'/api/v1/complaints/{complaint.ticket_no}', headers=desk['first']))
    assert 'rule' not in owner_view['allowed_actions']
    assert 'request_evidence' in owner_view['allowed_actions']
    past_evidence_period()
    assert b.reload(complaint).evidence_due_at is None
    assert 'evidence_period_opened' in b.notices(desk['users']['buyer'], complaint)
    assert 'evidence_period_over' in b.notices(desk['users']['first'], complaint)
    done = ok(act(desk, 'first', complaint, 'rule', RULE))
    assert done['state'] == 'resolved'
    assert done['ruling']['outcome'] == 'buyer_partial' and done['ruling']['clause'] == 'R-DESC-01'
    assert done['ruling']['remedy'] == {'type': 'refund', 'amount': '30.00'}
    assert set(done['deadlines']) >= {'rating_due', 'appeal_due'}
    assert [(r['kind'], r['amount'], r['source']) for r in done['remedies']] == [('refund', '30.00', 'ruling')]


def test_a_ruling_records_everything_in_one_go(desk):
    complaint = ruled(desk)
    now = clock.now()
    assert complaint.resolved_at == now and not complaint.in_queue
    assert complaint.rating_due_at == now + dt.timedelta(days=7)
    assert complaint.appeal_due_at == now + dt.timedelta(days=7)
    (ruling,) = Ruling.select().where(Ruling.complaint == complaint.id)
    assert (ruling.round, ruling.active, ruling.agent_id, ruling.refund_fen) == (1, True, desk['users']['first'].id, 3000)
    # the buyer sees the ruling and its reasoning in the public timeline
    events = ok(desk['client'].get(f'/api/v1/complaints/{complaint.ticket_no}/events', headers=desk['buyer']))
    (event,) = [e for e in events['items'] if e['kind'] == 'ruled']
    assert event['data']['reasoning'] == RULE['reasoning'] and event['data']['outcome'] == 'buyer_partial'
    for party in ('buyer', 'merchant'):
        assert 'ruling_made' in b.notices(desk['users'][party], complaint)
    # the resolution clock stops: met, since it was paused for the 48 h evidence period
    resolution = SlaClock.get((SlaClock.complaint == complaint.id) & (SlaClock.target == 'resolution'))
    assert resolution.finished_at == now and resolution.state == 'achieved'
    listed = ok(desk['client'].get('/api/v1/complaints', headers=desk['buyer']))['items'][0]
    assert listed['ruling']['reasoning'] == RULE['reasoning']


def test_a_ruling_without_payment_proof_on_an_800_yuan_order_is_409_naming_it(desk):
    complaint = b.dispute('O-800', desk['users']['first'], amount_fen=80000)
    past_evidence_period()
    refused = error(act(desk, 'first', complaint, 'rule', RULE), 409)
    assert 'payment proof' in refused['message'] and 'payment_proof' in refused['message']
    assert '800.00' in refused['message']
    b.forced_evidence(complaint, 'merchant', 'payment_proof')  # the merchant's does not count
    error(act(desk, 'first', complaint, 'rule', RULE), 409)
    b.forced_evidence(complaint, 'buyer', 'payment_proof')
    assert ok(act(desk, 'first', complaint, 'rule', RULE))['state'] == 'resolved'


def test_a_refund_above_what_is_left_is_422(desk):
    complaint = b.dispute('O-1', desk['users']['first'])
    remedies.create(complaint, 'refund', 8000, 'agreement')  # 80.00 of 100.00 already refunded
    past_evidence_period()
    refused = error(act(desk, 'first', complaint, 'rule', dict(RULE, remedy={'type': 'refund', 'amount': '30.00'})), 422)
    assert refused['fields'] == {'remedy.amount': 'at most 20.00, what is left to refund on this order'}
    assert b.reload(complaint).state == 'in_arbitration'
    assert Ruling.select().count() == 0
    done = ok(act(desk, 'first', complaint, 'rule', dict(RULE, remedy={'type': 'refund'})))
    assert done['ruling']['remedy']['amount'] == '20.00'   # no amount: the whole remainder
    assert remedies.refundable(complaint.order) == 0


@pytest.mark.parametrize('body, field', [
    (dict(RULE, outcome='merchant', responsibility='buyer'), 'remedy.type'),
    (dict(RULE, outcome='merchant', remedy={'type': 'none'}), 'responsibility'),
    (dict(RULE, remedy={'type': 'none'}), 'remedy.type'),
    (dict(RULE, responsibility='buyer'), 'responsibility'),
    (dict(RULE, reasoning='  '), 'reasoning'),
    (dict(RULE, clause='R-NOPE'), 'clause'),
    (dict(RULE, outcome='win'), 'outcome'),
    (dict(RULE, remedy={'type': 'compensation'}), 'remedy.amount'),
    (dict(RULE, remedy={'type': 'reissue', 'amount': '1.00'}), 'remedy.amount'),
])
def test_inconsistent_or_incomplete_rulings_are_422(desk, body, field):
    complaint = b.dispute('O-1', desk['users']['first'])
    past_evidence_period()
    assert field in error(act(desk, 'first', complaint, 'rule', body), 422)['fields']
    assert b.reload(complaint).state == 'in_arbitration'


@pytest.mark.parametrize('category, code', [('not_as_described', 'not_as_described'),
                                            ('card_invalid', 'arbitration_lost')])
def test_merchant_responsibility_records_a_violation_by_category(desk, category, code):
    complaint = ruled(desk, category=category)
    assert [(v.code, v.merchant_id) for v in Violation.select().where(Violation.complaint == complaint.id)] == [
        (code, complaint.merchant_id)]


def test_no_violation_when_the_merchant_is_not_responsible(desk):
    complaint = b.dispute('O-1', desk['users']['first'])
    past_evidence_period()
    ok(act(desk, 'first', complaint, 'rule', dict(RULE, outcome='merchant', responsibility='buyer',
                                                  remedy={'type': 'none'})))
    assert Violation.select().where(Violation.complaint == complaint.id).count() == 0
    assert Remedy.select().where(Remedy.complaint == complaint.id).count() == 0


def test_only_the_owner_rules_and_other_parties_get_404(desk):
    complaint = b.dispute('O-1', desk['users']['first'])
    past_evidence_period()
    error(act(desk, 'second', complaint, 'rule', RULE), 403)
    error(act(desk, 'merchant', complaint, 'rule', RULE), 403)
    for outsider in ('other_buyer', 'other_merchant'):
        for action in ('rule', 'evidence_done', 'appeal'):
            error(act(desk, outsider, complaint, action, RULE), 404)


# --- requests and declarations --------------------------------------------------------------

def test_close_evidence_needs_both_declarations_naming_who_is_missing(desk):
    complaint = b.dispute('O-1', desk['users']['first'])
    refused = error(act(desk, 'first', complaint, 'close_evidence'), 409)
    assert 'not yet declared: buyer, merchant' in refused['message']
    ok(act(desk, 'buyer', complaint, 'evidence_done'))
    assert 'already declared' in error(act(desk, 'buyer', complaint, 'evidence_done'), 409)['message']
    refused = error(act(desk, 'first', complaint, 'close_evidence'), 409)
    assert 'not yet declared: merchant' in refused['message']
    ok(act(desk, 'merchant', complaint, 'evidence_done'))
    assert 'evidence_both_done' in b.notices(desk['users']['first'], complaint)
    error(act(desk, 'buyer', complaint, 'close_evidence'), 403)
    done = ok(act(desk, 'first', complaint, 'close_evidence'))
    assert 'evidence_due' not in done['deadlines'] and 'rule' in done['allowed_actions']
    for party in ('buyer', 'merchant'):
        assert 'evidence_period_closed' in b.notices(desk['users'][party], complaint)
    assert ok(act(desk, 'first', complaint, 'rule', RULE))['state'] == 'resolved'  # before the 48 h


def test_the_evidence_period_pauses_the_sla_until_it_ends_or_is_closed(desk):
    complaint = b.dispute('O-1', desk['users']['first'])
    assert b.clock_of(complaint, 'resolution').state == 'paused'     # waiting on both parties
    due_at_claim = b.clock_of(complaint, 'resolution').due_at
    past_evidence_period()
    resolution = b.clock_of(complaint, 'resolution')
    assert resolution.state == 'running' and resolution.due_at == due_at_claim + EVIDENCE + HOUR  # paused 49 h (swept an hour late)
    assert b.sla_events(complaint, 'resolution')[-2:] == ['paused', 'resumed']
    # closed early once both declared: the clock runs from then
    other = b.dispute('O-2', desk['users']['first'])
    ok(act(desk, 'buyer', other, 'evidence_done'))
    ok(act(desk, 'merchant', other, 'evidence_done'))
    ok(act(desk, 'first', other, 'close_evidence'))
    assert b.clock_of(other, 'resolution').state == 'running'


def test_a_request_to_the_buyer_pauses_the_sla_until_the_buyer_submits(desk):
    complaint = b.dispute('O-1', desk['users']['first'])
    past_evidence_period()
    assert b.clock_of(complaint, 'resolution').state == 'running'
    ok(act(desk, 'first', complaint, 'request_evidence',
           {'party': 'buyer', 'note': '请提供充值失败的截图。', 'due_in_hours': 12}))
    (request,) = EvidenceRequest.select().where(EvidenceRequest.complaint == complaint.id)
    assert request.due_at == clock.now() + 12 * HOUR and request.expire_at == request.due_at
    assert b.clock_of(complaint, 'resolution').state == 'paused'
    assert b.notices(desk['users']['buyer'], complaint)[-1] == 'evidence_requested'
    due_before = b.clock_of(complaint, 'resolution').due_at
    clock.advance(hours=3)
    b.forced_evidence(complaint, 'buyer', 'error_screenshot')
    (answered,) = on_evidence_submitted(b.reload(complaint), 'buyer', clock.now())
    request = EvidenceRequest.get_by_id(request.id)
    # answered; it stays open for more files until its own deadline
    assert request.answered_at == clock.now() and request.closed_at is None and request.expire_at == request.due_at
    resolution = b.clock_of(complaint, 'resolution')
    assert resolution.state == 'running' and resolution.due_at > due_before  # pushed by the pause
    assert b.sla_events(complaint, 'resolution')[-2:] == ['paused', 'resumed']
    assert on_evidence_submitted(b.reload(complaint), 'buyer', clock.now()) == []   # nothing unanswered: no-op
    assert b.notices(desk['users']['first'], complaint)[-1] == 'evidence_request_answered'


def test_an_unanswered_request_resumes_the_clock_at_its_deadline(desk):
    complaint = b.dispute('O-1', desk['users']['first'])
    past_evidence_period()
    ok(act(desk, 'first', complaint, 'request_evidence', {'party': 'buyer', 'note': '付款凭证', 'due_in_seconds': 7200}))
    assert b.clock_of(complaint, 'resolution').state == 'paused'
    clock.advance(hours=2)
    deadlines.advance_due()
    assert b.clock_of(complaint, 'resolution').state == 'running'
    (request,) = EvidenceRequest.select().where(EvidenceRequest.complaint == complaint.id)
    assert request.closed_at == clock.now() and request.answered_at is None and request.expire_at is None
    assert 'evidence_request_expired' in b.event_kinds(complaint)
    assert deadlines.advance_due() == 0  # swept once


def test_a_request_to_the_merchant_does_not_pause_and_bad_deadlines_are_422(desk):
    complaint = b.dispute('O-1', desk['users']['first'])
    past_evidence_period()
    ok(act(desk, 'first', complaint, 'request_evidence', {'party': 'merchant', 'note': '发放日志'}))
    assert b.clock_of(complaint, 'resolution').state == 'running'
    assert 'evidence_requested' in b.notices(desk['users']['merchant'], complaint)
    for body, field in (({'party': 'platform', 'note': 'x'}, 'party'), ({'party': 'buyer'}, 'note'),
                        ({'party': 'buyer', 'note': 'x', 'due_in_hours': 0.1}, 'due_in_hours'),
                        ({'party': 'buyer', 'note': 'x', 'due_in_seconds': 'soon'}, 'due_in_seconds')):
        assert field in error(act(desk, 'first', complaint, 'request_evidence', body), 422)['fields']
    error(act(desk, 'buyer', complaint, 'request_evidence', {'party': 'buyer', 'note': 'x'}), 403)


# --- platform cases --------------------------------------------------------------------------

def test_resolve_a_platform_case_with_a_remedy_and_a_note(desk):
    complaint = b.case('P-1', amount_fen=10000)
    b.agent  # noqa: B018 (documentation: platform cases come from b.case)
    ok(act(desk, 'plain', complaint, 'claim'))
    refused = error(act(desk, 'plain', complaint, 'resolve',
                        {'remedy': {'type': 'refund', 'amount': '100.01'}, 'note': '系统故障补偿'}), 422)
    assert 'remedy.amount' in refused['fields']
    assert 'note' in error(act(desk, 'plain', complaint, 'resolve', {'remedy': {'type': 'none'}}), 422)['fields']
    done = ok(act(desk, 'plain', complaint, 'resolve',
                  {'remedy': {'type': 'compensation', 'amount': '10.00'}, 'note': '已致歉并补偿优惠券'}))
    assert done['state'] == 'resolved' and 'rating_due' in done['deadlines'] and 'appeal_due' not in done['deadlines']
    assert [(r['kind'], r['amount'], r['source']) for r in done['remedies']] == [('compensation', '10.00', 'resolution')]
    assert 'appeal' not in ok(desk['client'].get(f'/api/v1/complaints/{complaint.ticket_no}',
                                                 headers=desk['buyer']))['allowed_actions']


# --- appeals ---------------------------------------------------------------------------------

def test_an_appeal_without_new_evidence_is_409(desk):
    complaint = b.dispute('O-1', desk['users']['first'])
    b.forced_evidence(complaint, 'merchant', 'delivery_log')  # before the ruling: not new
    past_evidence_period()
    ok(act(desk, 'first', complaint, 'rule', RULE))
    clock.advance(hours=1)
    b.forced_evidence(complaint, 'buyer', 'chat_log')          # the other party's: not the appellant's
    refused = error(act(desk, 'merchant', complaint, 'appeal', {'reason': '发放日志证明卡密有效'}), 409)
    assert 'appeal needs new evidence' in refused['message']
    assert b.reload(complaint).state == 'resolved'
    assert 'reason' in error(act(desk, 'merchant', complaint, 'appeal', {}), 422)['fields']


def test_evidence_in_the_rulings_own_second_counts_as_new_for_an_appeal(desk):
    """Times are whole seconds; a quick party uploads in the second of the ruling (the
    e2e test's merchant did on a fast machine) — that item came after the ruling."""
    complaint = b.dispute('O-1', desk['users']['first'])
    past_evidence_period()
    ok(act(desk, 'first', complaint, 'rule', RULE))
    b.forced_evidence(complaint, 'merchant', 'delivery_log')  # the same frozen second
    ok(act(desk, 'merchant', complaint, 'appeal', {'reason': '发放日志证明卡密有效'}))
    assert b.reload(complaint).state == 'appealed'


def test_appeal_then_a_different_senior_overturns_and_a_second_appeal_is_409(desk):
    complaint = ruled(desk)
    clock.advance(hours=2)
    b.forced_evidence(complaint, 'merchant', 'delivery_log')
    appealed = ok(act(desk, 'merchant', complaint, 'appeal', {'reason': '发放日志证明卡密有效'}))
    assert appealed['state'] == 'appealed' and appealed['owner'] is None
    assert 'appeal_filed' in b.notices(desk['users']['buyer'], complaint)
    assert 'appeal_filed' in b.notices(desk['users']['second'], complaint)
    assert 'appeal_filed' not in b.notices(desk['users']['first'], complaint)
    # the first arbiter may not decide it; a plain agent may never
    refused = error(act(desk, 'first', complaint, 'rule', RULE), 403)
    assert 'different senior agent' in refused['message']
    error(act(desk, 'plain', complaint, 'rule', RULE), 403)
    assert 'rule' not in ok(desk['client'].get(f'/api/v1/complaints/{complaint.ticket_no}',
                                               headers=desk['first']))['allowed_actions']
    decided = ok(act(desk, 'second', complaint, 'rule', {
        'outcome': 'merchant', 'responsibility': 'buyer', 'remedy': {'type': 'none'}, 'clause': 'R-CARD-02',
        'reasoning': '发放日志显示卡密在买家提取前有效。'}))
    assert decided['state'] == 'resolved' and decided['owner'] == 'senior2'
    assert decided['ruling']['round'] == 2 and 'appeal_due' not in decided['deadlines']
    first, second = Ruling.select().where(Ruling.complaint == complaint.id).order_by(Ruling.round)
    assert (first.active, first.overturned) == (False, True)
    assert (second.active, second.overturned, second.agent_id) == (True, False, desk['users']['second'].id)
    appeal = Appeal.get(Appeal.complaint == complaint.id)
    assert appeal.changed is True and appeal.new_ruling_id == second.id and appeal.decided_at == clock.now()
    # no clawback: the 30.00 stays the only refund; the event says what was not taken back
    assert [(r.kind, r.amount_fen) for r in Remedy.select().where(Remedy.complaint == complaint.id)] == [('refund', 3000)]
    (event,) = Event.select().where((Event.complaint == complaint.id) & (Event.kind == 'appeal_ruled'))
    data = json.loads(event.data)
    assert data['changed'] is True and data['adjustment']['not_clawed_back_fen'] == 3000
    assert {'ruled', 'appealed', 'appeal_ruled'} <= set(b.event_kinds(complaint, public_only=True))
    # the merchant is no longer responsible: its violation is revoked
    assert [v.state for v in Violation.select().where(Violation.complaint == complaint.id)] == ['revoked']
    from arbitration.penalties.models import MerchantStanding
    assert [v.ended_at for v in Violation.select().where(Violation.complaint == complaint.id)] == [clock.now()]
    assert MerchantStanding.get_by_id(complaint.merchant_id).active_points == 0, 'the standing recomputed'
    # once per case
    b.forced_evidence(complaint, 'buyer', 'chat_log')
    assert 'already been appealed' in error(act(desk, 'buyer', complaint, 'appeal', {'reason': '不服'}), 409)['message']
    rulings = ok(desk['client'].get(f'/api/v1/complaints/{complaint.ticket_no}/rulings', headers=desk['buyer']))
    assert [(r['round'], r['active'], r['overturned']) for r in rulings['items']] == [(1, False, True), (2, True, False)]
    assert rulings['appeal']['party'] == 'merchant' and rulings['appeal']['changed'] is True


def test_an_appeal_raising_the_refund_pays_only_the_difference(desk):
    complaint = ruled(desk)
    b.forced_evidence(complaint, 'buyer', 'error_screenshot', at=clock.now() + HOUR)
    clock.advance(hours=1)
    ok(act(desk, 'buyer', complaint, 'appeal', {'reason': '只退 30 元不合理'}))
    too_much = error(act(desk, 'second', complaint, 'rule', dict(RULE, outcome='buyer_full', remedy={
        'type': 'refund', 'amount': '100.01'})), 422)
    assert too_much['fields'] == {'remedy.amount': 'at most 100.00, what is left to refund on this order'}
    ok(act(desk, 'second', complaint, 'rule', dict(RULE, outcome='buyer_full', remedy={'type': 'refund', 'amount': '100.00'})))
    assert [r.amount_fen for r in Remedy.select().where(Remedy.complaint == complaint.id).order_by(Remedy.id)] == [3000, 7000]
    assert remedies.refunded_fen(complaint.order_id) == 10000
    first = Ruling.get((Ruling.complaint == complaint.id) & (Ruling.round == 1))
    assert first.overturned and Appeal.get(Appeal.complaint == complaint.id).changed
    # the merchant stays responsible: the one violation stays
    assert Violation.select().where(Violation.complaint == complaint.id).count() == 1


def test_an_upheld_appeal_changes_nothing_and_is_not_an_overturn(desk):
    complaint = ruled(desk)
    clock.advance(hours=1)
    b.forced_evidence(complaint, 'merchant', 'delivery_log')
    ok(act(desk, 'merchant', complaint, 'appeal', {'reason': '不服'}))
    ok(act(desk, 'second', complaint, 'rule', RULE))
    first = Ruling.get((Ruling.complaint == complaint.id) & (Ruling.round == 1))
    assert (first.active, first.overturned) == (False, False)
    assert Appeal.get(Appeal.complaint == complaint.id).changed is False
    assert Remedy.select().where(Remedy.complaint == complaint.id).count() == 1


def test_the_appeal_window_closes_after_seven_days(desk):
    complaint = ruled(desk)
    b.forced_evidence(complaint, 'buyer', 'chat_log', at=clock.now() + HOUR)
    clock.advance(days=7, seconds=1)
    assert 'appeal window has closed' in error(act(desk, 'buyer', complaint, 'appeal', {'reason': 'x'}), 409)['message']


def test_an_agreement_cannot_be_appealed(desk):
    b.order('A-1', amount_fen=10000)
    buyer = desk['users']['buyer']
    complaint = b.complaints.file_complaint(buyer, b.body('A-1'))
    ok(act(desk, 'merchant', complaint, 'propose', {'type': 'reissue', 'message': '补发'}))
    ok(act(desk, 'buyer', complaint, 'accept'))
    b.forced_evidence(complaint, 'buyer', 'chat_log', at=clock.now() + HOUR)
    clock.advance(hours=2)
    error(act(desk, 'buyer', complaint, 'appeal', {'reason': 'x'}), 409)


def test_an_appeal_is_claimed_by_another_senior_never_the_first_arbiter(desk, users):
    complaint = ruled(desk)
    clock.advance(hours=1)
    b.forced_evidence(complaint, 'merchant', 'delivery_log')
    ok(act(desk, 'merchant', complaint, 'appeal', {'reason': '不服'}))
    assert 'different senior agent' in error(act(desk, 'first', complaint, 'claim'), 403)['message']
    error(act(desk, 'plain', complaint, 'claim'), 403)
    claimed = ok(act(desk, 'second', complaint, 'claim'))
    assert claimed['state'] == 'appealed' and claimed['owner'] == 'senior2'
    assert 'already hold' in error(act(desk, 'second', complaint, 'claim'), 409)['message']
    third = act(desk['client'], _key(users, 'senior3'), complaint.ticket_no, 'rule', RULE)
    assert third.status_code == 409 and 'holds this appeal' in third.get_json()['error']['message']
    assert ok(act(desk, 'second', complaint, 'rule', RULE))['ruling']['round'] == 2


def _key(users, username):
    from desk.parties import accounts
    agent = b.agent(users, username, role='senior_agent')
    _id, secret = accounts.create_api_key(agent, 'test')
    return {'Authorization': f'Bearer {secret}'}


def test_automatic_assignment_gives_the_appeal_to_a_senior_other_than_the_first_arbiter(desk):
    from desk.parties.models import User
    complaint = ruled(desk)
    b.dispute('O-2', desk['users']['second'])     # the second senior is busier than the first
    User.update(status='offline').where(User.id == desk['users']['plain'].id).execute()
    b.set_mode('cs', 'least_loaded')
    clock.advance(hours=1)
    b.forced_evidence(complaint, 'buyer', 'chat_log')
    appealed = ok(act(desk, 'buyer', complaint, 'appeal', {'reason': '退款太少'}))
    assert appealed['state'] == 'appealed' and appealed['owner'] == 'senior2'


def refusal(complaint, party):
    """The reason the evidence service refuses `party`'s upload now, or None."""
    from arbitration.evidence import can_submit
    return can_submit(complaint, party, clock.now())[1]


def test_when_evidence_may_be_submitted(desk):
    complaint = b.dispute('O-1', desk['users']['first'])
    assert refusal(complaint, 'buyer') is None                 # the period is open
    past_evidence_period()
    complaint = b.reload(complaint)
    assert refusal(complaint, 'merchant') is not None                  # the period is over
    ok(act(desk, 'first', complaint, 'request_evidence', {'party': 'merchant', 'note': '发放日志'}))
    assert refusal(b.reload(complaint), 'merchant') is None        # asked for it
    assert refusal(b.reload(complaint), 'buyer') is not None
    ok(act(desk, 'first', complaint, 'rule', RULE))
    assert refusal(b.reload(complaint), 'buyer') is None           # new evidence for an appeal
    clock.advance(days=7, seconds=1)
    assert refusal(b.reload(complaint), 'buyer') is not None               # the appeal window is over


# --- NUL in free text (the API refuses it in any JSON body; the consoles reach the services) ----

def test_a_nul_in_an_evidence_request_note_or_ruling_reasoning_is_422(desk):
    from arbitration import intervention, rulings
    from desk.core.errors import Invalid
    complaint = b.dispute('O-1', desk['users']['first'])
    past_evidence_period()
    with pytest.raises(Invalid) as err:
        intervention.request_evidence(desk['users']['first'], b.reload(complaint), {'party': 'buyer', 'note': '截图\x00'})
    assert err.value.status == 422 and set(err.value.fields) == {'note'}
    with pytest.raises(Invalid) as err:
        rulings.parse_ruling(b.reload(complaint), dict(RULE, reasoning='理由\x00'), 10000)
    assert err.value.status == 422 and set(err.value.fields) == {'reasoning'}


def test_a_nul_in_a_resolution_note_or_an_appeal_reason_is_422(desk):
    from arbitration import rulings
    from desk.core.errors import Invalid
    platform = b.case('P-1', amount_fen=10000)
    ok(act(desk, 'plain', platform, 'claim'))
    with pytest.raises(Invalid) as err:
        rulings.resolve(desk['users']['plain'], b.reload(platform), {'remedy': {'type': 'none'}, 'note': '说明\x00'})
    assert err.value.status == 422 and set(err.value.fields) == {'note'}
    complaint = ruled(desk, order_no='O-2')
    with pytest.raises(Invalid) as err:
        rulings.appeal(desk['users']['buyer'], complaint, {'reason': '不服\x00'})
    assert err.value.status == 422 and set(err.value.fields) == {'reason'}
