"""CSV import of orders: the service and job (good rows in, bad rows reported by line),
encodings, refusals, idempotence, and the backoffice upload page end to end."""
import csv
import io
import re

import pytest

from desk import jobs
from desk.core.errors import Forbidden, Invalid, TooLarge
from desk.orders import imports
from desk.orders.models import ImportRun, Order
from desk.parties.models import Buyer, Merchant
from tests.support import csrf_token, isolated_client, login

MB = 1024 * 1024
HEADER = imports.COLUMNS


def row(order_no, **fields):
    values = {
        'order_no': order_no, 'buyer_ref': 'b-1', 'buyer_name': '王伟', 'buyer_phone': '13812341234',
        'merchant_ref': 'm-1', 'merchant_name': '星耀游戏点卡专营店', 'product': '王者荣耀 点券 600',
        'sku': 'WZ-600', 'goods_type': 'game_card', 'amount': '49.90',
        'paid_at': '2026-11-24 09:30:00', 'delivered_at': '2026-11-24 09:31:00', 'confirmed_at': '',
        'payment_method': 'alipay', 'receiving_account': '', 'region': '广东',
    }
    values.update(fields)
    return values


def csv_text(rows, header=HEADER):
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(header), extrasaction='ignore', lineterminator='\r\n')
    writer.writeheader()
    for item in rows:
        if isinstance(item, str):
            out.write(item)  # a raw line, written as is
        else:
            writer.writerow(item)
    return out.getvalue()


def data_line(values):
    """One row as the CSV line it becomes (with its line break)."""
    return csv_text([values]).split('\r\n', 1)[1]


def start(actor, text_or_bytes, max_bytes=20 * MB, filename='orders.csv'):
    raw = text_or_bytes.encode('utf-8') if isinstance(text_or_bytes, str) else text_or_bytes
    run = imports.start_import(actor, filename, raw, max_bytes)
    return ImportRun.get_by_id(run.id)


@pytest.fixture
def admin(users):
    return users('admin', username='root')


MIXED = [
    row('KM-1'),                                                # line 2: good
    row('KM-2', amount='12.345'),                               # line 3: amount
    row('KM-3', buyer_ref='b-2', buyer_name='李娜', amount='1234.5'),  # line 4: good
    row('KM-4', goods_type='weapon'),                           # line 5: goods_type
    row('KM-5', buyer_name=''),                                 # line 6: buyer.name
    row('KM 6'),                                                # line 7: order_no
    row('KM-7', paid_at='tomorrow', payment_method='cash'),     # line 8: two fields
    row('KM-8', merchant_ref='m-2', merchant_name='速通话费充值'),  # line 9: good
]


def test_good_rows_are_imported_and_bad_rows_reported_by_line(admin):
    run = start(admin, csv_text(MIXED))
    assert run.state == 'done'
    assert (run.total_rows, run.processed_rows, run.ok_rows, run.error_rows) == (8, 8, 3, 5)
    assert run.finished_at is not None
    assert sorted(o.order_no for o in Order.select()) == ['KM-1', 'KM-3', 'KM-8']
    assert Order.get(Order.order_no == 'KM-3').amount_fen == 123450
    errors = {e['line']: e for e in imports.import_errors(run)}
    assert sorted(errors) == [3, 5, 6, 7, 8]
    assert errors[3]['order_no'] == 'KM-2' and 'amount' in errors[3]['error']
    assert 'two decimals' in errors[3]['error']
    assert 'goods_type' in errors[5]['error']
    assert 'buyer.name' in errors[6]['error']
    assert 'order_no' in errors[7]['error']
    assert 'paid_at' in errors[8]['error'] and 'payment_method' in errors[8]['error']


def test_the_same_rules_as_the_api(admin):
    """Times without an offset are Beijing time; buyers and merchants are created once."""
    start(admin, csv_text([row('KM-1'), row('KM-2')]))
    order = Order.get(Order.order_no == 'KM-1')
    assert order.paid_at.isoformat() == '2026-11-24T01:30:00'  # stored as UTC
    assert Buyer.select().count() == 1 and Merchant.select().count() == 1
    assert order.buyer.phone == '13812341234'


