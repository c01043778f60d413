"""Evidence in the browser: the panel on the buyer's and the merchant's case pages (upload a
file or pasted text through the form), downloads and thumbnails per object, the headers, and
the thumbnail job."""
import io
import re

import pytest
from PIL import Image

from arbitration import evidence
from arbitration.jobs import make_thumbnail, render_thumbnail
from arbitration.storage import get_storage
from desk.cases.models import Blob, Evidence
from desk.core import clock
from tests import builders as b
from tests.support import isolated_client, logged_in


@pytest.fixture
def people(app, users, frozen):
    case = b.forced_dispute('O-1')
    return {'case': case, 'buyer': b.buyer_login('b-1'), 'merchant': b.staff_user(users, 'm-1', username='shop1'),
            'other_buyer': b.buyer_login('b-2'), 'merchant_b': b.staff_user(users, 'm-2', username='shop2'),
            'agent': users('agent', username='agent1', department='cs')}


def token_of(html):
    match = re.search(r'id="evidence-form".*?name="csrf_token" value="([^"]+)"', html, re.S)
    assert match, 'no evidence form on the page'
    return match.group(1)


def add(case, user, data=None, name='shot.png', kind='error_screenshot'):
    return evidence.submit_file(case, user, kind, '', name, io.BytesIO(data or b.png_bytes()))


# --- the panel ----------------------------------------------------------------------------

def test_the_buyer_uploads_through_the_portal_page(app, people):
    client = logged_in(app, people['buyer'])
    page = client.get(f'/buyer/complaints/{people["case"].ticket_no}')
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="evidence-panel"' in html
    response = client.post(f'/evidence/cases/{people["case"].ticket_no}', data={
        'csrf_token': token_of(html), 'kind': 'error_screenshot', 'description': '充值失败',
        'next': f'/buyer/complaints/{people["case"].ticket_no}',
        'file': (io.BytesIO(b.png_bytes()), '截图.png')}, content_type='multipart/form-data')
    assert response.status_code == 302
    assert response.headers['Location'].endswith(f'/buyer/complaints/{people["case"].ticket_no}')
    item = Evidence.get()
    assert (item.party, item.filename, item.description) == ('buyer', '截图.png', '充值失败')
    page = client.get(response.headers['Location']).get_data(as_text=True)
    assert 'Your evidence was added' in page
    assert f'data-evidence="{item.id}"' in page and '截图.png' in page


def test_the_merchant_pastes_a_chat_log_through_the_console(app, people):
    client = logged_in(app, people['merchant'])
    url = f'/merchant/complaints/{people["case"].ticket_no}'
    html = client.get(url).get_data(as_text=True)
    response = client.post(f'/evidence/cases/{people["case"].ticket_no}', data={
        'csrf_token': token_of(html), 'kind': 'chat_log', 'description': '',
        'text': b.CHAT.decode()}, content_type='multipart/form-data')
    assert response.status_code == 302 and response.headers['Location'].endswith(url)
    item = Evidence.get()
    assert item.party == 'merchant' and item.blob_id is None and item.text.startswith('买家')
    page = client.get(url).get_data(as_text=True)
    assert '138****5678' in page and '13812345678' not in page


def test_a_refused_upload_is_flashed_not_a_500(app, people):
    client = logged_in(app, people['buyer'])
    url = f'/buyer/complaints/{people["case"].ticket_no}'
    token = token_of(client.get(url).get_data(as_text=True))
    response = client.post(f'/evidence/cases/{people["case"].ticket_no}', data={
        'csrf_token': token, 'kind': 'other', 'file': (io.BytesIO(b.HTML), 'x.png')},
        content_type='multipart/form-data')
    assert response.status_code == 302
    page = client.get(url).get_data(as_text=True)
    assert 'text/html are not accepted' in page
    nothing = client.post(f'/evidence/cases/{people["case"].ticket_no}', data={'csrf_token': token, 'kind': 'other'})
    assert nothing.status_code == 302
    assert 'Choose a file or paste the text' in client.get(url).get_data(as_text=True)
    assert Evidence.select().count() == 0


def test_a_too_large_browser_upload_comes_back_with_a_message(app, people):
    client = logged_in(app, people['buyer'])
    url = f'/buyer/complaints/{people["case"].ticket_no}'
    token = token_of(client.get(url).get_data(as_text=True))
    big = b'\xff\xd8\xff\xe0' + b'\0' * (21 * 1024 * 1024)
    response = client.post(f'/evidence/cases/{people["case"].ticket_no}', data={
        'csrf_token': token, 'kind': 'other', 'file': (io.BytesIO(big), 'big.jpg')},
        content_type='multipart/form-data')
    assert response.status_code == 302 and response.headers['Location'].endswith(url)
    assert 'larger than the limit of 20 MB' in client.get(url).get_data(as_text=True)


