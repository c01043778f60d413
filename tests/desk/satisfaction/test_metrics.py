"""Agent metrics (SPEC §6, docs/metrics.md): formulas on hand-built cases with known answers,
exclusion by `buyer_unreasonable`, reopen → no first-contact resolution, overturn → score
down, SLA compliance from the SLA events, and the rollup kept incrementally equals the
rollup rebuilt from scratch (on a seeded random history of 2,000 cases, and on cases driven
through the services).
"""
import datetime as dt
import random

import pytest

from arbitration import negotiation, rulings
from desk.agent_desk import assignment
from desk.agent_desk.models import SlaEvent
from desk.cases.models import Appeal, Complaint, Event, Ruling
from desk.core import clock, deadlines
from desk.core.times import to_local
from desk.satisfaction import metrics, ratings
from desk.satisfaction.models import CaseMetric, MetricDay, MetricWeights, Rating
from tests import builders as b
from tests.conftest import T0
from tests.support import run_together

HOUR = dt.timedelta(hours=1)
EVIDENCE = dt.timedelta(seconds=172800)
RESOLVE = {'remedy': {'type': 'none'}, 'note': '已解释原因。'}
RULE = {'outcome': 'buyer_partial', 'responsibility': 'merchant',
        'remedy': {'type': 'refund', 'amount': '30.00'}, 'reasoning': '面值与描述不符。'}


@pytest.fixture
def team(app, users, frozen):
    people = {'a': b.agent(users, 'agent_a'), 'b': b.agent(users, 'agent_b'),
              'senior': b.agent(users, 'senior_s', role='senior_agent'),
              'senior2': b.agent(users, 'senior_t', role='senior_agent'),
              'boss': users('supervisor', username='boss')}
    return people


def today():
    return to_local(clock.now()).date()


def figures_of(user, start=None, end=None):
    start = start or dt.date(2026, 1, 1)
    end = end or dt.date(2027, 12, 31)
    return metrics.agent_figures(user.id, start, end)


def platform_case(order_no, agent, buyer_ref='b-1'):
    """A platform case claimed and resolved by `agent` an hour later."""
    case = b.case(order_no, buyer_ref=buyer_ref)
    assignment.claim(agent, case)
    clock.freeze(clock.now() + HOUR)
    rulings.resolve(agent, b.reload(case), RESOLVE)
    return b.reload(case)


def rate(case, stars, buyer_ref='b-1'):
    ratings.rate(b.buyer_login(buyer_ref), b.reload(case), {'stars': stars})


def test_ten_rated_cases_give_csat_70_and_fcr_60(team):
    a, agent_b, boss = team['a'], team['b'], team['boss']
    stars = [5, 5, 5, 4, 4, 4, 4, 3, 2, 1]
    cases = []
    for n, s in enumerate(stars):
        if n in (8, 9):  # first owned by agent_b, then a supervisor moves them to agent_a
            case = b.case(f'O-{n}')
            assignment.claim(agent_b, case)
            assignment.reassign(boss, b.reload(case), {'to': a.username, 'reason': 'b is on leave'})
            clock.freeze(clock.now() + HOUR)
            rulings.resolve(a, b.reload(case), RESOLVE)
            case = b.reload(case)
        else:
            case = platform_case(f'O-{n}', a)
        rate(case, s)
        cases.append(case)
    for case in cases[6:8]:  # reopened by a supervisor: not resolved at first contact
        ratings.reopen(boss, b.reload(case), {'reason': '复核'})
    got = figures_of(a)
    assert got['handled'] == 10 and got['rated'] == 10
    assert got['csat_pct'] == 0.7 and got['csat_avg'] == 3.7 and got['dissatisfied_pct'] == 0.2
    assert got['fcr'] == 0.6
    assert got['reopen_rate'] == 0.2
    assert got['first_response_sla'] == 1.0  # eight first responses of hers (agent_b took two)
    assert got['resolution_sla'] == 1.0
    assert 3000 <= got['median_handle_seconds'] <= 4500  # an hour, within the bucket's precision
    assert got['overturn_rate'] is None and got['not_overturned'] == 1.0
    # composite: 40 % CSAT + 25 % FCR + 20 % SLA + 15 % not overturned
    sla = 1.0
    assert got['score'] == round(100 * (0.4 * 0.7 + 0.25 * 0.6 + 0.2 * sla + 0.15 * 1.0), 1)
    assert figures_of(agent_b)['handled'] == 0 and figures_of(agent_b)['first_response_sla'] == 1.0