def test_line_numbers_count_blank_lines_and_multi_line_records(admin):
    text = csv_text([
        row('KM-1'),                       # line 2
        '\r\n',                            # line 3: blank
        row('KM-2', amount='-1'),          # line 4
        row('KM-3', product='第一行\n第二行'),  # lines 5-6: a quoted line break
        row('KM-4', amount='x'),           # line 7
    ])
    run = start(admin, text)
    errors = {e['order_no']: e['line'] for e in imports.import_errors(run)}
    assert errors == {'KM-2': 4, 'KM-3': 5, 'KM-4': 7}
    assert (run.total_rows, run.ok_rows, run.error_rows) == (4, 1, 3)


def test_short_and_long_rows(admin):
    text = (csv_text([row('KM-1')])
            + 'KM-2,b-1,王伟\r\n'                                   # line 3: too few cells
            + data_line(row('KM-3')).rstrip('\r\n') + ',extra,cells\r\n')  # line 4: extra ignored
    run = start(admin, text)
    errors = imports.import_errors(run)
    assert [e['line'] for e in errors] == [3]
    assert 'merchant' in errors[0]['error']
    assert (run.ok_rows, run.error_rows) == (2, 1)


def test_gb18030_file(admin):
    text = csv_text([row('KM-1', product='原神 创世结晶 6480', region='四川', buyer_name='张秀英')])
    raw = text.encode('gb18030')
    with pytest.raises(UnicodeDecodeError):
        raw.decode('utf-8')  # really not UTF-8
    run = start(admin, raw)
    assert (run.ok_rows, run.error_rows) == (1, 0)
    order = Order.get()
    assert order.product == '原神 创世结晶 6480'
    assert order.region == '四川'
    assert order.buyer.display_name == '张秀英'


def test_utf8_with_bom(admin):
    raw = '\ufeff'.encode('utf-8') + csv_text([row('KM-1')]).encode('utf-8')
    assert raw.startswith(b'\xef\xbb\xbf')
    run = start(admin, raw)
    assert (run.ok_rows, run.error_rows) == (1, 0)
    assert Order.get().order_no == 'KM-1'


def test_header_cells_may_have_spaces_and_extra_columns(admin):
    header = [f' {c} ' for c in HEADER] + ['remark']
    text = ','.join(header) + '\r\n' + data_line(row('KM-1')).rstrip('\r\n') + ',备注\r\n'
    run = start(admin, text)
    assert (run.ok_rows, run.error_rows) == (1, 0)


@pytest.mark.parametrize('missing', [('amount',), ('order_no', 'paid_at')])
def test_missing_required_column_is_named(admin, missing):
    header = [c for c in HEADER if c not in missing]
    with pytest.raises(Invalid) as err:
        start(admin, csv_text([row('KM-1')], header=header))
    for column in missing:
        assert column in err.value.message
        assert column in err.value.fields['file']
    assert ImportRun.select().count() == 0


def test_optional_columns_may_be_left_out(admin):
    header = imports.REQUIRED
    run = start(admin, csv_text([row('KM-1')], header=header))
    assert (run.ok_rows, run.error_rows) == (1, 0)


def test_empty_file_is_invalid(admin):
    with pytest.raises(Invalid) as err:
        start(admin, b'')
    assert 'file' in err.value.fields


@pytest.mark.parametrize('raw', [b'\r\n', b'   \n\n'])
def test_file_without_a_header_is_invalid(admin, raw):
    with pytest.raises(Invalid) as err:
        start(admin, raw)
    assert 'order_no' in err.value.message


def test_unreadable_header_is_invalid(admin):
    with pytest.raises(Invalid) as err:
        start(admin, '"' + 'x' * (csv.field_size_limit() + 10) + '"\r\n')
    assert 'order_no' in err.value.message


def test_header_only_file_imports_nothing(admin):
    run = start(admin, csv_text([]))
    assert (run.state, run.total_rows, run.ok_rows, run.error_rows) == ('done', 0, 0, 0)


@pytest.mark.parametrize('raw', [b'\xff\xfe\x00o\x00r', b'\x81\x30\xff\xff\xff', b'order_no\x00,amount\n'])
def test_unreadable_bytes_are_invalid(admin, raw):
    with pytest.raises(Invalid) as err:
        start(admin, raw)
    assert 'file' in err.value.fields
    assert ImportRun.select().count() == 0


