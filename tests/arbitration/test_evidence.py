"""The evidence store through the API: bad input (each a test), who may add evidence where,
the windows, immutability, the timeline and the storage underneath."""
import datetime as dt
import hashlib
import io
import json
import os

import pytest

from arbitration import evidence
from arbitration.storage import get_storage
from desk.cases.models import Blob, Complaint, Event, Evidence, EvidenceRequest
from desk.core import clock
from desk.messaging.models import Outbox
from desk.parties.models import User
from tests import builders as b
from tests.support import isolated_client

MB = 1024 * 1024


@pytest.fixture
def parties(users, api_key, frozen):
    """A case in its evidence period and API headers of its buyer, its merchant, the staff,
    another buyer, another merchant and the integration acting for the buyer."""
    case = b.forced_dispute('O-1')
    buyer = b.buyer_login('b-1')
    integration = users('integration')
    other_buyer = b.buyer_login('b-2')
    agent = users('agent', department='cs')
    return {
        'case': case,
        'buyer': api_key(buyer),
        'merchant': api_key(b.staff_user(users, 'm-1')),
        'merchant_b': api_key(b.staff_user(users, 'm-2')),
        'other_buyer': api_key(other_buyer),
        'agent': api_key(agent),
        'on_behalf': dict(api_key(integration), **{'X-On-Behalf-Of': 'b-1'}),
        'integration': api_key(integration),
    }


def post(client, headers, case, data, **kwargs):
    return client.post(f'/api/v1/complaints/{case.ticket_no}/evidence', headers=headers, data=data,
                       content_type='multipart/form-data', **kwargs)


def post_ok(client, headers, case, data):
    response = post(client, headers, case, data)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def stored_files():
    root = get_storage().root
    return {name for _dir, _subdirs, names in os.walk(root) for name in names}


# --- bad input ----------------------------------------------------------------------------

def test_a_request_without_a_file_is_refused(client, parties):
    response = post(client, parties['buyer'], parties['case'], {'kind': 'other'})
    assert response.status_code == 422
    assert 'file' in response.get_json()['error']['fields']


def test_an_empty_file_field_is_refused(client, parties):
    data = {'kind': 'other', 'file': (io.BytesIO(b''), '')}
    response = post(client, parties['buyer'], parties['case'], data)
    assert response.status_code == 422
    assert Evidence.select().count() == 0


def test_a_zero_byte_file_is_refused(client, parties):
    before = stored_files()
    response = post(client, parties['buyer'], parties['case'], b.upload(b'', 'empty.png'))
    assert response.status_code == 422
    assert response.get_json()['error']['fields']['file'] == 'is empty (0 bytes)'
    assert Evidence.select().count() == 0 and Blob.select().count() == 0
    assert stored_files() == before


def test_21_mb_is_413_with_a_message(client, parties):
    big = b'\xff\xd8\xff\xe0' + b'\0' * (21 * MB)
    response = post(client, parties['buyer'], parties['case'], b.upload(big, 'big.jpg'))
    assert response.status_code == 413
    error = response.get_json()['error']
    assert error['code'] == 'too_large'
    assert '20 MB' in error['message']
    assert Evidence.select().count() == 0


def test_the_limit_is_enforced_while_reading_not_only_by_the_request_cap(client, parties, make_app):
    small = make_app(EVIDENCE_MAX_BYTES=4096)
    other = isolated_client(small)
    before = stored_files()
    response = post(other, parties['buyer'], parties['case'], b.upload(b'a' * 5000, 'log.txt'))
    assert response.status_code == 413
    assert response.get_json()['error']['message'] == 'The file is larger than the limit of 4 KB.'
    assert response.get_json()['error']['limit_bytes'] == 4096
    assert Evidence.select().count() == 0
    assert stored_files() == before  # the staged write was discarded


def test_an_html_file_named_png_is_415(client, parties):
    before = stored_files()
    response = post(client, parties['buyer'], parties['case'], b.upload(b.HTML, 'photo.png'))
    assert response.status_code == 415
    error = response.get_json()['error']
    assert error['code'] == 'unsupported_media_type'
    assert error['detected_type'] == 'text/html'
    assert 'text/html' in error['message']
    assert Evidence.select().count() == 0 and Blob.select().count() == 0
    assert stored_files() == before


def test_an_svg_with_script_is_415(client, parties):
    response = post(client, parties['buyer'], parties['case'], b.upload(b.SVG, 'icon.svg'))
    assert response.status_code == 415
    assert response.get_json()['error']['detected_type'] == 'image/svg+xml'


