"""The deposit ledger (保证金), manual violations and penalty appeals (SPEC §7): services and
API, with every bad input of issue 8."""
import datetime as dt
import io

import pytest

from arbitration.penalties import deposit, manual_violations, penalty_appeals, standing, violations
from arbitration.penalties.models import (
    AppealEvidence,
    DepositEntry,
    Violation,
    ViolationAppeal,
    ViolationComplaint,
    ViolationRule,
)
from desk.core import clock
from desk.core.errors import Conflict, Forbidden, Invalid, NotFound
from tests import builders as b


@pytest.fixture
def people(app, users, frozen):
    b.merchant('m-1')
    b.merchant('m-2')
    return {'supervisor': users('supervisor', 'boss'), 'admin': users('admin', 'root'),
            'agent': users('agent', 'ag'), 'integration': users('integration', 'market'),
            'shop1': b.staff_user(users, 'm-1', username='shop1'),
            'shop2': b.staff_user(users, 'm-2', username='shop2')}


def chain_ok(merchant):
    """The running sums chain and the cached balance equals the sum of entries."""
    entries = list(DepositEntry.select().where(DepositEntry.merchant == merchant.id).order_by(DepositEntry.id))
    running = 0
    for e in entries:
        running += e.amount_fen
        assert e.balance_after_fen == running, e.id
    assert deposit.balance_of(merchant.id) == running == b.merchant(merchant.ref).deposit_fen
    return running


# --- ledger ---------------------------------------------------------------------------------

def test_top_up_fine_and_refund_chain(people):
    shop = b.merchant()
    entry, created = deposit.top_up(people['admin'], shop, 100000, 'first deposit')
    assert created and entry.balance_after_fen == 100000
    v = violations.record_violation(shop.id, 'fake_delivery')
    fine = DepositEntry.get((DepositEntry.violation == v.id) & (DepositEntry.kind == 'fine'))
    assert (fine.amount_fen, fine.balance_after_fen) == (-50000, 50000)
    assert chain_ok(shop) == 50000
    refund = deposit.refund_fine(v, people['supervisor'])
    assert (refund.kind, refund.amount_fen, refund.balance_after_fen) == ('fine_refund', 50000, 100000)
    assert deposit.refund_fine(v, people['supervisor']) is None  # once only
    assert chain_ok(shop) == 100000


def test_fine_is_charged_once_per_violation(people):
    shop = b.merchant()
    v = violations.record_violation(shop.id, 'fake_delivery')
    assert deposit.charge_fines([v]) == []
    violations.record_many([(shop.id, 'no_response', None, None)])  # no fine: no entry
    assert DepositEntry.select().count() == 1


@pytest.mark.parametrize('amount', [0, -1, -100000])
def test_top_up_of_zero_or_less_is_422(people, amount):
    with pytest.raises(Invalid) as err:
        deposit.top_up(people['admin'], b.merchant(), amount, '')
    assert 'amount' in err.value.fields
    assert DepositEntry.select().count() == 0


@pytest.mark.parametrize('role', ['agent', 'shop1'])
def test_top_up_by_other_roles_is_403(people, role):
    with pytest.raises(Forbidden):
        deposit.top_up(people[role], b.merchant(), 100, '')


def test_idempotent_top_up_retry(people):
    shop = b.merchant()
    first, created = deposit.top_up(people['integration'], shop, 5000, 'pay-in', idempotency_key='k-1')
    again, created_again = deposit.top_up(people['integration'], shop, 5000, 'pay-in', idempotency_key='k-1')
    assert (created, created_again, again.id) == (True, False, first.id)
    assert chain_ok(shop) == 5000
    with pytest.raises(Conflict):  # the same key for something else
        deposit.top_up(people['integration'], shop, 6000, 'pay-in', idempotency_key='k-1')
    with pytest.raises(Conflict):
        deposit.top_up(people['integration'], b.merchant('m-2'), 5000, 'pay-in', idempotency_key='k-1')
    assert chain_ok(b.merchant('m-2')) == 0


def test_uncovered_fine_goes_negative_in_full_and_top_up_covers_it(people):
    shop = b.merchant()
    deposit.top_up(people['admin'], shop, 10000, '')
    violations.record_violation(shop.id, 'fake_delivery')  # 500.00 against 100.00
    assert chain_ok(shop) == -40000
    assert deposit.on_hold(shop.id)
    deposit.top_up(people['admin'], shop, 39999, '')
    assert deposit.on_hold(shop.id)
    deposit.top_up(people['admin'], shop, 1, '')
    assert not deposit.on_hold(shop.id) and chain_ok(shop) == 0


