"""Buyer credit at filing (SPEC §7, issue 8 item 7): below 60 a complaint needs evidence at
filing (API JSON and multipart, the portal form, the phone form), below 30 it waits for a
supervisor pre-screen (`screening`: no merchant timer, no SLA clock, no notice to the merchant,
who does not even see it; accept → the normal path with its timers, reject → closed with the
reason told to the buyer). The buyer never sees a score.
"""
import datetime as dt
import io
import json
import os
import re

import pytest

from desk.agent_desk.models import SlaClock
from desk.cases.models import Blob, Complaint, Event, Evidence, TicketCounter
from desk.core import clock
from desk.messaging.models import Outbox, WebhookSubscription
from desk.parties.models import Buyer
from tests import builders as b
from tests.support import act, csrf_token, isolated_client, logged_in, login

MESSAGE = 'Please upload at least one piece of evidence'
PROOF = [{'kind': 'chat_log', 'text': '商家:卡密已发。买家:提示已被使用。', 'description': '聊天记录'}]


@pytest.fixture
def desk(app, users, api_key, frozen):
    b.push_order('O-1')
    b.push_order('O-2')
    buyer, staff = b.buyer_login('b-1'), b.merchant_login('m-1')
    for user in (buyer, staff):
        user.locale = 'en'
        user.save()
    supervisor = users('supervisor', username='boss')
    agent = b.agent(users, 'agent_wang')
    integration = users('integration', username='market')
    people = {'buyer': buyer, 'merchant': staff, 'supervisor': supervisor, 'agent': agent,
              'integration': integration}
    keys = {name: api_key(u) for name, u in people.items()}
    keys['for_buyer'] = dict(keys['integration'], **{'X-On-Behalf-Of': 'b-1'})
    WebhookSubscription.create(user=integration.id, url='http://127.0.0.1:9/hook', secret='s' * 32,
                               events='["*"]')
    return dict(keys, users=people, client=isolated_client(app, language='en'))


def file_json(desk, who='buyer', order_no='O-1', **overrides):
    return desk['client'].post('/api/v1/complaints', json=b.body(order_no, **overrides), headers=desk[who])


def file_multipart(desk, files, who='buyer', order_no='O-1', **overrides):
    data = {'complaint': json.dumps(b.body(order_no, **overrides))}
    data['file'] = [(io.BytesIO(content), name) for content, name, _kind in files]
    data['kind'] = [kind for _c, _n, kind in files]
    return desk['client'].post('/api/v1/complaints', data=data, headers=desk[who],
                               content_type='multipart/form-data')


def no_trace():
    """Nothing of a refused filing is left: no complaint, event, item, blob, outbox row or
    ticket number."""
    assert not Complaint.select().exists()
    assert not Event.select().exists()
    assert not Evidence.select().exists()
    assert not Blob.select().exists()
    assert not Outbox.select().exists()
    assert not TicketCounter.select().exists()


def stored_files(app):
    """The content-addressed files in the evidence store (shared by the session's tests)."""
    found = set()
    base = app.config['DATA_DIR']
    for root, _dirs, names in os.walk(base):
        if os.path.relpath(root, base).split(os.sep)[0] == 'tmp':
            continue
        found |= {n for n in names if re.fullmatch(r'[0-9a-f]{64}', n)}
    return found


def webhook_events():
    return [json.loads(o.payload)['event'] for o in Outbox.select().where(Outbox.topic == 'webhook')]


# --- below 60: evidence at filing -----------------------------------------------------------

@pytest.mark.parametrize('who', ['buyer', 'for_buyer'])
def test_credit_59_without_evidence_is_422_with_the_message_and_files_nothing(desk, who):
    b.set_credit(59)
    refused = file_json(desk, who)
    assert refused.status_code == 422
    error = refused.get_json()['error']
    assert error['message'] == MESSAGE and error['fields'] == {'evidence': MESSAGE}
    assert '59' not in json.dumps(error) and 'credit' not in json.dumps(error).lower()
    no_trace()


def test_credit_59_with_pasted_evidence_is_filed_with_it(desk):
    b.set_credit(59)
    response = file_json(desk, evidence=PROOF)
    assert response.status_code == 201, response.get_json()
    complaint = Complaint.get()
    assert complaint.state == 'negotiating' and complaint.merchant_due_at is not None
    (item,) = Evidence.select()
    assert (item.complaint_id, item.party, item.kind, item.mime) == (complaint.id, 'buyer', 'chat_log', 'text/plain')
    assert item.text == PROOF[0]['text'] and item.description == '聊天记录'
    event = Event.get((Event.complaint == complaint.id) & (Event.kind == 'evidence_added'))
    assert json.loads(event.data)['at_filing'] is True and event.public is True
    listed = desk['client'].get(f'/api/v1/complaints/{complaint.ticket_no}/evidence', headers=desk['merchant'])
    assert [i['id'] for i in listed.get_json()['items']] == [item.id]


