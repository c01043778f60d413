"""Merchant health (issue 8 item 6): each figure on a small hand-built data set with known
answers (window edges, withdrawn, buyer-ruled, platform cases, appeals, revoked violations),
no division by zero without orders or complaints, the healthy and trusted marks, the daily
snapshot and trend, the backoffice list sorted by each figure (keyset pages), the merchant
page and the console partial, and who may see what.
"""
import datetime as dt

import pytest
from flask import render_template_string
from flask_login import login_user

from arbitration.health import merchant_health
from arbitration.health.models import SORT_COLUMNS, MerchantHealth, MerchantHealthDay, MerchantHealthPolicy
from arbitration.penalties import standing
from arbitration.penalties.models import Violation
from arbitration.penalties.violations import record_violation
from desk.cases.models import Complaint, Ruling
from desk.core import clock
from desk.core.errors import NotFound
from desk.orders.models import Order
from tests import builders as b
from tests.conftest import T0
from tests.support import csrf_token, isolated_client, login

H = dt.timedelta(hours=1)
D = dt.timedelta(days=1)
_n = {'n': 0}


def orders(merchant_ref, count, paid_at=None):
    """`count` orders of `merchant_ref` paid at `paid_at` (default: a day before T0)."""
    merchant = b.merchant(merchant_ref)
    buyer = b.buyer('b-1')
    rows = []
    for _ in range(count):
        _n['n'] += 1
        rows.append(dict(order_no=f'HO-{_n["n"]}', buyer=buyer.id, merchant=merchant.id, product='点卡',
                         goods_type='game_card', amount_fen=1000, paid_at=paid_at or T0 - D,
                         payment_method='alipay', created_at=T0, updated_at=T0))
    Order.insert_many(rows).execute()
    return list(Order.select().where(Order.merchant == merchant.id).order_by(Order.id.desc()).limit(count))


def complaint(merchant_ref, filed, answered_after=None, state='negotiating', closed_after=None,
              path='merchant', order=None):
    """A complaint row written directly (no filing service): filed at `filed`, first proposal
    `answered_after` later, closed `closed_after` later."""
    order = order or orders(merchant_ref, 1, paid_at=filed - D)[0]
    _n['n'] += 1
    return Complaint.create(
        ticket_no=f'TH-{_n["n"]}', order=order.id, buyer=order.buyer_id, merchant=order.merchant_id,
        category='not_as_described' if path == 'merchant' else 'service_attitude', path=path, tier='L2',
        department='cs', state=state, facts='事实', demand_type='full_refund', channel='api',
        created_at=filed, updated_at=filed,
        merchant_answered_at=filed + answered_after if answered_after is not None else None,
        closed_at=filed + closed_after if closed_after is not None else None)


def ruling(c, responsibility, at, active=True, round_=1):
    return Ruling.create(complaint=c.id, round=round_, outcome='merchant' if responsibility == 'buyer' else 'split',
                         responsibility=responsibility, remedy='none', reasoning='理由', active=active, created_at=at)


def violation(merchant_ref, code, c=None, at=T0, state='active'):
    v = record_violation(b.merchant(merchant_ref).id, code, c, reason='test' if code == 'manual' else None, now=at)
    if state != 'active':
        Violation.update(state=state).where(Violation.id == v.id).execute()
    return v


