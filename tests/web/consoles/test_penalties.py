"""Console pages of merchant penalties: the rule and level tables (admins), the violation list
with the manual form, the supervisors' appeal queue, the merchant page's partial and the
merchant's "my standing" page — each for the right roles, 403/404 for the wrong ones."""
import io
import re

import pytest
from flask import render_template
from flask_login import login_user

from arbitration.penalties import deposit, penalty_appeals, violations
from arbitration.penalties.models import StandingLevel, Violation, ViolationAppeal, ViolationRule
from desk.core import clock
from tests import builders as b
from tests.support import logged_in, post_form


@pytest.fixture
def people(app, users, frozen):
    b.merchant('m-1', '星耀点卡')
    b.merchant('m-2', '速通充值')
    return {'supervisor': users('supervisor', 'boss'), 'admin': users('admin', 'root'),
            'agent': users('agent', 'ag'),
            'shop1': b.staff_user(users, 'm-1', username='shop1'),
            'shop2': b.staff_user(users, 'm-2', username='shop2'),
            'buyer': b.buyer_user(users, 'b-1', username='wang')}


# --- access ----------------------------------------------------------------------------------

@pytest.mark.parametrize('path, allowed', [
    ('/admin/violation-rules/', ('admin',)),
    ('/admin/standing-levels/', ('admin',)),
    ('/admin/violations/', ('agent', 'supervisor', 'admin')),
    ('/admin/violation-appeals/', ('supervisor', 'admin')),
    ('/merchant/standing/', ('shop1',)),
])
def test_pages_by_role(app, people, path, allowed):
    for who in ('agent', 'supervisor', 'admin', 'shop1', 'buyer'):
        role = people[who].role
        response = logged_in(app, people[who].username).get(path)
        expected = 200 if who in allowed or role in allowed else 403
        assert response.status_code == expected, (who, path, response.status_code)


def test_merchant_menu_links_my_standing(app, people):
    html = logged_in(app, 'shop1').get('/merchant/').get_data(as_text=True)
    assert 'href="/merchant/standing/"' in html


# --- rule and level tables ------------------------------------------------------------------------

def test_admin_edits_a_rule_with_a_fine_in_yuan(app, people):
    admin = logged_in(app, 'root')
    rule = ViolationRule.get(ViolationRule.code == 'fake_delivery')
    page = f'/admin/violation-rules/edit/?id={rule.id}'
    assert 'value="500.00"' in admin.get(page).get_data(as_text=True)
    data = {'description_zh': '虚假发货', 'description_en': 'Fake delivery', 'points': '10', 'fine': '300.00',
            'active': 'y'}
    r = post_form(admin, page, data, page)
    assert r.status_code == 302
    rule = ViolationRule.get_by_id(rule.id)
    assert (rule.points, rule.fine_fen) == (10, 30000)
    for bad in ({'points': '-1'}, {'fine': '-5.00'}, {'fine': 'lots'}):
        post_form(admin, page, dict(data, **bad), page)
        assert (ViolationRule.get_by_id(rule.id).points, ViolationRule.get_by_id(rule.id).fine_fen) == (10, 30000), bad


def test_level_thresholds_stay_ascending(app, people):
    admin = logged_in(app, 'root')
    level2 = StandingLevel.get(StandingLevel.level == 2)
    page = f'/admin/standing-levels/edit/?id={level2.id}'
    post_form(admin, page, {'min_points': '40', 'duration_days': '7'}, page)  # above level 3's 36
    assert StandingLevel.get_by_id(level2.id).min_points == 24
    post_form(admin, page, {'min_points': '20', 'duration_days': '10'}, page)
    row = StandingLevel.get_by_id(level2.id)
    assert (row.min_points, row.duration_seconds) == (20, 10 * 86400)


# --- violations and manual form ---------------------------------------------------------------------

def test_violation_list_filters(app, people):
    violations.record_violation(b.merchant().id, 'fake_delivery')
    violations.record_violation(b.merchant('m-2').id, 'no_response')
    agent = logged_in(app, 'ag')
    rows = lambda q: re.findall(r'<tr data-violation="(\d+)"', agent.get('/admin/violations/' + q).get_data(as_text=True))  # noqa: E731
    assert len(rows('')) == 2
    assert len(rows('?merchant=m-2')) == 1
    assert len(rows('?code=fake_delivery')) == 1
    assert len(rows('?state=revoked')) == 0
    assert 'id="manual-violation"' not in agent.get('/admin/violations/').get_data(as_text=True)


def test_supervisor_records_a_manual_violation(app, people):
    boss = logged_in(app, 'boss')
    page = '/admin/violations/'
    assert 'id="manual-violation"' in boss.get(page).get_data(as_text=True)
    r = post_form(boss, '/admin/violations/manual', {'merchant': 'm-1', 'points': '4', 'fine': '',
                                                'reason': ''}, page, follow_redirects=True)
    assert 'reason' in r.get_data(as_text=True) and Violation.select().count() == 0
    post_form(boss, '/admin/violations/manual', {'merchant': 'm-1', 'points': '-4', 'reason': 'x'}, page)
    assert Violation.select().count() == 0
    r = post_form(boss, '/admin/violations/manual', {'merchant': 'm-1', 'points': '4', 'fine': '20.00',
                                                'reason': '诱导好评'}, page)
    assert r.status_code == 302
    v = Violation.get()
    assert (v.code, v.points, v.fine_fen, v.created_by_id) == ('manual', 4, 2000, people['supervisor'].id)
    agent = logged_in(app, 'ag')
    post_form(agent, '/admin/violations/manual', {'merchant': 'm-1', 'points': '4', 'reason': 'x'}, page)
    assert Violation.select().count() == 1  # the service refused the agent (403 flashed)


