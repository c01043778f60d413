"""A real `rq worker` (and a real `rq cron`) against a real Redis, on the test database.

Skipped unless DESK_TEST_REDIS_URL is set (.ci/run sets it). The worker is a subprocess
started as the Procfile starts it, with the suite's database and secret in its
environment; it forks per job and each job opens its own database connection. The tests
poll the database with a time bound: the worker runs in another process, so there is
nothing to wait on but the data.
"""
import datetime as dt
import time

import pytest
from rq.cron import get_cron_job_ids

from desk.core import clock
from desk.core.db import database
from desk.orders import imports
from desk.orders.models import ImportRun, Order
from desk.parties.models import LoginFailure
from tests.support import diagnostics

pytestmark = pytest.mark.redis

TIMEOUT = 30  # seconds; a job normally finishes in one or two
CSV = (
    'order_no,buyer_ref,buyer_name,buyer_phone,merchant_ref,merchant_name,product,goods_type,'
    'amount,paid_at,payment_method,region\n'
    'W-1,b-1,王伟,13800000001,m-1,星耀游戏点卡专营店,王者荣耀 点券 600,game_card,60.00,'
    '2026-11-20T10:00:00+08:00,alipay,广东\n'
    'W-2,b-2,李娜,13800000002,m-1,星耀游戏点卡专营店,京东 E 卡 500 元,gift_card,495.00,'
    '2026-11-21T11:30:00+08:00,wechat,浙江\n'
    'W-3,b-1,王伟,13800000001,m-2,速通话费充值,中国移动 话费 100 元,phone_recharge,99.50,'
    '2026-11-22T09:15:00+08:00,bank,江苏\n'
    'W-4,b-3,张敏,,m-2,速通话费充值,坏行,not_a_type,-1,yesterday,cash,\n'
)


def wait_until(condition, redis_conn, *procs):
    """Poll `condition()` against the database every 0.1 s for at most TIMEOUT seconds."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        database.connect(reuse_if_open=True)
        if condition():
            return
        for proc in procs:
            assert proc.poll() is None, 'rq exited early\n' + diagnostics(redis_conn, *procs)
        time.sleep(0.1)
    pytest.fail(f'not done within {TIMEOUT}s\n' + diagnostics(redis_conn, *procs))


def test_worker_runs_a_csv_import(app, make_app, users, redis_url, redis_conn, worker):
    admin = users('admin')
    redis_app = make_app(REDIS_URL=redis_url)
    with redis_app.test_request_context('/admin/import/'):  # as the upload view calls it
        run = imports.start_import(admin, 'orders.csv', CSV.encode(), 1024 * 1024)

    wait_until(lambda: ImportRun.get_by_id(run.id).state == 'done', redis_conn, worker)

    done = ImportRun.get_by_id(run.id)
    assert (done.total_rows, done.ok_rows, done.error_rows) == (4, 3, 1)
    assert [e['line'] for e in imports.import_errors(done)] == [5]
    assert sorted(o.order_no for o in Order.select()) == ['W-1', 'W-2', 'W-3']
    assert Order.get(Order.order_no == 'W-2').amount_fen == 49500


def test_rq_cron_enqueues_the_periodic_job_and_the_worker_runs_it(app, spawn, redis_url,
                                                                   redis_conn, worker):
    now = clock.now()  # real time: the worker runs in another process with a real clock
    LoginFailure.create(key='user:old', at=now - dt.timedelta(days=2))
    LoginFailure.create(key='user:recent', at=now - dt.timedelta(minutes=5))

    cron = spawn('cron', 'cron', '--url', redis_url, 'web/cron.py')

    wait_until(lambda: LoginFailure.select().count() == 1, redis_conn, worker, cron)

    assert [f.key for f in LoginFailure.select()] == ['user:recent']
    assert get_cron_job_ids('desk.jobs.purge_login_failures', redis_conn), \
        'rq cron recorded no purge_login_failures job'
