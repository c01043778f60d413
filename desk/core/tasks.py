"""Where background work goes.

With `DESK_REDIS_URL` jobs are enqueued to RQ (`rq worker --with-scheduler` runs them;
`rq cron web/cron.py` enqueues the periodic ones). Without it, jobs run inline in the
web process right after the transaction that asked for them commits, and a daemon thread
ticks the periodic jobs — one process, nothing to install.

Either way a job is enqueued only after commit (`desk.core.db.after_commit`), so it always
sees the rows that caused it; job functions take ids and are idempotent.
"""
import functools
import logging
import threading
import time

from flask import current_app, has_app_context

from desk.core.db import after_commit, connection

log = logging.getLogger(__name__)

QUEUE = 'desk'
_worker_app = None


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


def worker_app():
    """The app jobs run in outside a web request, built once per process.

    `web.worker.DeskWorker` builds it when the worker starts, so no job builds the whole
    app again (~1 s each).
    """
    global _worker_app
    if _worker_app is None:
        from app import create_app  # the composition root; imported only in workers
        _worker_app = create_app()
    return _worker_app


def redis_connection(app=None):
    app = app or current_app
    return app.extensions.get('desk_redis')


def init_tasks(app, periodic):
    """Connect to Redis when configured and remember the periodic jobs [(func, seconds)]."""
    app.extensions['desk_periodic'] = list(periodic)
    app.extensions['desk_redis'] = None
    if app.config['REDIS_URL']:
        from redis import Redis
        app.extensions['desk_redis'] = Redis.from_url(app.config['REDIS_URL'])


def queue(app=None):
    from rq import Queue
    return Queue(QUEUE, connection=redis_connection(app))


def enqueue(func, *args, job_id=None):
    """Run `func(*args)` in the background once the current transaction commits."""
    app = current_app._get_current_object()
    after_commit(lambda: _dispatch(app, func, args, job_id))


def enqueue_many(func, calls):
    """`enqueue` for many calls of `func` (a list of argument tuples): after commit they go
    to Redis through one pipeline (no round trip per job), or run inline one after another."""
    calls = [tuple(args) for args in calls]
    if not calls:
        return
    app = current_app._get_current_object()
    after_commit(lambda: _dispatch_many(app, func, calls))


def _dispatch_many(app, func, calls):
    redis = redis_connection(app)
    if redis is not None:
        from rq import Queue
        try:
            with redis.pipeline() as pipe:
                queue(app).enqueue_many(
                    [Queue.prepare_data(func, args, result_ttl=3600, failure_ttl=7 * 86400) for args in calls],
                    pipeline=pipe)
                pipe.execute()
        except Exception:  # Redis down: the work is committed; the periodic sweep/relay takes it
            log.exception('could not enqueue %d call(s) of %s', len(calls), func.__name__)
        return
    for args in calls:
        try:
            func(*args)
        except Exception:  # an inline job must not break the request that triggered it
            log.exception('inline job %s%r failed', func.__name__, args)


def _dispatch(app, func, args, job_id):
    if redis_connection(app) is not None:
        try:
            queue(app).enqueue(func, *args, job_id=job_id, result_ttl=3600, failure_ttl=7 * 86400)
        except Exception:  # Redis down: the work is committed; the periodic sweep/relay takes it
            log.exception('could not enqueue %s%r', func.__name__, args)
        return
    try:
        func(*args)
    except Exception:  # an inline job must not break the request that triggered it
        log.exception('inline job %s%r failed', func.__name__, args)


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
