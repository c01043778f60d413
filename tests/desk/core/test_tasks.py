"""Background work without Redis: jobs run inline after commit, the ticker runs periodic
jobs on their intervals, and the `rq cron` config registers the same periodic jobs.
The Redis path is exercised against fakeredis here and against a real worker in
tests/web/test_worker.py.
"""
import datetime as dt
import logging

import fakeredis
import pytest
from rq import Queue, SimpleWorker
from rq.cron import CronScheduler

from app import PERIODIC_JOBS
from desk import jobs
from desk.core import clock, tasks
from desk.core.db import atomic
from desk.orders import imports
from desk.orders.models import ImportRun
from desk.parties.models import LoginFailure
from tests.support import ROOT

calls = []


def record(*args):
    """A job that only remembers it ran (module level, so RQ can import it by name)."""
    calls.append(args)


def explode(*args):
    raise RuntimeError('job exploded')


#: Jobs are enqueued by their dotted name (`desk.core.tasks.enqueue`).
RECORD = f'{__name__}.record'
EXPLODE = f'{__name__}.explode'


@pytest.fixture(autouse=True)
def _clear_calls():
    calls.clear()
    yield
    calls.clear()


# --- inline mode (no DESK_REDIS_URL) ---

def test_inline_job_runs_after_commit_not_before(app):
    with atomic():
        tasks.enqueue(RECORD, 7)
        assert calls == [], 'a job must not run before its transaction commits'
    assert calls == [(7,)]


def test_inline_job_outside_a_transaction_runs_at_once(app):
    tasks.enqueue(RECORD, 'now')
    assert calls == [('now',)]


def test_rolled_back_transaction_runs_no_job(app):
    with pytest.raises(ZeroDivisionError):
        with atomic():
            tasks.enqueue(RECORD, 1)
            1 / 0
    assert calls == []
    with atomic():  # nothing left over fires with the next commit
        pass
    assert calls == []


def test_job_from_a_rolled_back_savepoint_does_not_run(app):
    with atomic():
        tasks.enqueue(RECORD, 'outer')
        with pytest.raises(ZeroDivisionError):
            with atomic():
                tasks.enqueue(RECORD, 'inner')
                1 / 0
    assert calls == [('outer',)]


def test_failing_inline_job_is_logged_and_caller_continues(app, caplog):
    with caplog.at_level(logging.ERROR, logger='desk.core.tasks'):
        with atomic():
            tasks.enqueue(EXPLODE, 42)
            tasks.enqueue(RECORD, 'after')
    assert calls == [('after',)]
    failure = next(r for r in caplog.records if 'explode' in r.getMessage())
    assert '42' in failure.getMessage()
    assert failure.exc_info and 'job exploded' in str(failure.exc_info[1])


# --- with Redis (fakeredis): enqueued after commit, never on rollback ---

@pytest.fixture
def fake_redis(app, monkeypatch):
    connection = fakeredis.FakeStrictRedis()
    monkeypatch.setitem(app.extensions, 'desk_redis', connection)
    return connection


def test_with_redis_the_job_is_enqueued_after_commit(app, fake_redis):
    rq_queue = Queue(tasks.QUEUE, connection=fake_redis)
    with atomic():
        tasks.enqueue(RECORD, 5, job_id='record-5')
        assert rq_queue.count == 0
    assert rq_queue.job_ids == ['record-5']
    assert calls == [], 'with Redis the web process only enqueues'
    SimpleWorker([rq_queue], connection=fake_redis).work(burst=True)
    assert calls == [(5,)]


def test_with_redis_a_rollback_enqueues_nothing(app, fake_redis):
    with pytest.raises(ZeroDivisionError):
        with atomic():
            tasks.enqueue(RECORD, 5)
            1 / 0
    assert Queue(tasks.QUEUE, connection=fake_redis).count == 0


# --- before_commit (work done last inside the transaction) ---

def test_before_commit_runs_last_inside_the_outermost_transaction(app):
    from desk.core.db import before_commit
    from desk.parties.models import Merchant
    order = []
    with atomic():
        with atomic():
            before_commit(lambda: order.append(('hook', Merchant.select().count())))
            Merchant.create(ref='m-x', name='x')
        order.append('after the inner block')
        Merchant.create(ref='m-y', name='y')
        assert order == ['after the inner block'], 'not before the outermost block ends'
    assert order == ['after the inner block', ('hook', 2)]  # it saw the whole transaction's work


def test_before_commit_is_rolled_back_with_the_transaction_and_savepoint(app):
    from desk.core.db import before_commit
    from desk.parties.models import Merchant
    with pytest.raises(ZeroDivisionError):
        with atomic():
            before_commit(lambda: Merchant.create(ref='m-z', name='z'))
            1 / 0
    with atomic():
        with pytest.raises(ZeroDivisionError):
            with atomic():
                before_commit(lambda: calls.append('dropped'))
                1 / 0
        before_commit(lambda: calls.append('kept'))
    assert calls == ['kept'] and not Merchant.select().where(Merchant.ref == 'm-z').exists()

    def failing():
        raise ZeroDivisionError
    with pytest.raises(ZeroDivisionError):
        with atomic():
            Merchant.create(ref='m-w', name='w')
            before_commit(failing)
    assert not Merchant.select().where(Merchant.ref == 'm-w').exists(), 'a failing hook rolls back everything'