def test_an_svg_named_txt_is_415_too(client, parties):
    response = post(client, parties['buyer'], parties['case'], b.upload(b.SVG, 'notes.txt'))
    assert response.status_code == 415


def test_binary_junk_is_415(client, parties):
    response = post(client, parties['buyer'], parties['case'], b.upload(b'\x00\x01\x02\xfe' * 100, 'a.txt'))
    assert response.status_code == 415
    assert response.get_json()['error']['detected_type'] == 'application/octet-stream'


def test_an_executable_is_415_with_its_type(client, parties):
    response = post(client, parties['buyer'], parties['case'], b.upload(b'MZ\x90\x00' + b'\x00' * 200, 'x.png'))
    assert response.status_code == 415
    assert response.get_json()['error']['detected_type'] == 'application/x-msdownload'


@pytest.mark.parametrize('data,name,mime', [
    (b.png_bytes(), 'a.png', 'image/png'),
    (b.jpeg_with_exif((50, 40)), 'b.jpg', 'image/jpeg'),
    (b.PDF, 'c.pdf', 'application/pdf'),
    ('订单 49.90 元\n'.encode(), 'd.txt', 'text/plain'),
    (b'order,amount\nO-1,49.90\n', 'e.csv', 'text/csv'),
    (b'{"issued_at": "2026-11-24T09:31:00+08:00", "card": "****9012"}', 'f.log', 'application/json'),
])
def test_the_allowed_types_are_taken_from_the_content(client, parties, data, name, mime):
    item = post_ok(client, parties['merchant'], parties['case'], b.upload(data, name, kind='delivery_log'))
    assert item['mime'] == mime


def test_a_png_named_pdf_is_stored_as_png(client, parties):
    item = post_ok(client, parties['buyer'], parties['case'], b.upload(b.png_bytes(), 'receipt.pdf'))
    assert item['mime'] == 'image/png'


@pytest.mark.parametrize('raw,expected', [
    ('../../etc/passwd', 'passwd'),
    ('..\\..\\windows\\win.ini', 'win.ini'),
    ('..', 'evidence'),
    ('a\x00b\x01c.png', 'abc.png'),
    ('\u202egnp.exe', 'gnp.exe'),  # a right-to-left override would disguise the extension
])
def test_file_names_are_cleaned(raw, expected):
    assert evidence.clean_filename(raw) == expected


def test_a_file_name_with_dot_dot_is_cleaned_on_upload(client, parties):
    item = post_ok(client, parties['buyer'], parties['case'], b.upload(b.png_bytes(), '../../../etc/shot.png'))
    assert item['filename'] == 'shot.png'


def test_a_file_name_with_nul_bytes_is_cleaned_on_upload(client, parties):
    item = post_ok(client, parties['buyer'], parties['case'], b.upload(b.png_bytes(), 'shot\x00.php\x00.png'))
    assert item['filename'] == 'shot.php.png'
    assert '\x00' not in Evidence.get_by_id(item['id']).filename


def test_a_300_character_file_name_is_cut_to_255_keeping_the_extension(client, parties):
    item = post_ok(client, parties['buyer'], parties['case'], b.upload(b.png_bytes(), 'a' * 296 + '.png'))
    assert len(item['filename']) == 255
    assert item['filename'].endswith('.png')


def test_a_chinese_file_name_is_kept_for_display(client, parties):
    name = '充值失败截图_2026年11月24日.png'
    item = post_ok(client, parties['buyer'], parties['case'], b.upload(b.png_bytes(), name))
    assert item['filename'] == name
    response = client.get(f'/api/v1/evidence/{item["id"]}/content', headers=parties['merchant'])
    disposition = response.headers['Content-Disposition']
    assert disposition.startswith('attachment')
    assert "filename*=UTF-8''%E5%85%85%E5%80%BC" in disposition


def test_the_same_file_twice_is_stored_once_and_listed_twice(client, parties):
    data = b.png_bytes((64, 64), (1, 2, 3))
    first = post_ok(client, parties['buyer'], parties['case'], b.upload(data, 'one.png'))
    second = post_ok(client, parties['merchant'], parties['case'], b.upload(data, 'two.png', kind='other'))
    digest = hashlib.sha256(data).hexdigest()
    assert first['sha256'] == second['sha256'] == digest
    assert Blob.select().where(Blob.sha256 == digest).count() == 1
    assert sum(1 for name in stored_files() if name == digest) == 1
    listed = client.get(f'/api/v1/complaints/{parties["case"].ticket_no}/evidence', headers=parties['buyer'])
    assert [i['id'] for i in listed.get_json()['items']] == [first['id'], second['id']]


