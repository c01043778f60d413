"""Complaint spike (issue 8 item 5): 5 valid complaints against one merchant within 30 days
record ONE complaint_spike violation linked to them; the window's edges on the exact second;
withdrawn complaints and complaints ruled the buyer's responsibility do not count; the 6th and
7th complaint add nothing, five more do; two filings at once record one violation (PostgreSQL).
"""
import datetime as dt
import threading

import pytest

from arbitration.penalties import spike
from arbitration.penalties.models import Violation, ViolationComplaint, ViolationRule
from desk.cases import complaints
from desk.cases.models import Complaint, Ruling
from desk.core import clock
from desk.core.db import atomic, connection
from tests import builders as b
from tests.conftest import T0, TEST_DB_URL

DAY = dt.timedelta(days=1)

pytestmark = pytest.mark.usefixtures('no_leftover_clock')
_serial = {'n': 0}


def file_one(merchant_ref='m-1', category='not_as_described'):
    """File one merchant-path complaint on a fresh order of `merchant_ref` (through the service)."""
    _serial['n'] += 1
    return b.case(f'S-{merchant_ref}-{_serial["n"]}', category=category, merchant_ref=merchant_ref)


def spikes(merchant_ref='m-1'):
    return list(Violation
                .select()
                .where((Violation.merchant == b.merchant(merchant_ref).id) & (Violation.code == 'complaint_spike'))
                .order_by(Violation.id))


def linked(violation):
    return sorted(link.complaint_id for link in
                  ViolationComplaint.select().where(ViolationComplaint.violation == violation.id))


def rule_on(complaint, responsibility, active=True, round_=1):
    return Ruling.create(complaint=complaint.id, round=round_, outcome='merchant' if responsibility == 'buyer'
                         else 'buyer_full', responsibility=responsibility, remedy='none', reasoning='理由',
                         active=active)


def test_four_complaints_record_nothing_the_fifth_records_one_violation_linked_to_all(app, frozen):
    filed = []
    for _ in range(4):
        filed.append(file_one())
        clock.advance(hours=1)
    assert spikes() == []
    filed.append(file_one())
    [violation] = spikes()
    assert (violation.points, violation.fine_fen, violation.state) == (6, 0, 'active')
    assert violation.at == filed[-1].created_at == T0 + dt.timedelta(hours=4)
    assert violation.complaint_id == filed[-1].id
    assert linked(violation) == sorted(c.id for c in filed)
    assert spike.linked_complaints(violation.id) == [c.ticket_no for c in filed]


@pytest.mark.parametrize('offset, recorded', [(dt.timedelta(days=30), False),
                                              (dt.timedelta(days=30) - dt.timedelta(seconds=1), True)])
def test_the_window_is_the_30_days_up_to_the_filing_on_the_exact_second(app, frozen, offset, recorded):
    first = file_one()
    for _ in range(3):
        clock.advance(days=5)
        file_one()
    clock.freeze(T0 + offset)
    fifth = file_one()
    assert fifth.created_at == T0 + offset
    if recorded:
        [violation] = spikes()
        assert first.id in linked(violation)
    else:
        assert spikes() == []


def test_other_merchants_and_platform_cases_do_not_count(app, frozen):
    for _ in range(2):
        file_one('m-2')
    for _ in range(2):
        file_one('m-1', category='service_attitude')  # a platform-path case: not the merchant's
    for _ in range(4):
        file_one('m-1')
    assert spikes('m-1') == [] and spikes('m-2') == []


def test_withdrawn_complaints_do_not_count(app, frozen, users):
    filed = [file_one() for _ in range(4)]
    complaints.withdraw(b.buyer_login('b-1'), b.reload(filed[0]))
    clock.advance(minutes=1)
    file_one()
    assert spikes() == []  # 3 valid + the new one
    clock.advance(minutes=1)
    sixth = file_one()
    [violation] = spikes()
    assert filed[0].id not in linked(violation)
    assert len(linked(violation)) == 5 and sixth.id in linked(violation)