@pytest.fixture
def world(app, frozen):
    """Merchant m-1 with a known answer for every figure at T0 (window (T0 − 60 d, T0])."""
    m = 'm-1'
    window_start = T0 - 60 * D
    c = {}
    c['on_time'] = complaint(m, T0 - 10 * D, answered_after=2 * H)               # valid, answered 2 h
    c['late'] = complaint(m, T0 - 20 * D, answered_after=30 * H)                 # valid, answered 30 h
    c['missed'] = complaint(m, T0 - 5 * D, state='pending_agent')                # valid, never answered
    c['pending'] = complaint(m, T0 - H)                                          # valid, 24 h not over
    c['exactly_24h'] = complaint(m, T0 - 7 * D, answered_after=24 * H)           # valid, answered at 24 h
    c['withdrawn_early'] = complaint(m, T0 - 3 * D, state='withdrawn', closed_after=H)
    c['withdrawn_late'] = complaint(m, T0 - 4 * D, state='withdrawn', closed_after=30 * H)
    c['buyer_ruled'] = complaint(m, T0 - 30 * D, answered_after=10 * H, state='resolved')
    c['at_start'] = complaint(m, window_start, answered_after=H)                 # exactly 60 days: outside
    c['platform'] = complaint(m, T0 - 2 * D, path='platform', state='pending_agent')
    # 10 orders so far belong to the complaints (paid a day before each filing; the one of
    # `at_start` is outside the window); 5 more, one on each side of the window's start
    orders(m, 4)
    orders(m, 1, paid_at=window_start + dt.timedelta(seconds=1))
    orders(m, 1, paid_at=window_start)
    orders(m, 1, paid_at=T0 + dt.timedelta(seconds=1))                         # not paid yet at T0
    # rulings: the active one of each case, made in the window
    ruling(c['late'], 'merchant', T0 - 15 * D)                                   # lost
    ruling(c['buyer_ruled'], 'buyer', T0 - 25 * D)
    ruling(c['on_time'], 'merchant', T0 - 8 * D, active=False)                   # replaced on appeal
    ruling(c['on_time'], 'platform', T0 - 5 * D, round_=2)
    ruling(c['at_start'], 'merchant', window_start)                              # outside
    # violations: defects and others
    violation(m, 'no_response', c['late'], at=T0 - 19 * D)
    violation(m, 'arbitration_lost', c['late'], at=T0 - 15 * D)                 # same order: one defect
    violation(m, 'no_response', c['missed'], at=T0 - 4 * D)
    violation(m, 'no_response', c['withdrawn_late'], at=T0 - 3 * D, state='revoked')
    violation(m, 'no_response', c['at_start'], at=window_start)                  # outside
    violation(m, 'manual', None, at=T0 - D)                                      # points, no defect
    Violation.update(points=1).where(Violation.code == 'manual').execute()
    return c


def test_every_figure_on_a_known_data_set(world):
    standing.recompute([b.merchant('m-1').id])  # the world edits violations behind its back
    f = merchant_health.compute([b.merchant('m-1').id])[b.merchant('m-1').id]
    # orders paid in (T0 − 60 d, T0]: 9 of the complaints' orders + 4 + the one a second inside
    assert f['orders'] == 14
    # valid: on_time, late, missed, pending, exactly_24h
    assert f['complaints'] == 5
    assert f['complaint_rate'] == pytest.approx(100 * 5 / 14)
    # to answer: on_time, late, missed, exactly_24h, buyer_ruled, withdrawn_late (its 24 h ran out)
    assert (f['answerable'], f['answered_in_time']) == (6, 3)
    assert f['answered_rate'] == 0.5
    # waits: 2 h, 10 h, 24 h, 30 h
    assert f['median_response_seconds'] == 17 * 3600
    assert (f['rulings'], f['rulings_lost']) == (3, 1)
    assert f['loss_rate'] == pytest.approx(1 / 3)
    # late (no_response + lost: one order) and missed
    assert f['defects'] == 2
    assert f['defect_rate'] == pytest.approx(2 / 14)
    assert f['healthy'] is False and f['trusted'] is False
    # 2 + 3 + 2 + 2 (the old no_response still counts for a year) + 1 manual
    assert (f['active_points'], f['level']) == (10, 0)


def test_figures_for_is_json_ready_and_stored(world):
    merchant_id = b.merchant('m-1').id
    figures = merchant_health.figures_for(merchant_id)
    import json
    assert json.loads(json.dumps(figures)) == figures
    assert figures['orders'] == 14 and figures['answered_within_24h'] == 3 and figures['answer_due'] == 6
    assert figures['defect_rate'] == round(2 / 14, 6) and figures['healthy'] is False
    assert figures['healthy_below'] == 0.01 and figures['window_days'] == 60
    assert figures['computed_at'].startswith('2026-11-24T10:00:00')
    assert MerchantHealth.get_by_id(merchant_id).defects == 2


def test_zero_orders_and_no_complaints_divide_by_nothing(app, frozen):
    merchant_id = b.merchant('m-0').id
    f = merchant_health.figures_for(merchant_id)
    assert (f['orders'], f['complaints'], f['rulings'], f['defects']) == (0, 0, 0, 0)
    for key in ('complaint_rate_per_100_orders', 'answered_within_24h_rate', 'median_response_seconds',
                'arbitration_loss_rate', 'defect_rate', 'healthy'):
        assert f[key] is None, key
    assert f['trusted'] is False


def test_complaints_without_orders_in_the_window(app, frozen):
    complaint('m-1', T0 - 2 * D, answered_after=H, order=orders('m-1', 1, paid_at=T0 - 90 * D)[0])
    f = merchant_health.compute()[b.merchant('m-1').id]
    assert (f['orders'], f['complaints'], f['complaint_rate'], f['defect_rate']) == (0, 1, None, None)
    assert f['answered_rate'] == 1.0 and f['median_response_seconds'] == 3600


