"""The buyer portal's side of the negotiation: the merchant's deadline counting down, the
current proposal with accept / reject (asking why), urging with its 4-hour cooldown, asking
the platform to step in, the proposals history — and another buyer's case staying 404."""
import re

import pytest

from desk.cases.complaints import file_complaint
from desk.cases.models import Complaint, Proposal, Remedy
from desk.cases.transitions import take_action
from desk.core import clock
from tests import builders as b
from tests.support import csrf_token, isolated_client, logged_in, login


@pytest.fixture
def case(app, users, frozen):
    """A negotiating complaint of buyer b-1 (login wang) against merchant m-1 (login shop1)."""
    buyer = b.buyer_user(users, 'b-1', username='wang')
    b.staff_user(users, 'm-1', username='shop1')
    b.order('O-1')
    return file_complaint(buyer, b.body('O-1'))


def _shop():
    from desk.parties.models import User
    return User.get(User.username == 'shop1')


def _page(client, case):
    return client.get(f'/buyer/complaints/{case.ticket_no}').get_data(as_text=True)


def _post(client, case, action, data=None):
    page = f'/buyer/complaints/{case.ticket_no}'
    return client.post(f'{page}/{action}', data=dict(data or {}, csrf_token=csrf_token(client, page)))


def _flash(client, case):
    return re.findall(r'role="alert">([^<]+)<', _page(client, case))


def _propose(case, kind='refund', amount='20.00', message='部分退款 20 元'):
    data = {'type': kind, 'message': message}
    if amount:
        data['amount'] = amount
    return take_action(_shop(), Complaint.get_by_id(case.id), 'propose', data)


def test_the_merchants_deadline_counts_down_while_they_owe_an_answer(app, case):
    clock.advance(hours=23)
    html = _page(logged_in(app, 'wang'), case)
    assert 'id="merchant-deadline"' in html
    assert 'The merchant must answer by 2026-11-25 10:00' in html
    # one hour left: the countdown carries the due time, the seconds left and is red
    assert re.search(r'class="countdown text-monospace text-danger font-weight-bold" '
                     r'data-due="2026-11-25T10:00:00\+08:00" data-left="3600"', html)
    assert 'id="current-proposal"' not in html
    assert 'id="escalate-form"' not in html  # not before the merchant answered


def test_buyer_accepts_the_current_proposal(app, case):
    _propose(case)
    client = logged_in(app, 'wang')
    html = _page(client, case)
    assert 'id="current-proposal"' in html and '¥20.00' in html and '部分退款 20 元' in html
    assert 'Answer by 2026-11-27 10:00' in html  # 72 hours
    assert 'data-due="2026-11-27T10:00:00+08:00"' in html
    assert 'id="merchant-deadline"' not in html
    response = _post(client, case, 'accept')
    assert response.status_code == 302
    case = Complaint.get_by_id(case.id)
    assert case.state == 'resolved'
    assert Proposal.get().state == 'accepted'
    remedy = Remedy.get()
    assert (remedy.kind, remedy.amount_fen, remedy.source) == ('refund', 2000, 'agreement')
    html = _page(client, case)
    assert 'You accepted the proposal; the complaint is resolved.' in html
    assert 'id="current-proposal"' not in html
    assert re.search(r'id="proposal-history".*data-proposal-state="accepted"', html, re.S)
    assert 'data-remedy-state="pending"' in html
    assert 'data-kind="accepted"' in html and 'data-kind="remedy_created"' in html


def test_rejecting_asks_why_and_gives_the_merchant_another_turn(app, case):
    _propose(case, kind='reject', amount=None, message='卡密已被使用,不予退款')
    client = logged_in(app, 'wang')
    response = _post(client, case, 'reject', {'reason': '  '})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert re.search(r'data-error="reject.reason">is required<', html)
    assert re.search(r'id="reject-box"\s+open', html)  # the form stays open with the message
    assert Complaint.get_by_id(case.id).state == 'awaiting_buyer'

    assert _post(client, case, 'reject', {'reason': '卡密是新的,截图为证'}).status_code == 302
    case = Complaint.get_by_id(case.id)
    assert case.state == 'negotiating' and case.merchant_due_at is not None
    html = _page(client, case)
    assert 'You rejected the proposal; the merchant has been told why.' in html
    assert 'data-proposal-state="rejected"' in html and '卡密是新的,截图为证' in html
    assert 'id="merchant-deadline"' in html  # the merchant's new 24 hours
    # after a rejection the buyer may ask the platform to step in
    assert 'id="escalate-form"' in html