def test_credit_59_with_an_uploaded_file_is_filed_and_the_bytes_stored(desk, app):
    b.set_credit(59)
    picture = b.png_bytes()
    response = file_multipart(desk, [(picture, 'order.png', 'order_screenshot')])
    assert response.status_code == 201, response.get_json()
    (item,) = Evidence.select()
    assert (item.kind, item.mime, item.size, item.filename) == ('order_screenshot', 'image/png', len(picture), 'order.png')
    assert item.blob_id in stored_files(app)


def test_a_refused_file_at_filing_files_nothing_and_stores_nothing(desk, app):
    b.set_credit(59)
    before = stored_files(app)
    response = file_multipart(desk, [(b.HTML, 'shot.png', 'order_screenshot')])
    assert response.status_code == 415, response.get_json()
    assert response.get_json()['error']['detected_type'] == 'text/html'
    no_trace()
    assert stored_files(app) == before


def test_a_filing_refused_for_another_reason_stores_no_evidence(desk, app):
    b.set_credit(59)
    before = stored_files(app)
    response = file_multipart(desk, [(b.png_bytes(), 'a.png', 'order_screenshot')], category='nonsense')
    assert response.status_code == 422
    no_trace()
    assert stored_files(app) == before


@pytest.mark.parametrize('evidence, field', [
    ([{'kind': 'selfie', 'text': 'x'}], 'evidence.0.kind'),
    ([{'kind': 'chat_log', 'text': '  '}], 'evidence.0.text'),
    ('a chat log', 'evidence'),
    (PROOF * 11, 'evidence'),
])
def test_bad_evidence_at_filing_is_422_naming_it(desk, evidence, field):
    response = file_json(desk, evidence=evidence)
    assert response.status_code == 422
    assert field in response.get_json()['error']['fields']
    no_trace()


def test_a_multipart_filing_needs_the_complaint_as_json(desk):
    response = desk['client'].post('/api/v1/complaints', data={'complaint': 'not json'}, headers=desk['buyer'],
                                   content_type='multipart/form-data')
    assert response.status_code == 422 and 'complaint' in response.get_json()['error']['fields']
    no_trace()


def test_credit_60_needs_no_evidence(desk):
    b.set_credit(60)
    response = file_json(desk)
    assert response.status_code == 201, response.get_json()
    assert Complaint.get().state == 'negotiating'


def test_evidence_is_accepted_at_filing_whatever_the_credit(desk):
    response = file_json(desk, evidence=PROOF)
    assert response.status_code == 201
    assert Evidence.select().count() == 1


# --- below 30: the pre-screen ----------------------------------------------------------------

def screened(desk, category='not_as_described', order_no='O-1'):
    b.set_credit(29)
    response = file_json(desk, order_no=order_no, category=category, evidence=PROOF)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()['state'] == 'screening'
    return Complaint.get(Complaint.ticket_no == response.get_json()['ticket_no'])


def test_credit_29_waits_in_screening_with_no_timer_and_no_word_to_the_merchant(desk):
    complaint = screened(desk)
    assert complaint.screening == 'pending' and complaint.in_queue is False
    assert (complaint.merchant_due_at, complaint.merchant_remind_at, complaint.resolution_due_at) == (None, None, None)
    assert not SlaClock.select().where(SlaClock.complaint == complaint.id).exists()
    assert b.outbox_templates() == ['complaint_filed_buyer']
    assert webhook_events() == []
    # the merchant does not see it at all
    merchant = desk['client']
    assert merchant.get(f'/api/v1/complaints/{complaint.ticket_no}', headers=desk['merchant']).status_code == 404
    assert merchant.get('/api/v1/complaints', headers=desk['merchant']).get_json()['items'] == []
    # the buyer sees it, waiting, and may withdraw it
    view = desk['client'].get(f'/api/v1/complaints/{complaint.ticket_no}', headers=desk['buyer']).get_json()
    assert view['state'] == 'screening' and view['allowed_actions'] == ['withdraw']
    supervisor = desk['client'].get(f'/api/v1/complaints/{complaint.ticket_no}', headers=desk['supervisor']).get_json()
    assert {'screen_accept', 'screen_reject', 'flag_malicious'} <= set(supervisor['allowed_actions'])
    clock.advance(days=3)  # nothing times out meanwhile
    from desk.core import deadlines
    deadlines.advance_due()
    assert b.reload(complaint).state == 'screening'