def test_bad_fields_are_422(client, parties):
    response = post(client, parties['buyer'], parties['case'],
                    b.upload(b.png_bytes(), kind='selfie', description='x' * 1001, supersedes='abc'))
    assert response.status_code == 422
    assert set(response.get_json()['error']['fields']) == {'kind', 'description', 'supersedes'}


# --- whose case ---------------------------------------------------------------------------

@pytest.mark.parametrize('who', ['other_buyer', 'merchant_b'])
def test_upload_to_someone_elses_case_is_404(client, parties, who):
    response = post(client, parties[who], parties['case'], b.upload(b.png_bytes()))
    assert response.status_code == 404
    assert Evidence.select().count() == 0


def test_an_api_key_of_another_merchant_gets_404_everywhere(client, parties):
    item = post_ok(client, parties['buyer'], parties['case'], b.upload(b.png_bytes()))
    key = parties['merchant_b']
    ticket = parties['case'].ticket_no
    assert post(client, key, parties['case'], b.upload(b.png_bytes())).status_code == 404
    assert client.get(f'/api/v1/complaints/{ticket}/evidence', headers=key).status_code == 404
    assert client.get(f'/api/v1/evidence/{item["id"]}/content', headers=key).status_code == 404
    assert client.get('/api/v1/evidence/999999/content', headers=key).status_code == 404


def test_the_integration_adds_evidence_for_the_buyer(client, parties):
    item = post_ok(client, parties['on_behalf'], parties['case'], b.upload(b.png_bytes()))
    assert item['party'] == 'buyer'
    refused = post(client, dict(parties['integration'], **{'X-On-Behalf-Of': 'b-2'}), parties['case'],
                   b.upload(b.png_bytes()))
    assert refused.status_code == 404


def test_the_integration_without_a_buyer_may_read_but_not_add(client, parties):
    response = post(client, parties['integration'], parties['case'], b.upload(b.png_bytes()))
    assert response.status_code == 403
    listed = client.get(f'/api/v1/complaints/{parties["case"].ticket_no}/evidence', headers=parties['integration'])
    assert listed.status_code == 200


def test_staff_add_evidence_as_the_platform(client, parties):
    item = post_ok(client, parties['agent'], parties['case'], b.upload(b.PDF, 'call-notes.pdf', kind='other'))
    assert item['party'] == 'staff'


# --- when ---------------------------------------------------------------------------------

def test_upload_after_the_deadline_is_409_naming_it(client, parties):
    clock.advance(hours=48, seconds=1)
    response = post(client, parties['buyer'], parties['case'], b.upload(b.png_bytes()))
    assert response.status_code == 409
    error = response.get_json()['error']
    assert '2026-11-26 10:00' in error['message']  # T0 + 48 h, Beijing time
    assert error['deadline'].startswith('2026-11-26T10:00:00')
    assert Evidence.select().count() == 0


def test_pasted_text_after_the_deadline_is_409_too(client, parties):
    clock.advance(days=3)
    response = client.post(f'/api/v1/complaints/{parties["case"].ticket_no}/evidence',
                           headers=parties['merchant'], json={'kind': 'chat_log', 'text': 'late'})
    assert response.status_code == 409


def test_an_open_request_admits_evidence_after_the_period(client, parties):
    case = parties['case']
    request = EvidenceRequest.create(complaint=case.id, party='merchant', note='The delivery log, please.',
                                     due_at=clock.now() + dt.timedelta(hours=72))
    clock.advance(hours=50)
    assert post(client, parties['buyer'], case, b.upload(b.png_bytes())).status_code == 409  # not the buyer's
    item = post_ok(client, parties['merchant'], case,
                   b.upload(b'2026-11-24 09:31 card issued\n', 'delivery.txt', kind='delivery_log',
                             request=request.id))
    assert item['request'] == request.id
    assert EvidenceRequest.get_by_id(request.id).answered_at == clock.now()
    # without naming it, the party's open request still carries the item
    again = post_ok(client, parties['merchant'], case, b.upload(b.png_bytes(), 'x.png', kind='delivery_log'))
    assert again['request'] == request.id
    clock.advance(hours=23)
    assert post(client, parties['merchant'], case, b.upload(b.PDF, 'late.pdf')).status_code == 409