def test_nul_byte_in_a_row_is_refused_before_storing(admin):
    raw = csv_text([row('KM-1', product='bad\x00name')]).encode('utf-8')
    with pytest.raises(Invalid) as err:
        start(admin, raw)
    assert 'GB18030' in err.value.message
    assert ImportRun.select().count() == 0


def test_oversize_file_is_too_large(admin):
    text = csv_text([row('KM-1')])
    raw = text.encode('utf-8') + b'\n' * (MB - len(text.encode('utf-8')) + 1)  # blank lines
    with pytest.raises(TooLarge) as err:
        start(admin, raw, max_bytes=MB)
    assert re.search(r'1\s*MB', err.value.message)
    assert ImportRun.select().count() == 0
    assert start(admin, raw[:MB], max_bytes=MB).ok_rows == 1  # exactly the limit is fine


@pytest.mark.parametrize('role', ['agent', 'senior_agent', 'supervisor', 'integration'])
def test_only_admins_may_import(users, role):
    with pytest.raises(Forbidden):
        start(users(role), csv_text([row('KM-1')]))
    assert ImportRun.select().count() == 0 and Order.select().count() == 0


def test_only_admins_may_read_a_run(admin, users):
    run = start(admin, csv_text([row('KM-1')]))
    assert imports.get_import(admin, run.id).id == run.id
    from desk.core.errors import NotFound
    with pytest.raises(NotFound):
        imports.get_import(users('supervisor'), run.id)
    with pytest.raises(NotFound):
        imports.get_import(admin, run.id + 1000)


def test_rerunning_the_job_is_idempotent(admin, frozen):
    run = start(admin, csv_text(MIXED))
    before = {o.order_no: (o.amount_fen, o.updated_at) for o in Order.select()}
    finished = run.finished_at
    frozen.advance(60)
    jobs.import_orders(run.id)  # a finished run is left alone
    again = ImportRun.get_by_id(run.id)
    assert (again.ok_rows, again.error_rows, again.finished_at) == (3, 5, finished)

    # a run interrupted half-way (worker died) is simply run again: upserts change nothing
    ImportRun.update(state='running', processed_rows=2).where(ImportRun.id == run.id).execute()
    jobs.import_orders(run.id)
    again = ImportRun.get_by_id(run.id)
    assert (again.state, again.processed_rows, again.ok_rows, again.error_rows) == ('done', 8, 3, 5)
    assert len(imports.import_errors(again)) == 5
    assert {o.order_no: (o.amount_fen, o.updated_at) for o in Order.select()} == before


def test_importing_the_same_file_twice_changes_nothing(admin):
    start(admin, csv_text(MIXED))
    second = start(admin, csv_text(MIXED))
    assert (second.ok_rows, second.error_rows) == (3, 5)
    assert Order.select().count() == 3
    assert Buyer.select().count() == 2


def test_a_later_file_updates_orders(admin):
    start(admin, csv_text([row('KM-1')]))
    start(admin, csv_text([row('KM-1', amount='59.90', region='浙江')]))
    order = Order.get()
    assert (order.amount_fen, order.region) == (5990, '浙江')


def test_a_row_moving_an_order_to_another_buyer_is_reported(admin):
    start(admin, csv_text([row('KM-1')]))
    run = start(admin, csv_text([row('KM-1', buyer_ref='b-9')]))
    (error,) = imports.import_errors(run)
    assert error['line'] == 2 and 'KM-1' in error['error']


def test_a_record_the_csv_module_cannot_read_is_reported_not_stuck(admin):
    huge = 'x' * (csv.field_size_limit() + 10)
    text = csv_text([row('KM-1')]) + f'KM-2,"{huge}"\r\n' + data_line(row('KM-3'))
    run = start(admin, text)
    assert run.state == 'done', 'the progress page must not poll forever'
    (error,) = imports.import_errors(run)
    assert error['line'] == 3 and 'field' in error['error']
    assert (run.ok_rows, run.error_rows) == (0, 1)
    assert Order.select().count() == 0, 'a file that cannot be read to the end imports nothing'


# -- the backoffice page ----------------------------------------------------------------

