"""Merchant standing at platform scale: `recompute_all` from scratch and the server time of
`GET /api/v1/merchants/<ref>/standing`.

    python bench/standing.py                      # creates (or recreates) bench_standing
    python bench/standing.py --reuse              # keeps the loaded data, times again

The script creates a PostgreSQL database of its own (`--database-url`, default
`bench_standing` on the local server; dropped and created unless `--reuse`), applies the
migrations and loads with COPY: `--merchants` merchants (one staff login each), their
`--violations` violations and a deposit ledger, then measures

1. `recompute_all` from scratch (empty `merchant_standing`): every merchant's standing row
   created, levels, restrictions, due dates, and the announcements of every merchant above
   normal (outbox rows for the notifications and webhooks; their jobs go to Redis and are
   not run) — then once more, when nothing changes;
2. the GET standing endpoint in-process through the Flask test client (routing, API-key
   check, SQL, JSON; no network) for `--repeat` random merchants and for the merchant with
   the most violations, as an integration key: median, p95, statements per request; and
   `GET /api/v1/me` the same way as the baseline.

Violations are spread over the merchants with a long tail (a few merchants carry hundreds,
most a handful), dated uniformly over the last two years (so about half have expired; those
that expired more than a day ago are loaded as `expired`, as the sweep would have left them,
the rest as `active` for the rebuild to expire), with the SPEC's codes and points in
realistic proportions; 2 % are revoked. Deposits: a top-up for every merchant, a fine
exceeding it for 1 %.
"""
import argparse
import datetime as dt
import io
import os
import random
import secrets
import statistics
import sys
import time
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from statements import Statements  # noqa: E402  (bench/, beside this script)

TARGET_REBUILD_S = 60
TARGET_GET_MS = 10
#: (code, points, fine in fen, share)
CODES = [('no_response', 2, 0, 0.50), ('arbitration_lost', 3, 0, 0.25), ('not_as_described', 4, 0, 0.15),
         ('complaint_spike', 6, 0, 0.07), ('fake_delivery', 12, 50000, 0.03)]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--database-url', default='postgresql://postgres@127.0.0.1:5432/bench_standing')
    parser.add_argument('--merchants', type=int, default=100_000)
    parser.add_argument('--violations', type=int, default=2_000_000)
    parser.add_argument('--repeat', type=int, default=200, help='timed GETs (random merchants)')
    parser.add_argument('--redis-url', default='redis://127.0.0.1:6379/10',
                        help='a Redis database nobody else uses (must be empty; emptied afterwards); '
                             '"none" to run without (then deliveries run inline and are timed too)')
    parser.add_argument('--reuse', action='store_true', help='keep the loaded data (only the standing is reset)')
    parser.add_argument('--seed', type=int, default=8)
    return parser.parse_args(argv)


def admin_connection(url):
    import psycopg2
    parts = urlsplit(url)
    conn = psycopg2.connect(urlunsplit(parts._replace(scheme='postgresql', path='/postgres', query='')))
    conn.autocommit = True
    return conn, parts.path.lstrip('/')


def create_database(url, reuse):
    conn, name = admin_connection(url)
    with conn.cursor() as cur:
        cur.execute('SELECT 1 FROM pg_database WHERE datname = %s', (name,))
        exists = cur.fetchone() is not None
        if exists and reuse:
            conn.close()
            return False
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cur.execute(f'CREATE DATABASE "{name}"')
    conn.close()
    return True


def copy(table, columns, lines):
    """COPY `lines` (tab-separated text rows) into `table`."""
    from desk.core.db import database
    buffer = io.StringIO(''.join(lines))
    database.cursor().copy_expert(f'COPY "{table}" ({", ".join(columns)}) FROM STDIN', buffer)


def stamp(value):
    return value.strftime('%Y-%m-%d %H:%M:%S')


