"""The merchant console's complaint side: the four-tab inbox with deadlines and countdowns,
the home counts, the case page where the merchant proposes, writes and escalates, and the
merchant's own API keys — and that another merchant's case is a 404 for every page and form."""
import re

import pytest

from desk.cases.complaints import file_complaint
from desk.cases.models import Complaint, Proposal, Remedy
from desk.cases.transitions import take_action
from desk.core import clock
from desk.parties.models import ApiKey
from tests import builders as b
from tests.support import csrf_token, form_errors, isolated_client, logged_in, login, post_form
from web.consoles import merchant as merchant_console


@pytest.fixture
def shop(app, users, frozen):
    """Merchant m-1 with a staff login, buyer b-1 with a login, merchant m-2 with its staff."""
    people = {'buyer': b.buyer_user(users, 'b-1', username='wang'),
              'shop1': b.staff_user(users, 'm-1', username='shop1'),
              'shop2': b.staff_user(users, 'm-2', username='shop2')}
    return people


def _file(buyer, order_no, merchant_ref='m-1', category='not_as_described', amount_fen=4990, **kw):
    b.order(order_no, merchant_ref=merchant_ref, amount_fen=amount_fen)
    return file_complaint(buyer, b.body(order_no, category=category, **kw))


def _rows(html):
    return re.findall(r'<tr data-ticket="([^"]+)"', html)


# --- inbox and home -------------------------------------------------------------------------

def test_inbox_tabs_counts_and_countdowns(app, shop):
    buyer, shop1 = shop['buyer'], shop['shop1']
    early = _file(buyer, 'O-1')                      # due T0 + 24 h
    clock.advance(hours=3)
    late = _file(buyer, 'O-2')                       # due T0 + 27 h
    answered = _file(buyer, 'O-3')
    take_action(shop1, answered, 'propose', {'type': 'refund', 'amount': '10.00', 'message': '退 10 元'})
    platform = _file(buyer, 'O-4', category='system_fault')
    done = _file(buyer, 'O-5')
    take_action(shop1, done, 'propose', {'type': 'reissue', 'message': '补发'})
    take_action(buyer, Complaint.get_by_id(done.id), 'accept', {})
    foreign = _file(buyer, 'O-9', merchant_ref='m-2')
    clock.advance(hours=20)                           # O-1 has 1 h left, O-2 4 h

    client = logged_in(app, 'shop1')
    home = client.get('/merchant/').get_data(as_text=True)
    counts = dict(re.findall(r'data-complaint-count="(\w+)">(\d+)<', home))
    assert counts == {'needs_answer': '2', 'urgent': '1', 'waiting_buyer': '1', 'platform': '1'}

    page = client.get('/merchant/complaints/')
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert _rows(html) == [early.ticket_no, late.ticket_no]  # soonest deadline first
    first = re.search(rf'<tr data-ticket="{early.ticket_no}" data-seconds-left="(\d+)"\s+class="([^"]*)"', html)
    assert int(first.group(1)) == 3600 and 'table-danger' in first.group(2)
    second = re.search(rf'<tr data-ticket="{late.ticket_no}" data-seconds-left="(\d+)"\s+class="([^"]*)"', html)
    assert int(second.group(1)) == 4 * 3600 and 'table-danger' not in second.group(2)
    # the live countdown: its due time with offset, the seconds left, red under 2 hours
    assert 'data-due="2026-11-25T10:00:00+08:00" data-left="3600"' in html
    assert re.search(r'class="countdown text-monospace text-danger font-weight-bold" data-due="2026-11-25T10:00:00', html)
    assert re.search(r'class="countdown text-monospace" data-due="2026-11-25T13:00:00', html)
    assert foreign.ticket_no not in html

    tabs = {tab: _rows(client.get(f'/merchant/complaints/?tab={tab}').get_data(as_text=True))
            for tab in ('waiting_buyer', 'platform', 'closed')}
    assert tabs == {'waiting_buyer': [answered.ticket_no], 'platform': [platform.ticket_no],
                    'closed': [done.ticket_no]}
    assert client.get('/merchant/complaints/?tab=bogus').status_code == 200  # falls back to the first tab


def test_inbox_pages_by_keyset(app, shop, monkeypatch):
    monkeypatch.setattr(merchant_console, 'PAGE_SIZE', 2)
    tickets = []
    for n in range(5):
        tickets.append(_file(shop['buyer'], f'O-{n}').ticket_no)
        clock.advance(minutes=10)
    client = logged_in(app, 'shop1')
    seen, url = [], '/merchant/complaints/?tab=needs_answer'
    while url:
        html = client.get(url).get_data(as_text=True)
        seen += _rows(html)
        found = re.search(r'id="next-page" href="([^"]+)"', html)
        url = found.group(1).replace('&amp;', '&') if found else None
    assert seen == tickets
    closed_url = '/merchant/complaints/?tab=closed&cursor=junk'
    assert client.get(closed_url).status_code == 422
    assert client.get('/merchant/complaints/?tab=needs_answer&cursor=2026-1').status_code == 422


