"""The buyer portal: signed marketplace links, the adaptive complaint form, my complaints,
edit/withdraw/message, and that a buyer never reaches another buyer's orders or cases."""
import re

from desk.cases.models import Complaint, Event
from desk.messaging.models import InboxMessage
from tests import builders as b
from tests.conftest import PASSWORD
from tests.support import csrf_token, isolated_client, login
from web.buyer.links import make_token


def _file(client, order_no='O-1', **fields):
    data = {'csrf_token': csrf_token(client, f'/buyer/orders/{order_no}/complain'),
            'category': 'recharge_not_arrived', 'facts': '充值两小时还没到账',
            'receiving_account': '13812341234', 'minutes_late': '120', 'demand_type': 'full_refund'}
    data.update(fields)
    return client.post(f'/buyer/orders/{order_no}/complain', data=data)


def _errors(response):
    return re.findall(r'invalid-feedback d-block">([^<]+)', response.get_data(as_text=True))


def test_signed_link_logs_the_buyer_in_and_opens_the_form(app, frozen):
    b.push_order('O-1', receiving_account='13812341234')
    client = isolated_client(app, language='zh-CN')
    response = client.get('/buyer/complain?token=' + make_token('b-1', 'O-1'))
    assert response.status_code == 302
    assert response.headers['Location'].endswith('/buyer/orders/O-1/complain')
    page = client.get('/buyer/orders/O-1/complain').get_data(as_text=True)
    assert '13812341234' in page  # prefilled from the order
    for name in ('receiving_account', 'minutes_late', 'error_message', 'occurred_at'):
        assert f'data-scenario="{name}"' in page  # the form adapts by category on the client


def test_forged_expired_and_mismatched_links_get_a_clear_page(app, frozen):
    b.push_order('O-1')
    b.push_order('O-2', buyer='b-2')
    client = isolated_client(app)
    forged = client.get('/buyer/complain?token=' + make_token('b-1', 'O-1') + 'x')
    assert forged.status_code == 400 and 'not valid' in forged.get_data(as_text=True)
    assert client.get('/buyer/complain').status_code == 400
    mismatched = client.get('/buyer/complain?token=' + make_token('b-1', 'O-2'))
    assert mismatched.status_code == 400
    token = make_token('b-1', 'O-1')
    frozen.advance(seconds=3601)
    expired = client.get('/buyer/complain?token=' + token)
    assert expired.status_code == 400 and 'expired' in expired.get_data(as_text=True)
    # nobody got logged in by any of these
    assert client.get('/buyer/').status_code == 302


def test_filing_shows_ticket_and_promised_time_then_my_complaints(app, frozen):
    b.push_order('O-1')
    client = isolated_client(app)
    client.get('/buyer/complain?token=' + make_token('b-1', 'O-1'))
    response = _file(client)
    assert response.status_code == 302
    complaint = Complaint.get()
    assert complaint.channel == 'web' and complaint.state == 'negotiating'
    page = client.get(response.headers['Location']).get_data(as_text=True)
    assert complaint.ticket_no in page
    assert 'Expected to be handled by 2026-11-25 10:00' in page  # T0 + 24 h, Beijing time
    listing = client.get('/buyer/complaints').get_data(as_text=True)
    assert complaint.ticket_no in listing and 'data-stage="2"' in listing
    assert complaint.ticket_no in client.get('/buyer/').get_data(as_text=True)


def test_bad_form_input_is_shown_next_to_the_field_and_files_nothing(app, frozen):
    b.push_order('O-1')
    client = isolated_client(app)
    client.get('/buyer/complain?token=' + make_token('b-1', 'O-1'))
    response = _file(client, minutes_late='soon', facts='')
    assert response.status_code == 422
    assert 'must be a whole number of minutes' in _errors(response)
    assert 'describe what happened' in _errors(response)
    response = _file(client, demand_type='partial_refund', demand_amount='99999.00')
    assert 'must not exceed the order amount' in _errors(response)
    assert Complaint.select().count() == 0


def test_filing_twice_sends_the_buyer_to_the_open_complaint(app, frozen):
    b.push_order('O-1')
    client = isolated_client(app)
    client.get('/buyer/complain?token=' + make_token('b-1', 'O-1'))
    _file(client)
    again = _file(client)
    ticket = Complaint.get().ticket_no
    assert again.status_code == 302 and again.headers['Location'].endswith(f'/buyer/complaints/{ticket}')
    assert Complaint.select().count() == 1


def test_a_buyer_never_reaches_another_buyers_order_or_complaint(app, frozen):
    b.push_order('O-1')
    b.push_order('O-2', buyer='b-2')
    alice, bob = isolated_client(app), isolated_client(app)
    alice.get('/buyer/complain?token=' + make_token('b-1', 'O-1'))
    bob.get('/buyer/complain?token=' + make_token('b-2', 'O-2'))
    _file(bob, 'O-2')
    ticket = Complaint.get().ticket_no
    assert alice.get('/buyer/orders/O-2/complain').status_code == 404
    assert alice.get(f'/buyer/complaints/{ticket}').status_code == 404
    assert ticket not in alice.get('/buyer/complaints').get_data(as_text=True)
    token = csrf_token(alice, '/buyer/orders/O-1/complain')
    for path in ('withdraw', 'message', 'answer'):
        response = alice.post(f'/buyer/complaints/{ticket}/{path}',
                              data={'csrf_token': token, 'confirm': 'y', 'body': 'hi'})
        assert response.status_code == 404
    assert alice.get(f'/buyer/complaints/{ticket}/edit').status_code == 404
    assert Complaint.get().state == 'negotiating'
    assert Event.select().count() == 1


