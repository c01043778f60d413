"""Platform arbitration end to end in real browsers (Chinese): the buyer and the merchant
upload evidence and declare it complete; the agent opens the arbitration workspace, sees both
sides, closes the evidence period and rules `buyer_partial` with a clause and reasoning; the
buyer reads the ruling and its reasoning in Chinese; the merchant appeals with a new delivery
log; a different senior agent claims the appeal and upholds the ruling."""
import os

import pytest

from desk.cases.models import Appeal, Complaint, Evidence, Remedy, Ruling
from tests import builders as b
from tests.e2e.conftest import chinese_context, login
from web.buyer.links import make_token

pytestmark = pytest.mark.e2e

SHOTS = os.environ.get('DESK_E2E_SCREENSHOT_DIR', '/tmp')
REASONING = '商家的发货记录显示卡密面值为 50 元，与商品页描述的 100 元不符，酌情退款 30 元。'


def _upload(page, kind, name, mime, data, description):
    page.select_option('#evidence-kind', kind)
    page.fill('#evidence-description', description)
    page.set_input_files('#evidence-file', {'name': name, 'mimeType': mime, 'buffer': data})
    page.click('#evidence-submit')


def test_evidence_ruling_appeal_upheld(live_server, page, browser, users):
    from playwright.sync_api import expect

    first = users('senior_agent', username='laowang', display_name='老王')
    users('senior_agent', username='laoli', display_name='老李')
    case = b.dispute('KM20261124000088', first, amount_fen=10000)   # claimed: evidence period open
    ticket = case.ticket_no
    assert case.state == 'in_arbitration' and case.evidence_due_at is not None
    users('merchant_staff', username='xingyao', display_name='星耀客服', merchant_ref='m-1')

    # the merchant uploads its delivery log and declares its evidence complete
    login(page, live_server, f'/merchant/complaints/{ticket}', 'xingyao')
    _upload(page, 'delivery_log', '发货记录.txt', 'text/plain',
            '2026-11-24 09:31 卡密已发放 面值 50 元\n'.encode(), '卡密发放记录')
    expect(page.locator('#evidence-items [data-party="merchant"]')).to_have_count(1)
    page.click('#evidence-done')
    expect(page.locator('#evidence-declared')).to_be_visible()

    # the buyer, through a signed link, uploads a screenshot and declares too
    buyer_context = chinese_context(browser)
    portal = buyer_context.new_page()
    portal.goto(f'{live_server}/buyer/complain?token={make_token("b-1", "KM20261124000088")}')
    portal.goto(f'{live_server}/buyer/complaints/{ticket}')
    expect(portal.locator('#evidence-deadline')).to_be_visible()
    _upload(portal, 'error_screenshot', '充值失败截图.png', 'image/png', b.png_bytes((64, 48), (220, 40, 40)), '面值不符的截图')
    expect(portal.locator('#evidence-items [data-party="buyer"]')).to_have_count(1)
    portal.click('#evidence-done')
    expect(portal.locator('#evidence-declared')).to_be_visible()

    # the agent opens the workspace: both sides, side by side
    agent_context = chinese_context(browser)
    desk = agent_context.new_page()
    login(desk, live_server, f'/admin/arbitration/{ticket}', 'laowang')
    expect(desk.locator('#evidence-buyer [data-evidence]')).to_have_count(1)
    expect(desk.locator('#evidence-merchant [data-evidence]')).to_have_count(1)
    expect(desk.locator('#evidence-buyer img')).to_have_count(1)           # the image previews inline
    expect(desk.locator('#evidence-merchant')).to_contain_text('发货记录')
    desk.screenshot(path=f'{SHOTS}/arbiter-desk-e2e-arbitration-workspace.png', full_page=True)
    desk.click('#action-close-evidence')
    desk.select_option('#rule-outcome', 'buyer_partial')
    desk.select_option('#rule-responsibility', 'merchant')
    desk.select_option('#rule-remedy', 'refund')
    desk.fill('#rule-amount', '30.00')
    desk.select_option('#rule-clause', 'R-DESC-01')
    desk.fill('#rule-reasoning', REASONING)
    desk.click('#action-rule')
    expect(desk.locator('#case-state')).to_have_attribute('data-state', 'resolved')

    # the buyer reads the ruling and its reasoning, in Chinese
    portal.reload()
    expect(portal.locator('#ruling-outcome-1')).to_contain_text('支持买家部分诉求')
    expect(portal.locator('#ruling-reasoning-1')).to_have_text(REASONING)
    expect(portal.locator('#case-state')).to_have_text('已解决')
    portal.screenshot(path=f'{SHOTS}/arbiter-desk-e2e-buyer-ruling.png', full_page=True)

    # the merchant appeals with a new delivery log
    page.reload()
    _upload(page, 'delivery_log', '发货记录-补充.txt', 'text/plain',
            '2026-11-24 09:31 充值接口返回 面值 100 元\n'.encode(), '充值接口原始返回')
    page.fill('#appeal-reason', '补充的接口返回显示面值正确，请重新审查。')
    page.click('#appeal-submit')
    expect(page.locator('#appeal-status')).to_be_visible()
    assert Complaint.get_by_id(case.id).state == 'appealed'

    # another senior agent claims the appeal and upholds the ruling
    senior_context = chinese_context(browser)
    senior = senior_context.new_page()
    login(senior, live_server, f'/admin/case/{ticket}', 'laoli')
    senior.click('#action-claim')
    senior.click('#open-workspace')
    expect(senior.locator('#ws-appeal')).to_contain_text('补充的接口返回显示面值正确')
    expect(senior.locator('#evidence-merchant [data-evidence]')).to_have_count(2)      # the new delivery log
    expect(senior.locator('#evidence-merchant')).to_contain_text('充值接口原始返回')
    senior.select_option('#rule-outcome', 'buyer_partial')
    senior.select_option('#rule-responsibility', 'merchant')
    senior.select_option('#rule-remedy', 'refund')
    senior.fill('#rule-amount', '30.00')
    senior.select_option('#rule-clause', 'R-DESC-01')
    senior.fill('#rule-reasoning', '补充的接口返回不能证明买家收到的卡密面值正确，维持原裁决。')
    senior.click('#action-rule')
    expect(senior.locator('#case-state')).to_have_attribute('data-state', 'resolved')
    senior.screenshot(path=f'{SHOTS}/arbiter-desk-e2e-appeal-upheld.png', full_page=True)

    rulings = list(Ruling.select().where(Ruling.complaint == case.id).order_by(Ruling.round))
    assert [(r.round, r.active, r.overturned, r.outcome) for r in rulings] == [
        (1, False, False, 'buyer_partial'), (2, True, False, 'buyer_partial')]
    appeal = Appeal.get(Appeal.complaint == case.id)
    assert appeal.party == 'merchant' and appeal.changed is False
    refunds = [r.amount_fen for r in Remedy.select().where((Remedy.complaint == case.id) & (Remedy.kind == 'refund'))]
    assert refunds == [3000]  # upheld: nothing more to pay
    assert Evidence.select().where(Evidence.complaint == case.id).count() == 3
    for context in (buyer_context, agent_context, senior_context):
        context.close()