def test_admin_edited_weights_change_the_score(team):
    a = team['a']
    rate(platform_case('O-1', a), 1)
    before = figures_of(a)['score']
    MetricWeights.create(csat=100, fcr=0, sla=0, not_overturned=0)
    assert before > 0 and figures_of(a)['score'] == 0.0


def test_buyer_unreasonable_excludes_the_rating_from_csat(team):
    a, boss = team['a'], team['boss']
    for n, s in enumerate([5, 4, 1]):
        rate(platform_case(f'O-{n}', a), s)
    assert figures_of(a)['csat_pct'] == round(2 / 3, 4)
    bad = Complaint.get(Complaint.ticket_no == Rating.get(Rating.stars == 1).complaint.ticket_no)
    ratings.review(boss, bad, {'finding': 'buyer_unreasonable', 'actions': ['uphold'], 'note': '无理要求。'})
    got = figures_of(a)
    assert got['csat_pct'] == 1.0 and got['rated'] == 2 and got['excluded'] == 1
    assert got['dissatisfied_pct'] == 0.0
    assert Rating.select().count() == 3  # kept


def test_reopen_makes_fcr_false(team):
    a = team['a']
    case = platform_case('O-1', a)
    assert figures_of(a)['fcr'] == 1.0
    ratings.reopen(team['boss'], b.reload(case), {'reason': '复核'})
    assert figures_of(a)['fcr'] == 0.0 and figures_of(a)['reopen_rate'] == 1.0


def test_an_overturned_appeal_lowers_the_score(team):
    a, senior = team['senior'], team['senior2']
    case = b.dispute('O-1', a)
    clock.freeze(clock.now() + EVIDENCE + HOUR)
    deadlines.advance_due()
    rulings.rule(a, b.reload(case), RULE)
    before = figures_of(a)
    assert before['fcr'] == 1.0 and before['not_overturned'] == 1.0
    b.forced_evidence(case, 'merchant', 'delivery_log', at=clock.now() + HOUR)
    clock.freeze(clock.now() + 2 * HOUR)
    rulings.appeal(b.merchant_login('m-1'), b.reload(case), {'reason': '新证据'})
    assignment.claim(senior, b.reload(case))
    rulings.rule(senior, b.reload(case), dict(RULE, outcome='merchant', responsibility='buyer',
                                               remedy={'type': 'none'}))
    after = figures_of(a)
    assert after['overturn_rate'] == 1.0 and after['not_overturned'] == 0.0 and after['fcr'] == 0.0
    assert after['score'] < before['score']


def test_a_resolution_breach_counts_against_the_owner(team):
    a = team['a']
    case = b.case('O-1')
    assignment.claim(a, case)
    clock.freeze(clock.now() + dt.timedelta(hours=25))
    deadlines.advance_due()
    assert figures_of(a)['resolution_sla'] == 0.0
    rulings.resolve(a, b.reload(case), RESOLVE)
    got = figures_of(a)
    assert got['resolution_sla'] == 0.0 and got['first_response_sla'] == 1.0


def test_periods_split_by_local_day(team):
    a = team['a']
    platform_case('O-1', a)
    first_day = today()
    clock.freeze(clock.now() + dt.timedelta(days=3))
    platform_case('O-2', a)
    assert figures_of(a, first_day, first_day)['handled'] == 1
    assert figures_of(a, first_day, today())['handled'] == 2
    assert metrics.period('day', today=dt.date(2026, 11, 26)) == (dt.date(2026, 11, 26),) * 2
    assert metrics.period('week', today=dt.date(2026, 11, 26))[0] == dt.date(2026, 11, 23)
    assert metrics.period('month', today=dt.date(2026, 11, 26))[0] == dt.date(2026, 11, 1)


def test_an_agreement_rating_goes_to_the_merchant(team):
    from desk.cases import complaints
    b.order('O-1', amount_fen=10000)
    buyer = b.buyer_login('b-1')
    filed = complaints.file_complaint(buyer, b.body('O-1'))
    negotiation.propose(b.merchant_login('m-1'), b.reload(filed), {'type': 'reissue', 'message': '补发'})
    negotiation.accept(buyer, b.reload(filed), {})
    rate(filed, 2)
    got = metrics.merchant_figures(b.reload(filed).merchant_id, dt.date(2026, 1, 1), dt.date(2027, 1, 1))
    assert got['rated'] == 1 and got['dissatisfied_pct'] == 1.0