def test_other_roles_cannot_open_the_merchant_inbox(app, shop, users):
    users('agent', username='ag')
    for username, expected in (('wang', 403), ('ag', 403)):
        assert logged_in(app, username).get('/merchant/complaints/').status_code == expected
    anonymous = isolated_client(app)
    assert anonymous.get('/merchant/complaints/').status_code == 302


# --- the case page --------------------------------------------------------------------------

def test_case_page_shows_order_complaint_and_deadline(app, shop):
    b.order('O-1', amount_fen=9950)
    scenario = {'receiving_account': '13900005678', 'minutes_late': 90}
    case = file_complaint(shop['buyer'], b.body('O-1', category='recharge_not_arrived', scenario=scenario))
    client = logged_in(app, 'shop1')
    html = client.get(f'/merchant/complaints/{case.ticket_no}').get_data(as_text=True)
    assert case.ticket_no in html and 'O-1' in html
    assert '138****1234' in html and '13800001234' not in html  # the buyer's phone, masked
    assert '面值与商品页描述不一致' in html                        # facts
    assert 'Account that should have received the recharge' in html and '13900005678' in html
    assert re.search(r'Minutes late</dt><dd class="col-sm-7">90<', html)  # scenario, labelled
    assert 'Full refund' in html and '¥99.50' in html              # demand
    assert 'data-deadline="merchant_due"' in html
    assert 'data-due="2026-11-25T10:00:00+08:00" data-left="86400"' in html
    assert 'id="propose-form"' in html
    assert 'At most' not in html  # the cap is phrased as a sentence, with the amount:
    assert 'A refund can be at most ¥99.50' in html
    assert 'id="escalate-form"' not in html  # not before the merchant answered


def test_merchant_proposes_a_partial_refund(app, shop):
    case = _file(shop['buyer'], 'O-1')
    client = logged_in(app, 'shop1')
    page = f'/merchant/complaints/{case.ticket_no}'
    response = post_form(client, f'{page}/propose', {'type': 'refund', 'amount': '20.00',
                                                 'message': '部分退款 20 元'}, page)
    assert response.status_code == 302 and response.headers['Location'].endswith(page)
    case = Complaint.get_by_id(case.id)
    assert case.state == 'awaiting_buyer'
    proposal = Proposal.get()
    assert (proposal.kind, proposal.amount_fen, proposal.state) == ('refund', 2000, 'pending')
    html = client.get(page).get_data(as_text=True)
    assert 'Your proposal was sent to the buyer.' in html
    assert 'data-proposal-state="pending"' in html and '¥20.00' in html
    assert 'id="propose-form"' not in html
    assert 'data-deadline="buyer_due"' in html  # the buyer's 72 hours, counting down
    assert 'data-kind="proposed"' in html


def test_a_proposal_above_what_is_left_is_refused_next_to_the_amount(app, shop):
    case = _file(shop['buyer'], 'O-1')
    order = case.order
    # an earlier refund on the same order leaves 29.90 of 49.90
    Remedy.create(complaint=case.id, order=order.id, kind='refund', amount_fen=2000, source='agreement',
                  idempotency_key='earlier-refund')
    client = logged_in(app, 'shop1')
    page = f'/merchant/complaints/{case.ticket_no}'
    html = client.get(page).get_data(as_text=True)
    assert 'A refund can be at most ¥29.90' in html and 'data-max="29.90"' in html
    response = post_form(client, f'{page}/propose', {'type': 'refund', 'amount': '30.00', 'message': '退 30'}, page)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert form_errors(html) == {'propose.amount': 'at most 29.90'}
    assert 'what is left to refund on this order' in html   # the flashed message
    assert 'value="30.00"' in html and '退 30' in html       # the input comes back
    assert Proposal.select().count() == 0
    # malformed amounts and a missing message are shown the same way
    response = post_form(client, f'{page}/propose', {'type': 'compensation', 'amount': 'abc', 'message': ''}, page)
    assert response.status_code == 422
    assert form_errors(response.get_data(as_text=True)) == {'propose.message': 'is required'}
    response = post_form(client, f'{page}/propose', {'type': 'compensation', 'amount': '1.234', 'message': 'x'}, page)
    assert form_errors(response.get_data(as_text=True)) == {'propose.amount': 'must have at most two decimals'}
    response = post_form(client, f'{page}/propose', {'type': 'compensation', 'amount': '60.00', 'message': 'x'}, page)
    assert form_errors(response.get_data(as_text=True)) == {'propose.amount': 'at most 49.90'}


def test_the_amount_error_is_chinese_in_the_chinese_console(app, shop):
    case = _file(shop['buyer'], 'O-1')
    client = isolated_client(app, language='zh-CN')
    login(client, 'shop1')
    page = f'/merchant/complaints/{case.ticket_no}'
    response = post_form(client, f'{page}/propose', {'type': 'refund', 'amount': '1.234', 'message': 'x'}, page)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'must have at most two decimals' not in html
    assert form_errors(html) == {'propose.amount': '最多两位小数'}
    assert '请检查金额。' in html
    inbox = client.get('/merchant/complaints/').get_data(as_text=True)
    assert '待回复' in inbox and '剩余答复时间' in inbox


