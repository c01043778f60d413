"""Merchant standing (SPEC §7): levels from active points, restrictions that end by
themselves, expiry exact to the second through the deadline machinery, cleared (清退) as
final, the deposit hold, and one announcement (inbox + webhook) per change, none without."""
import datetime as dt
import json

import pytest

from arbitration.health import standing_report
from arbitration.penalties import standing, violations
from arbitration.penalties.models import DepositEntry, MerchantStanding, StandingLevel, Violation, ViolationRule
from desk.core import clock, deadlines
from desk.core.db import atomic
from desk.messaging import webhooks
from desk.messaging.models import InboxMessage, Outbox
from desk.parties.models import User
from tests import builders as b
from tests.conftest import T0
from tests.support import count_queries

YEAR = dt.timedelta(days=365)
DAY = dt.timedelta(days=1)


@pytest.fixture
def shop(app, users, frozen):
    """Merchant m-1 with one staff login, and a marketplace subscribed to every webhook.

    These tests are about points: the rules carry no fines here, so an uncovered fine does
    not add a deposit hold (tested on its own below and in test_deposit.py beside this file)."""
    ViolationRule.update(fine_fen=0).execute()
    staff = b.staff_user(users, 'm-1')
    User.update(locale='en').where(User.id == staff.id).execute()  # the titles below are read in English
    webhooks.subscribe(users('integration'), 'http://127.0.0.1:9/hook', ['*'])
    return {'merchant': b.merchant('m-1'), 'staff': staff}


def add(merchant, points, at=None, code='manual'):
    """A violation of `points` recorded at `at` (default now) without recomputing."""
    at = at or clock.now()
    return Violation.create(merchant=merchant.id, code=code, points=points, fine_fen=0, at=at,
                            expires_at=at + YEAR, state='active', reason='test')


def record(merchant, code='fake_delivery'):
    """Record a violation the real way (recomputes the standing)."""
    with atomic():
        return violations.record_violation(merchant.id, code, reason='test')


def row(merchant):
    return MerchantStanding.get_by_id(merchant.id)


def told(merchant, staff):
    """(inbox titles of the merchant's staff, webhook data published) in order."""
    titles = [m.title for m in InboxMessage.select().where(InboxMessage.user == staff.id).order_by(InboxMessage.id)]
    hooks = [json.loads(o.payload) for o in Outbox.select().where(Outbox.topic == 'webhook').order_by(Outbox.id)]
    hooks = [p['data'] for p in hooks if p['event'] == 'merchant.standing_changed'
             and p['data']['merchant'] == merchant.ref]
    return titles, hooks


def current(merchant):
    return standing_report.standing_for(_integration(), merchant.ref)


def _integration():
    return User(role='integration')


# --- levels ---------------------------------------------------------------------------------

@pytest.mark.parametrize('points, level', [(11, 0), (12, 1), (23, 1), (24, 2), (35, 2), (36, 3),
                                           (47, 3), (48, 4)])
def test_level_thresholds(app, frozen, points, level):
    merchant = b.merchant('m-1')
    for _ in range(points):
        add(merchant, 1)
    result = standing.recompute([merchant.id])[merchant.id]
    assert (result.active_points, result.level) == (points, level)
    assert row(merchant).level == level
    kinds = [r['kind'] for r in current(merchant)['restrictions']]
    assert kinds == {0: [], 1: ['search_demotion'], 2: ['search_demotion', 'no_new_listings'],
                     3: ['search_demotion', 'shop_suspended'], 4: ['cleared']}[level]


def test_thresholds_and_durations_come_from_the_table(app, frozen):
    """The level table is admin-editable: the recompute reads it."""
    merchant = b.merchant('m-1')
    StandingLevel.update(min_points=10).where(StandingLevel.code == 'warning').execute()
    StandingLevel.update(duration_seconds=3600).where(StandingLevel.code == 'no_listing').execute()
    add(merchant, 10)
    assert standing.recompute([merchant.id])[merchant.id].level == 1
    add(merchant, 14)
    result = standing.recompute([merchant.id])[merchant.id]
    assert (result.level, result.restriction_until) == (2, T0 + dt.timedelta(hours=1))


# --- expiry, exact to the second ------------------------------------------------------------

def test_expiry_on_the_exact_second_through_the_sweep(shop, frozen):
    merchant, staff = shop['merchant'], shop['staff']
    violation = record(merchant)
    assert (row(merchant).level, row(merchant).due_at) == (1, T0 + YEAR)
    clock.freeze(T0 + YEAR - dt.timedelta(seconds=1))
    deadlines.advance_due()
    assert (row(merchant).level, row(merchant).active_points) == (1, 12)
    assert Violation.get_by_id(violation.id).state == 'active'
    clock.advance(1)
    deadlines.advance_due()
    assert (row(merchant).level, row(merchant).active_points, row(merchant).due_at) == (0, 0, None)
    expired = Violation.get_by_id(violation.id)
    assert (expired.state, expired.ended_at) == ('expired', T0 + YEAR)
    titles, hooks = told(merchant, staff)
    assert len(titles) == 2 and [(d['previous_level'], d['level']) for d in hooks] == [
        ('normal', 'warning'), ('warning', 'normal')]
    assert hooks[1]['restrictions'] == [] and hooks[1]['active_points'] == 0