def test_uncovered_fine_puts_the_standing_on_deposit_hold(people):
    shop = b.merchant()
    violations.record_violation(shop.id, 'fake_delivery')
    assert standing.recompute([shop.id])[shop.id].deposit_hold is True
    deposit.top_up(people['admin'], shop, 50000, '')
    assert standing.standing_of(shop.id).deposit_hold is False


def test_inactive_rule_records_nothing(people):
    shop = b.merchant()
    ViolationRule.update(active=False).where(ViolationRule.code == 'fake_delivery').execute()
    assert violations.record_violation(shop.id, 'fake_delivery') is None
    assert Violation.select().count() == 0 and DepositEntry.select().count() == 0
    ViolationRule.update(active=True).where(ViolationRule.code == 'fake_delivery').execute()
    assert violations.record_violation(shop.id, 'fake_delivery').points == 12


# --- manual violations ---------------------------------------------------------------------------

def test_manual_violation_by_a_supervisor(people):
    shop = b.merchant()
    complaint = b.case('O-9', merchant_ref='m-1')
    v = manual_violations.record_manual(people['supervisor'], shop, 5, 20000, '  刷单  ', complaint.ticket_no)
    assert (v.code, v.points, v.fine_fen, v.reason, v.created_by_id) == ('manual', 5, 20000, '刷单', people['supervisor'].id)
    assert v.expires_at == clock.now() + dt.timedelta(days=365)
    assert ViolationComplaint.get(ViolationComplaint.violation == v.id).complaint_id == complaint.id
    assert chain_ok(shop) == -20000
    assert standing.standing_of(shop.id).active_points == 5


@pytest.mark.parametrize('points, fine, reason, field', [
    (5, 0, '', 'reason'), (5, 0, '   ', 'reason'), (5, 0, None, 'reason'),
    (-1, 0, 'x', 'points'), (1, -100, 'x', 'fine'), ('3', 0, 'x', 'points'), (0, 0, 'x', 'points'),
])
def test_manual_violation_bad_input_is_422(people, points, fine, reason, field):
    with pytest.raises(Invalid) as err:
        manual_violations.record_manual(people['supervisor'], b.merchant(), points, fine, reason)
    assert field in err.value.fields
    assert Violation.select().count() == 0


def test_manual_violation_on_another_merchants_ticket_is_422(people):
    complaint = b.case('O-9', merchant_ref='m-2')
    with pytest.raises(Invalid) as err:
        manual_violations.record_manual(people['supervisor'], b.merchant(), 1, 0, 'x', complaint.ticket_no)
    assert 'ticket_no' in err.value.fields


@pytest.mark.parametrize('role', ['agent', 'shop1', 'integration'])
def test_manual_violation_by_others_is_403(people, role):
    with pytest.raises(Forbidden):
        manual_violations.record_manual(people[role], b.merchant(), 1, 0, 'x')


# --- appeals ---------------------------------------------------------------------------------

def test_appeal_and_revoke_restore_points_and_money(people):
    shop = b.merchant()
    deposit.top_up(people['admin'], shop, 50000, '')
    v = violations.record_violation(shop.id, 'fake_delivery')
    assert standing.recompute([shop.id])[shop.id].level == 1
    assert chain_ok(shop) == 0
    clock.advance(days=6)
    appeal = penalty_appeals.appeal(people['shop1'], v.id, '卡密已发放,有截图', [('proof.png', io.BytesIO(b.PNG))])
    assert appeal.state == 'open'
    ev = AppealEvidence.get(AppealEvidence.appeal == appeal.id)
    assert (ev.mime, ev.filename, ev.size) == ('image/png', 'proof.png', len(b.PNG))
    assert 'violation_appeal_filed' in b.outbox_templates()
    decided = penalty_appeals.decide(people['supervisor'], appeal.id, 'revoke', '证据充分')
    assert (decided.state, decided.decided_by_id, decided.decision_note) == ('revoked', people['supervisor'].id, '证据充分')
    v = Violation.get_by_id(v.id)
    assert (v.state, v.ended_at) == ('revoked', clock.now())
    row = standing.standing_of(shop.id)
    assert (row.active_points, row.level) == (0, 0)
    assert chain_ok(shop) == 50000
    assert b.outbox_templates()[-1] == 'violation_appeal_revoked'
    with pytest.raises(Conflict):  # deciding a decided appeal
        penalty_appeals.decide(people['supervisor'], appeal.id, 'uphold', 'again')


def test_upheld_appeal_changes_nothing(people):
    shop = b.merchant()
    v = violations.record_violation(shop.id, 'fake_delivery')
    appeal = penalty_appeals.appeal(people['shop1'], v.id, 'no')
    penalty_appeals.decide(people['admin'], appeal.id, 'uphold', '证据不足')
    assert Violation.get_by_id(v.id).state == 'active'
    assert chain_ok(shop) == -50000
    assert b.outbox_templates()[-1] == 'violation_appeal_upheld'


