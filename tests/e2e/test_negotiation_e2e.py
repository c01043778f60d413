"""Negotiation end to end in real browsers (Chinese): a buyer's complaint reaches the
merchant's needs-answer list with a live countdown; the merchant proposes a partial refund;
the buyer accepts it in the portal; the marketplace's webhook receiver gets the signed
remedy instruction and confirms it through the API."""
import json
import os
import re
import urllib.request

import pytest

from desk.cases.complaints import file_complaint
from desk.cases.models import Complaint
from desk.messaging import webhooks
from desk.parties import accounts
from desk.parties.models import Buyer
from tests import builders as b
from tests.conftest import PASSWORD
from tests.e2e.conftest import wait_for
from tests.webhook_receiver import Receiver
from web.buyer.links import make_token

pytestmark = pytest.mark.e2e

SHOTS = os.environ.get('DESK_E2E_SCREENSHOT_DIR', '/tmp')


def _api(base, method, path, key, body=None):
    data = json.dumps(body or {}).encode() if method != 'GET' else None
    request = urllib.request.Request(base + path, method=method, data=data,
                                     headers={'Authorization': f'Bearer {key}',
                                              'Content-Type': 'application/json'})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.loads(response.read())


def test_merchant_proposes_buyer_accepts_marketplace_confirms(live_server, page, browser, users):
    from playwright.sync_api import expect

    # the marketplace: an integration account with an API key and a webhook receiver
    integration = users('integration', username='market')
    _key, api_key = accounts.create_api_key(integration, 'marketplace')
    with Receiver() as receiver:
        subscription = webhooks.subscribe(integration, receiver.url,
                                          ['proposal.created', 'remedy.created', 'remedy.confirmed'])
        receiver.secret = subscription.secret

        b.push_order('KM20261124000077', product='中国移动 话费 100 元', goods_type='phone_recharge',
                   amount='99.50', receiving_account='13812341234')
        users('merchant_staff', username='xingyao', display_name='星耀客服', merchant_ref='m-1')
        buyer = accounts.buyer_user_for(Buyer.get(Buyer.ref == 'b-1'))
        case = file_complaint(buyer, {
            'order_no': 'KM20261124000077', 'category': 'recharge_not_arrived',
            'facts': '付款后两个小时话费仍未到账。',
            'scenario': {'receiving_account': '13812341234', 'minutes_late': 120},
            'demand': {'type': 'full_refund'}})
        ticket = case.ticket_no

        # the merchant logs in and finds it in "needs your answer", counting down
        page.goto(live_server + '/login')
        page.fill('#username', 'xingyao')
        page.fill('#password', PASSWORD)
        page.click('#login-submit')
        expect(page).to_have_url(live_server + '/merchant/')
        expect(page.locator('[data-complaint-count="needs_answer"]')).to_have_text('1')
        page.click('[data-complaint-count="needs_answer"]')
        expect(page).to_have_url(re.compile(r'/merchant/complaints/\?tab=needs_answer$'))
        expect(page.locator('#inbox-tabs .active')).to_contain_text('待回复')
        row = page.locator(f'tr[data-ticket="{ticket}"]')
        expect(row).to_contain_text('充值未到账/到账延迟')
        countdown = row.locator('.countdown')
        expect(countdown).to_have_text(re.compile(r'^2[34]:\d\d:\d\d$'))
        first = countdown.inner_text()
        expect(countdown).not_to_have_text(first, timeout=3000)  # it ticks
        expect(countdown).not_to_have_class(re.compile('text-danger'))  # 24 hours left: not red
        page.screenshot(path=f'{SHOTS}/arbiter-desk-e2e-merchant-inbox.png', full_page=True)

        # the case: order (phone masked), complaint, the refund cap, then a partial refund
        row.locator('a.ticket-link').click()
        expect(page).to_have_url(live_server + f'/merchant/complaints/{ticket}')
        expect(page.locator('#order-buyer')).to_contain_text('138****1234')
        expect(page.locator('#case-facts')).to_have_text('付款后两个小时话费仍未到账。')
        expect(page.locator('#case-demand')).to_contain_text('全额退款')
        expect(page.locator('#case-deadline')).to_contain_text('剩余时间')
        page.select_option('#propose-type', 'refund')
        expect(page.locator('#refund-max')).to_contain_text('¥99.50')
        page.select_option('#propose-type', 'reissue')
        expect(page.locator('#propose-amount')).to_be_hidden()
        page.select_option('#propose-type', 'refund')
        page.fill('#propose-amount', '30.00')
        page.fill('#propose-message', '充值通道延迟，先退 30 元作为补偿，话费稍后到账。')
        page.screenshot(path=f'{SHOTS}/arbiter-desk-e2e-merchant-case.png', full_page=True)
        page.click('#send-proposal')
        expect(page.locator('#case-state')).to_have_text('等待买家回复')
        expect(page.locator('#proposals [data-proposal="1"]')).to_contain_text('¥30.00')
        expect(page.locator('#case-deadline')).to_have_attribute('data-deadline', 'buyer_due')
        assert wait_for(lambda: receiver.received('proposal.created'))

        # the buyer arrives through a signed link and accepts
        buyer_context = browser.new_context(locale='zh-CN', timezone_id='Asia/Shanghai',
                                            viewport={'width': 420, 'height': 900})
        try:
            portal = buyer_context.new_page()
            portal.set_default_timeout(15000)
            portal.goto(f'{live_server}/buyer/complain?token={make_token("b-1", "KM20261124000077")}')
            portal.goto(f'{live_server}/buyer/complaints/{ticket}')
            proposal = portal.locator('#current-proposal')
            expect(proposal).to_contain_text('退款 · ¥30.00')
            expect(proposal).to_contain_text('充值通道延迟')
            expect(portal.locator('#buyer-deadline .countdown')).to_have_text(re.compile(r'^7[01]:\d\d:\d\d$'))
            portal.screenshot(path=f'{SHOTS}/arbiter-desk-e2e-buyer-proposal.png', full_page=True)
            portal.click('#accept-proposal')
            expect(portal.locator('#case-state')).to_have_text('已解决')
            expect(portal.locator('.alert-success')).to_contain_text('您已接受方案')
            expect(portal.locator('#proposal-history [data-proposal-state="accepted"]')).to_have_count(1)
            portal.screenshot(path=f'{SHOTS}/arbiter-desk-e2e-buyer-accepted.png', full_page=True)
        finally:
            buyer_context.close()

        # the marketplace got the signed instruction ...
        assert wait_for(lambda: receiver.received('remedy.created'))
        instruction = receiver.received('remedy.created')[0]
        assert instruction['verified'], 'the X-Desk-Signature did not verify with the secret'
        data = instruction['data']
        assert (data['ticket_no'], data['kind'], data['amount'], data['state']) == (ticket, 'refund', '30.00', 'pending')
        assert instruction['headers']['X-Desk-Idempotency-Key'].startswith(data['idempotency_key'])

        # ... executed it and confirms; the complaint's representation shows it confirmed
        status, confirmed = _api(live_server, 'POST', f'/api/v1/remedies/{data["id"]}/confirm', api_key)
        assert status == 200 and confirmed['state'] == 'confirmed' and confirmed['confirmed_at']
        status, representation = _api(live_server, 'GET', f'/api/v1/complaints/{ticket}', api_key)
        assert representation['state'] == 'resolved'
        assert [(r['id'], r['state']) for r in representation['remedies']] == [(data['id'], 'confirmed')]
        assert [(p['seq'], p['state'], p['amount']) for p in representation['proposals']] == [(1, 'accepted', '30.00')]
        assert wait_for(lambda: receiver.received('remedy.confirmed'))
        assert receiver.received('remedy.confirmed')[0]['verified']
        assert Complaint.get(Complaint.ticket_no == ticket).state == 'resolved'

        # the merchant's case page shows the remedy carried out
        page.reload()
        expect(page.locator('#remedies [data-remedy-state="confirmed"]')).to_have_text('已执行')
        expect(page.locator('#case-state')).to_have_text('已解决')
        page.screenshot(path=f'{SHOTS}/arbiter-desk-e2e-merchant-resolved.png', full_page=True)