def test_buyer_asks_the_platform_to_step_in(app, case):
    _propose(case)
    client = logged_in(app, 'wang')
    assert 'id="escalate-form"' in _page(client, case)  # the merchant has answered
    empty = _post(client, case, 'escalate', {'reason': ''})
    assert empty.status_code == 422
    assert re.search(r'data-error="escalate.reason">is required<', empty.get_data(as_text=True))
    assert _post(client, case, 'escalate', {'reason': '商家只肯退一小部分'}).status_code == 302
    case = Complaint.get_by_id(case.id)
    assert case.state == 'pending_agent'
    assert Proposal.get().state == 'superseded'
    html = _page(client, case)
    assert 'You asked the platform to step in' in html
    assert 'id="escalate-form"' not in html and 'id="current-proposal"' not in html
    assert 'data-kind="escalated"' in html and '商家只肯退一小部分' in html


def test_urging_shows_when_it_opens_again(app, case):
    client = logged_in(app, 'wang')
    assert re.search(r'<button type="submit" class="btn btn-sm btn-warning" id="urge">', _page(client, case))
    assert _post(client, case, 'urge').status_code == 302
    case = Complaint.get_by_id(case.id)
    assert case.urge_count == 1 and case.last_urged_at == clock.now()
    html = _page(client, case)
    assert 'We sent a reminder.' in html
    # inside the cooldown: a disabled button and when it opens (T0 + 4 h, Beijing time)
    assert re.search(r'<button type="button" class="btn btn-sm btn-warning" disabled id="urge"', html)
    assert 'You can urge again from 2026-11-24 14:00.' in html

    clock.advance(hours=1)
    response = _post(client, case, 'urge')  # the service's 409, shown as the flash
    assert response.status_code == 302
    assert _flash(client, case) == ['You can urge again from 2026-11-24 14:00.']
    assert Complaint.get_by_id(case.id).urge_count == 1

    clock.advance(hours=3)
    html = _page(client, case)
    assert 'You can urge again' not in html
    assert _post(client, case, 'urge').status_code == 302
    assert Complaint.get_by_id(case.id).urge_count == 2


def test_no_urge_while_the_buyer_is_the_one_to_answer(app, case):
    client = logged_in(app, 'wang')
    _post(client, case, 'urge')
    _propose(case)
    html = _page(client, case)
    assert 'id="urge"' not in html and 'You can urge again' not in html


def test_another_buyer_cannot_see_or_answer_the_case(app, case, users):
    _propose(case)
    b.buyer_user(users, 'b-2', username='li')
    other = logged_in(app, 'li')
    assert other.get(f'/buyer/complaints/{case.ticket_no}').status_code == 404
    token = csrf_token(other, '/buyer/complaints')
    for action, data in (('accept', {}), ('reject', {'reason': '不要'}), ('urge', {}),
                         ('escalate', {'reason': '介入'})):
        response = other.post(f'/buyer/complaints/{case.ticket_no}/{action}', data=dict(data, csrf_token=token))
        assert response.status_code == 404, action
    case = Complaint.get_by_id(case.id)
    assert case.state == 'awaiting_buyer' and case.urge_count == 0
    assert Proposal.get().state == 'pending'
    # the merchant is no buyer: the portal refuses them outright
    shop = isolated_client(app)
    login(shop, 'shop1')
    token = csrf_token(shop, '/merchant/complaints/')
    assert shop.post(f'/buyer/complaints/{case.ticket_no}/accept', data={'csrf_token': token}).status_code == 403