def test_expiry_on_the_exact_second_through_the_exact_time_job(shop, frozen, monkeypatch):
    """The exact-time job of a `due_at` is scheduled once it is two hours away (at once when
    it already is, else by the hourly `schedule_upcoming`); run at its second (`apply_many`,
    what `apply_deadline_batch` calls) it drops the level — one second earlier it does
    nothing, and a second run does nothing either."""
    merchant = shop['merchant']
    scheduled = []
    monkeypatch.setattr(deadlines, 'schedule_many',
                        lambda name, rows: name == 'standing_due' and scheduled.append(list(rows)))
    monkeypatch.setattr('desk.core.tasks.redis_connection', lambda app=None: object())
    add(merchant, 20, at=T0 - 10 * DAY)   # expires 10 days before the other
    record(merchant)
    assert (row(merchant).level, row(merchant).active_points) == (2, 32)
    assert scheduled == [[]], 'the no-listing end (in 7 days) is too far ahead to schedule yet'
    clock.freeze(T0 + 7 * DAY - dt.timedelta(minutes=90))
    assert standing.schedule_upcoming() == 1
    assert scheduled[-1] == [(merchant.id, T0 + 7 * DAY)]
    clock.freeze(T0 + 7 * DAY)
    assert deadlines.apply_many('standing_due', [merchant.id]) == 1
    first_expiry = T0 - 10 * DAY + YEAR
    assert (row(merchant).level, row(merchant).restriction_until, row(merchant).due_at) == (2, None, first_expiry)
    clock.freeze(first_expiry - dt.timedelta(hours=1, seconds=1))
    assert standing.schedule_upcoming() == 1 and scheduled[-1] == [(merchant.id, first_expiry)]
    clock.advance(hours=1)
    assert deadlines.apply_one('standing_due', merchant.id) is False
    clock.advance(1)
    assert deadlines.apply_one('standing_due', merchant.id) is True
    assert (row(merchant).level, row(merchant).active_points, row(merchant).due_at) == (1, 12, T0 + YEAR)
    assert deadlines.apply_one('standing_due', merchant.id) is False, 'applied once'


def test_a_due_at_within_two_hours_is_scheduled_at_once(shop, frozen, monkeypatch):
    scheduled = []
    monkeypatch.setattr(deadlines, 'schedule_many',
                        lambda name, rows: name == 'standing_due' and scheduled.append(list(rows)))
    near, far = b.merchant('m-near'), b.merchant('m-far')
    add(near, 12, at=T0 - YEAR + dt.timedelta(hours=2))               # expires in exactly 2 h
    add(far, 12, at=T0 - YEAR + dt.timedelta(hours=2, seconds=1))     # a second later
    standing.recompute([near.id, far.id])
    assert scheduled == [[(near.id, T0 + dt.timedelta(hours=2))]]


def test_reading_a_standing_that_is_due_applies_the_deadline_first(shop, frozen):
    merchant = shop['merchant']
    record(merchant)
    clock.freeze(T0 + YEAR)  # no sweep has run yet
    data = current(merchant)
    assert (data['level'], data['active_points'], data['violations'][0]['state']) == ('normal', 0, 'expired')
    assert row(merchant).level == 0


# --- restrictions -----------------------------------------------------------------------------

def test_a_timed_restriction_ends_by_itself_and_the_level_stays(shop, frozen):
    merchant, staff = shop['merchant'], shop['staff']
    add(merchant, 12)
    record(merchant)                                       # 24 points: no new listings 7 days
    assert current(merchant)['restrictions'] == [
        {'kind': 'search_demotion', 'until': None, 'reason': 'standing'},
        {'kind': 'no_new_listings', 'until': '2026-12-01T10:00:00+08:00', 'reason': 'standing'}]
    clock.freeze(T0 + 7 * DAY - dt.timedelta(seconds=1))
    deadlines.advance_due()
    assert row(merchant).restriction_until == T0 + 7 * DAY
    clock.advance(1)
    deadlines.advance_due()
    after = current(merchant)
    assert (after['level'], after['active_points']) == ('no_listing', 24)
    assert after['restrictions'] == [{'kind': 'search_demotion', 'until': None, 'reason': 'standing'}]
    titles, hooks = told(merchant, staff)
    assert titles == ['No new listings until 2026-12-01 10:00', 'A restriction on your shop ended']
    assert [h['level'] for h in hooks] == ['no_listing', 'no_listing']
    assert hooks[0]['restrictions'][1]['until'] == '2026-12-01T10:00:00+08:00'
    assert hooks[1]['restrictions'] == [{'kind': 'search_demotion', 'until': None, 'reason': 'standing'}]