# --- appeal queue --------------------------------------------------------------------------------

def test_queue_shows_the_appeal_and_revokes_it(app, people):
    complaint = b.case('O-7', merchant_ref='m-1')
    v = violations.record_violation(b.merchant().id, 'fake_delivery', complaint)
    appeal = penalty_appeals.appeal(people['shop1'], v.id, '卡密已发放', [('proof.png', io.BytesIO(b.PNG))])
    boss = logged_in(app, 'boss')
    html = boss.get('/admin/violation-appeals/').get_data(as_text=True)
    assert f'id="appeal-{appeal.id}"' in html and '卡密已发放' in html and complaint.ticket_no in html
    assert 'proof.png' in html and 'Lost a fake-delivery case' in html  # the rule, in the page's language
    item = re.search(r'/admin/violation-appeals/evidence/(\d+)', html).group(1)
    download = boss.get(f'/admin/violation-appeals/evidence/{item}')
    assert (download.status_code, download.data) == (200, b.PNG)
    assert logged_in(app, 'shop2').get(f'/merchant/standing/evidence/{item}').status_code == 404
    assert logged_in(app, 'shop1').get(f'/merchant/standing/evidence/{item}').status_code == 200
    r = post_form(boss, f'/admin/violation-appeals/{appeal.id}', {'decision': 'revoke', 'note': '证据充分'},
             '/admin/violation-appeals/')
    assert r.status_code == 302
    assert ViolationAppeal.get_by_id(appeal.id).state == 'revoked'
    assert Violation.get_by_id(v.id).state == 'revoked' and deposit.balance_of(b.merchant().id) == 0
    post_form(boss, f'/admin/violation-appeals/{appeal.id}', {'decision': 'uphold', 'note': 'x'}, '/admin/violation-appeals/')
    assert ViolationAppeal.get_by_id(appeal.id).state == 'revoked'  # decided already: 409 flashed


# --- merchant page partial -------------------------------------------------------------------------

def test_merchant_penalties_partial(app, people):
    violations.record_violation(b.merchant().id, 'fake_delivery')
    deposit.top_up(people['admin'], b.merchant(), 20000, '首笔')
    with app.test_request_context('/admin/merchants/'):
        login_user(people['admin'])
        html = render_template('admin/merchants/_penalties.html', merchant=b.merchant())
    assert 'id="merchant-violations"' in html and 'id="deposit-ledger"' in html
    assert 'id="top-up-form"' in html and '-¥300.00' in html
    with app.test_request_context('/admin/merchants/'):
        login_user(people['agent'])
        assert 'id="top-up-form"' not in render_template('admin/merchants/_penalties.html', merchant=b.merchant())


def test_top_up_form_is_idempotent(app, people):
    admin = logged_in(app, 'root')
    data = {'amount': '100.00', 'note': 'cash', 'key': 'form-key-1'}
    page = '/admin/violations/'
    for _ in range(2):
        assert post_form(admin, f'/admin/deposit/{b.merchant().id}/top-up', data, page).status_code == 302
    assert deposit.balance_of(b.merchant().id) == 10000
    post_form(admin, f'/admin/deposit/{b.merchant().id}/top-up', dict(data, amount='0', key='form-key-2'), page)
    assert deposit.balance_of(b.merchant().id) == 10000
    agent = logged_in(app, 'ag')
    assert post_form(agent, f'/admin/deposit/{b.merchant().id}/top-up', data, page).status_code == 403


# --- my standing ------------------------------------------------------------------------------

def test_my_standing_shows_level_violations_ledger_and_appeals(app, people):
    complaint = b.case('O-8', merchant_ref='m-1')
    v = violations.record_violation(b.merchant().id, 'fake_delivery', complaint)
    other = violations.record_violation(b.merchant('m-2').id, 'no_response')
    shop = logged_in(app, 'shop1')
    html = shop.get('/merchant/standing/').get_data(as_text=True)
    assert 'data-points="12"' in html and 'data-level="1"' in html
    assert f'data-violation="{v.id}"' in html and f'data-violation="{other.id}"' not in html
    assert complaint.ticket_no in html and 'id="deposit-hold"' in html and '-¥500.00' in html
    assert 'class="appeal-form' in html
    page = '/merchant/standing/'
    r = post_form(shop, f'/merchant/standing/appeal/{v.id}', {'reason': ''}, page, follow_redirects=True)
    assert ViolationAppeal.select().count() == 0 and 'reason' in r.get_data(as_text=True)
    r = post_form(shop, f'/merchant/standing/appeal/{v.id}',
             {'reason': '已发货', 'files': [(io.BytesIO(b.PNG), 'p.png')]}, page, content_type='multipart/form-data')
    assert r.status_code == 302 and ViolationAppeal.get().violation_id == v.id
    html = shop.get(page).get_data(as_text=True)
    assert 'data-appeal-state="open"' in html
    assert post_form(shop, f'/merchant/standing/appeal/{other.id}', {'reason': 'x'}, page).status_code == 404
    clock.advance(days=8)
    late = violations.record_violation(b.merchant().id, 'no_response')
    clock.advance(days=7, seconds=1)
    assert 'class="appeal-form' not in shop.get(page).get_data(as_text=True).split(f'data-violation="{late.id}"')[1].split('</tr>')[0]
    r = post_form(shop, f'/merchant/standing/appeal/{late.id}', {'reason': 'x'}, page, follow_redirects=True)
    assert 'ended on' in r.get_data(as_text=True)
