"""CSV import of orders, run as a job with progress and per-line errors.

Good rows are imported even when others are bad; each bad row is reported by its line
number in the file (the header is line 1). Every row goes through the same
`orders.upsert_order` as the API, so a row is valid here exactly when the same order would
be accepted by `PUT /api/v1/orders/<order_no>`. Re-running an import is harmless: upserts
are idempotent.
"""
import csv
import io
import json

from flask_babel import gettext as _

from desk.core import clock
from desk.core.db import atomic
from desk.core.errors import DomainError, Forbidden, Invalid, NotFound, TooLarge
from desk.core.tasks import enqueue
from desk.orders.models import ImportRun
from desk.orders.orders import upsert_order
from desk.parties.models import User

COLUMNS = ('order_no', 'buyer_ref', 'buyer_name', 'buyer_phone', 'merchant_ref',
           'merchant_name', 'product', 'sku', 'goods_type', 'amount', 'paid_at',
           'delivered_at', 'confirmed_at', 'payment_method', 'receiving_account', 'region')
REQUIRED = ('order_no', 'buyer_ref', 'buyer_name', 'merchant_ref', 'merchant_name', 'product',
            'goods_type', 'amount', 'paid_at', 'payment_method')
PROGRESS_EVERY = 50
MAX_ERRORS_KEPT = 1000


def decode_csv(raw):
    """Bytes from an upload -> text. Chinese spreadsheets often save GB18030, not UTF-8."""
    for encoding in ('utf-8-sig', 'gb18030'):
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        if '\x00' not in text:  # NUL: UTF-16 or binary, never CSV text (and PostgreSQL refuses it)
            return text
    raise Invalid(_('The file is neither UTF-8 nor GB18030 text.'), fields={'file': _('unreadable encoding')})


def start_import(actor, filename, raw, max_bytes):
    """Check the file and queue its import; returns the `ImportRun` to watch."""
    if actor.role != 'admin':
        raise Forbidden(_('Only administrators may import orders.'))
    if not raw:
        raise Invalid(_('The file is empty.'), fields={'file': _('is empty')})
    if len(raw) > max_bytes:
        raise TooLarge(_('The file is larger than %(mb)d MB.', mb=max_bytes // (1024 * 1024)))
    text = decode_csv(raw)
    try:
        header = [h.strip() for h in next(csv.reader(io.StringIO(text)), [])]
    except csv.Error:  # e.g. a first "line" longer than any CSV field may be
        header = []
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise Invalid(_('The header lacks the columns: %(c)s', c=', '.join(missing)),
                      fields={'file': _('missing columns: %(c)s', c=', '.join(missing))})
    with atomic():
        run = ImportRun.create(created_by=actor, filename=(filename or 'orders.csv')[:255],
                               content=text)
        enqueue('desk.jobs.import_orders', run.id, job_id=f'import-{run.id}')
    return run


def row_to_order(row):
    """A CSV row (dict) -> the API body `upsert_order` takes."""
    def val(key):
        value = (row.get(key) or '').strip()
        return value or None
    return {
        'buyer': {'ref': val('buyer_ref'), 'name': val('buyer_name'), 'phone': val('buyer_phone')},
        'merchant': {'ref': val('merchant_ref'), 'name': val('merchant_name')},
        'product': val('product'), 'sku': val('sku'), 'goods_type': val('goods_type'),
        'amount': val('amount') or '', 'paid_at': val('paid_at'),
        'delivered_at': val('delivered_at'), 'confirmed_at': val('confirmed_at'),
        'payment_method': val('payment_method'), 'receiving_account': val('receiving_account'),
        'region': val('region'),
    }


def _describe(err):
    if err.fields:
        return '; '.join(f'{k}: {v}' for k, v in err.fields.items())
    return err.message


def read_rows(text):
    """[(line, row dict)] of a CSV text, `line` being where the record starts in the file:
    blank lines are skipped but counted, and a quoted line break spans lines."""
    reader = csv.reader(io.StringIO(text))
    header = [h.strip() for h in next(reader, [])]
    rows, previous = [], reader.line_num
    try:
        for values in reader:
            line, previous = previous + 1, reader.line_num
            if values:
                rows.append((line, dict(zip(header, values))))
    except csv.Error as err:
        raise Invalid(str(err), fields={'line': previous + 1}) from None
    return rows


def run_import(run_id):
    """Import every row of run `run_id`, recording progress as it goes (the job's body).

    A file the CSV reader cannot read to the end imports nothing; the run ends with that
    one error and its line, so the progress page never waits forever."""
    run = ImportRun.get_or_none(ImportRun.id == run_id)
    if run is None or run.state == 'done':
        return
    actor = User.get_by_id(run.created_by_id)
    try:
        rows = read_rows(run.content)
    except Invalid as err:
        ImportRun.update(state='done', finished_at=clock.now(), total_rows=0, processed_rows=0,
                         ok_rows=0, error_rows=1, errors=json.dumps(
                             [{'line': err.fields['line'], 'order_no': None, 'error': err.message}])
                         ).where(ImportRun.id == run.id).execute()
        return
    state = {'total_rows': len(rows), 'processed_rows': 0, 'ok_rows': 0, 'error_rows': 0}
    errors = []
    ImportRun.update(state='running', **state).where(ImportRun.id == run.id).execute()
    for line, row in rows:
        try:
            upsert_order(actor, (row.get('order_no') or '').strip(), row_to_order(row))
            state['ok_rows'] += 1
        except DomainError as err:
            state['error_rows'] += 1
            if len(errors) < MAX_ERRORS_KEPT:
                errors.append({'line': line, 'order_no': row.get('order_no'), 'error': _describe(err)})
        state['processed_rows'] += 1
        if state['processed_rows'] % PROGRESS_EVERY == 0:
            ImportRun.update(errors=json.dumps(errors, ensure_ascii=False), **state).where(
                ImportRun.id == run.id).execute()
    ImportRun.update(state='done', finished_at=clock.now(),
                     errors=json.dumps(errors, ensure_ascii=False), **state).where(
        ImportRun.id == run.id).execute()


def get_import(actor, run_id):
    run = ImportRun.get_or_none(ImportRun.id == run_id)
    if run is None or actor.role != 'admin':
        raise NotFound(_('No such import.'))
    return run


def import_errors(run):
    return json.loads(run.errors or '[]')
