"""Filing throughput over HTTP: POST /api/v1/complaints against the trivial authenticated
GET /api/v1/me, measured in the same run on the same server.

    python bench/api_load.py --database-url postgresql://postgres@127.0.0.1/bench --seconds 60

Starts gunicorn (`-w 2` sync workers on 127.0.0.1, DESK_ENV=production, no Redis: jobs run
inline after commit and the in-process ticker sweeps deadlines), creates an integration user
and API key, picks orders that have no complaint and whose complaint window is open, then
drives the server from a separate load process (threads with `http.client`, loopback only,
each phase bounded in time): /me, then filings (each on a fresh order, X-On-Behalf-Of the
order's buyer), then /me again. Reports requests/s of each phase, client latency, the
server's own time per request (gunicorn access log %D) and the ratio filings/s : /me req/s.
"""
import argparse
import collections
import datetime as dt
import http.client
import json
import multiprocessing
import os
import random
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from complaint_plan import CARD_ERRORS, CATEGORY_WEIGHTS, DEMANDS, weighted  # noqa: E402
from complaint_texts import CLOSERS, FACTS, OPENERS  # noqa: E402

INTEGRATION = 'bench-integration'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--database-url', default=os.environ.get('DESK_DATABASE_URL'), required=False)
    parser.add_argument('--port', type=int, default=8765)
    parser.add_argument('--workers', type=int, default=2, help='gunicorn workers (default 2)')
    parser.add_argument('--seconds', type=float, default=60, help='length of each phase (default 60)')
    parser.add_argument('--clients', type=int, default=4, help='client threads in the load process (default 4)')
    parser.add_argument('--orders', type=int, default=20000, help='fresh orders to prepare (upper bound on filings)')
    parser.add_argument('--seed', type=int, default=None)
    return parser.parse_args(argv)


# --- set-up in the bench database ------------------------------------------------------------

def prepare(url, wanted):
    """(integration API key, [fresh order dicts]); also applies due deadlines once so the
    server's ticker does not start on a backlog in the middle of a phase."""
    from peewee import SQL, fn

    from app import create_app
    from desk.cases.models import Complaint
    from desk.core import clock, deadlines
    from desk.core.db import connection
    from desk.orders.models import Order
    from desk.parties import accounts
    from desk.parties.models import Buyer, User
    app = create_app({'DATABASE_URL': url})
    with app.app_context(), connection():
        user = User.get_or_none(User.username == INTEGRATION)
        if user is None:
            user = accounts.create_user(INTEGRATION, secrets.token_urlsafe(16), 'integration',
                                        display_name='卡盟平台对接(压测)')
        _key, secret = accounts.create_api_key(user, 'bench api_load')
        started = time.perf_counter()
        applied = deadlines.advance_due()
        print(f'due deadlines applied before the run: {applied} in {time.perf_counter() - started:.1f}s', flush=True)
        now = clock.now()
        window = dt.timedelta(days=app.config['COMPLAINT_WINDOW_DAYS'])
        base = fn.COALESCE(Order.confirmed_at, Order.delivered_at, Order.paid_at)
        rows = (Order
                .select(Order.order_no, Buyer.ref, Order.goods_type, Order.product, Order.amount_fen,
                        Order.receiving_account, Order.paid_at)
                .join(Buyer, on=(Order.buyer == Buyer.id))
                .where(~fn.EXISTS(Complaint.select(SQL('1')).where(Complaint.order == Order.id)) &
                       (base > now - window + dt.timedelta(hours=2)) & (Order.delivered_at < now))
                .order_by(Order.id.desc())
                .limit(wanted)
                .tuples())
        orders = [dict(zip(('order_no', 'buyer_ref', 'goods_type', 'product', 'amount_fen',
                            'receiving_account', 'paid_at'), row)) for row in rows]
    for order in orders:
        order['paid_at'] = order['paid_at'].replace(tzinfo=dt.timezone.utc).isoformat()
    return secret, orders


def complaint_body(order, rng):
    """A filing as the marketplace app would send it: category by goods type, facts, scenario."""
    weights = CATEGORY_WEIGHTS.get(order['goods_type'], CATEGORY_WEIGHTS['other'])
    code = weighted(rng, list(weights.items()))
    text = rng.choice(FACTS[code]).format(
        product=order['product'], amount=f'{order["amount_fen"] / 100:.2f}', when='今天',
        account='138****' + str(rng.randrange(10000)).zfill(4), minutes=rng.choice([30, 60, 120]),
        error=rng.choice(CARD_ERRORS), days=rng.randint(2, 6))
    scenario = {'receiving_account': order['receiving_account'] or '13800138000', 'minutes_late': 60,
                'error_message': rng.choice(CARD_ERRORS), 'refund_requested_at': order['paid_at'],
                'occurred_at': order['paid_at']}
    demand_type = weighted(rng, DEMANDS[code])
    demand = {'type': demand_type}
    if demand_type in ('partial_refund', 'compensation'):
        demand['amount'] = f'{max(1, order["amount_fen"] // 3) / 100:.2f}'
    return {'order_no': order['order_no'], 'category': code,
            'facts': rng.choice(OPENERS) + text + rng.choice(CLOSERS), 'scenario': scenario, 'demand': demand}


# --- the server ------------------------------------------------------------------------------

