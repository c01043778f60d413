"""Property (issue 6): whatever sequence of proposals, acceptances, rejections, escalations,
claims, rulings, appeals, waits (timers) and confirmations happens on a case, an order is
never refunded more than it was paid and a case never has two active rulings.

Each example files a fresh complaint on a fresh 100.00 order and plays the drawn steps
through the services as the real actors (refusals — 403/404/409/422 — are part of the game);
the invariants are checked after every step. Amounts are drawn up to 150.00 so that the cap
is tested, waits up to 80 hours so that the merchant and buyer timers, the evidence period
and the appeal window run out in between.
"""
import datetime as dt
import itertools

from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from peewee import fn

from arbitration import negotiation
from desk.agent_desk import assignment
from desk.cases import complaints, remedies, transitions
from desk.cases.lifecycle import STATES
from desk.cases.models import Remedy, Ruling
from desk.core import clock, deadlines
from desk.core.errors import DomainError
from desk.core.money import to_yuan
from desk.credit.models import BuyerCreditEntry
from desk.parties.models import Buyer
from tests import builders as b

ORDER_FEN = 10000
_numbers = itertools.count(1)

amount = st.integers(min_value=1, max_value=15000).map(to_yuan)
remedy = st.one_of(
    st.builds(lambda a: {'type': 'refund', 'amount': a}, amount),
    st.just({'type': 'refund'}),
    st.just({'type': 'reissue'}),
    st.builds(lambda a: {'type': 'compensation', 'amount': a}, amount),
    st.just({'type': 'none'}))
#: (outcome, responsibility): mostly consistent pairs, some that are refused (422)
RULINGS = st.one_of(
    st.sampled_from([('buyer_full', 'merchant'), ('buyer_partial', 'merchant'), ('buyer_partial', 'platform'),
                     ('merchant', 'buyer'), ('split', 'third_party'), ('split', 'merchant')]),
    st.tuples(st.sampled_from(['buyer_full', 'buyer_partial', 'merchant', 'split']),
              st.sampled_from(['merchant', 'buyer', 'platform', 'third_party'])))
small = st.integers(min_value=1, max_value=10000).map(to_yuan)
#: a ruling that passes validation unless the cap or the state refuses it
CONSISTENT_RULE = st.one_of(
    st.tuples(st.just('rule'), st.sampled_from(['first', 'first', 'second']),
              st.sampled_from([('buyer_full', 'merchant'), ('buyer_partial', 'platform'), ('split', 'third_party')]),
              st.one_of(st.builds(lambda a: {'type': 'refund', 'amount': a}, small), st.just({'type': 'refund'}),
                        st.just({'type': 'reissue'}))),
    st.tuples(st.just('rule'), st.sampled_from(['first', 'second']), st.just(('merchant', 'buyer')),
              st.just({'type': 'none'})))
STEP = st.one_of(
    st.tuples(st.just('propose'), st.sampled_from(['refund', 'reissue', 'compensation', 'reject']), amount),
    st.tuples(st.just('accept')),
    st.tuples(st.just('reject')),
    st.tuples(st.just('escalate'), st.sampled_from(['buyer', 'merchant'])),
    st.tuples(st.just('claim'), st.sampled_from(['first', 'second'])),
    st.tuples(st.just('wait'), st.integers(min_value=1, max_value=80)),
    st.tuples(st.just('evidence'), st.sampled_from(['buyer', 'merchant']),
              st.sampled_from(['payment_proof', 'delivery_log', 'chat_log'])),
    st.tuples(st.just('done'), st.sampled_from(['buyer', 'merchant'])),
    st.tuples(st.just('close'),),
    st.tuples(st.just('rule'), st.sampled_from(['first', 'second']), RULINGS, remedy),
    CONSISTENT_RULE, CONSISTENT_RULE, CONSISTENT_RULE, CONSISTENT_RULE, CONSISTENT_RULE,
    st.tuples(st.just('appeal'), st.sampled_from(['buyer', 'merchant']), st.booleans()),
    st.tuples(st.just('appeal'), st.sampled_from(['buyer', 'merchant']), st.just(True)),
    st.tuples(st.just('other_refund'), amount),
    st.tuples(st.just('confirm'),),
)


