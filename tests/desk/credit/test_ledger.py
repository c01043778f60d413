"""Buyer complaint credit (SPEC §7, issue 8 item 7): what changes it.

−10 for a ruling holding the buyer responsible (once per complaint; an appeal ruling that no
longer does gives it back), −30 for a supervisor's malicious flag (supervisors only, with a
reason, once per complaint), +5 per clean calendar month (Asia/Shanghai) up to 100 by a daily,
idempotent, set-based job. The cached `Buyer.credit` always equals 100 plus the entries.
"""
import datetime as dt

import pytest
from peewee import fn

from arbitration.penalties.models import Violation
from desk import jobs
from desk.cases.models import Event
from desk.core import clock
from desk.credit import ledger as credit
from desk.credit.models import BuyerCreditEntry
from desk.parties.models import Buyer
from tests import builders as b
from tests.conftest import T0
from tests.support import act, error, isolated_client, ok, shanghai

HOUR = dt.timedelta(hours=1)
EVIDENCE = dt.timedelta(seconds=172800)
BUYER_RULE = {'outcome': 'merchant', 'responsibility': 'buyer', 'remedy': {'type': 'none'},
              'reasoning': '卡密在买家提取前有效,买家已自行使用。'}
MERCHANT_RULE = {'outcome': 'buyer_full', 'responsibility': 'merchant',
                 'remedy': {'type': 'refund', 'amount': '100.00'}, 'reasoning': '商家发货记录不完整。'}


@pytest.fixture
def desk(app, users, api_key, frozen):
    first = b.agent(users, 'arbiter', role='senior_agent')
    second = b.agent(users, 'senior2', role='senior_agent')
    plain = b.agent(users, 'plain')
    supervisor = users('supervisor', username='boss')
    admin = users('admin', username='root')
    buyer, staff = b.buyer_login('b-1'), b.merchant_login('m-1')
    people = {'first': first, 'second': second, 'plain': plain, 'supervisor': supervisor, 'admin': admin,
              'buyer': buyer, 'merchant': staff}
    keys = {name: api_key(u) for name, u in people.items()}
    return dict(keys, users=people, client=isolated_client(app))


def score(ref='b-1'):
    return Buyer.get(Buyer.ref == ref).credit


def entries(ref='b-1'):
    buyer = Buyer.get(Buyer.ref == ref)
    return [(e.reason, e.delta) for e in
            BuyerCreditEntry.select().where(BuyerCreditEntry.buyer == buyer.id).order_by(BuyerCreditEntry.id)]


def assert_cache_is_the_ledger(ref='b-1'):
    buyer = Buyer.get(Buyer.ref == ref)
    total = (BuyerCreditEntry.select(fn.COALESCE(fn.SUM(BuyerCreditEntry.delta), 0))
             .where(BuyerCreditEntry.buyer == buyer.id).scalar())
    assert buyer.credit == 100 + total


def ruled(desk, order_no, rule=BUYER_RULE, credit_before=None):
    """A dispute of b-1 ruled by the first arbiter once its evidence period is over (the
    buyer's credit set to `credit_before` just before the ruling)."""
    complaint = b.dispute(order_no, desk['users']['first'])
    if credit_before is not None:
        b.set_credit(credit_before)
    clock.freeze(clock.now() + EVIDENCE + HOUR)
    from desk.core import deadlines
    deadlines.advance_due()
    ok(act(desk, 'first', complaint, 'rule', rule))
    return b.reload(complaint)


#: Pasted-text evidence, so that filings still go through once the credit is below 60.
PROOF = [{'kind': 'chat_log', 'text': '商家:卡密已发。买家:提示已被使用。'}]


def case(order_no):
    return b.case(order_no, evidence=PROOF)


# --- rulings ------------------------------------------------------------------------------

def test_a_ruling_holding_the_buyer_responsible_costs_ten(desk):
    assert score() == 100
    ruled(desk, 'O-1')
    assert score() == 90 and entries() == [('ruled_buyer', -10)]
    ruled(desk, 'O-2')
    assert score() == 80 and entries() == [('ruled_buyer', -10), ('ruled_buyer', -10)]
    assert_cache_is_the_ledger()


def test_a_ruling_holding_the_merchant_responsible_costs_the_buyer_nothing(desk):
    ruled(desk, 'O-1', MERCHANT_RULE)
    assert score() == 100 and entries() == []


def test_an_appeal_replacing_a_buyer_ruling_gives_the_ten_back_and_one_holding_it_costs_once(desk):
    complaint = ruled(desk, 'O-1')
    assert score() == 90
    clock.advance(hours=2)
    b.forced_evidence(complaint, 'buyer', 'chat_log')
    ok(act(desk, 'buyer', complaint, 'appeal', {'reason': '有新的聊天记录。'}))
    ok(act(desk, 'second', complaint, 'rule', MERCHANT_RULE))
    assert score() == 100
    assert entries() == [('ruled_buyer', -10), ('ruling_restored', 10)]
    # the merchant is now responsible: its violation is recorded as before
    assert Violation.select().where(Violation.complaint == complaint.id).count() == 1
    assert_cache_is_the_ledger()