def test_negotiating_cases_take_evidence_and_closed_ones_do_not(client, users, api_key, frozen):
    case = b.case('O-2', category='not_as_described')
    headers = api_key(b.buyer_login('b-1'))
    assert post(client, headers, case, b.upload(b.png_bytes())).status_code == 201
    for state in ('closed', 'withdrawn'):
        b.force_state(case, state)
        response = post(client, headers, case, b.upload(b.png_bytes()))
        assert response.status_code == 409, state


def test_a_resolved_case_takes_evidence_for_an_appeal_until_the_window_ends(client, users, api_key, frozen):
    case = b.force_state(b.case('O-3', category='not_as_described'), 'resolved',
                         appeal_due_at=clock.now() + dt.timedelta(days=7))
    headers = api_key(b.staff_user(users, 'm-1'))
    assert post(client, headers, case, b.upload(b.png_bytes(), kind='delivery_log')).status_code == 201
    clock.advance(days=7)
    response = post(client, headers, case, b.upload(b.png_bytes(), kind='delivery_log'))
    assert response.status_code == 409
    assert 'appeal' in response.get_json()['error']['message']


def test_can_submit_explains_itself(app, frozen):
    case = b.forced_dispute('O-4')
    assert evidence.can_submit(case, 'buyer', clock.now()) == (True, None)
    ok, reason = evidence.can_submit(case, 'buyer', clock.now() + dt.timedelta(days=3))
    assert not ok and ('evidence period' in reason or '举证期' in reason)  # in the UI language
    assert evidence.can_submit(case, 'staff', clock.now() + dt.timedelta(days=3)) == (True, None)


# --- immutability, timeline, notifications ------------------------------------------------

def test_supersede_keeps_the_old_item_listed_and_marked(client, parties):
    case = parties['case']
    old = post_ok(client, parties['merchant'], case, b.upload(b'v1 log\n', 'log.txt', kind='delivery_log'))
    new = post_ok(client, parties['merchant'], case,
                  b.upload(b'v2 log, complete\n', 'log.txt', kind='delivery_log', supersedes=old['id']))
    assert new['supersedes'] == old['id']
    items = client.get(f'/api/v1/complaints/{case.ticket_no}/evidence', headers=parties['buyer']).get_json()['items']
    by_id = {i['id']: i for i in items}
    assert by_id[old['id']]['superseded_by'] == new['id']
    assert by_id[new['id']]['superseded_by'] is None
    # superseding twice, or the other side's item, is refused
    assert post(client, parties['merchant'], case,
                b.upload(b'v3\n', 'log.txt', supersedes=old['id'])).status_code == 409
    assert post(client, parties['buyer'], case,
                b.upload(b'mine\n', 'b.txt', supersedes=new['id'])).status_code == 403


def test_there_is_no_way_to_edit_or_delete_an_item(client, parties):
    item = post_ok(client, parties['buyer'], parties['case'], b.upload(b.png_bytes()))
    for method in ('put', 'patch', 'delete'):
        response = getattr(client, method)(f'/api/v1/evidence/{item["id"]}/content', headers=parties['buyer'])
        assert response.status_code == 405


def test_each_item_writes_a_public_event_without_content(client, parties):
    case = parties['case']
    item = post_ok(client, parties['buyer'], case, b.upload(b.CHAT, 'chat.txt', kind='chat_log',
                                                             description='对话记录'))
    event = Event.select().where((Event.complaint == case.id) & (Event.kind == 'evidence_added')).get()
    data = json.loads(event.data)
    assert event.public is True
    assert data == {'evidence': item['id'], 'kind': 'chat_log', 'party': 'buyer', 'size': len(b.CHAT),
                    'sha256': hashlib.sha256(b.CHAT).hexdigest(), 'mime': 'text/plain',
                    'supersedes': None, 'request': None}
    assert 'ABCD' not in event.data and '13812345678' not in event.data and 'chat.txt' not in event.data
    assert Complaint.get_by_id(case.id).timeline_head == event.hash
    from desk.cases.timeline import verify_chain
    assert verify_chain(case.id) is None
    parties_view = client.get(f'/api/v1/complaints/{case.ticket_no}/events', headers=parties['merchant'])
    assert 'evidence_added' in [e['kind'] for e in parties_view.get_json()['items']]