def _play(step, actors, complaint):
    kind = step[0]
    if kind == 'wait':
        clock.advance(hours=step[1])
        deadlines.advance_due()
        return
    if kind == 'evidence':
        clock.advance(minutes=1)
        b.forced_evidence(complaint, step[1], step[2])
        return
    if kind == 'other_refund':  # a refund decided elsewhere (e.g. a supervisor's review)
        try:
            remedies.create(complaint, 'refund', int(step[1].replace('.', '')), 'review')
        except DomainError:
            pass
        return
    if kind == 'rule' and complaint.evidence_due_at is not None and clock.now() < complaint.evidence_due_at:
        clock.freeze(complaint.evidence_due_at + dt.timedelta(minutes=1))  # rule once the period is over
        deadlines.advance_due()
        complaint = b.reload(complaint)
    if kind == 'rule' and (complaint.order.amount_fen >= 50000):
        b.forced_evidence(complaint, 'buyer', 'payment_proof')
    if kind == 'appeal' and step[2]:
        clock.advance(minutes=1)
        b.forced_evidence(complaint, step[1], 'delivery_log')
    if kind == 'confirm':
        pending = Remedy.select().where((Remedy.complaint == complaint.id) & (Remedy.state == 'pending')).first()
        if pending is not None:
            remedies.confirm(actors['integration'], pending.id)
        return
    clock.advance(seconds=30)
    calls = {
        'propose': lambda: negotiation.propose(actors['merchant'], complaint, {
            'type': step[1], 'amount': step[2] if step[1] in ('refund', 'compensation') else None,
            'message': '方案'}),
        'accept': lambda: transitions.take_action(actors['buyer'], complaint, 'accept', {}),
        'reject': lambda: transitions.take_action(actors['buyer'], complaint, 'reject', {'reason': '不同意'}),
        'escalate': lambda: transitions.take_action(actors[step[1]], complaint, 'escalate', {'reason': '请平台介入'}),
        'claim': lambda: assignment.claim(actors[step[1]], complaint),
        'done': lambda: transitions.take_action(actors[step[1]], complaint, 'evidence_done', {}),
        'close': lambda: transitions.take_action(complaint.owner or actors['first'], complaint, 'close_evidence', {}),
        'rule': lambda: transitions.take_action(actors[step[1]], complaint, 'rule', {
            'outcome': step[2][0], 'responsibility': step[2][1], 'remedy': step[3], 'reasoning': '依据证据裁定'}),
        'appeal': lambda: transitions.take_action(actors[step[1]], complaint, 'appeal', {'reason': '不服裁定'}),
    }
    try:
        calls[kind]()
    except DomainError:
        pass  # refused: 403/404/409/422 are legitimate answers to a random move


def _check(complaint):
    row = b.reload(complaint)
    assert row.state in STATES
    refunded = (Remedy
                .select(fn.COALESCE(fn.SUM(Remedy.amount_fen), 0))
                .where((Remedy.order == row.order_id) & (Remedy.kind == 'refund'))
                .scalar())
    assert int(refunded or 0) <= ORDER_FEN, f'refunded {refunded} of {ORDER_FEN}'
    assert remedies.refundable(row.order) == ORDER_FEN - int(refunded or 0)
    active = Ruling.select().where((Ruling.complaint == row.id) & (Ruling.active == True)).count()  # noqa: E712
    assert active <= 1, f'{active} active rulings'
    if row.state == 'resolved' and Ruling.select().where(Ruling.complaint == row.id).exists():
        assert active == 1
    return row


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@example(start='arbitration', opening='refund', opening_amount='40.00', steps=[
    ('rule', 'first', ('buyer_partial', 'merchant'), {'type': 'refund', 'amount': '30.00'}),
    ('confirm',), ('other_refund', '50.00'), ('appeal', 'buyer', True),
    ('rule', 'second', ('buyer_full', 'merchant'), {'type': 'refund', 'amount': '100.00'}),
    ('rule', 'second', ('buyer_full', 'merchant'), {'type': 'refund'}), ('confirm',),
    ('appeal', 'merchant', True)])
@example(start='arbitration', opening='reissue', opening_amount='1.00', steps=[
    ('rule', 'first', ('buyer_full', 'merchant'), {'type': 'refund'}), ('appeal', 'merchant', True),
    ('rule', 'first', ('merchant', 'buyer'), {'type': 'none'}),
    ('rule', 'second', ('merchant', 'buyer'), {'type': 'none'}), ('other_refund', '0.01')])
@given(start=st.sampled_from(['negotiating', 'arbitration', 'arbitration']),
       opening=st.sampled_from(['refund', 'reissue', 'compensation', 'reject']), opening_amount=amount,
       steps=st.lists(STEP, min_size=3, max_size=18))
def test_no_sequence_over_refunds_or_leaves_two_active_rulings(app, users, frozen, start, opening,
                                                              opening_amount, steps):
    actors = _actors(users)
    # each example is a story of its own: earlier examples' buyer-responsibility rulings must
    # not lower the buyer's credit to where filing needs evidence (desk.credit.ledger)
    BuyerCreditEntry.delete().execute()
    Buyer.update(credit=100).execute()
    n = next(_numbers)
    clock.freeze(dt.datetime(2026, 11, 24, 2, 0, 0) + dt.timedelta(days=n))
    b.order(f'HP-{n}', amount_fen=ORDER_FEN)
    complaint = complaints.file_complaint(actors['buyer'], b.body(f'HP-{n}'))
    if start == 'arbitration':  # the usual road to a ruling: an answer, escalation, a claim
        _play(('propose', opening, opening_amount), actors, b.reload(complaint))
        _play(('escalate', 'buyer'), actors, b.reload(complaint))
        _play(('claim', 'first'), actors, b.reload(complaint))
        _check(complaint)
    for step in steps:
        complaint = b.reload(complaint)
        _play(step, actors, complaint)
        _check(complaint)
    event(f'ended {b.reload(complaint).state}, '
          f'{Ruling.select().where(Ruling.complaint == complaint.id).count()} rulings')


_ACTORS = {}


def _actors(users):
    """The same people for every example of one test run (the database keeps them)."""
    from desk.parties.models import User
    key = id(users)
    if key not in _ACTORS:
        _ACTORS.clear()
        _ACTORS[key] = {
            'buyer': b.buyer_login('b-1'), 'merchant': b.merchant_login('m-1'),
            'first': b.agent(users, 'hp-first', role='senior_agent', capacity=10000),
            'second': b.agent(users, 'hp-second', role='senior_agent', capacity=10000),
            'integration': users('integration'),
        }
    return {k: User.get_by_id(v.id) for k, v in _ACTORS[key].items()}