def test_accepting_starts_the_merchant_negotiation_then(desk):
    complaint = screened(desk)
    clock.advance(hours=5)
    accepted = act(desk, 'supervisor', complaint, 'screen_accept')
    assert accepted.status_code == 200, accepted.get_json()
    row = b.reload(complaint)
    assert (row.state, row.screening) == ('negotiating', 'accepted')
    assert row.merchant_due_at == clock.now() + dt.timedelta(hours=24)
    assert 'complaint_filed_merchant' in b.outbox_templates()
    assert webhook_events() == ['complaint.filed']
    assert desk['client'].get(f'/api/v1/complaints/{complaint.ticket_no}', headers=desk['merchant']).status_code == 200


def test_accepting_a_platform_case_starts_its_sla_clocks_then(desk):
    complaint = screened(desk, category='service_attitude')
    assert complaint.state == 'screening'
    clock.advance(hours=2)
    assert act(desk, 'supervisor', complaint, 'screen_accept').status_code == 200
    row = b.reload(complaint)
    assert row.state == 'pending_agent' and row.in_queue is True
    clocks = list(SlaClock.select().where(SlaClock.complaint == complaint.id))
    assert clocks and all(c.started_at == clock.now() for c in clocks)


def test_rejecting_closes_it_and_tells_the_buyer_why(desk):
    complaint = screened(desk)
    reason = '订单页显示卡密已由本账号兑换。'
    done = act(desk, 'supervisor', complaint, 'screen_reject', {'reason': reason})
    assert done.status_code == 200, done.get_json()
    row = b.reload(complaint)
    assert (row.state, row.screening, row.closed_at) == ('closed', 'rejected', clock.now())
    (event,) = Event.select().where((Event.complaint == complaint.id) & (Event.kind == 'screen_rejected'))
    assert event.public is True and json.loads(event.data)['reason'] == reason
    assert b.notices(desk['users']['buyer'], complaint) == ['complaint_filed_buyer', 'complaint_screen_rejected']
    told = desk['client'].get(f'/api/v1/complaints/{complaint.ticket_no}/events', headers=desk['buyer']).get_json()
    assert [e['data']['reason'] for e in told['items'] if e['kind'] == 'screen_rejected'] == [reason]
    assert desk['client'].get(f'/api/v1/complaints/{complaint.ticket_no}', headers=desk['merchant']).status_code == 404
    assert 'complaint_filed_merchant' not in b.outbox_templates() and webhook_events() == []
    # the order is free for a new complaint
    assert file_json(desk, evidence=PROOF).status_code == 201


def test_only_a_supervisor_screens_and_a_rejection_needs_a_reason(desk):
    complaint = screened(desk)
    for who in ('buyer', 'agent'):
        assert act(desk, who, complaint, 'screen_accept').status_code == 403
        assert act(desk, who, complaint, 'screen_reject', {'reason': 'x'}).status_code == 403
    assert act(desk, 'supervisor', complaint, 'screen_reject', {}).status_code == 422
    assert act(desk, 'supervisor', complaint, 'screen_reject', {'reason': ' '}).status_code == 422
    assert b.reload(complaint).state == 'screening'
    assert act(desk, 'supervisor', complaint, 'screen_accept').status_code == 200
    assert act(desk, 'supervisor', complaint, 'screen_accept').status_code == 409  # not in screening any more


def test_withdrawing_during_the_screen_tells_the_merchant_nothing(desk):
    complaint = screened(desk)
    assert act(desk, 'buyer', complaint, 'withdraw').status_code == 200
    assert b.reload(complaint).state == 'withdrawn'
    assert not b.notices(desk['users']['merchant'])


def test_credit_30_takes_the_normal_path(desk):
    b.set_credit(30)
    response = file_json(desk, evidence=PROOF)
    assert response.status_code == 201 and response.get_json()['state'] == 'negotiating'
    assert webhook_events() == ['complaint.filed']


def test_credit_29_needs_evidence_too(desk):
    b.set_credit(29)
    assert file_json(desk).status_code == 422
    no_trace()


# --- the buyer never sees a score; staff do -----------------------------------------------------

