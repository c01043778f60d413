"""A buyer files a complaint in a real browser: signed link from the marketplace app, the
form in Chinese adapting to the category, the ticket and promised time, "my complaints"."""
import re

import pytest

from desk.cases.models import Complaint
from tests import builders as b
from web.buyer.links import make_token

pytestmark = pytest.mark.e2e


def test_buyer_files_recharge_complaint_from_signed_link(live_server, page, app):
    from playwright.sync_api import expect
    b.push_order('KM20261124000042', product='中国移动 话费 100 元', goods_type='phone_recharge',
               amount='99.50', receiving_account='13812341234')
    token = make_token('b-1', 'KM20261124000042')

    page.goto(f'{live_server}/buyer/complain?token={token}')
    expect(page).to_have_url(re.compile(r'/buyer/orders/KM20261124000042/complain$'))
    expect(page.locator('h1')).to_have_text('发起投诉')
    expect(page.locator('#order-summary')).to_contain_text('¥99.50')

    page.select_option('#category', 'card_invalid')
    expect(page.locator('[data-scenario="error_message"]')).to_be_visible()
    expect(page.locator('[data-scenario="minutes_late"]')).to_be_hidden()
    page.select_option('#category', 'recharge_not_arrived')
    expect(page.locator('[data-scenario="minutes_late"]')).to_be_visible()
    expect(page.locator('[data-scenario="error_message"]')).to_be_hidden()
    expect(page.locator('#receiving_account')).to_have_value('13812341234')  # prefilled from the order

    page.fill('#minutes_late', '150')
    page.fill('#facts', '付款后两个半小时话费仍未到账,联系商家客服无人回复。')
    page.select_option('#demand_type', 'full_refund')
    expect(page.locator('[data-amount]')).to_be_hidden()
    page.click('#submit-complaint')

    expect(page).to_have_url(re.compile(r'/buyer/complaints/TS\d{8}-\d{6}\?new=1$'))
    ticket = Complaint.get().ticket_no
    expect(page.locator('#ticket-no')).to_have_text(ticket)
    expect(page.locator('#promised-time')).to_contain_text('预计')
    expect(page.locator('#promised-time')).to_contain_text('前处理完毕')
    expect(page.locator('#case-state')).to_have_text('等待商家处理')
    expect(page.locator('#timeline [data-kind="filed"]')).to_have_count(1)

    page.get_by_role('link', name='我的投诉').first.click()
    expect(page).to_have_url(re.compile(r'/buyer/complaints$'))
    expect(page.locator(f'[data-ticket="{ticket}"]')).to_contain_text('充值未到账/到账延迟')
    page.screenshot(path='/tmp/arbiter-desk-e2e-buyer.png', full_page=True)