def test_a_new_violation_at_the_same_level_does_not_extend_the_restriction(shop, frozen):
    merchant = shop['merchant']
    add(merchant, 24)
    standing.recompute([merchant.id])
    clock.advance(days=3)
    add(merchant, 5)
    standing.recompute([merchant.id])
    assert (row(merchant).level, row(merchant).restriction_until) == (2, T0 + 7 * DAY)


def test_a_higher_level_replaces_the_restriction_and_a_drop_imposes_none(shop, frozen):
    merchant = shop['merchant']
    add(merchant, 24)
    standing.recompute([merchant.id])
    clock.advance(days=2)
    suspended_at = clock.now()
    big = add(merchant, 12)
    standing.recompute([merchant.id])
    assert (row(merchant).level, row(merchant).restriction_until) == (3, suspended_at + 14 * DAY)
    clock.advance(days=1)
    Violation.update(state='revoked', ended_at=clock.now()).where(Violation.id == big.id).execute()
    standing.recompute([merchant.id])
    assert (row(merchant).level, row(merchant).restriction_until) == (2, None), 'no new 7 days on the way down'
    assert [r['kind'] for r in current(merchant)['restrictions']] == ['search_demotion']


def test_cleared_is_final_until_an_appeal_revokes_what_cleared_it(shop, frozen):
    merchant, staff = shop['merchant'], shop['staff']
    old = add(merchant, 30, at=T0 - 300 * DAY)
    fresh = add(merchant, 18)
    standing.recompute([merchant.id])
    assert row(merchant).level == 4
    clock.freeze(T0 - 300 * DAY + YEAR)                   # the 30 points expire
    deadlines.advance_due()
    assert (row(merchant).level, row(merchant).active_points) == (4, 18), 'expiry does not lift it'
    assert Violation.get_by_id(old.id).state == 'expired'
    Violation.update(state='revoked', ended_at=clock.now()).where(Violation.id == fresh.id).execute()
    standing.recompute([merchant.id])
    assert (row(merchant).level, row(merchant).active_points) == (0, 0), 'the appeal undid the clearing'
    _titles, hooks = told(merchant, staff)
    assert [(d['previous_level'], d['level']) for d in hooks] == [('normal', 'cleared'), ('cleared', 'normal')]


def test_deposit_hold_from_a_negative_ledger(shop, frozen):
    merchant, staff = shop['merchant'], shop['staff']

    def entry(kind, amount, balance):
        DepositEntry.create(merchant=merchant.id, kind=kind, amount_fen=amount, balance_after_fen=balance)
        standing.recompute([merchant.id])

    entry('top_up', 30000, 30000)
    assert row(merchant).deposit_hold is False
    entry('fine', -50000, -20000)
    data = current(merchant)
    assert (data['level'], data['deposit']) == ('normal', {'balance': '-200.00'})
    assert data['restrictions'] == [{'kind': 'shop_suspended', 'until': None, 'reason': 'deposit'}]
    entry('top_up', 20000, 0)
    assert row(merchant).deposit_hold is False
    assert current(merchant)['restrictions'] == []
    titles, hooks = told(merchant, staff)
    assert titles == ['Shop suspended: the deposit is short', 'Deposit covered: the suspension is lifted']
    assert [d['restrictions'] for d in hooks] == [
        [{'kind': 'shop_suspended', 'until': None, 'reason': 'deposit'}], []]


# --- announcements ----------------------------------------------------------------------------

def test_each_change_is_announced_once_and_no_change_not_at_all(shop, frozen):
    merchant, staff = shop['merchant'], shop['staff']
    record(merchant)                                      # -> warning
    for _ in range(3):
        standing.recompute([merchant.id])
        deadlines.advance_due()
    add(merchant, 2)
    standing.recompute([merchant.id])                     # points only: stored, not announced
    assert row(merchant).active_points == 14
    record(merchant, 'fake_delivery')                     # 26 -> no_listing
    standing.recompute([merchant.id])
    titles, hooks = told(merchant, staff)
    assert titles == ['Standing: warning (12 active points)', 'No new listings until 2026-12-01 10:00']
    assert [(d['previous_level'], d['level'], d['active_points']) for d in hooks] == [
        ('normal', 'warning', 12), ('warning', 'no_listing', 26)]
    assert row(merchant).version == 2
    keys = [json.loads(o.payload)['key'] for o in Outbox.select().where(Outbox.topic == 'webhook')]
    assert keys == [f'standing-{merchant.id}-1', f'standing-{merchant.id}-2']