def test_the_other_side_and_the_owner_are_notified(client, parties, users):
    case = parties['case']
    owner = users('agent', department='cs')
    b.force_state(case, None, owner=owner.id)
    merchant_staff = [u for u in User.select()
                      if u.role == 'merchant_staff' and u.merchant_id == case.merchant_id]
    post_ok(client, parties['buyer'], case, b.upload(b.png_bytes()))
    row = Outbox.select().where(Outbox.topic == 'notify').order_by(Outbox.id.desc()).first()
    payload = json.loads(row.payload)
    assert payload['template'] == 'evidence_added_buyer'
    assert set(payload['recipients']) == {owner.id} | {u.id for u in merchant_staff}
    assert b.notices(owner, case) == ['evidence_added_buyer']


def test_pasted_text_is_masked_for_the_parties_and_whole_for_staff(client, parties):
    case = parties['case']
    text = b.CHAT.decode()
    response = client.post(f'/api/v1/complaints/{case.ticket_no}/evidence', headers=parties['buyer'],
                           json={'kind': 'chat_log', 'description': '客服对话', 'text': text})
    assert response.status_code == 201, response.get_json()
    item = response.get_json()
    assert item['filename'] is None and item['mime'] == 'text/plain'
    assert item['size'] == len(text.strip('\n').encode())
    assert '138****5678' in item['text'] and '****9012' in item['text']
    assert '13812345678' not in item['text'] and 'ABCD-1234' not in item['text']
    staff = client.get(f'/api/v1/complaints/{case.ticket_no}/evidence', headers=parties['agent']).get_json()
    assert '13812345678' in staff['items'][0]['text']
    content = client.get(f'/api/v1/evidence/{item["id"]}/content', headers=parties['merchant'])
    assert content.headers['Content-Type'] == 'text/plain; charset=utf-8'
    assert '138****5678' in content.get_data(as_text=True)


def test_pasted_text_bad_input(client, parties):
    url = f'/api/v1/complaints/{parties["case"].ticket_no}/evidence'
    assert client.post(url, headers=parties['buyer'], json={'kind': 'chat_log', 'text': '  '}).status_code == 422
    assert client.post(url, headers=parties['buyer'], json={'kind': 'chat_log', 'text': 'a\x00b'}).status_code == 422
    assert client.post(url, headers=parties['buyer'], data='kind=x',
                       content_type='application/x-www-form-urlencoded').status_code == 422


# --- downloads over the API ---------------------------------------------------------------

def test_content_is_an_attachment_with_nosniff(client, parties):
    data = b.png_bytes()
    item = post_ok(client, parties['buyer'], parties['case'], b.upload(data, 'shot.png'))
    response = client.get(f'/api/v1/evidence/{item["id"]}/content', headers=parties['merchant'])
    assert response.status_code == 200
    assert response.data == data
    assert response.headers['Content-Type'] == 'image/png'
    assert response.headers['X-Content-Type-Options'] == 'nosniff'
    assert response.headers['Content-Security-Policy'] == 'sandbox'
    assert response.headers['Content-Disposition'] == 'attachment; filename=shot.png'
    assert response.headers['ETag'] == f'"{item["sha256"]}"'


def test_a_failed_database_write_leaves_no_row(app, frozen, monkeypatch):
    case = b.forced_dispute('O-9')
    buyer = b.buyer_login('b-1')

    def boom(*args, **kwargs):
        raise RuntimeError('database went away')
    monkeypatch.setattr(evidence, 'record', boom)
    with pytest.raises(RuntimeError):
        evidence.submit_file(case, buyer, 'other', '', 'a.png', io.BytesIO(b.png_bytes((9, 9))))
    assert Evidence.select().count() == 0 and Blob.select().count() == 0
    assert Event.select().where(Event.kind == 'evidence_added').count() == 0


def test_a_nul_in_the_description_or_text_is_422_from_the_service_itself(parties):
    """Requests with a NUL in a form value are refused before any view (`web.auth`); the
    service refuses it too, for every other caller."""
    from desk.core.errors import Invalid
    buyer = b.buyer_login('b-1')
    for description, text, field in (('截图\x00', '聊天记录', 'description'), ('截图', '聊天\x00记录', 'text')):
        with pytest.raises(Invalid) as err:
            evidence.submit_text(parties['case'], buyer, 'chat_log', description, text)
        assert err.value.status == 422 and set(err.value.fields) == {field}
    assert not Evidence.select().exists()
