"""Test plumbing that is not domain data (builders of domain data are in tests/builders.py;
fixtures in conftest.py): test clients and logging in, the JSON answers of the API (`ok`,
`error`, `act`), forms with their CSRF token, local (Asia/Shanghai) times, threads racing
each other, counting queries, OpenAPI schemas, the compiled catalogue, and `rq` subprocesses.

Why `IsolatedClient`: the `app` fixture keeps an application context pushed for the whole
test so that services can be called directly. Flask reuses a pushed context of the same app
for every test-client request, so `g` (where Flask-Login caches the current user) and the
per-request database teardown would be shared between requests and between clients: a second
client would act as the first client's user. This client gives each request its own
application context, as a real server does.
"""
import contextlib
import contextvars
import datetime as dt
import logging
import os
import re
import sys
import threading
import time
from html import unescape

from flask.globals import _cv_app
from flask.testing import FlaskClient

from tests import builders
from tests.conftest import PASSWORD

#: The repository's root (the tests read the README, the catalogue, the Makefile … from it and
#: start `rq` there, as the Procfile does).
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# --- clients and logging in -----------------------------------------------------------------

class IsolatedClient(FlaskClient):
    def open(self, *args, **kwargs):
        token = _cv_app.set(None)
        try:
            return super().open(*args, **kwargs)
        finally:
            _cv_app.reset(token)


def isolated_client(app, language='en', addr=None):
    """A test client for `app` with a fresh app context per request; `language` pins the
    interface language (the default English keeps assertions readable), `addr` the client's
    address."""
    client = IsolatedClient(app, app.response_class, use_cookies=True)
    if language:
        client.environ_base['HTTP_ACCEPT_LANGUAGE'] = language
    if addr:
        client.environ_base['REMOTE_ADDR'] = addr
    return client


def isolated_cli(app):
    """`invoke('create-user', …)` runs `flask desk …` of `app` in its own app context (the
    CLI would otherwise run inside the context the `app` fixture keeps pushed, whatever app
    the runner was made for)."""
    runner = app.test_cli_runner()

    def invoke(*args):
        return contextvars.Context().run(runner.invoke, args=['desk', *args])
    return invoke


def csrf_token(client, url):
    """The CSRF token of the form on the page at `url`."""
    html = client.get(url).get_data(as_text=True)
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert match, f'no CSRF token on {url}'
    return match.group(1)


def login(client, username, password=PASSWORD, next_url=None):
    """Post the login form as a browser would; the response."""
    token = csrf_token(client, '/login')
    data = {'username': username, 'password': password, 'csrf_token': token}
    if next_url:
        data['next'] = next_url
    return client.post('/login', data=data)


def logged_in(app, user, language='en'):
    """An isolated client (in English unless told) logged in as `user` (a User or a username)."""
    client = isolated_client(app, language=language)
    response = login(client, getattr(user, 'username', user))
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return client


# --- pages and forms ------------------------------------------------------------------------

def page_text(response):
    """The page as text: scripts and tags dropped, entities decoded, whitespace collapsed."""
    html = response.get_data(as_text=True)
    html = re.sub(r'<script.*?</script>', ' ', html, flags=re.S)
    return unescape(re.sub(r'\s+', ' ', re.sub(r'<[^>]+>', ' ', html)))


def post_form(client, url, data=None, page=None, **kwargs):
    """POST the form `data` to `url` with the CSRF token of the form on `page` (default: the
    page at `url` itself); the response."""
    data = dict(data or {})
    data['csrf_token'] = csrf_token(client, page or url)
    return client.post(url, data=data, **kwargs)


def form_errors(html):
    """{field: message} of the form errors a console page shows (`data-error` marks them)."""
    return dict(re.findall(r'data-error="([^"]+)">([^<]+)<', html))


# --- time ------------------------------------------------------------------------------------