# --- the periodic ticker (development, no Redis) ---

def test_run_periodic_once_runs_due_jobs_and_respects_intervals(app, monkeypatch):
    def hourly():
        calls.append('hourly')

    def minutely():
        calls.append('minutely')

    monkeypatch.setitem(app.extensions, 'desk_periodic', [(hourly, 3600), (minutely, 60)])
    last_run = {}
    tasks.run_periodic_once(app, last_run)
    assert sorted(calls) == ['hourly', 'minutely'], 'everything is due on the first tick'
    tasks.run_periodic_once(app, last_run)
    assert len(calls) == 2, 'nothing is due again right away'
    last_run[minutely] -= 61  # a minute and a second pass for the minutely job only
    last_run[hourly] -= 61
    tasks.run_periodic_once(app, last_run)
    assert sorted(calls) == ['hourly', 'minutely', 'minutely']


def test_a_failing_periodic_job_does_not_stop_the_others(app, monkeypatch, caplog):
    def broken():
        raise RuntimeError('periodic boom')

    def fine():
        calls.append('fine')

    monkeypatch.setitem(app.extensions, 'desk_periodic', [(broken, 60), (fine, 60)])
    with caplog.at_level(logging.ERROR, logger='desk.core.tasks'):
        tasks.run_periodic_once(app, {})
    assert calls == ['fine']
    assert any('broken' in r.getMessage() for r in caplog.records)


def test_periodic_jobs_run_through_the_ticker_for_real(app, caplog):
    """The app's own PERIODIC_JOBS run cleanly under the ticker (no failure logged)."""
    assert app.extensions['desk_periodic'] == list(PERIODIC_JOBS)
    with caplog.at_level(logging.ERROR, logger='desk.core.tasks'):
        tasks.run_periodic_once(app, {})
    assert [r.getMessage() for r in caplog.records if r.name == 'desk.core.tasks'] == []


# --- the job functions ---

def test_purge_login_failures_is_idempotent(app, frozen):
    now = clock.now()
    LoginFailure.create(key='user:old', at=now - dt.timedelta(days=2))
    LoginFailure.create(key='ip:10.0.0.1', at=now - dt.timedelta(days=1, seconds=1))
    LoginFailure.create(key='user:recent', at=now - dt.timedelta(hours=1))
    assert jobs.purge_login_failures() == 2
    assert jobs.purge_login_failures() == 0
    assert [f.key for f in LoginFailure.select()] == ['user:recent']


def test_a_job_outside_a_request_can_record_translated_errors(app, users):
    """Workers and the ticker have no request to pick a language from: the job wrapper
    falls back to the default one instead of failing on the first bad CSV row."""
    admin = users('admin')
    run = ImportRun.create(created_by=admin, filename='bad.csv',
                           content='order_no,buyer_ref\nX-1,b-1\n')
    jobs.import_orders(run.id)
    done = ImportRun.get_by_id(run.id)
    assert (done.state, done.ok_rows, done.error_rows) == ('done', 0, 1)
    assert imports.import_errors(done)[0]['line'] == 2


# --- rq cron config ---

def load_cron_config(monkeypatch, connection):
    monkeypatch.chdir(ROOT)  # the Procfile runs `rq cron web/cron.py` from the repo root
    scheduler = CronScheduler(connection=connection)
    scheduler.load_config_from_file('web/cron.py')
    return scheduler


def test_cron_config_registers_every_periodic_job(monkeypatch):
    scheduler = load_cron_config(monkeypatch, fakeredis.FakeStrictRedis())
    registered = sorted((j.func_name, j.interval, j.queue_name) for j in scheduler.get_jobs())
    expected = sorted((f'{func.__module__}.{func.__name__}', seconds, tasks.QUEUE)
                      for func, seconds in PERIODIC_JOBS)
    assert registered == expected
    assert expected, 'PERIODIC_JOBS is empty'


def test_cron_enqueues_periodic_jobs_that_a_worker_can_run(app, monkeypatch):
    connection = fakeredis.FakeStrictRedis()
    scheduler = load_cron_config(monkeypatch, connection)
    enqueued = scheduler.enqueue_jobs()
    assert len(enqueued) == len(PERIODIC_JOBS), 'interval jobs are due at start-up'
    rq_queue = Queue(tasks.QUEUE, connection=connection)
    assert rq_queue.count == len(PERIODIC_JOBS)
    assert scheduler.enqueue_jobs() == [], 'not due again until their interval passes'
    SimpleWorker([rq_queue], connection=connection).work(burst=True)
    assert rq_queue.count == 0
    assert rq_queue.failed_job_registry.count == 0
    assert rq_queue.finished_job_registry.count == len(PERIODIC_JOBS)