def test_buyer_facing_answers_never_carry_the_score(desk):
    b.set_credit(47)
    filed = file_json(desk, evidence=PROOF).get_json()
    for url in (f'/api/v1/complaints/{filed["ticket_no"]}', '/api/v1/complaints',
                f'/api/v1/complaints/{filed["ticket_no"]}/events'):
        text = desk['client'].get(url, headers=desk['buyer']).get_data(as_text=True)
        assert 'credit' not in text.lower() and '47' not in text, url


def portal_file(client, order_no='O-1', **fields):
    data = {'csrf_token': csrf_token(client, f'/buyer/orders/{order_no}/complain'),
            'category': 'not_as_described', 'facts': '面值与描述不一致。', 'demand_type': 'full_refund',
            'evidence_kind': 'chat_log'}
    data.update(fields)
    return client.post(f'/buyer/orders/{order_no}/complain', data=data, content_type='multipart/form-data')


def test_the_portal_asks_for_evidence_below_60_and_never_shows_the_score(desk, app):
    client = logged_in(app, 'buyer-b-1')
    relaxed = client.get('/buyer/orders/O-1/complain').get_data(as_text=True)
    assert 'id="evidence-required"' not in relaxed and 'type="file"' in relaxed
    b.set_credit(59)
    page = client.get('/buyer/orders/O-1/complain').get_data(as_text=True)
    assert 'id="evidence-required"' in page and MESSAGE in page
    for text in (relaxed, page):
        assert 'credit' not in text.lower() and '59 / 100' not in text and 'buyer-credit' not in text
    refused = portal_file(client)
    assert refused.status_code == 422 and MESSAGE in refused.get_data(as_text=True)
    no_trace()
    filed = portal_file(client, evidence_text='商家:卡密已发。')
    assert filed.status_code == 302
    complaint = Complaint.get()
    assert Evidence.get().complaint_id == complaint.id
    case_page = client.get(f'/buyer/complaints/{complaint.ticket_no}').get_data(as_text=True)
    assert 'credit' not in case_page.lower() and '59 / 100' not in case_page and 'buyer-credit' not in case_page


def test_the_portal_accepts_a_file_and_refuses_a_bad_one(desk, app):
    b.set_credit(59)
    client = logged_in(app, 'buyer-b-1')
    bad = portal_file(client, evidence_file=(io.BytesIO(b.HTML), 'x.png'))
    assert bad.status_code == 415 and 'text/html' in bad.get_data(as_text=True)
    no_trace()
    good = portal_file(client, evidence_file=(io.BytesIO(b.png_bytes()), 'x.png'), evidence_kind='order_screenshot')
    assert good.status_code == 302
    assert Evidence.get().mime == 'image/png'


def test_the_portal_and_the_api_agree(desk, app):
    b.set_credit(59)
    client = logged_in(app, 'buyer-b-1')
    portal = portal_file(client)
    api = file_json(desk)
    assert (portal.status_code, api.status_code) == (422, 422)
    assert MESSAGE in portal.get_data(as_text=True) and api.get_json()['error']['message'] == MESSAGE
    b.set_credit(29)
    assert portal_file(client, evidence_text='聊天记录').status_code == 302
    assert file_json(desk, order_no='O-2', evidence=PROOF).get_json()['state'] == 'screening'
    assert [c.state for c in Complaint.select().order_by(Complaint.id)] == ['screening', 'screening']


def test_staff_see_the_credit_and_its_entries_on_the_workspace(desk, app):
    b.set_credit(59)
    filed = file_json(desk, evidence=PROOF).get_json()
    client = isolated_client(app, language='en')
    assert login(client, 'boss').status_code == 302
    page = client.get(f'/admin/case/{filed["ticket_no"]}').get_data(as_text=True)
    assert 'id="buyer-credit"' in page and '59 / 100' in page
    assert 'data-credit-reason="malicious"' in page
    assert 'id="flag-malicious-form"' in page
    flagged = client.post(f'/admin/case/{filed["ticket_no"]}/act/flag_malicious',
                          data={'csrf_token': csrf_token(client, f'/admin/case/{filed["ticket_no"]}'),
                                'reason': '恶意投诉'})
    assert flagged.status_code == 302
    assert Buyer.get(Buyer.ref == 'b-1').credit == 29