# --- rebuild == incremental -------------------------------------------------------------------

def test_rebuild_equals_incremental_on_cases_driven_through_the_services(team):
    rng = random.Random(7)
    agents = [team['a'], team['b']]
    boss = team['boss']
    for n in range(24):
        agent = rng.choice(agents)
        case = b.case(f'O-{n}', buyer_ref=f'b-{n % 3}')
        if rng.random() < 0.2:
            clock.freeze(clock.now() + dt.timedelta(hours=3))
            deadlines.advance_due()  # first response breached while unowned
        assignment.claim(agent, b.reload(case))
        if rng.random() < 0.3:
            clock.freeze(clock.now() + dt.timedelta(hours=25))
            deadlines.advance_due()
        clock.freeze(clock.now() + dt.timedelta(minutes=rng.randint(5, 600)))
        rulings.resolve(agent, b.reload(case), RESOLVE)
        if rng.random() < 0.8:
            stars = rng.randint(1, 5)
            ratings.rate(b.buyer_login(f'b-{n % 3}'), b.reload(case), {'stars': stars})
            if stars <= 2:
                finding = rng.choice(['buyer_unreasonable', 'agent_fault'])
                actions = rng.choice([['uphold'], ['reopen'], ['coach']]) if finding == 'agent_fault' else ['uphold']
                ratings.review(boss, b.reload(case), {'finding': finding, 'actions': actions, 'note': '复核意见'})
                if 'reopen' in actions:
                    senior = b.reload(case).owner
                    clock.freeze(clock.now() + HOUR)
                    rulings.resolve(senior, b.reload(case), RESOLVE)
    incremental = metrics.snapshot()
    assert incremental
    metrics.rebuild()
    assert metrics.snapshot() == incremental


def _random_history(rng, count, agents, merchant_id, buyer_id, order_ids):
    """Raw rows of `count` complaints written in small steps in a random interleaving, the
    rollup refreshed after each step as the listeners do."""
    base = T0
    complaints = []
    rows = [dict(ticket_no=f'TSR{n:06d}', order=order_ids[n], buyer=buyer_id, merchant=merchant_id,
                 category='service_attitude', path='platform', tier='L2', department=rng.choice(['cs', 'ops']),
                 state='closed', facts='x', demand_type='other', channel='api',
                 created_at=base + dt.timedelta(minutes=rng.randint(0, 60 * 24 * 60)), updated_at=base)
            for n in range(count)]
    for start in range(0, count, 200):
        Complaint.insert_many(rows[start:start + 200]).execute()
    for c in Complaint.select().where(Complaint.ticket_no.startswith('TSR')).order_by(Complaint.id):
        complaints.append(c)
    seq = {c.id: 0 for c in complaints}

    def event(c, kind, at, actor):
        seq[c.id] += 1
        Event.create(complaint=c.id, seq=seq[c.id], at=at, actor=actor.id if actor else None,
                     actor_role=actor.role if actor else 'buyer', kind=kind, data='{}',
                     prev_hash='0', hash='0')

    steps = []
    for c in complaints:
        plan = []
        owner = rng.choice(agents)
        t = c.created_at + dt.timedelta(minutes=rng.randint(1, 300))
        first_owner = rng.choice(agents) if rng.random() < 0.15 else owner
        plan.append(lambda c=c, t=t, o=first_owner: (
            SlaEvent.create(complaint=c.id, target='first_response',
                            kind='achieved' if rng.random() < 0.85 else 'breached', at=t, owner=o.id,
                            department=c.department), event(c, 'claimed', t, o)))
        done = t + dt.timedelta(minutes=rng.randint(1, 3000))
        if rng.random() < 0.2:
            plan.append(lambda c=c, o=owner, at=done - dt.timedelta(minutes=1): (
                SlaEvent.create(complaint=c.id, target='resolution', kind='breached', at=at, owner=o.id,
                                department=c.department), None))
        plan.append(lambda c=c, o=owner, at=done: (
            SlaEvent.create(complaint=c.id, target='resolution', kind='achieved', at=at, owner=o.id,
                            department=c.department),
            event(c, rng.choice(['resolved', 'ruled']), at, o)))
        ruling_holder = {}
        if rng.random() < 0.3:
            plan.append(lambda c=c, o=owner, at=done, h=ruling_holder: h.update(r=Ruling.create(
                complaint=c.id, round=1, agent=o.id, outcome='buyer_full', responsibility='merchant',
                remedy='none', reasoning='x', created_at=at)))
            if rng.random() < 0.5:
                plan.append(lambda c=c, at=done, h=ruling_holder: Appeal.create(
                    complaint=c.id, ruling=h['r'].id, party='merchant', reason='x', created_at=at))
                if rng.random() < 0.5:
                    plan.append(lambda h=ruling_holder: Ruling.update(overturned=True).where(
                        Ruling.id == h['r'].id).execute())
        if rng.random() < 0.7:
            stars = rng.randint(1, 5)
            rated_at = done + dt.timedelta(hours=rng.randint(1, 150))
            holder = {}
            plan.append(lambda c=c, o=owner, at=rated_at, s=stars, h=holder, d=done: h.update(r=Rating.create(
                complaint=c.id, resolved_at=d, stars=s, agent=o.id if rng.random() < 0.9 else None,
                merchant=merchant_id, department=c.department, rated_at=at)))
            if stars <= 2 and rng.random() < 0.5:
                plan.append(lambda h=holder: Rating.update(excluded=True).where(Rating.id == h['r'].id).execute())
        if rng.random() < 0.1:
            plan.append(lambda c=c, at=done + dt.timedelta(days=1): event(c, 'reopened', at, None))
        steps.append((c.id, plan))
    # interleave: each complaint's steps stay in order, complaints take turns at random
    queues = [(cid, list(plan)) for cid, plan in steps]
    while queues:
        i = rng.randrange(len(queues))
        cid, plan = queues[i]
        plan.pop(0)()
        metrics.refresh(cid)
        if not plan:
            queues[i] = queues[-1]
            queues.pop()


