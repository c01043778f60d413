"""Merchant penalties end to end in real browsers (Chinese): a merchant with a fresh
`fake_delivery` violation sees 12 points and a warning on "my standing" and appeals it with a
file; a supervisor revokes it in the appeal queue; the merchant's standing is back to normal,
the fine is back in the deposit, and the marketplace received both signed
`merchant.standing_changed` webhooks."""
import os
import re

import pytest

from arbitration.penalties import deposit, violations
from desk.cases.complaints import file_complaint
from desk.cases.models import Complaint
from desk.core.db import atomic
from desk.messaging import webhooks
from desk.parties import accounts
from desk.parties.models import Buyer, Merchant
from tests import builders as b
from tests.e2e.conftest import chinese_context, login, wait_for
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.e2e

SHOTS = os.environ.get('DESK_E2E_SCREENSHOT_DIR', '/tmp')


def test_merchant_appeals_a_fake_delivery_violation_and_a_supervisor_revokes_it(
        live_server, page, browser, users, tmp_path):
    from playwright.sync_api import expect

    integration = users('integration', username='market')
    supervisor = users('supervisor', username='zhuguan', display_name='主管 周', department='cs')
    with Receiver() as receiver:
        subscription = webhooks.subscribe(integration, receiver.url, ['merchant.standing_changed'])
        receiver.secret = subscription.secret

        # a lost fake-delivery case: the violation a ruling records, on a deposit that covers the fine
        b.push_order('KM20261124000123', product='王者荣耀 点券 60 元', goods_type='game_card', amount='60.00')
        users('merchant_staff', username='xingyao', display_name='星耀客服', merchant_ref='m-1')
        merchant = Merchant.get(Merchant.ref == 'm-1')
        deposit.top_up(supervisor, merchant, 100000, note='开店保证金')
        buyer = accounts.buyer_user_for(Buyer.get(Buyer.ref == 'b-1'))
        case = file_complaint(buyer, {
            'order_no': 'KM20261124000123', 'category': 'not_as_described',
            'facts': '商家显示已发货，卡密从未收到。', 'scenario': {}, 'demand': {'type': 'full_refund'}})
        with atomic():
            violation = violations.record_violation(merchant.id, 'fake_delivery', Complaint.get_by_id(case.id))
        assert wait_for(lambda: len(receiver.received('merchant.standing_changed')) == 1)
        first = receiver.received('merchant.standing_changed')[0]
        assert first['verified'] and first['data']['level'] == 'warning'
        assert first['data']['active_points'] == 12

        # the merchant sees 12 points and the warning, and appeals with a delivery log
        login(page, live_server, '/merchant/standing/', 'xingyao')
        expect(page.locator('[data-points]')).to_have_text('12')
        expect(page.locator('[data-level]')).to_have_text('警告')
        expect(page.locator('#restrictions')).to_contain_text('搜索降权')
        row = page.locator(f'tr[data-violation="{violation.id}"]')
        expect(row).to_contain_text('虚假发货')
        expect(row).to_contain_text(case.ticket_no)
        row.locator('summary').click()
        row.locator('textarea[name="reason"]').fill('卡密已于付款后 1 分钟发送，附发货日志截图。')
        shot = tmp_path / 'delivery-log.png'
        shot.write_bytes(b.png_bytes())
        row.locator('input[type="file"]').set_input_files(str(shot))
        row.locator('button[type="submit"]').click()
        expect(page.locator(f'tr[data-violation="{violation.id}"] [data-appeal-state]')).to_have_attribute(
            'data-appeal-state', 'open')
        page.screenshot(path=os.path.join(SHOTS, 'penalty-1-merchant-appealed.png'), full_page=True)

        # the supervisor reads the appeal with its file and revokes the violation
        context = chinese_context(browser)
        try:
            boss = context.new_page()
            login(boss, live_server, '/admin/violation-appeals/', 'zhuguan')
            card = boss.locator(f'.penalty-appeal[data-violation="{violation.id}"]')
            expect(card).to_contain_text('卡密已于付款后 1 分钟发送')
            expect(card.locator('.appeal-evidence')).to_contain_text('delivery-log.png')
            card.locator('textarea[name="note"]').fill('发货日志显示卡密已按时发出，撤销处罚。')
            card.locator('button[value="revoke"]').click()
            expect(boss.locator('#no-appeals')).to_be_visible()
            boss.screenshot(path=os.path.join(SHOTS, 'penalty-2-supervisor-revoked.png'), full_page=True)
        finally:
            context.close()

        # back to normal: no points, no restriction, the fine refunded
        page.reload()
        expect(page.locator('[data-points]')).to_have_text('0')
        expect(page.locator('[data-level]')).to_have_text('正常')
        expect(page.locator('#restrictions')).to_contain_text('无限制')
        expect(page.locator(f'tr[data-violation="{violation.id}"] [data-appeal-state]')).to_have_attribute(
            'data-appeal-state', 'revoked')
        expect(page.locator('body')).to_contain_text('撤销处罚退还罚款')
        page.screenshot(path=os.path.join(SHOTS, 'penalty-3-merchant-normal.png'), full_page=True)
        assert deposit.balance_of(merchant.id) == 100000

        assert wait_for(lambda: len(receiver.received('merchant.standing_changed')) == 2)
        second = receiver.received('merchant.standing_changed')[1]
        assert second['verified'] and second['data']['level'] == 'normal'
        assert (second['data']['previous_level'], second['data']['active_points']) == ('warning', 0)
        keys = [e['headers']['X-Desk-Idempotency-Key'] for e in receiver.events]
        assert len(set(keys)) == 2 and all(re.fullmatch(r'standing-\d+-\d+-\d+', k) for k in keys), keys
