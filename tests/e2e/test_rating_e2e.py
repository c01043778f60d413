"""Satisfaction rating and supervisor review end to end in real browsers (Chinese): the buyer
rates a resolved case 1 star with the tag `unfair`; a supervisor finds it in the review
queue, records `agent_fault` and reopens it to a senior agent; the senior agent sees the case
in their own queue; the first agent's score drops on the leaderboard."""
import os

import pytest

from arbitration import rulings
from desk.agent_desk import assignment
from desk.cases.models import Complaint
from desk.satisfaction.models import Rating, Review
from tests import builders as b
from tests.e2e.conftest import chinese_context, login
from web.buyer.links import make_token

pytestmark = pytest.mark.e2e

SHOTS = os.environ.get('DESK_E2E_SCREENSHOT_DIR', '/tmp')
RESOLVE = {'remedy': {'type': 'none'}, 'note': '已为您核实，充值已到账。'}


def _score(page, username):
    text = page.locator(f'#leaderboard tr[data-agent="{username}"] .score').inner_text()
    return float(text)


def test_one_star_unfair_review_reopen_to_senior_score_drops(live_server, page, browser, users):
    from playwright.sync_api import expect

    first = users('agent', username='xiaozhang', display_name='小张', department='cs', capacity=10)
    other = users('agent', username='xiaoli', display_name='小李', department='cs', capacity=10)
    users('senior_agent', username='laozhao', display_name='老赵', department='cs', capacity=10)
    users('supervisor', username='zhuguan', display_name='主管')
    # a platform case each, resolved by its agent
    case = b.case('KM20261124000099')
    assignment.claim(first, case)
    rulings.resolve(first, b.reload(case), RESOLVE)
    done = b.case('KM20261124000100', buyer_ref='b-2')
    assignment.claim(other, done)
    rulings.resolve(other, b.reload(done), RESOLVE)
    ticket = case.ticket_no

    # the supervisor's leaderboard before the rating
    login(page, live_server, '/admin/leaderboard/', 'zhuguan')
    expect(page.locator('#leaderboard tr[data-agent="xiaozhang"]')).to_have_count(1)
    before = _score(page, 'xiaozhang')

    # the buyer rates 1 star, tag unfair (a signed link logs them in)
    buyer_context = chinese_context(browser)
    portal = buyer_context.new_page()
    portal.goto(f'{live_server}/buyer/complain?token={make_token("b-1", "KM20261124000099")}')
    portal.goto(f'{live_server}/buyer/complaints/{ticket}')
    expect(portal.locator('#rate-form')).to_be_visible()
    portal.check('#stars-1')
    portal.check('#tag-unfair')
    portal.fill('#rate-form textarea[name="comment"]', '客服没有看我的截图就结案了。')
    portal.screenshot(path=f'{SHOTS}/arbiter-desk-e2e-rating-form.png', full_page=True)
    portal.click('#rate-submit')
    expect(portal.locator('.rating-given')).to_have_attribute('data-stars', '1')
    expect(portal.locator('#rate-form')).to_have_count(0)
    rating = Rating.get(Rating.complaint == case.id)
    assert rating.stars == 1 and '"unfair"' in rating.tags and rating.agent_id == first.id

    # the supervisor finds it in the review queue and reopens it to a senior agent
    page.goto(f'{live_server}/admin/reviews/')
    card = page.locator(f'.review[data-ticket="{ticket}"]')
    expect(card).to_contain_text('unfair')
    card.locator('select[name="finding"]').select_option('agent_fault')
    card.locator('input[name="actions"][value="reopen"]').check()
    card.locator('textarea[name="note"]').fill('未核对买家提交的截图，重新处理。')
    page.screenshot(path=f'{SHOTS}/arbiter-desk-e2e-review-queue.png', full_page=True)
    card.locator('button[type="submit"]').click()
    expect(page.locator(f'.review[data-ticket="{ticket}"]')).to_have_count(0)
    reopened = Complaint.get_by_id(case.id)
    assert reopened.state == 'in_progress' and reopened.owner.username == 'laozhao'
    review = Review.get(Review.complaint == case.id)
    assert review.state == 'done' and review.finding == 'agent_fault'

    # the senior agent sees it in their queue
    senior_context = chinese_context(browser)
    senior = senior_context.new_page()
    login(senior, live_server, '/admin/my-cases/', 'laozhao')
    expect(senior.locator('body')).to_contain_text(ticket)

    # the first agent's score drops on the leaderboard
    page.goto(f'{live_server}/admin/leaderboard/')
    after = _score(page, 'xiaozhang')
    assert after < before, (before, after)
    page.screenshot(path=f'{SHOTS}/arbiter-desk-e2e-leaderboard.png', full_page=True)
    for context in (buyer_context, senior_context):
        context.close()
