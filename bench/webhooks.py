"""Webhook delivery throughput against raw POSTs to the same local receiver, in one run.

    python bench/webhooks.py --database-url postgresql://postgres@127.0.0.1/bench --events 2000

A receiver process (ThreadingHTTPServer on 127.0.0.1) verifies every signature as the
marketplace would, counts idempotency keys and records when the first and the last delivery
arrived. Then, with W = 1 and W = 2:

* raw — W processes POST the same signed JSON bodies with the same client the desk uses
  (`urllib.request`), one after another: the ceiling of this receiver and client;
* desk — `desk.messaging.webhooks.publish` of N events, each in its own transaction, with Redis: the
  outbox jobs wait in the queue, then W real `rq worker --burst` processes deliver them
  (outbox row -> fan-out to a WebhookDelivery -> signed POST -> delivery marked delivered).

Throughput is deliveries per second between the receiver's first and last receipt (worker
start-up is not counted); the ratio desk : raw is printed for each W. Every delivery must
arrive exactly once with a valid signature, or the run fails.
"""
import argparse
import datetime as dt
import json
import multiprocessing
import os
import secrets
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
DEFAULT_REDIS = 'redis://127.0.0.1:6379/11'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--database-url', default=os.environ.get('DESK_DATABASE_URL'))
    parser.add_argument('--redis-url', default=DEFAULT_REDIS, help=f'a Redis database of its own (default {DEFAULT_REDIS})')
    parser.add_argument('--events', type=int, default=2000, help='deliveries per phase (default 2000)')
    parser.add_argument('--workers', default='1,2', help='worker counts to measure (default 1,2)')
    return parser.parse_args(argv)


# --- the receiver -------------------------------------------------------------------------