def test_an_appeal_upholding_a_buyer_ruling_does_not_charge_twice(desk):
    complaint = ruled(desk, 'O-1')
    clock.advance(hours=2)
    b.forced_evidence(complaint, 'merchant', 'delivery_log')
    ok(act(desk, 'merchant', complaint, 'appeal', {'reason': '补充发货记录。'}))
    ok(act(desk, 'second', complaint, 'rule', BUYER_RULE))
    assert score() == 90 and entries() == [('ruled_buyer', -10)]


def test_an_appeal_newly_holding_the_buyer_responsible_costs_ten(desk):
    complaint = ruled(desk, 'O-1', MERCHANT_RULE)
    clock.advance(hours=2)
    b.forced_evidence(complaint, 'merchant', 'delivery_log')
    ok(act(desk, 'merchant', complaint, 'appeal', {'reason': '补充发货记录。'}))
    ok(act(desk, 'second', complaint, 'rule', BUYER_RULE))
    assert score() == 90 and entries() == [('ruled_buyer', -10)]


def test_the_credit_never_goes_below_zero_and_a_restore_gives_back_what_was_taken(desk):
    complaint = ruled(desk, 'O-1', credit_before=5)
    assert score() == 0 and entries()[-1] == ('ruled_buyer', -5)
    clock.advance(hours=2)
    b.forced_evidence(complaint, 'buyer', 'chat_log')
    ok(act(desk, 'buyer', complaint, 'appeal', {'reason': '有新的聊天记录。'}))
    ok(act(desk, 'second', complaint, 'rule', MERCHANT_RULE))
    assert score() == 5 and entries()[-1] == ('ruling_restored', 5)
    assert_cache_is_the_ledger()


# --- the malicious flag ---------------------------------------------------------------------

def test_a_supervisor_flags_a_complaint_as_malicious_once_for_thirty(desk):
    complaint = case('O-1')
    done = ok(act(desk, 'supervisor', complaint, 'flag_malicious', {'reason': '同一虚假理由投诉了五个订单。'}))
    assert 'flag_malicious' not in done['allowed_actions']
    assert score() == 70 and entries() == [('malicious', -30)]
    (entry,) = BuyerCreditEntry.select()
    assert entry.complaint_id == complaint.id and entry.created_by_id == desk['users']['supervisor'].id
    assert entry.note == '同一虚假理由投诉了五个订单。'
    (event,) = Event.select().where((Event.complaint == complaint.id) & (Event.kind == 'flagged_malicious'))
    assert event.public is False  # the buyer's timeline does not show it
    refused = error(act(desk, 'supervisor', complaint, 'flag_malicious', {'reason': 'again'}), 409)
    assert 'already been flagged' in refused['message']
    assert score() == 70
    assert_cache_is_the_ledger()


@pytest.mark.parametrize('who', ['buyer', 'merchant', 'plain', 'first', 'admin'])
def test_only_supervisors_may_flag(desk, who):
    complaint = case('O-1')
    error(act(desk, who, complaint, 'flag_malicious', {'reason': 'no'}), 403)
    assert score() == 100 and entries() == []


@pytest.mark.parametrize('body', [{}, {'reason': '   '}, {'reason': 42}, {'reason': 'x' * 1001}])
def test_a_flag_needs_a_reason(desk, body):
    complaint = case('O-1')
    refused = error(act(desk, 'supervisor', complaint, 'flag_malicious', body), 422)
    assert 'reason' in refused['fields']
    assert score() == 100 and entries() == []
    assert 'flag_malicious' in ok(desk['client'].get(f'/api/v1/complaints/{complaint.ticket_no}',
                                                     headers=desk['supervisor']))['allowed_actions']


def test_flags_on_two_complaints_cost_sixty_and_stop_at_zero(desk):
    for n in range(1, 5):
        ok(act(desk, 'supervisor', case(f'O-{n}'), 'flag_malicious', {'reason': '恶意'}))
    assert score() == 0
    assert [d for _r, d in entries()] == [-30, -30, -30, -10]
    assert_cache_is_the_ledger()


# --- the monthly recovery -------------------------------------------------------------------

def flag_at(desk, when, order_no):
    clock.freeze(when)
    ok(act(desk, 'supervisor', case(order_no), 'flag_malicious', {'reason': '恶意投诉'}))


def test_a_clean_month_gives_five_once_however_often_the_job_runs(desk):
    flag_at(desk, shanghai(2026, 11, 10), 'O-1')
    assert score() == 70
    clock.freeze(shanghai(2026, 12, 31, 23, 59, 59))     # December not over: November had a deduction
    assert credit.recover() == 0 and score() == 70
    clock.freeze(shanghai(2027, 1, 1, 0, 0, 0))          # December (clean) just ended, local time
    assert credit.recover() == 1 and score() == 75
    assert credit.recover() == 0 and score() == 75    # the same day again
    clock.freeze(shanghai(2027, 1, 20))
    assert jobs.recover_buyer_credit() == 0 and score() == 75  # any later day of January
    (recovery,) = BuyerCreditEntry.select().where(BuyerCreditEntry.reason == 'monthly_recovery')
    assert (recovery.month, recovery.delta, recovery.credit_after) == ('2026-12', 5, 75)
    clock.freeze(shanghai(2027, 2, 1, 3))
    assert credit.recover() == 1 and score() == 80    # January clean too
    assert_cache_is_the_ledger()