def test_complaints_ruled_the_buyers_responsibility_do_not_count(app, frozen):
    filed = [file_one() for _ in range(4)]
    rule_on(filed[0], 'buyer')
    rule_on(filed[1], 'merchant')  # lost by the merchant: still counts
    # ruled `buyer` first, then the appeal held the merchant responsible: counts again
    rule_on(filed[2], 'buyer', active=False)
    rule_on(filed[2], 'merchant', round_=2)
    file_one()
    assert spikes() == []
    sixth = file_one()
    [violation] = spikes()
    assert filed[0].id not in linked(violation)
    assert {filed[1].id, filed[2].id, sixth.id} <= set(linked(violation))


def test_one_violation_per_window_then_five_more_or_a_later_window_record_another(app, frozen):
    for _ in range(5):
        file_one()
    assert len(spikes()) == 1
    for _ in range(4):  # the 6th to the 9th: they count 1 to 4
        clock.advance(hours=1)
        file_one()
    assert len(spikes()) == 1
    clock.advance(hours=1)
    tenth = file_one()
    first, second = spikes()
    assert second.complaint_id == tenth.id and len(linked(second)) == 5
    assert not set(linked(first)) & set(linked(second))
    clock.advance(days=40)
    for _ in range(4):
        file_one()
    assert len(spikes()) == 2
    file_one()
    assert len(spikes()) == 3


def test_a_revoked_spike_does_not_come_back_on_the_next_filing(app, frozen):
    for _ in range(5):
        file_one()
    [violation] = spikes()
    Violation.update(state='revoked').where(Violation.id == violation.id).execute()
    file_one()
    assert len(spikes()) == 1


def test_an_inactive_rule_records_no_spike(app, frozen):
    ViolationRule.update(active=False).where(ViolationRule.code == 'complaint_spike').execute()
    for _ in range(6):
        file_one()
    assert spikes() == []


def test_the_threshold_and_window_come_from_the_policy(app, frozen):
    from arbitration.health.models import MerchantHealthPolicy
    MerchantHealthPolicy.update(spike_complaints=3, spike_window_days=2).execute()
    file_one()
    clock.advance(days=2)
    file_one()
    file_one()
    assert spikes() == []  # the first is exactly 2 days old: outside
    file_one()
    assert len(spikes()) == 1


def test_a_failed_filing_leaves_no_spike(app, frozen, monkeypatch):
    for _ in range(4):
        file_one()

    def broken(*args, **kwargs):
        raise RuntimeError('notification store down')
    monkeypatch.setattr(complaints, 'publish', broken)
    with pytest.raises(RuntimeError):
        file_one()
    assert spikes() == [] and ViolationComplaint.select().count() == 0
    assert Complaint.select().count() == 4


# --- two filings at once (PostgreSQL) ------------------------------------------------------------

def _bare_complaint(order, n):
    return Complaint.create(ticket_no=f'TS-RACE-{n}', order=order.id, buyer=order.buyer_id,
                            merchant=order.merchant_id, category='not_as_described', path='merchant',
                            tier='L2', department='cs', state='negotiating', facts='事实', demand_type='full_refund',
                            channel='api', created_at=clock.now(), updated_at=clock.now())


@pytest.mark.skipif(not TEST_DB_URL, reason='a row-lock race: needs DESK_TEST_DATABASE_URL=postgresql://…')
def test_two_filings_at_once_record_one_spike(app, frozen):
    """Both transactions insert their complaint, then both check: without the merchant lock
    each counts the 4 committed complaints and its own (5) and both record a spike."""
    for round_ in range(5):
        clock.freeze(T0 + dt.timedelta(days=60 * round_))
        for _ in range(4):
            file_one()
        orders = [b.order(f'RACE-{round_}-{n}') for n in range(2)]
        barrier = threading.Barrier(2, timeout=20)
        errors = []

        def racer(order, n):
            try:
                with app.app_context(), connection():
                    with atomic():
                        complaint = _bare_complaint(order, f'{round_}-{n}')
                        barrier.wait()
                        spike.check(complaint)
            except Exception as err:  # reported below
                errors.append(err)

        threads = [threading.Thread(target=racer, args=(o, n)) for n, o in enumerate(orders)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
            assert not thread.is_alive(), 'a racer hung'
        assert errors == []
        assert len(spikes()) == round_ + 1, round_
        assert len(linked(spikes()[-1])) == 5

