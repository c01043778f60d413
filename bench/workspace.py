"""The arbitration workspace for a heavy case: median server time of
GET /admin/arbitration/<ticket_no> for a dispute with 200 evidence items and 1,000 events.

    python bench/workspace.py                                   # a temporary SQLite file
    python bench/workspace.py --database-url postgresql://postgres@127.0.0.1:5432/bench_ws

The database must be empty (or only migrated): the script applies the migrations, builds the
case the way the tests do (filed, a proposal, escalated, claimed by a senior agent; then
evidence and events in bulk with a valid hash chain, see tests/case_builders.heavy), logs the
agent in, and requests the page in-process through the WSGI app (no network, no gunicorn:
the figure is the application's own time — routing, session, queries, template). It prints
the median, p90 and min over `--requests` requests after `--warmup`, the number of SQL
statements one request runs, and the size of the page; a light case (no evidence, a handful
of events) is measured the same way for comparison.
"""
import argparse
import os
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--database-url', default=None)
    parser.add_argument('--items', type=int, default=200)
    parser.add_argument('--events', type=int, default=1000)
    parser.add_argument('--requests', type=int, default=50)
    parser.add_argument('--warmup', type=int, default=5)
    return parser.parse_args(argv)


def measure(client, url, requests, warmup):
    from statements import Statements
    for _ in range(warmup):
        assert client.get(url).status_code == 200
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    with Statements() as statements:
        size = len(client.get(url).get_data())
    times.sort()
    return {'median': statistics.median(times), 'p90': times[int(len(times) * 0.9) - 1], 'min': times[0],
            'statements': statements.count, 'kb': size / 1024}


def main(argv=None):
    args = parse_args(argv)
    url = args.database_url or 'sqlite:///' + os.path.join(tempfile.mkdtemp(prefix='bench-ws-'), 'ws.sqlite3')
    from app import create_app
    from desk.core.migrate import migrate
    from desk.parties import accounts
    app = create_app({'ENV': 'testing', 'SECRET_KEY': 'bench-workspace', 'DATABASE_URL': url,
                      'REDIS_URL': None})
    from tests import case_builders as cb
    from tests.conftest import PASSWORD, login
    from tests.support import isolated_client
    with app.app_context():
        migrate()
        agent = accounts.create_user(f'bench-arbiter-{os.getpid()}', PASSWORD, 'senior_agent',
                                     department='cs', capacity=100)
        suffix = os.getpid()
        light = cb.dispute(f'BW-L-{suffix}', agent, buyer_ref=f'bw-b-{suffix}', merchant_ref=f'bw-m-{suffix}')
        started = time.perf_counter()
        heavy = cb.heavy(cb.dispute(f'BW-H-{suffix}', agent, buyer_ref=f'bw-b-{suffix}',
                                    merchant_ref=f'bw-m-{suffix}'), items=args.items, events=args.events)
        print(f'case built in {time.perf_counter() - started:.1f}s: {args.items} evidence items, '
              f'{heavy.timeline_length} events', flush=True)
    client = isolated_client(app)
    assert login(client, agent.username).status_code == 302
    print(f'database: {url.split("://")[0]}; {args.requests} requests after {args.warmup} warm-up')
    for name, case in (('light', light), ('heavy', heavy)):
        result = measure(client, f'/admin/arbitration/{case.ticket_no}', args.requests, args.warmup)
        print(f'{name:5}: median {result["median"]:.1f} ms, p90 {result["p90"]:.1f} ms, '
              f'min {result["min"]:.1f} ms, {result["statements"]} SQL statements, {result["kb"]:.0f} KB')


if __name__ == '__main__':
    main()