@pytest.mark.parametrize('orders_n, defects, points, trusted, healthy', [
    (200, 0, 0, True, True),
    (200, 0, 1, False, True),      # a point on record
    (200, 1, 0, False, True),      # exactly 0.5 %: not below
    (201, 1, 0, True, True),       # 0.4975 %
    (100, 1, 0, False, False),     # exactly 1 %: not healthy
    (101, 1, 0, False, True),
])
def test_trusted_badge_and_healthy_mark(app, frozen, orders_n, defects, points, trusted, healthy):
    MerchantHealthPolicy.update(trusted_max_points=0).execute()
    made = orders('m-1', orders_n)
    for n in range(defects):
        c = complaint('m-1', T0 - 2 * D, order=made[n])
        violation('m-1', 'no_response', c, at=T0 - D)
    Violation.update(points=0).execute()  # the defect's own points are not under test here
    if points:
        violation('m-1', 'manual', at=T0 - D)
        Violation.update(points=points).where(Violation.code == 'manual').execute()
    standing.recompute([b.merchant('m-1').id])  # the points were edited behind its back
    f = merchant_health.compute()[b.merchant('m-1').id]
    assert (f['trusted'], f['healthy']) == (trusted, healthy)


def test_trusted_needs_the_minimum_orders_of_the_policy(app, frozen):
    orders('m-1', 5)
    assert merchant_health.compute()[b.merchant('m-1').id]['trusted'] is True
    MerchantHealthPolicy.update(trusted_min_orders=6).execute()
    assert merchant_health.compute()[b.merchant('m-1').id]['trusted'] is False


def test_sync_standing_copies_points_and_drops_the_badge(app, frozen):
    orders('m-1', 10)
    merchant_health.refresh()
    merchant_id = b.merchant('m-1').id
    assert MerchantHealth.get_by_id(merchant_id).trusted is True
    violation('m-1', 'fake_delivery')
    from arbitration.penalties import standing
    standing.recompute([merchant_id])
    merchant_health.sync_standing([merchant_id])
    row = MerchantHealth.get_by_id(merchant_id)
    assert (row.level, row.active_points, row.trusted) == (1, 12, False)


def test_one_merchant_or_all_give_the_same_figures(world):
    b.merchant('m-2')
    orders('m-2', 3)
    everyone = merchant_health.compute()
    for merchant_id, figures in everyone.items():
        assert merchant_health.compute([merchant_id])[merchant_id] == figures


def test_refresh_writes_a_row_per_merchant_and_one_snapshot_per_day(world):
    b.merchant('m-empty')
    assert merchant_health.refresh() == 2
    assert merchant_health.refresh() == 2  # twice on one day: the same rows
    assert MerchantHealth.select().count() == 2
    assert MerchantHealthDay.select().count() == 1  # the empty merchant has nothing to plot
    clock.advance(days=1)
    merchant_health.refresh([b.merchant('m-1').id])
    points = merchant_health.trend(b.merchant('m-1').id, days=3)
    assert [p[0].isoformat() for p in points] == ['2026-11-23', '2026-11-24', '2026-11-25']
    assert points[0][1]['defect_rate'] is None
    assert points[1][1]['defect_rate'] == pytest.approx(2 / 14)
    # a day on, the order paid a second after the window's start has left it and the one paid a
    # second after T0 has come in
    assert points[2][1]['orders'] == 14
    assert MerchantHealthDay.select().count() == 2
    clock.advance(days=merchant_health.KEEP_DAYS)  # 2027-12-30: the 24th is older than 400 days
    orders('m-1', 1, paid_at=clock.now() - H)
    merchant_health.refresh([b.merchant('m-1').id])
    assert MerchantHealthDay.select().count() == 3  # only the full run prunes
    merchant_health.refresh()
    assert sorted(d.day.isoformat() for d in MerchantHealthDay.select()) == ['2026-11-25', '2027-12-30']


# --- the backoffice list --------------------------------------------------------------------------