def load(args, now):
    """Merchants, staff, violations and deposits by COPY; returns the seconds it took."""
    from desk.core.db import atomic, database
    rng = random.Random(args.seed)
    started = time.perf_counter()
    n = args.merchants
    with atomic():
        copy('merchant', ['id', 'ref', 'name', 'deposit_fen', 'created_at'],
             (f'{i}\tBS-M{i:06d}\tbench shop {i}\t0\t{stamp(now)}\n' for i in range(1, n + 1)))
        copy('user', ['id', 'username', 'password_hash', 'display_name', 'role', 'merchant_id', 'status',
                      'capacity', 'active', 'created_at'],
             (f'{i}\tbs-staff-{i}\tx\tstaff {i}\tmerchant_staff\t{i}\toffline\t0\tt\t{stamp(now)}\n'
              for i in range(1, n + 1)))
        database.execute_sql("SELECT setval(pg_get_serial_sequence('merchant', 'id'), %s)", (n,))
        database.execute_sql("SELECT setval(pg_get_serial_sequence('user', 'id'), %s)", (n,))
    print(f'  merchants and staff: {time.perf_counter() - started:.1f} s', flush=True)
    # a long tail: the merchant of rank r weighs 1 / (r + 200)^0.9, shuffled so ids do not follow it
    order = list(range(1, n + 1))
    rng.shuffle(order)
    weights, total = [], 0.0
    for rank in range(n):
        total += 1.0 / (rank + 200) ** 0.9
        weights.append(total)
    code_weights, total = [], 0.0
    for _code, _p, _f, share in CODES:
        total += share
        code_weights.append(total)
    span = 730 * 86400
    chunk = 200_000
    for start in range(0, args.violations, chunk):
        count = min(chunk, args.violations - start)
        owners = rng.choices(order, cum_weights=weights, k=count)
        codes = rng.choices(CODES, cum_weights=code_weights, k=count)
        lines = []
        for merchant_id, (code, points, fine, _s) in zip(owners, codes):
            at = now - dt.timedelta(seconds=rng.randrange(span))
            expires = at + dt.timedelta(days=365)
            if rng.random() < 0.02:
                state, ended = 'revoked', stamp(at + dt.timedelta(days=3))
            elif expires <= now - dt.timedelta(days=1):
                state, ended = 'expired', stamp(expires)
            else:
                state, ended = 'active', '\\N'
            lines.append(f'{merchant_id}\t{code}\t{points}\t{fine}\t{stamp(at)}\t{stamp(expires)}\t{state}\t{ended}\n')
        with atomic():
            copy('violation', ['merchant_id', 'code', 'points', 'fine_fen', 'at', 'expires_at', 'state', 'ended_at'],
                 lines)
        print(f'  violations: {start + count:,} ({time.perf_counter() - started:.1f} s)', flush=True)
    lines = []
    for i in range(1, n + 1):
        lines.append(f'{i}\ttop_up\t100000\t100000\t\t{stamp(now - dt.timedelta(days=800))}\n')
        if rng.random() < 0.01:
            lines.append(f'{i}\tfine\t-150000\t-50000\t\t{stamp(now - dt.timedelta(days=2))}\n')
    with atomic():
        copy('deposit_entry', ['merchant_id', 'kind', 'amount_fen', 'balance_after_fen', 'note', 'at'], lines)
    database.execute_sql('VACUUM (ANALYZE) violation')
    database.execute_sql('VACUUM (ANALYZE) deposit_entry')
    database.execute_sql('VACUUM (ANALYZE) merchant')
    database.execute_sql('VACUUM (ANALYZE) "user"')
    return time.perf_counter() - started


def reset_standing():
    """Back to 'from scratch': no standing rows, no announcements, the violations the
    previous rebuild expired active again."""
    from desk.core.db import database
    database.execute_sql('TRUNCATE merchant_standing, outbox, inbox_message')
    database.execute_sql("UPDATE violation SET state = 'active', ended_at = NULL "
                         "WHERE state = 'expired' AND expires_at > now() AT TIME ZONE 'UTC' - interval '1 day'")
    database.execute_sql('VACUUM (ANALYZE) violation')
    database.execute_sql('VACUUM (ANALYZE) merchant_standing')


def time_gets(client, headers, refs):
    samples, counts = [], []
    for ref in refs[:5]:  # warm-up
        assert client.get(f'/api/v1/merchants/{ref}/standing', headers=headers).status_code == 200
    for ref in refs:
        with Statements() as statements:
            started = time.perf_counter()
            response = client.get(f'/api/v1/merchants/{ref}/standing', headers=headers)
            samples.append((time.perf_counter() - started) * 1000)
        counts.append(statements.count)
        assert response.status_code == 200, response.get_data(as_text=True)[:300]
    samples.sort()
    return statistics.median(samples), samples[int(0.95 * (len(samples) - 1))], max(counts), response.get_json()


