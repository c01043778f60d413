"""The agent desk in a real browser (Chinese): a new L1 account-security case is at the top of
the senior agent's queue with a ticking countdown; the agent claims it, writes an internal
note and a public reply in the workspace; the buyer, arriving through a signed link, sees the
reply in the buyer portal and not the note."""
import os
import re

import pytest

from desk.cases.complaints import file_complaint
from desk.cases.models import Category, Complaint
from desk.parties import accounts
from desk.parties.models import Buyer, User
from tests import builders as b
from tests.conftest import PASSWORD
from web.buyer.links import make_token

pytestmark = pytest.mark.e2e

SHOTS = os.environ.get('DESK_E2E_SCREENSHOT_DIR', '/tmp')
NOTE = '买家称账号异地登录，已请技术部核查登录日志。'
REPLY = '您好，我们已冻结可疑登录并在核查资金去向，今天 18:00 前给您答复。'


def _file(order_no, category, facts):
    buyer = accounts.buyer_user_for(Buyer.get(Buyer.ref == 'b-1'))
    return file_complaint(buyer, {'order_no': order_no, 'category': category, 'facts': facts,
                                  'demand': {'type': 'full_refund'}})


def test_senior_agent_claims_notes_and_replies_buyer_sees_only_the_reply(live_server, page, users):
    from playwright.sync_api import expect
    # an older L2 case already waits in the ops queue (an admin-made platform category)
    Category.create(code='ops_review', name_zh='运营复核', name_en='Operations review', path='platform',
                    tier='L2', department='ops', position=99)
    b.push_order('KM20261124000007', product='网易一卡通 50 元', amount='50.00')
    older = _file('KM20261124000007', 'ops_review', '订单需要运营复核。')
    b.push_order('KM20261124000042', product='Steam 钱包充值卡 200 元', amount='200.00')
    case = _file('KM20261124000042', 'account_security', '账号被盗，余额被转走 200 元。')
    assert (case.tier, case.state, case.department) == ('L1', 'pending_agent', 'ops')
    users('senior_agent', username='laozhang', department='ops', display_name='老张')

    # the senior agent logs in and lands on the queue
    page.goto(live_server + '/admin/queue/')
    page.fill('#username', 'laozhang')
    page.fill('#password', PASSWORD)
    page.click('#login-submit')
    expect(page).to_have_url(live_server + '/admin/queue/')
    expect(page.locator('#queue-title')).to_contain_text('运营部')
    rows = page.locator('#queue-table tbody tr[data-ticket]')
    expect(rows).to_have_count(2)
    expect(rows.first).to_have_attribute('data-ticket', case.ticket_no)  # L1 before the older L2
    expect(rows.nth(1)).to_have_attribute('data-ticket', older.ticket_no)
    top = rows.first
    expect(top).to_contain_text('账号被盗/资金安全')
    expect(top).to_contain_text('¥200.00')
    expect(top.locator('[data-tier]')).to_have_text('L1')
    expect(top.locator('.claim-button')).to_have_text('接单')
    expect(page.locator('#agent-status')).to_be_visible()

    # the countdown ticks: the L1 first response is due 30 minutes after filing
    countdown = top.locator('[data-due]')
    first = int(countdown.get_attribute('data-left'))
    assert 25 * 60 < first <= 30 * 60, first
    page.wait_for_timeout(2100)
    later = int(countdown.get_attribute('data-left'))
    assert 1 <= first - later <= 4, (first, later)
    expect(countdown).to_have_text(re.compile(r'^0:[0-2]\d:\d\d$'))
    page.screenshot(path=os.path.join(SHOTS, 'arbiter-desk-e2e-queue.png'), full_page=True)

    # claim from the queue
    top.locator('.claim-button').click()
    expect(page.locator('.alert-success')).to_contain_text(f'您已接手 {case.ticket_no}')
    expect(rows.first.locator('.claim-button')).to_have_count(0)
    expect(rows.first).to_contain_text('老张')
    owner = Complaint.get_by_id(case.id)
    assert owner.owner_id == User.get(User.username == 'laozhang').id and owner.state == 'in_progress'

    # the workspace: internal note, then a public reply
    page.click(f'a[href="/admin/case/{case.ticket_no}"]')
    expect(page.locator('#ticket-no')).to_have_text(case.ticket_no)
    expect(page.locator('#case-state')).to_have_text('处理中')
    expect(page.locator('#order-buyer')).to_contain_text('138****1234')
    expect(page.locator('#sla-clocks [data-target="first_response"]')).to_contain_text('已达成')
    page.fill('#note-body', NOTE)
    page.click('#save-note')
    expect(page.locator('.alert-success')).to_contain_text('内部备注已保存')
    page.fill('#reply-body', REPLY)
    page.click('#send-reply')
    expect(page.locator('.alert-success')).to_contain_text('回复已发送')
    note = page.locator('#timeline [data-kind="internal_note"]')
    expect(note).to_contain_text(NOTE)
    expect(note).to_contain_text('仅员工可见')
    expect(page.locator('#timeline [data-kind="message"]')).to_contain_text(REPLY)
    page.screenshot(path=os.path.join(SHOTS, 'arbiter-desk-e2e-workspace.png'), full_page=True)
    page.click('#logout')

    # the buyer comes in through a link the marketplace signed
    page.goto(f'{live_server}/buyer/complain?token={make_token("b-1", "KM20261124000042")}')
    expect(page).to_have_url(re.compile(r'/buyer/orders/KM20261124000042/complain$'))
    page.goto(f'{live_server}/buyer/complaints/{case.ticket_no}')
    expect(page.locator('#ticket-no')).to_have_text(case.ticket_no)
    expect(page.locator('#timeline')).to_contain_text(REPLY)
    expect(page.locator('#timeline')).not_to_contain_text(NOTE)
    expect(page.locator('#timeline [data-kind="internal_note"]')).to_have_count(0)
    expect(page.locator('#timeline [data-kind="claimed"]')).to_contain_text('客服已接手您的投诉')
    expect(page.locator('#case-demand')).to_contain_text('全额退款')
    page.screenshot(path=os.path.join(SHOTS, 'arbiter-desk-e2e-buyer-reply.png'), full_page=True)