def upload(client, raw, filename='orders.csv', token=None):
    token = token if token is not None else csrf_token(client, '/admin/order_import/')
    return client.post('/admin/order_import/', content_type='multipart/form-data',
                       data={'csrf_token': token, 'file': (io.BytesIO(raw), filename)})


@pytest.fixture
def admin_client(app, admin):
    client = isolated_client(app)
    login(client, 'root')
    return client


def test_upload_page_end_to_end(admin_client):
    page = admin_client.get('/admin/order_import/')
    assert page.status_code == 200
    assert 'enctype="multipart/form-data"' in page.get_data(as_text=True)

    response = upload(admin_client, csv_text(MIXED).encode('gb18030'), filename='十一月订单.csv')
    assert response.status_code == 302
    run = ImportRun.get()
    assert response.headers['Location'] == f'/admin/order_import/{run.id}'
    assert run.filename == '十一月订单.csv'

    html = admin_client.get(response.headers['Location']).get_data(as_text=True)
    assert re.search(r'id="import-state">done<', html)
    assert re.search(r'id="import-total">8<', html)
    assert re.search(r'id="import-ok">3<', html)
    assert re.search(r'id="import-errors">5<', html)
    assert 'id="import-error-table"' in html
    assert '<td>3</td><td>KM-2</td>' in html
    assert 'setTimeout' not in html  # a finished run does not poll

    progress = admin_client.get(f'/admin/order_import/{run.id}/progress')
    assert progress.status_code == 200
    assert progress.get_json() == {'state': 'done', 'total': 8, 'processed': 8, 'ok': 3, 'errors': 5}

    listing = admin_client.get('/admin/order_import/').get_data(as_text=True)
    assert '十一月订单.csv' in listing and '3/8' in listing


def test_an_unfinished_run_page_polls_its_progress(admin_client, admin):
    run = ImportRun.create(created_by=admin, filename='x.csv', content='', state='queued')
    html = admin_client.get(f'/admin/order_import/{run.id}').get_data(as_text=True)
    assert f'/admin/order_import/{run.id}/progress' in html
    assert admin_client.get(f'/admin/order_import/{run.id}/progress').get_json()['state'] == 'queued'


def test_upload_problems_are_shown_on_the_page(admin_client):
    header = [c for c in HEADER if c != 'amount']
    response = upload(admin_client, csv_text([row('KM-1')], header=header).encode())
    assert response.status_code == 200
    assert 'amount' in response.get_data(as_text=True)
    response = upload(admin_client, b'')
    assert response.status_code == 200
    assert ImportRun.select().count() == 0


def test_upload_without_a_file_or_token(admin_client):
    token = csrf_token(admin_client, '/admin/order_import/')
    no_file = admin_client.post('/admin/order_import/', data={'csrf_token': token},
                                content_type='multipart/form-data')
    assert no_file.status_code == 200
    assert upload(admin_client, csv_text([row('KM-1')]).encode(), token='').status_code == 400
    assert ImportRun.select().count() == 0


def test_oversize_upload_is_refused_on_the_page(app, make_app, admin):
    small = make_app(MAX_UPLOAD_BYTES=MB)
    client = isolated_client(small)
    login(client, 'root')
    response = upload(client, b'order_no\r\n' + b'x' * MB)
    assert response.status_code == 200
    assert 'larger than 1 MB' in response.get_data(as_text=True)
    assert ImportRun.select().count() == 0


@pytest.mark.parametrize('role', ['agent', 'supervisor'])
def test_other_staff_cannot_see_runs(app, admin, users, role):
    run = start(admin, csv_text([row('KM-1')]))
    users(role, username='someone')
    client = isolated_client(app)
    login(client, 'someone')
    for path in ('/admin/order_import/', f'/admin/order_import/{run.id}',
                 f'/admin/order_import/{run.id}/progress'):
        assert client.get(path).status_code == 403
    token = csrf_token(client, '/admin/')
    assert upload(client, csv_text([row('KM-9')]).encode(), token=token).status_code == 403
    assert Order.select().where(Order.order_no == 'KM-9').count() == 0


def test_unknown_run_is_404(admin_client):
    assert admin_client.get('/admin/order_import/999999').status_code == 404
    assert admin_client.get('/admin/order_import/999999/progress').status_code == 404