def test_edit_within_24_hours_then_refused(app, frozen):
    b.push_order('O-1')
    client = isolated_client(app)
    client.get('/buyer/complain?token=' + make_token('b-1', 'O-1'))
    _file(client)
    ticket = Complaint.get().ticket_no
    token = csrf_token(client, f'/buyer/complaints/{ticket}/edit')
    ok = client.post(f'/buyer/complaints/{ticket}/edit',
                     data={'csrf_token': token, 'facts': '补充:已联系商家无果', 'demand_type': 'full_refund'})
    assert ok.status_code == 302 and Complaint.get().facts == '补充:已联系商家无果'
    frozen.advance(hours=25)
    late = client.post(f'/buyer/complaints/{ticket}/edit', follow_redirects=True,
                       data={'csrf_token': token, 'facts': '再改一次', 'demand_type': 'full_refund'})
    assert 'could be edited until 2026-11-25 10:00' in late.get_data(as_text=True)
    assert Complaint.get().facts == '补充:已联系商家无果'


def test_withdraw_needs_confirmation(app, frozen):
    b.push_order('O-1')
    client = isolated_client(app)
    client.get('/buyer/complain?token=' + make_token('b-1', 'O-1'))
    _file(client)
    ticket = Complaint.get().ticket_no
    token = csrf_token(client, f'/buyer/complaints/{ticket}')
    client.post(f'/buyer/complaints/{ticket}/withdraw', data={'csrf_token': token})
    assert Complaint.get().state == 'negotiating'
    client.post(f'/buyer/complaints/{ticket}/withdraw', data={'csrf_token': token, 'confirm': 'y', 'reason': '已解决'})
    assert Complaint.get().state == 'withdrawn'
    page = client.get(f'/buyer/complaints/{ticket}').get_data(as_text=True)
    assert 'withdraw-submit' not in page and 'data-stage="3"' in page


def test_messages_reach_the_merchant_inbox_and_the_public_timeline(app, users, frozen):
    b.push_order('O-1')
    staff = users('merchant_staff', merchant_ref='m-1')
    buyer_client = isolated_client(app)
    buyer_client.get('/buyer/complain?token=' + make_token('b-1', 'O-1'))
    _file(buyer_client)
    ticket = Complaint.get().ticket_no
    token = csrf_token(buyer_client, f'/buyer/complaints/{ticket}')
    buyer_client.post(f'/buyer/complaints/{ticket}/message', data={'csrf_token': token, 'body': '请尽快处理'})
    assert '请尽快处理' in buyer_client.get(f'/buyer/complaints/{ticket}').get_data(as_text=True)
    titles = [m.title for m in InboxMessage.select().where(InboxMessage.user == staff.id)]
    assert any(ticket in t for t in titles) and len(titles) == 2  # filed + message

    merchant_client = isolated_client(app)
    login(merchant_client, staff.username, PASSWORD)
    inbox = merchant_client.get('/inbox/').get_data(as_text=True)
    assert 'id="unread-count">2<' in inbox
    first = InboxMessage.select().where(InboxMessage.user == staff.id).first()
    token = csrf_token(merchant_client, '/inbox/')
    merchant_client.post(f'/inbox/{first.id}/read', data={'csrf_token': token})
    assert 'id="unread-count">1<' in merchant_client.get('/inbox/').get_data(as_text=True)
    # someone else's message is not found
    assert buyer_client.post(f'/inbox/{first.id}/read',
                             data={'csrf_token': csrf_token(buyer_client, '/inbox/')}).status_code == 404


def test_self_service_inquiry_helped_or_handed_to_an_agent(app, frozen):
    b.push_order('O-1')
    b.push_order('O-2')
    client = isolated_client(app)
    client.get('/buyer/complain?token=' + make_token('b-1', 'O-1'))
    _file(client, category='inquiry', facts='如何查看卡密?')
    _file(client, 'O-2', category='inquiry', facts='怎么退款?')
    first, second = Complaint.select().order_by(Complaint.id)
    token = csrf_token(client, f'/buyer/complaints/{first.ticket_no}')
    client.post(f'/buyer/complaints/{first.ticket_no}/answer', data={'csrf_token': token, 'helped': 'yes'})
    client.post(f'/buyer/complaints/{second.ticket_no}/answer', data={'csrf_token': token, 'helped': 'no'})
    first, second = Complaint.select().order_by(Complaint.id)
    assert first.state == 'closed'
    assert (second.state, second.tier, second.path) == ('pending_agent', 'L2', 'platform')
    assert second.resolution_due_at is not None


def test_buyer_link_command_prints_a_working_link(app, frozen):
    b.push_order('O-1')
    result = app.test_cli_runner().invoke(args=['desk', 'buyer-link', '--buyer', 'b-1', '--order', 'O-1'])
    assert result.exit_code == 0
    url = result.output.strip()
    client = isolated_client(app)
    assert client.get(url.replace('http://127.0.0.1:5000', '')).status_code == 302