def test_the_pre_screen_queue_lists_and_decides(desk, app):
    complaint = screened(desk)
    client = isolated_client(app, language='en')
    assert login(client, 'boss').status_code == 302
    page = client.get('/admin/pre-screen/').get_data(as_text=True)
    assert f'data-ticket="{complaint.ticket_no}"' in page
    token = csrf_token(client, '/admin/pre-screen/')
    refused = client.post(f'/admin/pre-screen/{complaint.ticket_no}/reject', data={'csrf_token': token, 'reason': ''})
    assert refused.status_code == 302 and b.reload(complaint).state == 'screening'
    client.post(f'/admin/pre-screen/{complaint.ticket_no}/accept', data={'csrf_token': token})
    assert b.reload(complaint).state == 'negotiating'
    assert f'data-ticket="{complaint.ticket_no}"' not in client.get('/admin/pre-screen/').get_data(as_text=True)
    agent = isolated_client(app, language='en')
    assert login(agent, 'agent_wang').status_code == 302
    assert agent.get('/admin/pre-screen/').status_code == 403


def test_the_phone_filing_form_takes_evidence_for_a_low_credit_buyer(desk, app):
    b.set_credit(40)
    client = isolated_client(app, language='en')
    assert login(client, 'agent_wang').status_code == 302
    url = '/admin/file-for-buyer/'
    data = {'csrf_token': csrf_token(client, url), 'order_no': 'O-1', 'category': 'not_as_described',
            'facts': '买家来电:面值不符。', 'demand_type': 'full_refund', 'evidence_kind': 'chat_log'}
    refused = client.post(url, data=data, content_type='multipart/form-data')
    assert refused.status_code == 422 and MESSAGE in refused.get_data(as_text=True)
    no_trace()
    filed = client.post(url, data=dict(data, evidence_text='买家口述的聊天记录'), content_type='multipart/form-data')
    assert filed.status_code == 302
    assert Evidence.get().party == 'staff'


def test_a_failure_inside_the_filing_transaction_leaves_no_row_and_no_file(desk, app, monkeypatch):
    from arbitration import filing_evidence
    from desk.cases.complaints import file_complaint

    def broken(*args, **kwargs):
        raise RuntimeError('the timeline is down')
    b.set_credit(59)
    before = stored_files(app)
    monkeypatch.setattr(filing_evidence, 'record', broken)
    picture = b.png_bytes(color=(1, 2, 3))
    with app.test_request_context('/api/v1/complaints'):
        with pytest.raises(RuntimeError):
            file_complaint(desk['users']['buyer'], b.body('O-1'),
                           uploads=[('order_screenshot', '', 'a.png', io.BytesIO(picture))])
    no_trace()
    assert stored_files(app) == before


def test_a_screened_case_on_the_workspace_and_in_the_portal(desk, app):
    complaint = screened(desk)
    staff = isolated_client(app, language='en')
    assert login(staff, 'boss').status_code == 302
    page = staff.get(f'/admin/case/{complaint.ticket_no}').get_data(as_text=True)
    assert 'id="action-screen-accept"' in page and 'id="screen-reject-form"' in page
    assert 'Waiting for the pre-screen' in page and '29 / 100' in page
    rejected = staff.post(f'/admin/case/{complaint.ticket_no}/act/screen_reject',
                          data={'csrf_token': csrf_token(staff, f'/admin/case/{complaint.ticket_no}'),
                                'reason': '证据显示已兑换'})
    assert rejected.status_code == 302 and b.reload(complaint).state == 'closed'
    buyer = logged_in(app, 'buyer-b-1')
    mine = buyer.get(f'/buyer/complaints/{complaint.ticket_no}').get_data(as_text=True)
    assert 'The platform did not accept your complaint' in mine and '证据显示已兑换' in mine
    assert '29 / 100' not in mine and 'credit' not in mine.lower()


def test_the_buyer_sees_a_waiting_complaint_as_being_reviewed(desk, app):
    complaint = screened(desk)
    buyer = logged_in(app, 'buyer-b-1')
    page = buyer.get(f'/buyer/complaints/{complaint.ticket_no}').get_data(as_text=True)
    assert 'Being reviewed by the platform' in page and 'credit' not in page.lower()
    assert complaint.ticket_no in buyer.get('/buyer/complaints').get_data(as_text=True)


def test_an_open_complaint_on_the_order_answers_409_before_asking_for_evidence(desk):
    assert file_json(desk).status_code == 201
    b.set_credit(10)
    again = file_json(desk)
    assert again.status_code == 409 and again.get_json()['error']['ticket_no']


def test_the_message_is_chinese_for_a_chinese_buyer(desk):
    """What the buyer must do, in their language: the portal and the API default to Chinese."""
    b.set_credit(59)
    refused = desk['client'].post('/api/v1/complaints', json=b.body('O-1'),
                                  headers={**desk['buyer'], 'Accept-Language': 'zh-CN'})
    assert refused.status_code == 422
    assert refused.get_json()['error']['message'] == '请上传至少一项证据'
    no_trace()