def shanghai(year, month, day, hour=0, minute=0, second=0):
    """A wall time in Asia/Shanghai (UTC+8, no daylight saving) as the naive UTC the desk
    stores. Days past the month's end run into the next month (2026-11-31 is December 1)."""
    start = dt.datetime(year, month, 1, hour, minute, second) + dt.timedelta(days=day - 1)
    return start - dt.timedelta(hours=8)


# --- the JSON API ---------------------------------------------------------------------------

def _shown(response):
    return response.get_json(silent=True) or response.get_data(as_text=True)[:500]


def ok(response, status=200):
    """The JSON body of `response`, after asserting its status (the body in the message)."""
    assert response.status_code == status, (response.status_code, _shown(response))
    return response.get_json()


def error(response, status=None):
    """The `error` object of an API answer, after asserting `status` when given (never a 500)."""
    if status is not None:
        assert response.status_code == status, (response.status_code, _shown(response))
    assert response.status_code != 500, _shown(response)
    return response.get_json()['error']


def act(client, who, complaint, action, data=None):
    """POST the lifecycle action `action` on `complaint` (a Complaint or a ticket number).

    `client, who` are a test client and request headers, or a desk fixture (a dict holding
    its `client` and each actor's headers) and the name of the actor in it.
    """
    if isinstance(client, dict):
        client, who = client['client'], client[who]
    ticket_no = getattr(complaint, 'ticket_no', complaint)
    return client.post(f'/api/v1/complaints/{ticket_no}/actions/{action}', json=data or {}, headers=who)


def post_complaint(client, headers, **kwargs):
    """POST a complaint (`builders.body(**kwargs)`); the response."""
    return client.post('/api/v1/complaints', json=builders.body(**kwargs), headers=headers)


def file_ok(client, headers, **kwargs):
    """POST a complaint that must be filed (201); its JSON."""
    return ok(post_complaint(client, headers, **kwargs), 201)


# --- races ----------------------------------------------------------------------------------