def _health_rows():
    """Five merchants with distinct figures (and NULLs where nothing was measured)."""
    values = [
        # ref, complaint_rate, answered_rate, median, loss_rate, defect_rate, level, points, trusted, orders
        ('a', 1.0, 0.9, 600, 0.1, 0.002, 0, 0, True, 500),
        ('b', 5.0, 0.5, 7200, 0.5, 0.03, 1, 14, False, 100),
        ('c', None, None, None, None, None, 0, 0, False, 0),
        ('d', 2.5, 1.0, 60, 0.0, 0.008, 2, 25, False, 400),
        ('e', 9.0, 0.2, 86000, 1.0, 0.05, 4, 50, False, 20),
    ]
    for ref, cr, ar, med, lr, dr, level, points, trusted, n in values:
        merchant = b.merchant(ref)
        MerchantHealth.create(merchant=merchant.id, computed_at=T0, window_days=60, orders=n, complaint_rate=cr,
                              answered_rate=ar, median_response_seconds=med, loss_rate=lr, defect_rate=dr,
                              healthy=None if dr is None else dr < 0.01, trusted=trusted, level=level,
                              active_points=points)
    return values


@pytest.mark.parametrize('sort', SORT_COLUMNS)
@pytest.mark.parametrize('descending', [False, True])
def test_the_list_sorts_by_each_figure_nulls_last_in_keyset_pages(app, sort, descending):
    values = _health_rows()
    index = ('complaint_rate', 'answered_rate', 'median_response_seconds', 'loss_rate', 'defect_rate', 'level',
             'active_points', 'trusted', 'orders').index(sort) + 1
    ids = {v[0]: b.merchant(v[0]).id for v in values}
    present = sorted((v for v in values if v[index] is not None), key=lambda v: (v[index], ids[v[0]]),
                     reverse=descending)
    absent = sorted((v for v in values if v[index] is None), key=lambda v: ids[v[0]], reverse=descending)
    expected = [v[0] for v in present + absent]
    seen, after = [], None
    for _ in range(5):
        rows, after = merchant_health.list_page(sort, descending, after, limit=2)
        seen += [r.merchant.ref for r in rows]
        if after is None:
            break
    assert seen == expected


def test_list_filters(app):
    _health_rows()
    refs = lambda **f: sorted(r.merchant.ref for r in merchant_health.list_page(**f)[0])  # noqa: E731
    assert refs(level=0) == ['a', 'c']
    assert refs(trusted=True) == ['a']
    assert refs(healthy='no') == ['b', 'e']
    assert refs(healthy='unknown') == ['c']
    assert refs(search='d') == ['d']


def test_the_list_page_for_supervisors(app, client, users):
    _health_rows()
    login(client, users('supervisor').username)
    page = client.get('/admin/merchant-health/?sort=loss_rate&dir=asc')
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    order = [html.index(f'data-merchant="{ref}"') for ref in ('d', 'a', 'b', 'e', 'c')]
    assert order == sorted(order)
    nxt = client.get('/admin/merchant-health/?sort=orders&after=[0,100,2]')
    assert nxt.status_code == 200
    assert client.get('/admin/merchant-health/?sort=password').status_code == 422
    assert client.get('/admin/merchant-health/?after=[0,"x",1]').status_code == 422
    assert client.get('/admin/merchant-health/?level=two').status_code == 422


def test_the_merchant_page_shows_standing_health_and_trends(world, client, users):
    merchant_health.refresh()
    filed = b.case('SP-1', category='not_as_described', merchant_ref='m-1')  # the 6th valid one: a spike
    login(client, users('admin').username)
    page = client.get('/admin/merchant-health/m-1')
    html = page.get_data(as_text=True)
    assert page.status_code == 200, html
    assert 'id="merchant-standing"' in html and 'data-figure="active_points"' in html
    assert 'data-figure="defect_rate">14.29 %' in html
    assert html.count('<svg') == 3
    assert 'id="complaint-spikes"' in html
    from arbitration.penalties import spike
    [spiked] = Violation.select().where(Violation.code == 'complaint_spike')
    tickets = spike.linked_complaints(spiked.id)
    assert len(tickets) == 6 and filed.ticket_no in tickets and ', '.join(tickets) in html
    assert client.get('/admin/merchant-health/nobody').status_code == 404


def test_recompute_buttons(world, client, users):
    login(client, users('supervisor').username)
    token = csrf_token(client, '/admin/merchant-health/m-1')
    assert client.post('/admin/merchant-health/m-1', data={'csrf_token': token}).status_code == 302
    assert MerchantHealth.get_by_id(b.merchant('m-1').id).defects == 2
    MerchantHealth.delete().execute()
    assert client.post('/admin/merchant-health/', data={'csrf_token': token}).status_code == 302
    assert MerchantHealth.select().count() == 1  # no Redis in tests: the job ran inline
    assert client.post('/admin/merchant-health/', data={}).status_code == 400  # no CSRF token