def test_appeal_after_seven_days_is_409_naming_the_date(people):
    v = violations.record_violation(b.merchant().id, 'no_response')
    clock.advance(days=7)
    penalty_appeals._check_open(v, clock.now())  # the last second still counts
    clock.advance(seconds=1)
    with pytest.raises(Conflict) as err:
        penalty_appeals.appeal(people['shop1'], v.id, 'late')
    assert '2026-12-01 10:00' in err.value.message  # T0 + 7 days, Beijing time
    assert ViolationAppeal.select().count() == 0


def test_appeal_of_another_merchants_violation_is_404(people):
    v = violations.record_violation(b.merchant('m-2').id, 'no_response')
    with pytest.raises(NotFound):
        penalty_appeals.appeal(people['shop1'], v.id, 'mine?')
    with pytest.raises(NotFound):
        penalty_appeals.appeal(people['shop1'], 999999, 'none')


def test_second_appeal_is_409(people):
    v = violations.record_violation(b.merchant().id, 'no_response')
    penalty_appeals.appeal(people['shop1'], v.id, 'first')
    with pytest.raises(Conflict):
        penalty_appeals.appeal(people['shop1'], v.id, 'second')


@pytest.mark.parametrize('state', ['revoked', 'expired'])
def test_appeal_of_an_ended_violation_is_409(people, state):
    v = violations.record_violation(b.merchant().id, 'no_response')
    Violation.update(state=state).execute()
    with pytest.raises(Conflict):
        penalty_appeals.appeal(people['shop1'], v.id, 'why')


def test_appeal_needs_a_reason_and_a_merchant(people):
    v = violations.record_violation(b.merchant().id, 'no_response')
    with pytest.raises(Invalid) as err:
        penalty_appeals.appeal(people['shop1'], v.id, '  ')
    assert 'reason' in err.value.fields
    with pytest.raises(Forbidden):
        penalty_appeals.appeal(people['supervisor'], v.id, 'x')


def test_appeal_evidence_goes_through_the_upload_checks(people):
    from desk.core.errors import Unsupported
    v = violations.record_violation(b.merchant().id, 'no_response')
    with pytest.raises(Unsupported):
        penalty_appeals.appeal(people['shop1'], v.id, 'x', [('a.html', io.BytesIO(b'<html><script>1</script>'))])
    assert ViolationAppeal.select().count() == 0


def test_decide_bad_input(people):
    v = violations.record_violation(b.merchant().id, 'no_response')
    appeal = penalty_appeals.appeal(people['shop1'], v.id, 'x')
    for role in ('agent', 'shop1', 'shop2'):
        with pytest.raises(Forbidden):
            penalty_appeals.decide(people[role], appeal.id, 'revoke', 'x')
    with pytest.raises(Invalid):
        penalty_appeals.decide(people['supervisor'], appeal.id, 'maybe', 'x')
    with pytest.raises(Invalid):
        penalty_appeals.decide(people['supervisor'], appeal.id, 'revoke', '')
    with pytest.raises(NotFound):
        penalty_appeals.decide(people['supervisor'], 424242, 'revoke', 'x')


# --- API -------------------------------------------------------------------------------------

def test_api_appeal_decision_and_ledger(client, people, api_key):
    shop1, shop2, boss = api_key(people['shop1']), api_key(people['shop2']), api_key(people['supervisor'])
    market = api_key(people['integration'])
    v = violations.record_violation(b.merchant().id, 'fake_delivery')
    assert client.post(f'/api/v1/violations/{v.id}/appeal', headers=shop2, json={'reason': 'x'}).status_code == 404
    assert client.post(f'/api/v1/violations/{v.id}/appeal', headers=shop1, json={}).status_code == 422
    r = client.post(f'/api/v1/violations/{v.id}/appeal', headers=shop1,
                    data={'reason': '有证据', 'files': [(io.BytesIO(b.PNG), 'p.png'), (io.BytesIO(b'chat log'), 'c.txt')]},
                    content_type='multipart/form-data')
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert [e['mime'] for e in body['evidence']] == ['image/png', 'text/plain']
    assert client.post(f'/api/v1/violations/{v.id}/appeal', headers=shop1, json={'reason': 'x'}).status_code == 409
    url = f'/api/v1/violation-appeals/{body["id"]}/decision'
    assert client.post(url, headers=shop1, json={'decision': 'revoke', 'note': 'x'}).status_code == 403
    r = client.post(url, headers=boss, json={'decision': 'revoke', 'note': 'ok'})
    assert (r.status_code, r.get_json()['state']) == (200, 'revoked')
    assert client.post(url, headers=boss, json={'decision': 'revoke', 'note': 'ok'}).status_code == 409
    ledger = client.get('/api/v1/merchants/m-1/deposit', headers=shop1).get_json()
    assert (ledger['balance'], ledger['on_hold']) == ('0.00', False)
    assert [(e['kind'], e['amount'], e['balance_after']) for e in ledger['items']] == [
        ('fine_refund', '500.00', '0.00'), ('fine', '-500.00', '-500.00')]
    assert client.get('/api/v1/merchants/m-1/deposit', headers=shop2).status_code == 404
    assert client.get('/api/v1/merchants/nope/deposit', headers=market).status_code == 404