def test_the_form_needs_its_csrf_token(app, people):
    client = logged_in(app, people['buyer'])
    response = client.post(f'/evidence/cases/{people["case"].ticket_no}', data={
        'kind': 'other', 'file': (io.BytesIO(b.png_bytes()), 'a.png')}, content_type='multipart/form-data')
    assert response.status_code == 400
    assert Evidence.select().count() == 0


def test_another_buyers_upload_is_404(app, people):
    client = logged_in(app, people['other_buyer'])
    token = token_of_any(client, '/buyer/')
    response = client.post(f'/evidence/cases/{people["case"].ticket_no}', data={
        'csrf_token': token, 'kind': 'other', 'file': (io.BytesIO(b.png_bytes()), 'a.png')},
        content_type='multipart/form-data')
    assert response.status_code == 404


def token_of_any(client, url):
    """The CSRF token of the page, or '' when it has no form (`support.csrf_token` fails then)."""
    html = client.get(url).get_data(as_text=True)
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    return match.group(1) if match else ''


def test_after_the_deadline_the_panel_says_why_instead_of_a_form(app, people):
    clock.advance(days=3)
    client = logged_in(app, people['buyer'])
    html = client.get(f'/buyer/complaints/{people["case"].ticket_no}').get_data(as_text=True)
    assert 'id="evidence-form"' not in html
    assert 'The evidence period ended at 2026-11-26 10:00' in html


def test_the_panel_marks_superseded_items_and_shows_thumbnails(app, people):
    old = add(people['case'], people['merchant'], name='v1.png', kind='delivery_log')
    new = evidence.submit_file(people['case'], people['merchant'], 'delivery_log', 'fixed', 'v2.png',
                               io.BytesIO(b.png_bytes((50, 50), (9, 9, 9))), supersedes=old.id)
    client = logged_in(app, people['buyer'])
    html = client.get(f'/buyer/complaints/{people["case"].ticket_no}').get_data(as_text=True)
    assert f'data-evidence="{old.id}" data-party="merchant" data-superseded-by="{new.id}"' in html
    assert f'Superseded by #{new.id}' in html
    assert f'/evidence/{new.id}/thumbnail' in html  # made inline (no Redis) after commit


# --- downloads ----------------------------------------------------------------------------

def test_download_headers(app, people):
    data = b.png_bytes()
    item = add(people['case'], people['buyer'], data, name='充值失败截图.png')
    client = logged_in(app, people['merchant'])
    response = client.get(f'/evidence/{item.id}')
    assert response.status_code == 200 and response.data == data
    assert response.headers['X-Content-Type-Options'] == 'nosniff'
    assert response.headers['Content-Security-Policy'] == 'sandbox'
    disposition = response.headers['Content-Disposition']
    assert disposition.startswith('attachment;')
    assert "filename*=UTF-8''%E5%85%85%E5%80%BC%E5%A4%B1%E8%B4%A5%E6%88%AA%E5%9B%BE.png" in disposition
    inline = client.get(f'/evidence/{item.id}?inline=1')
    assert inline.headers['Content-Disposition'].startswith('inline;')


def test_inline_is_only_for_images_video_pdf_and_plain_text(app, people):
    json_item = add(people['case'], people['merchant'], b'{"a": 1}', name='log.json', kind='delivery_log')
    csv_item = add(people['case'], people['merchant'], b'a,b\n1,2\n', name='log.csv', kind='delivery_log')
    pdf_item = add(people['case'], people['merchant'], b.PDF, name='r.pdf', kind='other')
    client = logged_in(app, people['agent'])
    assert client.get(f'/evidence/{json_item.id}?inline=1').headers['Content-Disposition'].startswith('attachment')
    assert client.get(f'/evidence/{csv_item.id}?inline=1').headers['Content-Disposition'].startswith('attachment')
    assert client.get(f'/evidence/{csv_item.id}').headers['Content-Type'] == 'text/csv; charset=utf-8'
    assert client.get(f'/evidence/{pdf_item.id}?inline=1').headers['Content-Disposition'].startswith('inline')


def test_pasted_text_is_served_as_utf8_text(app, people):
    item = evidence.submit_text(people['case'], people['buyer'], 'chat_log', '', '你好 13812345678')
    client = logged_in(app, people['merchant'])
    response = client.get(f'/evidence/{item.id}')
    assert response.headers['Content-Type'] == 'text/plain; charset=utf-8'
    assert response.get_data(as_text=True) == '你好 138****5678'
    assert response.headers['Content-Disposition'] == f'attachment; filename=evidence-{item.id}.txt'