def run_together(*functions, app=None, timeout=60):
    """Run each function in its own thread, released together by a barrier (a race); their
    results in order. A function that raised or a thread that hung fails the test.

    With `app`, each function runs in its own application context and database connection
    (functions calling services); without, the functions bring their own (HTTP requests
    through an isolated client, or their own `with app.app_context()`).
    """
    from desk.core.db import connection
    barrier = threading.Barrier(len(functions), timeout=timeout)
    results = [None] * len(functions)

    def runner(index, function):
        try:
            if app is None:
                barrier.wait()
                results[index] = function()
            else:
                with app.app_context(), connection():
                    barrier.wait()
                    results[index] = function()
        except Exception as err:  # reported below
            results[index] = err

    threads = [threading.Thread(target=runner, args=(i, f)) for i, f in enumerate(functions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(t.is_alive() for t in threads), 'a thread hung'
    assert not any(isinstance(r, Exception) for r in results), results
    return results


# --- queries and schemas --------------------------------------------------------------------

@contextlib.contextmanager
def count_queries():
    """The SQL statements run inside the block (peewee logs each at DEBUG)."""
    records = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = records.append
    logger = logging.getLogger('peewee')
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield records
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def schema_validator(document, name):
    """A validator for components/schemas/<name> of the OpenAPI `document` that resolves the
    document's $refs."""
    from openapi_schema_validator import OAS30Validator, oas30_format_checker
    schema = dict(document['components']['schemas'][name], components=document['components'])
    return OAS30Validator(schema, format_checker=oas30_format_checker)


def assert_valid(document, name, instance):
    """`instance` matches the schema `name` of the OpenAPI `document`."""
    errors = sorted(schema_validator(document, name).iter_errors(instance), key=str)
    assert not errors, f'{name}: ' + '; '.join(f'{list(e.path)}: {e.message}' for e in errors)


# --- the translation catalogue --------------------------------------------------------------

TRANSLATIONS = os.path.join(ROOT, 'translations')
PO = os.path.join(TRANSLATIONS, 'zh', 'LC_MESSAGES', 'messages.po')
MO = os.path.join(TRANSLATIONS, 'zh', 'LC_MESSAGES', 'messages.mo')


def ensure_compiled():
    """Compile the zh catalogue if its .mo is missing or older than the .po (like
    `make translations`, which `make test` runs first); returns True if it compiled.

    Written to a temporary file and renamed, so parallel test runs never read half a file.
    """
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po
    if os.path.exists(MO) and os.path.getmtime(MO) >= os.path.getmtime(PO):
        return False
    with open(PO, 'rb') as f:
        catalog = read_po(f, locale='zh')
    tmp = f'{MO}.{os.getpid()}.tmp'
    with open(tmp, 'wb') as f:
        write_mo(f, catalog, use_fuzzy=False)
    os.replace(tmp, MO)
    return True


def forget_loaded_translations(app):
    """Flask-Babel caches catalogues per locale for the app's lifetime; drop them after a
    compile so a session app built before it sees the new .mo."""
    config = app.extensions.get('babel')
    if config is not None:
        config.instance.domain_instance.cache.clear()


# --- rq subprocesses (the tests marked `redis`) ---------------------------------------------

#: Seconds for a worker to start and take the scheduler lock.
START_TIMEOUT = 30


def rq_command(*args):
    """`rq …` from this interpreter's environment (the venv's `rq` script, as in the Procfile)."""
    script = os.path.join(os.path.dirname(sys.executable), 'rq')
    if os.path.exists(script):
        return [script, *args]
    return [sys.executable, '-m', 'rq.cli', *args]


def diagnostics(redis_conn, *procs):
    """What went wrong, for the assertion message: failed jobs and the processes' output."""
    from rq import Queue
    from rq.job import Job

    from desk.core import tasks
    failed = Queue(tasks.QUEUE, connection=redis_conn).failed_job_registry
    lines = [f'failed jobs: {failed.get_job_ids()}']
    for job_id in failed.get_job_ids():
        result = Job.fetch(job_id, connection=redis_conn).latest_result()
        lines.append(f'{job_id}: {result.exc_string if result else "?"}')
    for proc in procs:
        proc.log.flush()
        proc.log.seek(0)
        lines.append(f'--- {proc.args[1]} (exit {proc.poll()}) ---\n' + proc.log.read()[-4000:])
    return '\n'.join(lines)


def poll(condition, until, redis_conn, *procs):
    """Poll `condition()` (reading the database) every 0.1 s until the wall-clock time
    `until` (naive UTC); returns its last value. A process of `procs` that exits fails."""
    from desk.core import clock
    from desk.core.db import database
    while True:
        database.connect(reuse_if_open=True)
        value = condition()
        if value or clock.now() > until:
            return value
        for proc in procs:
            assert proc.poll() is None, 'rq exited early\n' + diagnostics(redis_conn, *procs)
        time.sleep(0.1)


def scheduler_ready(redis_conn, worker):
    """Wait until the worker's scheduler holds the lock of the desk queue."""
    import datetime as dt

    from rq.scheduler import RQScheduler

    from desk.core import clock, tasks
    key = RQScheduler.get_locking_key(tasks.QUEUE)
    ready = poll(lambda: redis_conn.exists(key), clock.now() + dt.timedelta(seconds=START_TIMEOUT),
                 redis_conn, worker)
    assert ready, 'the worker never started its scheduler\n' + diagnostics(redis_conn, worker)


def finished_jobs(redis_conn):
    """{job id: function name} of the jobs the worker finished."""
    from rq.job import Job
    from rq.registry import FinishedJobRegistry

    from desk.core import tasks
    ids = FinishedJobRegistry(tasks.QUEUE, connection=redis_conn).get_job_ids()
    return {job.id: job.func_name for job in Job.fetch_many(ids, connection=redis_conn) if job}
