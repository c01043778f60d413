"""Where background work goes.

Jobs are named by their dotted path (`enqueue('desk.jobs.deliver_outbox', outbox_id)`, as
microblog's `launch_task` does), so a service never imports the job modules: the job runs the
same code whether a worker imports it or the web process runs it inline.

With `DESK_REDIS_URL` jobs are enqueued to RQ (`rq worker --with-scheduler -w
web.worker.DeskWorker` runs them; `rq cron web/cron.py` enqueues the periodic ones). Without
it, jobs run inline in the web process right after the transaction that asked for them
commits, and a daemon thread ticks the periodic jobs — one process, nothing to install.

Either way a job is enqueued only after commit (`desk.core.db.after_commit`), so it always
sees the rows that caused it; job functions take ids and are idempotent.
"""
import calendar
import datetime as dt
import functools
import logging
import threading
import time

from flask import current_app, has_app_context
from redis import Redis
from rq import Queue
from rq.utils import import_attribute

from desk.core.db import after_commit, connection

log = logging.getLogger(__name__)

QUEUE = 'desk'
#: The app jobs run in outside a web request (a worker process), set by the worker's bootstrap
#: (`web.worker.DeskWorker`) with `bind_worker_app`; built once per process.
_WORKER_APP = []


def job(func):
    """Make `func` runnable by an RQ worker: an app context and a database connection
    around it (reusing the caller's when it runs inline)."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        if has_app_context():
            with connection():
                return func(*args, **kwargs)
        with worker_app().app_context(), connection():
            return func(*args, **kwargs)
    return wrapper


def bind_worker_app(app):
    """The worker's bootstrap hands jobs their app (so no job builds the whole app again)."""
    _WORKER_APP[:] = [app]


def has_worker_app():
    return bool(_WORKER_APP)


def worker_app():
    if not _WORKER_APP:
        raise RuntimeError('a job ran outside the app: start workers as '
                           '`rq worker -w web.worker.DeskWorker …` (it builds the app once)')
    return _WORKER_APP[0]


def redis_connection(app=None):
    app = app or current_app
    return app.extensions.get('desk_redis')


def init_app(app, periodic):
    """Connect to Redis when configured and remember the periodic jobs [(func, seconds)]."""
    app.extensions['desk_periodic'] = list(periodic)
    app.extensions['desk_redis'] = None
    if app.config['REDIS_URL']:
        app.extensions['desk_redis'] = Redis.from_url(app.config['REDIS_URL'])


def queue(app=None):
    return Queue(QUEUE, connection=redis_connection(app))


def enqueue(name, *args, job_id=None):
    """Run the job `name` (a dotted path) with `args` in the background once the current
    transaction commits."""
    _check_name(name)
    app = current_app._get_current_object()
    after_commit(lambda: _dispatch(app, name, args, job_id))


def enqueue_many(name, calls):
    """`enqueue` for many calls of the job `name` (a list of argument tuples): after commit
    they go to Redis through one pipeline (no round trip per job), or run inline one after
    another."""
    _check_name(name)
    calls = [tuple(args) for args in calls]
    if not calls:
        return
    app = current_app._get_current_object()
    after_commit(lambda: _dispatch_many(app, name, calls))


def _check_name(name):
    if not isinstance(name, str) or '.' not in name:
        raise TypeError(f'enqueue a job by its dotted name, e.g. "desk.jobs.relay_outbox", not {name!r}')


def schedule_many(jobs):
    """Exact-time jobs, after commit, through one pipeline: `jobs` is a list of
    (dotted name, args, job id, naive-UTC time). At its time each job goes to the FRONT of
    the queue (a deadline is not to wait behind a backlog). Without Redis nothing is
    scheduled: the periodic sweep is the timer then. A job that cannot be scheduled is
    logged: the sweep is the safety net."""
    app = current_app._get_current_object()
    if not jobs or redis_connection(app) is None:
        return

    def schedule():
        q = queue(app)
        try:
            with redis_connection(app).pipeline() as pipe:
                for name, args, job_id, at in jobs:
                    created = q.create_job(name, args=args, result_ttl=600, job_id=job_id)
                    created.enqueue_at_front = True
                    q.schedule_job(created, at.replace(tzinfo=dt.timezone.utc), pipeline=pipe)
                pipe.execute()
        except Exception:
            log.exception('could not schedule %d exact-time job(s); the sweep will run them', len(jobs))
    after_commit(schedule)


def epoch(at):
    """Whole seconds since the epoch of a naive-UTC time (for job ids)."""
    return calendar.timegm(at.timetuple())


def _dispatch_many(app, name, calls):
    redis = redis_connection(app)
    if redis is not None:
        try:
            with redis.pipeline() as pipe:
                queue(app).enqueue_many(
                    [Queue.prepare_data(name, args, result_ttl=3600, failure_ttl=7 * 86400) for args in calls],
                    pipeline=pipe)
                pipe.execute()
        except Exception:  # Redis down: the work is committed; the periodic sweep/relay takes it
            log.exception('could not enqueue %d call(s) of %s', len(calls), name)
        return
    func = import_attribute(name)
    for args in calls:
        try:
            func(*args)
        except Exception:  # an inline job must not break the request that triggered it
            log.exception('inline job %s%r failed', name, args)


def _dispatch(app, name, args, job_id):
    if redis_connection(app) is not None:
        try:
            queue(app).enqueue(name, *args, job_id=job_id, result_ttl=3600, failure_ttl=7 * 86400)
        except Exception:  # Redis down: the work is committed; the periodic sweep/relay takes it
            log.exception('could not enqueue %s%r', name, args)
        return
    try:
        import_attribute(name)(*args)
    except Exception:  # an inline job must not break the request that triggered it
        log.exception('inline job %s%r failed', name, args)


def run_periodic_once(app, last_run):
    """Run every periodic job whose interval has passed; `last_run` maps func -> monotonic."""
    for func, seconds in app.extensions['desk_periodic']:
        started = time.monotonic()
        if started - last_run.get(func, -1e18) < seconds:
            continue
        last_run[func] = started
        try:
            with app.app_context():
                func()
        except Exception:
            log.exception('periodic job %s failed', func.__name__)


def start_ticker(app):
    """Start the daemon thread that ticks periodic jobs when there is no Redis (idempotent)."""
    if app.extensions.get('desk_ticker') or redis_connection(app) is not None:
        return
    last_run = {}

    def loop():
        while True:
            run_periodic_once(app, last_run)
            time.sleep(app.config['TICK_SECONDS'])

    thread = threading.Thread(target=loop, name='desk-ticker', daemon=True)
    app.extensions['desk_ticker'] = thread
    thread.start()
