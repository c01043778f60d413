"""Server time of the complaint list and the agent queue on a large data set, with the
plans PostgreSQL chooses for their SQL.

    python bench/queries.py --database-url postgresql://postgres@127.0.0.1/bench

Server time is the wall time around the Flask test client call, in this process, against
the bench database: routing, API-key check, the SQL, building the JSON — everything but the
network. Each case is requested `--repeat` times after a warm-up (median and p95), as a
supervisor's API key (GET /api/v1/me is timed the same way as the baseline). The SQL of one
request per case is captured from peewee's query log and run again under
EXPLAIN (ANALYZE, BUFFERS); any sequential scan of `complaint` is flagged.
"""
import argparse
import logging
import os
import secrets
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from peewee import fn  # noqa: E402

from app import create_app  # noqa: E402
from desk.cases.models import Complaint  # noqa: E402
from desk.core.db import database, is_sqlite  # noqa: E402
from desk.parties import accounts  # noqa: E402
from desk.parties.models import Merchant, User  # noqa: E402

TARGET_MS = 30
SUPERVISOR = 'bench-supervisor-01'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--database-url', default=os.environ.get('DESK_DATABASE_URL'))
    parser.add_argument('--repeat', type=int, default=50, help='timed requests per case (default 50)')
    parser.add_argument('--depth', type=int, default=50, help='which page to time as the deep one (default 50)')
    parser.add_argument('--plans', default=os.path.join(os.path.dirname(os.path.abspath(__file__)), 'out', 'plans.txt'),
                        help='where to write the EXPLAIN ANALYZE output')
    return parser.parse_args(argv)


class QueryLog(logging.Handler):
    """Collects (sql, params) of the queries peewee runs while enabled."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.queries = []
        self.enabled = False

    def emit(self, record):
        if self.enabled and isinstance(record.msg, tuple):
            self.queries.append(record.msg)


def busiest_merchant():
    """The merchant with the most complaints (its list is the longest to page through)."""
    row = (Complaint.select(Complaint.merchant, fn.COUNT(Complaint.id).alias('n'))
           .group_by(Complaint.merchant).order_by(fn.COUNT(Complaint.id).desc()).limit(1).tuples().first())
    return Merchant.get_by_id(row[0]).ref, row[1]


def cursor_at(client, headers, path, depth):
    """The query string of page `depth` of `path` (following next_cursor), or the last page."""
    url, page = path, 1
    while page < depth:
        body = client.get(url, headers=headers).get_json()
        if not body.get('next_cursor'):
            break
        url = f'{path}{"&" if "?" in path else "?"}cursor={body["next_cursor"]}'
        page += 1
    return url, page


def time_case(client, headers, url, repeat):
    for _ in range(3):
        response = client.get(url, headers=headers)
        assert response.status_code == 200, (url, response.status_code, response.get_data(as_text=True)[:300])
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(url, headers=headers)
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    samples.sort()
    return statistics.median(samples), samples[int(0.95 * (len(samples) - 1))], response.get_json()


def explain(queries, out):
    """EXPLAIN (ANALYZE, BUFFERS) every SELECT on complaint; True if none scans it sequentially."""
    clean = True
    if is_sqlite():
        out.write('(plans are explained on PostgreSQL only)\n\n')
        return clean
    for sql, params in queries:
        if not sql.lstrip().upper().startswith('SELECT') or '"complaint"' not in sql:
            continue
        rows = database.execute_sql('EXPLAIN (ANALYZE, BUFFERS) ' + sql, params).fetchall()
        plan = '\n'.join(r[0] for r in rows)
        out.write(database.obj.cursor().mogrify(sql, params).decode() + '\n' + plan + '\n\n')
        if 'Seq Scan on complaint' in plan:
            clean = False
    return clean


def main(argv=None):
    args = parse_args(argv)
    if not args.database_url:
        sys.exit('--database-url (or DESK_DATABASE_URL) is required')
    app = create_app({'DATABASE_URL': args.database_url, 'ENV': 'production', 'SECRET_KEY': secrets.token_hex(32)})
    log = QueryLog()
    logger = logging.getLogger('peewee')
    logger.addHandler(log)
    logger.propagate = False
    # No ticker thread in this process: a sweep must not run in the middle of a timing (its
    # cost is measured by bench/deadlines.py); production runs it in the workers either way.
    app.extensions['desk_ticker'] = 'off while measuring'

    with app.app_context():
        database.connect(reuse_if_open=True)
        supervisor = User.get(User.username == SUPERVISOR)
        _key, secret = accounts.create_api_key(supervisor, 'bench queries')
        merchant, merchant_count = busiest_merchant()
        total = Complaint.select().count()
        database.close()
    print(f'{total:,} complaints; busiest merchant {merchant} with {merchant_count:,}; '
          f'{args.repeat} timed requests per case, as {SUPERVISOR}', flush=True)
    headers = {'Authorization': f'Bearer {secret}'}
    client = app.test_client()
    cases = [('GET /api/v1/me (baseline)', '/api/v1/me', 1)]
    for label, path in [('complaints', '/api/v1/complaints'),
                        ('complaints state=resolved', '/api/v1/complaints?state=resolved'),
                        ('complaints merchant', f'/api/v1/complaints?merchant={merchant}'),
                        ('complaints state=resolved merchant', f'/api/v1/complaints?state=resolved&merchant={merchant}'),
                        ('queue cs', '/api/v1/queue?department=cs'),
                        ('queue cs state=in_progress', '/api/v1/queue?department=cs&state=in_progress'),
                        ('queue cs tier=L1', '/api/v1/queue?department=cs&tier=L1'),
                        ('queue cs flag=overdue', '/api/v1/queue?department=cs&flag=overdue'),
                        ('queue cs flag=unassigned', '/api/v1/queue?department=cs&flag=unassigned'),
                        ('queue tech', '/api/v1/queue?department=tech')]:
        cases.append((label, path, 1))
        if label in ('complaints', 'complaints state=resolved', 'complaints merchant',
                     'complaints state=resolved merchant', 'queue cs'):
            cases.append((label, path, args.depth))
    os.makedirs(os.path.dirname(args.plans), exist_ok=True)
    results = []
    with open(args.plans, 'w') as out:
        for label, path, depth in cases:
            url, page = cursor_at(client, headers, path, depth) if depth > 1 else (path, 1)
            median, p95, body = time_case(client, headers, url, args.repeat)
            log.queries, log.enabled = [], True
            logger.setLevel(logging.DEBUG)
            client.get(url, headers=headers)
            logger.setLevel(logging.WARNING)
            log.enabled = False
            queries = list(log.queries)
            out.write(f'=== {label}, page {page}: {url}\n')
            with app.app_context():
                database.connect(reuse_if_open=True)
                clean = explain(queries, out)
                database.close()
            items = len(body.get('items', [])) if isinstance(body, dict) else 0
            results.append((label, page, median, p95, len(queries), clean, items))
            flag = '' if label.startswith('GET') or p95 <= TARGET_MS else f'  > {TARGET_MS} ms'
            print(f'{label:<38} page {page:>2}: median {median:6.1f} ms  p95 {p95:6.1f} ms  '
                  f'{len(queries)} queries, {items} items{"" if clean else ", SEQ SCAN on complaint"}{flag}',
                  flush=True)
    baseline = results[0][2]
    print(f'\nratios to the /me baseline ({baseline:.1f} ms): ' +
          ', '.join(f'{label} p{page} {median / baseline:.1f}x' for label, page, median, *_ in results[1:]))
    print(f'plans: {args.plans}')


if __name__ == '__main__':
    main()