@pytest.mark.parametrize('who', ['other_buyer', 'merchant_b'])
def test_download_permission_is_per_object(app, people, who):
    item = add(people['case'], people['buyer'])
    client = logged_in(app, people[who])
    assert client.get(f'/evidence/{item.id}').status_code == 404
    assert client.get(f'/evidence/{item.id}/thumbnail').status_code == 404
    assert client.get('/evidence/2147483647').status_code == 404
    assert client.get('/evidence/99999999999').status_code == 404


def test_every_side_of_the_case_may_download(app, people):
    item = add(people['case'], people['merchant'], kind='delivery_log')
    for who in ('buyer', 'merchant', 'agent'):
        assert logged_in(app, people[who]).get(f'/evidence/{item.id}').status_code == 200, who


def test_anonymous_visitors_are_sent_to_log_in(app, people):
    item = add(people['case'], people['buyer'])
    response = isolated_client(app).get(f'/evidence/{item.id}')
    assert response.status_code == 302 and '/login' in response.headers['Location']


def test_range_requests_work_for_video_seeking(app, people):
    data = b.PDF * 50
    item = add(people['case'], people['buyer'], data, name='r.pdf', kind='other')
    response = logged_in(app, people['buyer']).get(f'/evidence/{item.id}', headers={'Range': 'bytes=0-9'})
    assert response.status_code == 206 and response.data == data[:10]


# --- thumbnails ---------------------------------------------------------------------------

def test_the_thumbnail_job_strips_exif_and_fits_320(app, people):
    source = b.jpeg_with_exif((1200, 800))
    assert Image.open(io.BytesIO(source)).getexif()  # the upload carries EXIF
    item = add(people['case'], people['buyer'], source, name='photo.jpg')
    blob = Blob.get_by_id(item.blob_id)
    assert blob.thumbnail_sha256  # made after commit (inline without Redis)
    with get_storage().open(blob.thumbnail_sha256) as f:
        thumb = Image.open(io.BytesIO(f.read()))
        thumb.load()
    assert max(thumb.size) <= 320 and thumb.size == (320, 213)
    assert not thumb.getexif() and 'exif' not in thumb.info
    response = logged_in(app, people['merchant']).get(f'/evidence/{item.id}/thumbnail')
    assert response.status_code == 200 and response.mimetype == 'image/jpeg'
    assert response.headers['X-Content-Type-Options'] == 'nosniff'


def test_the_thumbnail_job_is_idempotent(app, people):
    item = add(people['case'], people['buyer'], b.png_bytes((640, 640)), name='a.png')
    first = Blob.get_by_id(item.blob_id).thumbnail_sha256
    assert make_thumbnail(item.blob_id) is False  # already made
    Blob.update(thumbnail_sha256=None).where(Blob.sha256 == item.blob_id).execute()
    assert make_thumbnail(item.blob_id) is True
    assert Blob.get_by_id(item.blob_id).thumbnail_sha256 == first  # same bytes, same blob
    assert Blob.select().count() == 2


def test_no_thumbnail_for_pdf_or_broken_images(app, people):
    pdf = add(people['case'], people['buyer'], b.PDF, name='a.pdf', kind='other')
    assert Blob.get_by_id(pdf.blob_id).thumbnail_sha256 is None
    broken = add(people['case'], people['buyer'], b'\x89PNG\r\n\x1a\n' + b'junk' * 20, name='b.png')
    assert Blob.get_by_id(broken.blob_id).thumbnail_sha256 is None
    assert logged_in(app, people['buyer']).get(f'/evidence/{broken.id}/thumbnail').status_code == 404
    assert logged_in(app, people['buyer']).get(f'/evidence/{broken.id}').status_code == 200


def test_transparent_images_keep_alpha_in_a_png_thumbnail():
    out = io.BytesIO()
    Image.new('RGBA', (800, 400), (0, 0, 0, 0)).save(out, format='PNG')
    data, mime = render_thumbnail(out.getvalue())
    assert mime == 'image/png'
    assert Image.open(io.BytesIO(data)).size == (320, 160)


def test_with_redis_the_thumbnail_is_made_by_a_worker(app, people, monkeypatch):
    import fakeredis
    from rq import Queue, SimpleWorker

    from desk.core import tasks
    connection = fakeredis.FakeStrictRedis()
    monkeypatch.setitem(app.extensions, 'desk_redis', connection)
    item = add(people['case'], people['buyer'], b.jpeg_with_exif((640, 480)), name='p.jpg')
    rq_queue = Queue(tasks.QUEUE, connection=connection)
    assert any(job.func_name == 'arbitration.jobs.make_thumbnail' for job in rq_queue.jobs)
    assert Blob.get_by_id(item.blob_id).thumbnail_sha256 is None  # the web process only enqueued
    SimpleWorker([rq_queue], connection=connection).work(burst=True)
    assert Blob.get_by_id(item.blob_id).thumbnail_sha256