def _receiver(secret, port_out, stop):
    import hashlib
    import hmac
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    lock = threading.Lock()
    stats = {'received': 0, 'bad_signature': 0, 'keys': set(), 'first': None, 'last': None}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = 'HTTP/1.0'

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get('Content-Length') or 0))
            timestamp = self.headers.get('X-Desk-Timestamp', '')
            expected = 'sha256=' + hmac.new(secret.encode(), timestamp.encode() + b'.' + body,
                                            hashlib.sha256).hexdigest()
            ok = hmac.compare_digest(expected, self.headers.get('X-Desk-Signature', ''))
            now = time.perf_counter()
            with lock:
                stats['received'] += 1
                stats['bad_signature'] += not ok
                stats['keys'].add(self.headers.get('X-Desk-Idempotency-Key'))
                stats['first'] = stats['first'] or now
                stats['last'] = now
            self.send_response(200 if ok else 401)
            self.send_header('Content-Length', '0')
            self.end_headers()

        def do_GET(self):  # /stats, then reset
            with lock:
                body = json.dumps({'received': stats['received'], 'bad_signature': stats['bad_signature'],
                                   'distinct_keys': len(stats['keys']),
                                   'span': (stats['last'] - stats['first']) if stats['first'] else 0}).encode()
                stats.update(received=0, bad_signature=0, keys=set(), first=None, last=None)
            self.send_response(200)
            self.send_header('Content-Length', str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    port_out.put(server.server_port)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    stop.wait()
    server.shutdown()


def receiver_stats(url):
    with urllib.request.urlopen(url.rsplit('/', 1)[0] + '/stats', timeout=30) as response:
        return json.loads(response.read())


# --- raw POSTs ----------------------------------------------------------------------------

def _raw_sender(url, secret, bodies):
    from desk.messaging.webhooks import sign
    for n, body in enumerate(bodies):
        timestamp = str(int(time.time()))
        request = urllib.request.Request(url, data=body, method='POST', headers={
            'Content-Type': 'application/json', 'X-Desk-Event': 'remedy.created', 'X-Desk-Timestamp': timestamp,
            'X-Desk-Idempotency-Key': f'raw-{os.getpid()}-{n}', 'X-Desk-Signature': sign(secret, timestamp, body)})
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()


def raw(url, secret, bodies, processes):
    share = [bodies[i::processes] for i in range(processes)]
    procs = [multiprocessing.Process(target=_raw_sender, args=(url, secret, part)) for part in share]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    return receiver_stats(url)


# --- desk deliveries ----------------------------------------------------------------------

def sample_payload(n):
    return {'remedy_id': n, 'ticket_no': f'TS20261129-{n:06d}', 'kind': 'refund', 'amount_fen': 1990 + n,
            'order_no': f'BENCH{n:08d}', 'source': 'agreement', 'buyer_ref': f'B{n:06d}',
            'note': '商家同意全额退款,请在 24 小时内完成退款并回调确认'}


def desk(args, url, secret, count, workers):
    from redis import Redis

    from app import create_app
    from desk.core.db import atomic, connection
    from desk.messaging import webhooks
    from desk.messaging.models import WebhookDelivery, WebhookSubscription
    from desk.parties.models import User
    redis = Redis.from_url(args.redis_url)
    if redis.dbsize():
        sys.exit(f'{args.redis_url} holds {redis.dbsize()} keys: choose a Redis database nobody else uses')
    app = create_app({'DATABASE_URL': args.database_url, 'ENV': 'production', 'SECRET_KEY': secrets.token_hex(32),
                      'REDIS_URL': args.redis_url})
    with app.app_context(), connection():
        user = User.get_or_none(User.username == 'bench-webhooks')
        if user is None:
            from desk.parties import accounts
            user = User.create(username='bench-webhooks', password_hash=accounts.hash_password(secrets.token_hex(8)),
                               display_name='bench webhooks', role='integration')
        WebhookSubscription.update(active=False).where(WebhookSubscription.active == True).execute()  # noqa: E712
        sub = webhooks.subscribe(user, url, ['*'], secret=secret)
        before = WebhookDelivery.select().where(WebhookDelivery.subscription == sub.id).count()
        started = time.perf_counter()
        for n in range(count):
            with atomic():
                webhooks.publish('remedy.created', sample_payload(n), key=f'bench-{sub.id}-{n}')
        publish_seconds = time.perf_counter() - started
        queued = redis.llen('rq:queue:desk')
    env = dict(os.environ, DESK_DATABASE_URL=args.database_url, DESK_REDIS_URL=args.redis_url,
               DESK_ENV='production', DESK_SECRET_KEY=secrets.token_hex(32))
    rq = os.path.join(os.path.dirname(sys.executable), 'rq')
    launched = time.perf_counter()
    procs = [subprocess.Popen([rq, 'worker', '--burst', '-w', 'web.worker.DeskWorker', '--url', args.redis_url, 'desk'],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for _ in range(workers)]
    for p in procs:
        p.wait()
    wall = time.perf_counter() - launched
    stats = receiver_stats(url)
    with app.app_context(), connection():
        delivered = (WebhookDelivery.select()
                     .where((WebhookDelivery.subscription == sub.id) & (WebhookDelivery.state == 'delivered')).count())
        created = WebhookDelivery.select().where(WebhookDelivery.subscription == sub.id).count() - before
        WebhookSubscription.update(active=False).where(WebhookSubscription.id == sub.id).execute()
    redis.flushdb()
    return dict(stats, publish_seconds=publish_seconds, queued=queued, wall=wall, delivered=delivered,
                created=created)


def main(argv=None):
    args = parse_args(argv)
    if not args.database_url:
        sys.exit('--database-url (or DESK_DATABASE_URL) is required')
    secret = secrets.token_hex(32)
    ctx = multiprocessing.get_context('fork')
    port_out, stop = ctx.Queue(), ctx.Event()
    server = ctx.Process(target=_receiver, args=(secret, port_out, stop), daemon=True)
    server.start()
    url = f'http://127.0.0.1:{port_out.get(timeout=10)}/hooks'
    bodies = [json.dumps({'event': 'remedy.created', 'data': sample_payload(n)}, ensure_ascii=False,
                         sort_keys=True).encode() for n in range(args.events)]
    print(f'receiver {url}; {args.events:,} deliveries per phase; {dt.datetime.now():%Y-%m-%d %H:%M}', flush=True)
    failed = False
    try:
        for workers in [int(w) for w in args.workers.split(',')]:
            r = raw(url, secret, bodies, workers)
            raw_rate = r['received'] / r['span']
            print(f'raw POSTs, {workers} process(es): {r["received"]:,} in {r["span"]:.2f}s = {raw_rate:,.0f}/s '
                  f'(bad signatures {r["bad_signature"]})', flush=True)
            d = desk(args, url, secret, args.events, workers)
            rate = d['received'] / d['span'] if d['span'] else 0
            ok = (d['received'] == d['distinct_keys'] == d['delivered'] == d['created'] == args.events
                  and d['bad_signature'] == 0)
            failed |= not ok
            print(f'desk, {workers} rq worker(s): published {args.events:,} in {d["publish_seconds"]:.1f}s '
                  f'({d["queued"]:,} jobs queued); delivered {d["received"]:,} in {d["span"]:.2f}s = {rate:,.0f}/s '
                  f'(workers ran {d["wall"]:.1f}s incl. start-up); distinct keys {d["distinct_keys"]:,}, '
                  f'marked delivered {d["delivered"]:,}, bad signatures {d["bad_signature"]}'
                  + ('' if ok else '  <-- MISMATCH'), flush=True)
            print(f'  ratio desk : raw with {workers} = {rate / raw_rate:.2f}', flush=True)
    finally:
        stop.set()
        server.join(timeout=5)
    sys.exit(1 if failed else 0)


if __name__ == '__main__':
    main()