def start_server(url, port, workers, access_log):
    env = dict(os.environ, DESK_DATABASE_URL=url, DESK_ENV='production',
               DESK_SECRET_KEY=secrets.token_hex(32))
    env.pop('DESK_REDIS_URL', None)
    process = subprocess.Popen(
        [os.path.join(ROOT, '.venv', 'bin', 'gunicorn'), '-w', str(workers), '-b', f'127.0.0.1:{port}',
         '--access-logfile', access_log, '--access-logformat', '%(m)s %(U)s %(s)s %(D)s', 'app:create_app()'],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=open(access_log + '.err', 'w'))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection('127.0.0.1', port, timeout=5)
            conn.request('GET', '/api/v1/me')
            if conn.getresponse().status == 401:
                return process
        except OSError:
            time.sleep(0.5)
    process.terminate()
    sys.exit('gunicorn did not answer within 60 s; see ' + access_log + '.err')


def stop_server(process):
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()


# --- the load process -----------------------------------------------------------------------

def run_phase(port, key, phase, seconds, clients, orders, seed, results):
    """One phase in this (separate) process: `clients` threads until the time is up."""
    rng_seed = seed if seed is not None else random.randrange(2 ** 32)
    stop_at = time.monotonic() + seconds
    statuses = collections.Counter()
    latencies = []
    errors = []
    lock = threading.Lock()
    slices = [orders[i::clients] for i in range(clients)]

    def client(n):
        rng = random.Random(rng_seed + n)
        conn = http.client.HTTPConnection('127.0.0.1', port, timeout=60)
        mine = iter(slices[n])
        while time.monotonic() < stop_at:
            headers = {'Authorization': f'Bearer {key}'}
            if phase == 'file':
                order = next(mine, None)
                if order is None:
                    break
                body = json.dumps(complaint_body(order, rng), ensure_ascii=False).encode()
                headers.update({'Content-Type': 'application/json', 'X-On-Behalf-Of': order['buyer_ref']})
                method, path = 'POST', '/api/v1/complaints'
            else:
                method, path, body = 'GET', '/api/v1/me', None
            started = time.perf_counter()
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                payload = response.read()
                status = response.status
            except (OSError, http.client.HTTPException) as err:
                status, payload = 'error', str(err).encode()
                conn.close()
            elapsed = time.perf_counter() - started
            with lock:
                statuses[status] += 1
                if status in (200, 201):
                    latencies.append(elapsed)
                elif len(errors) < 5:
                    errors.append((status, payload[:300].decode(errors='replace')))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    results.put({'phase': phase, 'seconds': time.monotonic() - started, 'statuses': dict(statuses),
                 'latencies': latencies, 'errors': errors})


def phase(port, key, name, seconds, clients, orders=(), seed=None):
    results = multiprocessing.Queue()
    process = multiprocessing.Process(target=run_phase,
                                      args=(port, key, name, seconds, clients, list(orders), seed, results))
    process.start()
    result = results.get(timeout=seconds + 300)
    process.join(timeout=60)
    ok = sum(n for s, n in result['statuses'].items() if s in (200, 201))
    lat = sorted(result['latencies']) or [0]
    result.update(ok=ok, rate=ok / result['seconds'],
                  p50=statistics.median(lat) * 1000, p95=lat[int(0.95 * (len(lat) - 1))] * 1000)
    print(f'{name:>5}: {ok:,} ok in {result["seconds"]:.1f}s = {result["rate"]:,.1f}/s; client latency '
          f'p50 {result["p50"]:.1f} ms, p95 {result["p95"]:.1f} ms; statuses {result["statuses"]}', flush=True)
    for status, text in result['errors']:
        print(f'       {status}: {text}')
    return result


def server_times(access_log):
    """Median and p95 of the server's own time per endpoint (gunicorn %D, microseconds)."""
    times = collections.defaultdict(list)
    with open(access_log) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 4 and parts[2] in ('200', '201'):
                times[f'{parts[0]} {parts[1]}'].append(int(parts[3]) / 1000)
    for endpoint, values in sorted(times.items()):
        values.sort()
        print(f'server time {endpoint}: n={len(values):,} median {statistics.median(values):.1f} ms, '
              f'p95 {values[int(0.95 * (len(values) - 1))]:.1f} ms')


def main(argv=None):
    args = parse_args(argv)
    if not args.database_url:
        sys.exit('--database-url (or DESK_DATABASE_URL) is required')
    key, orders = prepare(args.database_url, args.orders)
    print(f'{len(orders):,} fresh orders with an open complaint window', flush=True)
    workdir = tempfile.mkdtemp(prefix='desk-api-load-')
    access_log = os.path.join(workdir, 'access.log')
    server = start_server(args.database_url, args.port, args.workers, access_log)
    try:
        print(f'gunicorn -w {args.workers} on 127.0.0.1:{args.port} (pid {server.pid}); '
              f'{args.clients} client threads, {args.seconds:.0f} s per phase', flush=True)
        me_before = phase(args.port, key, 'me', args.seconds, args.clients)
        filed = phase(args.port, key, 'file', args.seconds, args.clients, orders, args.seed)
        me_after = phase(args.port, key, 'me', args.seconds, args.clients)
    finally:
        stop_server(server)
    baseline = (me_before['rate'] + me_after['rate']) / 2
    server_times(access_log)
    print(f'filings {filed["rate"]:,.1f}/s vs GET /api/v1/me {baseline:,.1f}/s (mean of before '
          f'{me_before["rate"]:,.1f} and after {me_after["rate"]:,.1f}): ratio {filed["rate"] / baseline:.3f} '
          f'(1 filing costs {baseline / max(filed["rate"], 1e-9):.1f}x a /me request)')
    if filed['ok'] >= len(orders):
        print('note: the prepared orders ran out before the time was up; raise --orders')


if __name__ == '__main__':
    main()