def test_every_standing_template_renders_in_both_languages(app):
    """The params every standing notice gets fill each template, in Chinese and English."""
    from desk.messaging.notifications import TEMPLATES, render
    params = {'points': 26, 'level': 'no_listing', 'until': '2026-12-01 10:00', 'min_points': 24,
              'balance': '-200.00'}
    names = [name for name in TEMPLATES if name.startswith('standing_')]
    assert len(names) == 10
    for name in names:
        for language in ('zh', 'en'):
            title, body = render(name, params, language)
            assert title and body and '%(' not in title + body, (name, language)


def test_a_rolled_back_recompute_announces_nothing(shop, frozen):
    merchant = shop['merchant']
    add(merchant, 12)
    with pytest.raises(RuntimeError):
        with atomic():
            standing.recompute([merchant.id])
            raise RuntimeError('the caller failed')
    assert Outbox.select().count() == 0
    assert MerchantStanding.get_or_none(MerchantStanding.merchant == merchant.id) is None


# --- recording violations ---------------------------------------------------------------------

def test_recording_recomputes_the_merchants_with_a_flat_number_of_statements(app, frozen):
    """`record_many` (the merchant-timeout batch records up to 1,000 at once) recomputes the
    merchants concerned set-based: 5 or 60 merchants, the same number of statements."""
    small = [b.merchant(f'm-s{i}') for i in range(5)]
    large = [b.merchant(f'm-l{i}') for i in range(60)]

    def run(merchants):
        with count_queries() as queries, atomic():
            violations.record_many([(m.id, 'fake_delivery', None, 'x') for m in merchants]
                                   + [(m.id, 'fake_delivery', None, 'y') for m in merchants])
        return len(queries)

    assert run(small) == run(large)
    assert {row(m).level for m in large} == {2}


# --- the whole platform -------------------------------------------------------------------------

def test_recompute_all_equals_recomputing_each_merchant(app, users, frozen):
    import random
    rng = random.Random(8)
    merchants = [b.merchant(f'm-{i}') for i in range(23)]
    for merchant in merchants:
        for _ in range(rng.randrange(0, 12)):
            at = T0 - dt.timedelta(days=rng.randrange(0, 500), seconds=rng.randrange(86400))
            state = rng.choice(['active'] * 8 + ['revoked'])
            Violation.create(merchant=merchant.id, code='manual', points=rng.choice([2, 3, 4, 6, 12]),
                             fine_fen=0, at=at, expires_at=at + YEAR, state=state, reason='r')
        if rng.random() < 0.3:
            DepositEntry.create(merchant=merchant.id, kind='fine', amount_fen=-rng.randrange(1, 900),
                                balance_after_fen=0)
    clock.advance(days=-400)
    standing.recompute_all(chunk=4)                     # an earlier standing to change from
    clock.freeze(T0)

    def state():
        return {r.merchant_id: (r.level, r.level_since, r.restriction_until, r.active_points,
                                r.deposit_hold, r.due_at, r.version)
                for r in MerchantStanding.select()}

    def violation_states():
        return {v.id: (v.state, v.ended_at) for v in Violation.select()}

    before = {r.merchant_id: r for r in MerchantStanding.select()}
    before_violations = violation_states()
    with atomic():
        for merchant in merchants:
            standing.recompute([merchant.id])
    one_by_one, one_by_one_violations = state(), violation_states()
    announced_one_by_one = Outbox.select().count()
    with atomic():  # back to the earlier standing
        MerchantStanding.delete().execute()
        for r in before.values():
            r.save(force_insert=True)
        for vid, (vstate, ended) in before_violations.items():
            Violation.update(state=vstate, ended_at=ended).where(Violation.id == vid).execute()
        Outbox.delete().execute()
    merchants_seen, changed, announced = standing.recompute_all(chunk=4)
    assert state() == one_by_one
    assert violation_states() == one_by_one_violations
    assert merchants_seen == 23 and Outbox.select().count() == announced_one_by_one
    assert len({lv for lv, *_rest in one_by_one.values()}) >= 3, 'the data reaches several levels'
    assert standing.recompute_all(chunk=5)[1:] == (0, 0), 'again: nothing changes, nothing is told'


def test_rebuild_standing_command(app, frozen):
    merchant = b.merchant('m-1')
    add(merchant, 30)
    b.merchant('m-2')
    result = app.test_cli_runner().invoke(args=['desk', 'rebuild-standing'])
    assert result.exit_code == 0, result.output
    assert 'rebuilt the standing of 2 merchant(s): 1 row(s) changed, 1 change(s) announced' in result.output
    assert row(merchant).level == 2