def main(argv=None):
    args = parse_args(argv)
    fresh = create_database(args.database_url, args.reuse)
    parts = urlsplit(args.database_url)
    pooled = urlunsplit(parts._replace(scheme='postgres+pool', query='max_connections=4&stale_timeout=300'))
    redis_url = None if args.redis_url == 'none' else args.redis_url
    if redis_url:
        import redis
        r = redis.Redis.from_url(redis_url)
        if r.dbsize():
            sys.exit(f'{redis_url} is not empty: give a Redis database nobody else uses')
    from app import create_app
    app = create_app({'DATABASE_URL': pooled, 'ENV': 'production', 'SECRET_KEY': secrets.token_hex(32),
                      'REDIS_URL': redis_url})
    app.extensions['desk_ticker'] = 'off while measuring'  # no sweep in the middle of a timing
    from arbitration.penalties import standing
    from arbitration.penalties.models import MerchantStanding
    from desk.core import clock
    from desk.core.db import connection, database
    from desk.core.migrate import migrate
    from desk.messaging import webhooks
    from desk.parties import accounts
    from desk.parties.models import User
    from tests.support import isolated_client
    try:
        with app.app_context(), connection():
            now = clock.now()
            migrate()
            if fresh:
                print(f'loading {args.merchants:,} merchants and {args.violations:,} violations (COPY)', flush=True)
                print(f'loaded in {load(args, now):.1f} s', flush=True)
            integration = User.get_or_none(User.username == 'bench-integration') or accounts.create_user(
                'bench-integration', secrets.token_hex(8) + 'Aa1!', 'integration')
            if not webhooks.integration_users() or fresh:
                webhooks.subscribe(integration, 'http://127.0.0.1:9/hook', ['merchant.standing_changed'])
            reset_standing()
            counts = database.execute_sql(
                "SELECT count(*), count(*) FILTER (WHERE state = 'active') FROM violation").fetchone()
            print(f'violations: {counts[0]:,} ({counts[1]:,} active before the rebuild)', flush=True)

            started = time.perf_counter()
            merchants, changed, announced = standing.recompute_all(now)
            rebuild = time.perf_counter() - started
            print(f'recompute_all from scratch: {rebuild:.1f} s for {merchants:,} merchants '
                  f'({changed:,} rows written, {announced:,} changes announced) — target {TARGET_REBUILD_S} s',
                  flush=True)
            outbox = database.execute_sql('SELECT topic, count(*) FROM outbox GROUP BY topic ORDER BY topic').fetchall()
            levels = database.execute_sql('SELECT level, count(*), sum(CASE WHEN deposit_hold THEN 1 ELSE 0 END) '
                                          'FROM merchant_standing GROUP BY level ORDER BY level').fetchall()
            print('  outbox rows: ' + ', '.join(f'{t} {c:,}' for t, c in outbox))
            print('  levels: ' + ', '.join(f'{lv}: {c:,} (deposit hold {h})' for lv, c, h in levels), flush=True)
            started = time.perf_counter()
            again = standing.recompute_all(now)
            print(f'recompute_all again (nothing to change): {time.perf_counter() - started:.1f} s, '
                  f'{again[1]} rows written, {again[2]} announced', flush=True)

            # the standing embeds the health figures, which the daily job keeps (computed
            # on a merchant's first read otherwise): run that job first, as production has
            from arbitration.health import merchant_health
            started = time.perf_counter()
            merchant_health.refresh(now=now)
            print(f'merchant health job (all merchants, before the GETs): {time.perf_counter() - started:.1f} s',
                  flush=True)
            _key, secret = accounts.create_api_key(integration, 'bench')
            headers = {'Authorization': f'Bearer {secret}'}
            rng = random.Random(args.seed + 1)
            refs = [f'BS-M{rng.randrange(1, args.merchants + 1):06d}' for _ in range(args.repeat)]
            heavy_id, heavy_n = database.execute_sql(
                'SELECT merchant_id, count(*) FROM violation GROUP BY merchant_id ORDER BY 2 DESC LIMIT 1').fetchone()
            heavy_active = MerchantStanding.get_by_id(heavy_id)
        client = isolated_client(app, language='en')
        for _ in range(5):
            client.get('/api/v1/me', headers=headers)
        baseline = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            assert client.get('/api/v1/me', headers=headers).status_code == 200
            baseline.append((time.perf_counter() - started) * 1000)
        print(f'GET /api/v1/me (baseline: the key check and a JSON answer): median '
              f'{statistics.median(baseline):.2f} ms', flush=True)
        median, p95, most, _body = time_gets(client, headers, refs)
        print(f'GET standing, {len(refs)} random merchants: median {median:.2f} ms, p95 {p95:.2f} ms, '
              f'{most} statements — target {TARGET_GET_MS} ms', flush=True)
        median, p95, most, body = time_gets(client, headers, [f'BS-M{heavy_id:06d}'] * 50)
        print(f'GET standing, the heaviest merchant ({heavy_n:,} violations, {heavy_active.active_points} '
              f'active points, {len(body["violations"])} listed): median {median:.2f} ms, p95 {p95:.2f} ms, '
              f'{most} statements', flush=True)
    finally:
        if redis_url:
            import redis
            redis.Redis.from_url(redis_url).flushdb()


if __name__ == '__main__':
    main()