def test_month_boundaries_are_local_time(desk):
    # 2026-12-01 07:59 UTC is 15:59 in Shanghai, but 2026-11-30 23:30 UTC is already December
    flag_at(desk, shanghai(2026, 10, 5), 'O-1')
    flag_at(desk, dt.datetime(2026, 11, 30, 16, 30), 'O-2')   # 2026-12-01 00:30 Shanghai: a December deduction
    assert score() == 40
    clock.freeze(shanghai(2026, 12, 1, 0, 45))
    assert credit.recover() == 1 and score() == 45            # November was clean (local)
    clock.freeze(shanghai(2027, 1, 1, 1))
    assert credit.recover() == 0 and score() == 45            # December was not


def test_a_deduction_on_the_last_second_of_a_month_spoils_it(desk):
    flag_at(desk, shanghai(2026, 10, 5), 'O-1')
    flag_at(desk, shanghai(2026, 11, 30, 23, 59, 59), 'O-2')
    clock.freeze(shanghai(2026, 12, 2))
    assert credit.recover() == 0 and score() == 40


def test_recovery_never_goes_above_one_hundred(desk):
    b.set_credit(98)
    clock.freeze(shanghai(2027, 1, 3))
    assert credit.recover() == 1 and score() == 100
    assert entries()[-1] == ('monthly_recovery', 2)
    clock.freeze(shanghai(2027, 2, 3))
    assert credit.recover() == 0 and score() == 100
    assert_cache_is_the_ledger()


def test_a_month_before_the_first_deduction_gives_nothing(desk):
    # flagged in December: November (before it) was clean but there was nothing to give back
    flag_at(desk, shanghai(2026, 12, 1, 1), 'O-1')
    clock.freeze(shanghai(2026, 12, 2))
    assert credit.recover() == 0 and score() == 70


def test_recovery_is_set_based_for_many_buyers(desk, monkeypatch):
    monkeypatch.setattr(credit, 'BATCH', 7)  # several batches
    clock.freeze(shanghai(2026, 10, 5))
    for n in range(20):
        b.set_credit(50 + n, ref=f'b-{n}')
    full = b.buyer('b-full')
    clock.freeze(shanghai(2026, 12, 2))
    assert credit.recover() == 20
    assert [score(f'b-{n}') for n in range(20)] == [min(100, 55 + n) for n in range(20)]
    assert score('b-full') == 100 and not BuyerCreditEntry.select().where(BuyerCreditEntry.buyer == full.id).exists()
    assert credit.recover() == 0
    for n in range(20):
        assert_cache_is_the_ledger(f'b-{n}')


def test_the_recovery_is_a_daily_periodic_job():
    from app import PERIODIC_JOBS
    assert (jobs.recover_buyer_credit, 86400) in PERIODIC_JOBS


def test_last_month_bounds(app):
    start, end, month = credit.last_month(shanghai(2026, 1, 15))
    assert (start, end, month) == (shanghai(2025, 12, 1), shanghai(2026, 1, 1), '2025-12')
    assert credit.last_month(shanghai(2026, 3, 1))[2] == '2026-02'
    assert T0  # the suite's frozen now lies in November 2026


def test_a_recovery_another_run_wrote_first_is_skipped_not_doubled(desk, monkeypatch):
    """Two runs racing: the second one's candidates were read before the first committed;
    the unique key skips them and their credit is not raised twice."""
    flag_at(desk, shanghai(2026, 10, 5), 'O-1')
    clock.freeze(shanghai(2026, 12, 2))
    start, end, month = credit.last_month(clock.now())
    buyer = Buyer.get(Buyer.ref == 'b-1')
    BuyerCreditEntry.create(buyer=buyer.id, delta=5, credit_after=75, reason='monthly_recovery', month=month,
                            key=f'recovery:{buyer.id}:{month}', at=clock.now())
    Buyer.update(credit=75).where(Buyer.id == buyer.id).execute()
    # the candidates as read before that run committed: the buyer still among them
    original = credit.candidates
    monkeypatch.setattr(credit, 'candidates', lambda *a: original(*a, skip_recovered=False))
    with credit.atomic():
        assert credit._recover_batch(start, end, month, clock.now()) == (1, 0)
    assert score() == 75
    assert [r for r, _d in entries()].count('monthly_recovery') == 1


def test_a_nul_in_the_flag_reason_is_422_from_the_service_itself(desk):
    """The API refuses NUL in any JSON body; the console forms reach the service directly.
    The pre-screen refusal parses its reason with the same `credit.supervisor_reason`."""
    from desk.core.errors import Invalid
    complaint = case('O-1')
    with pytest.raises(Invalid) as err:
        credit.flag_malicious(desk['users']['supervisor'], complaint, {'reason': '恶意\x00'})
    assert err.value.status == 422 and set(err.value.fields) == {'reason'}
    assert score() == 100 and entries() == []
