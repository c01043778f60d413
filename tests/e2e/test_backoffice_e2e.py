"""The backoffice in a real browser: log in, Chinese by default, switch to English, log out."""
import os
import re

import pytest

from tests.conftest import PASSWORD

pytestmark = pytest.mark.e2e

SCREENSHOT = os.environ.get('DESK_E2E_SCREENSHOT', '/tmp/arbiter-desk-e2e-home.png')


def test_agent_logs_in_switches_language_and_logs_out(live_server, page, users):
    from playwright.sync_api import expect
    users('agent', username='xiaoli', display_name='小李')

    page.goto(live_server + '/admin/')
    expect(page).to_have_url(re.compile(r'/login\?next=/admin/'))  # anonymous: sent to log in
    expect(page.locator('html')).to_have_attribute('lang', 'zh-CN')
    expect(page.locator('h1')).to_have_text('登录仲裁台')
    page.fill('#username', 'xiaoli')
    page.fill('#password', PASSWORD)
    page.click('#login-submit')

    expect(page).to_have_url(live_server + '/admin/')
    expect(page.locator('#home-title')).to_have_text('后台首页')
    expect(page.locator('.navbar-brand').first).to_have_text('仲裁台')
    expect(page.locator('#current-user')).to_have_text('小李')
    cards = page.locator('#home-counts [data-count]')
    expect(cards).to_have_count(4)  # buyers are counted for admins only
    expect(page.locator('#home-counts')).to_contain_text('近 24 小时支付订单')
    expect(page.locator('#logout')).to_have_text('退出登录')
    # Flask-Admin's stylesheet is served locally and applied (Bootstrap's dark navbar)
    navbar_bg = page.evaluate("getComputedStyle(document.querySelector('nav.navbar')).backgroundColor")
    assert navbar_bg not in ('rgba(0, 0, 0, 0)', 'transparent'), navbar_bg
    page.screenshot(path=SCREENSHOT, full_page=True)

    page.click('#lang-switch')
    expect(page).to_have_url(live_server + '/admin/')
    expect(page.locator('#home-title')).to_have_text('Backoffice home')
    expect(page.locator('html')).to_have_attribute('lang', 'en')
    expect(page.locator('#home-counts')).to_contain_text('Orders paid in the last 24 hours')
    expect(page.locator('#lang-switch')).to_have_text('中文')

    page.click('#logout')
    expect(page).to_have_url(re.compile(r'/login$'))
    expect(page.locator('h1')).to_have_text('Log in to Arbiter Desk')
    expect(page.locator('.alert')).to_contain_text('You have been logged out.')
    page.goto(live_server + '/admin/')
    expect(page).to_have_url(re.compile(r'/login\?next='))