def test_a_message_does_not_answer_and_escalation_waits_for_an_answer(app, shop):
    case = _file(shop['buyer'], 'O-1')
    client = logged_in(app, 'shop1')
    page = f'/merchant/complaints/{case.ticket_no}'
    assert post_form(client, f'{page}/message', {'body': '已记录,会尽快处理'}, page).status_code == 302
    case = Complaint.get_by_id(case.id)
    assert case.state == 'negotiating' and case.merchant_answered_at is None
    html = client.get(page).get_data(as_text=True)
    assert '已记录,会尽快处理' in html and 'data-kind="message"' in html
    empty = post_form(client, f'{page}/message', {'body': ' '}, page)
    assert empty.status_code == 422 and form_errors(empty.get_data(as_text=True)) == {'message.body': 'is required'}
    # escalating before answering is refused by the service (409), flashed
    refused = post_form(client, f'{page}/escalate', {'reason': '买家无理取闹'}, page)
    assert refused.status_code == 302
    assert 'once the merchant has answered' in client.get(page).get_data(as_text=True)

    take_action(shop['shop1'], Complaint.get_by_id(case.id), 'propose', {'type': 'reject', 'message': '卡密已使用'})
    take_action(shop['buyer'], Complaint.get_by_id(case.id), 'reject', {'reason': '卡密是新的'})
    html = client.get(page).get_data(as_text=True)
    assert 'id="escalate-form"' in html and 'id="propose-form"' in html
    assert '卡密是新的' in html  # the buyer's reason, on the rejected proposal
    no_reason = post_form(client, f'{page}/escalate', {'reason': ''}, page)
    assert no_reason.status_code == 422
    assert form_errors(no_reason.get_data(as_text=True)) == {'escalate.reason': 'is required'}
    assert post_form(client, f'{page}/escalate', {'reason': '双方无法达成一致'}, page).status_code == 302
    assert Complaint.get_by_id(case.id).state == 'pending_agent'
    html = client.get(page).get_data(as_text=True)
    assert 'id="escalate-form"' not in html and 'data-kind="escalated"' in html


def test_another_merchants_case_is_not_found_for_every_page_and_form(app, shop):
    case = _file(shop['buyer'], 'O-1')
    other = logged_in(app, 'shop2')
    page = f'/merchant/complaints/{case.ticket_no}'
    assert other.get(page).status_code == 404
    assert other.get('/merchant/complaints/TS20991231-999999').status_code == 404
    token = csrf_token(other, '/merchant/complaints/')
    for action, data in (('propose', {'type': 'refund', 'amount': '1.00', 'message': '退款'}),
                         ('message', {'body': '你好'}), ('escalate', {'reason': '介入'})):
        response = other.post(f'{page}/{action}', data=dict(data, csrf_token=token))
        assert response.status_code == 404, action
        assert '面值与商品页描述不一致' not in response.get_data(as_text=True)
    case = Complaint.get_by_id(case.id)
    assert case.state == 'negotiating' and case.timeline_length == 1
    assert Proposal.select().count() == 0
    assert case.ticket_no not in other.get('/merchant/complaints/').get_data(as_text=True)


# --- API keys ---------------------------------------------------------------------------------

def test_merchant_staff_manage_their_own_api_keys(app, shop):
    client = logged_in(app, 'shop1')
    html = client.get('/merchant/api-keys/').get_data(as_text=True)
    assert 'You have no API keys yet.' in html
    nameless = post_form(client, '/merchant/api-keys/create', {'name': ''}, '/merchant/api-keys/')
    assert nameless.status_code == 422 and 'data-error="name"' in nameless.get_data(as_text=True)
    created = post_form(client, '/merchant/api-keys/create', {'name': '订单系统'}, '/merchant/api-keys/')
    html = created.get_data(as_text=True)
    secret = re.search(r'id="new-key"[^>]*>(dk_[^<]+)<', html).group(1)
    key = ApiKey.get()
    assert key.user_id == shop['shop1'].id and key.name == '订单系统'
    again = client.get('/merchant/api-keys/').get_data(as_text=True)
    assert secret not in again and f'dk_{key.prefix}_' in again   # shown once, listed by prefix
    # the key works for the merchant's own systems
    api = isolated_client(app)
    assert api.get('/api/v1/complaints', headers={'Authorization': f'Bearer {secret}'}).status_code == 200

    # another merchant neither sees nor revokes it
    other = logged_in(app, 'shop2')
    assert '订单系统' not in other.get('/merchant/api-keys/').get_data(as_text=True)
    response = post_form(other, f'/merchant/api-keys/{key.id}/revoke', {}, '/merchant/api-keys/')
    assert response.status_code == 404 and ApiKey.get_by_id(key.id).revoked_at is None

    assert post_form(client, f'/merchant/api-keys/{key.id}/revoke', {}, '/merchant/api-keys/').status_code == 302
    assert ApiKey.get_by_id(key.id).revoked_at is not None
    assert api.get('/api/v1/complaints', headers={'Authorization': f'Bearer {secret}'}).status_code == 401
    assert 'data-revoke' not in client.get('/merchant/api-keys/').get_data(as_text=True)