def test_rebuild_equals_incremental_on_a_random_history_of_2000_cases(team):
    from desk.orders.models import Order
    from desk.parties.models import Buyer, Merchant
    rng = random.Random(20261124)
    b.buyer('b-r')
    b.merchant('m-r')
    buyer, merchant = Buyer.get(Buyer.ref == 'b-r'), Merchant.get(Merchant.ref == 'm-r')
    count = 2000
    order_rows = [dict(order_no=f'OR{n:06d}', buyer=buyer.id, merchant=merchant.id, product='card',
                       goods_type='game_card', amount_fen=5000, paid_at=T0, payment_method='alipay')
                  for n in range(count)]
    for start in range(0, count, 200):
        Order.insert_many(order_rows[start:start + 200]).execute()
    order_ids = [o.id for o in Order.select(Order.id).where(Order.order_no.startswith('OR')).order_by(Order.order_no)]
    agents = [team['a'], team['b'], team['senior'], team['senior2']]
    _random_history(rng, count, agents, merchant.id, buyer.id, order_ids)
    incremental = metrics.snapshot()
    assert len(incremental) > 100
    assert sum(r[4] for r in incremental) > 1500  # handled cases in the rollup
    metrics.rebuild()
    rebuilt = metrics.snapshot()
    assert rebuilt == incremental
    # and the figures pages read are the same
    assert CaseMetric.select().count() == count


def test_rollup_rows_add_up_under_concurrency_and_go_when_back_at_zero(app, frozen):
    """`_apply_all` is one multi-row upsert: transactions adding to the same rollup rows at
    once all count (PostgreSQL: the unique index and the row lock decide; SQLite: they take
    turns), and a row whose counters all come back to zero is deleted, not left empty."""
    from desk.core.db import atomic
    keys = [metrics._key('agent', 7, 'cs', clock.now()), metrics._key('agent', 8, 'cs', clock.now())]

    def add():
        with atomic():
            metrics._apply_all({key: {'handled': 1, 'res_total': 2} for key in keys})
        return True

    assert run_together(add, add, add, add, app=app) == [True] * 4
    rows = {r.subject: r for r in MetricDay.select()}
    assert {s: (r.handled, r.res_total, r.fcr) for s, r in rows.items()} == {7: (4, 8, 0), 8: (4, 8, 0)}
    with atomic():
        metrics._apply_all({keys[0]: {'handled': -4, 'res_total': -8}, keys[1]: {'handled': -1}})
    assert [(r.subject, r.handled, r.res_total) for r in MetricDay.select()] == [(8, 3, 8)]