def test_api_appeal_after_seven_days(client, people, api_key):
    v = violations.record_violation(b.merchant().id, 'no_response')
    clock.advance(days=7, seconds=1)
    r = client.post(f'/api/v1/violations/{v.id}/appeal', headers=api_key(people['shop1']), json={'reason': 'x'})
    assert r.status_code == 409 and '2026-12-01' in r.get_json()['error']['message']


def test_api_manual_violation(client, people, api_key):
    boss = api_key(people['supervisor'])
    url = '/api/v1/merchants/m-1/violations'
    assert client.post(url, headers=boss, json={'points': 3}).status_code == 422
    assert client.post(url, headers=boss, json={'points': -3, 'reason': 'x'}).status_code == 422
    assert client.post(url, headers=boss, json={'points': 3, 'fine': '-1.00', 'reason': 'x'}).status_code == 422
    assert client.post(url, headers=api_key(people['agent']), json={'points': 3, 'reason': 'x'}).status_code == 403
    r = client.post(url, headers=boss, json={'points': 3, 'fine': '10.00', 'reason': '虚假宣传'})
    assert r.status_code == 201, r.get_json()
    assert {k: r.get_json()[k] for k in ('code', 'points', 'fine', 'state')} == {
        'code': 'manual', 'points': 3, 'fine': '10.00', 'state': 'active'}
    assert deposit.balance_of(b.merchant().id) == -1000
    assert client.post('/api/v1/merchants/zz/violations', headers=boss, json={'points': 1, 'reason': 'x'}).status_code == 404


def test_api_top_up(client, people, api_key):
    market = api_key(people['integration'])
    url = '/api/v1/merchants/m-1/deposit/top-ups'
    for amount in ('0', '0.00', '-5.00', 10, None):
        r = client.post(url, headers=market, json={'amount': amount})
        assert r.status_code == 422, amount
    assert client.post(url, headers=api_key(people['shop1']), json={'amount': '1.00'}).status_code == 403
    headers = dict(market, **{'Idempotency-Key': 'pay-77'})
    first = client.post(url, headers=headers, json={'amount': '300.00', 'note': '缴纳保证金'})
    assert first.status_code == 201, first.get_json()
    retry = client.post(url, headers=headers, json={'amount': '300.00', 'note': '缴纳保证金'})
    assert (retry.status_code, retry.get_json()['id']) == (200, first.get_json()['id'])
    assert client.post(url, headers=headers, json={'amount': '1.00'}).status_code == 409
    assert deposit.balance_of(b.merchant().id) == 30000 == b.merchant().deposit_fen


def test_a_nul_in_a_manual_violation_reason_is_422(people):
    with pytest.raises(Invalid) as err:
        manual_violations.record_manual(people['supervisor'], b.merchant(), 1, 0, '理由\x00')
    assert err.value.status == 422 and set(err.value.fields) == {'reason'}
    assert Violation.select().count() == 0


def test_a_nul_in_a_penalty_appeal_reason_or_decision_note_is_422(people):
    v = violations.record_violation(b.merchant().id, 'no_response')
    with pytest.raises(Invalid) as err:
        penalty_appeals.appeal(people['shop1'], v.id, '理由\x00')
    assert err.value.status == 422 and set(err.value.fields) == {'reason'}
    appeal = penalty_appeals.appeal(people['shop1'], v.id, '已回复买家')
    with pytest.raises(Invalid) as err:
        penalty_appeals.decide(people['supervisor'], appeal.id, 'revoke', '说明\x00')
    assert err.value.status == 422 and set(err.value.fields) == {'note'}
    assert ViolationAppeal.get_by_id(appeal.id).state == 'open'


def test_a_nul_in_a_top_up_note_is_422(people):
    with pytest.raises(Invalid) as err:
        deposit.top_up(people['admin'], b.merchant(), 100, '备注\x00')
    assert err.value.status == 422 and set(err.value.fields) == {'note'}
    assert DepositEntry.select().count() == 0