@pytest.mark.parametrize('role, status', [('merchant_staff', 403), ('agent', 403), ('buyer', 403),
                                          ('supervisor', 200), ('admin', 200)])
def test_only_supervisors_and_admins_open_the_backoffice_pages(app, client, users, role, status):
    b.merchant('m-1')
    kwargs = {'merchant_ref': 'm-1'} if role == 'merchant_staff' else {'buyer_ref': 'b-1'} if role == 'buyer' else {}
    if role == 'buyer':
        b.buyer('b-1')
    login(client, users(role, **kwargs).username)
    assert client.get('/admin/merchant-health/').status_code == status
    assert client.get('/admin/merchant-health/m-1').status_code == status


def test_anonymous_users_are_sent_to_log_in(app, client):
    assert client.get('/admin/merchant-health/').status_code == 302


def test_policy_edits_are_checked(app):
    from web.consoles.health import validate_policy
    row = MerchantHealthPolicy.current()
    validate_policy(row)
    row.trusted_defect_pct = 0
    with pytest.raises(ValueError):
        validate_policy(row)


# --- the merchant console partial ----------------------------------------------------------------

def _render_partial(app, user, merchant):
    with app.test_request_context('/merchant/standing'):
        login_user(user)
        return render_template_string("{% include 'merchant/_health.html' %}", merchant=merchant)


def test_the_console_partial_shows_the_merchants_own_health(world, app):
    html = _render_partial(app, b.merchant_login('m-1'), b.merchant('m-1'))
    assert 'id="merchant-health"' in html and html.count('<svg') == 3
    assert 'data-figure="answered_rate">50.0 %' in html
    assert 'data-figure="median_response_seconds">17 h 00 min' in html


def test_a_merchant_sees_only_its_own_health(world, app):
    b.merchant('m-2')
    with pytest.raises(NotFound):
        _render_partial(app, b.merchant_login('m-2'), b.merchant('m-1'))
    with pytest.raises(NotFound):
        merchant_health.visible_merchant(b.buyer_login('b-1'), b.merchant('m-1').id)
    assert merchant_health.visible_merchant(b.merchant_login('m-2'), b.merchant('m-2').id).ref == 'm-2'


def test_trusted_badge_shows_in_the_partial(app, frozen):
    orders('m-1', 10)
    html = _render_partial(app, b.merchant_login('m-1'), b.merchant('m-1'))
    assert 'data-mark="trusted"' in html and 'data-mark="healthy"' in html


def test_admins_edit_the_policy_and_nonsense_is_refused(app, client, users):
    row = MerchantHealthPolicy.current()
    url = f'/admin/health-policy/edit/?id={row.id}'
    login(client, users('supervisor').username)
    assert client.get(url).status_code == 403
    client = isolated_client(app)
    login(client, users('admin').username)
    data = dict(csrf_token=csrf_token(client, url), window_days='30', healthy_defect_pct='2',
                trusted_defect_pct='0.25', trusted_max_points='0', trusted_min_orders='10', spike_complaints='5',
                spike_window_days='30')
    assert client.post(url, data=data).status_code == 302
    saved = MerchantHealthPolicy.get_by_id(row.id)
    assert (saved.window_days, str(saved.trusted_defect_pct.normalize()), saved.trusted_min_orders) == (30, '0.25', 10)
    page = client.post(url, data=dict(data, trusted_defect_pct='0'), follow_redirects=True)
    assert 'Percentages are above 0' in page.get_data(as_text=True)
    assert MerchantHealthPolicy.get_by_id(row.id).trusted_defect_pct == saved.trusted_defect_pct


def test_the_daily_job_refreshes_every_merchant(world):
    from app import PERIODIC_JOBS
    from arbitration.jobs import refresh_merchant_health
    assert (refresh_merchant_health, 86400) in PERIODIC_JOBS
    b.merchant('m-2')
    assert refresh_merchant_health() == 2
    assert MerchantHealth.get_by_id(b.merchant('m-1').id).defects == 2
    assert refresh_merchant_health([b.merchant('m-2').id]) == 1


def test_the_merchant_page_carries_the_penalty_panel(world, client, users):
    login(client, users('supervisor').username)
    html = client.get('/admin/merchant-health/m-1').get_data(as_text=True)
    assert 'id="merchant-penalties"' in html and 'id="merchant-health"' in html


def test_my_standing_in_the_merchant_console_shows_my_health(world, client):
    login(client, b.merchant_login('m-1').username)
    page = client.get('/merchant/standing/')
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'id="merchant-health"' in html and html.count('<svg') == 3
    assert 'data-figure="defect_rate">14.29 %' in html
