"""The root conftest: one fixture builds the app on a fresh database, and the fixtures the
test folders share (people, clients, the frozen clock, Redis and `rq` subprocesses, a
scripted webhook receiver). Plumbing functions are in tests/support.py, builders of domain
data in tests/builders.py.

SQLite by default (a temporary file; in-memory SQLite loses data between requests).
`DESK_TEST_DATABASE_URL=postgresql://…` runs the same suite on PostgreSQL, and
`DESK_TEST_REDIS_URL=redis://…` enables the tests that need a real Redis and RQ worker;
without them those tests skip and say why.
"""
import datetime as dt
import functools
import os
import shutil
import signal
import subprocess

import pytest

from app import ALL_MODELS, create_app
from desk.core import clock
from desk.core.db import database
from desk.parties import accounts

TEST_DB_URL = os.environ.get('DESK_TEST_DATABASE_URL')
TEST_REDIS_URL = os.environ.get('DESK_TEST_REDIS_URL')
CHROMIUM = os.environ.get('DESK_TEST_CHROMIUM', '/usr/bin/chromium')
PASSWORD = 'correct-horse-9'
#: A fixed "now" for tests that freeze the clock: 2026-11-24 10:00 Beijing time.
T0 = dt.datetime(2026, 11, 24, 2, 0, 0)


def _postgres_admin(url):
    import psycopg2
    conn = psycopg2.connect(url.replace('postgresql+pool://', 'postgresql://'))
    conn.autocommit = True
    return conn


@pytest.fixture(scope='session')
def db_url(tmp_path_factory):
    """A database of this test session's own.

    On PostgreSQL a fresh database named after the given one plus the process id is created
    and dropped afterwards, so concurrent runs (CI, a developer, helpers) never wipe each
    other's tables.
    """
    if not TEST_DB_URL:
        yield 'sqlite:///' + str(tmp_path_factory.mktemp('db') / 'test.sqlite3')
        return
    from urllib.parse import urlsplit, urlunsplit
    parts = urlsplit(TEST_DB_URL)
    name = f'{parts.path.lstrip("/") or "test"}_{os.getpid()}'
    admin = _postgres_admin(TEST_DB_URL)
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(parts._replace(path='/' + name))
    finally:
        if not database.is_closed():
            database.close()
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(scope='session')
def settings(db_url, tmp_path_factory):
    return {'ENV': 'testing', 'SECRET_KEY': 'test-secret-key-for-the-suite',
            'DATABASE_URL': db_url, 'DATA_DIR': str(tmp_path_factory.mktemp('data')),
            'REDIS_URL': None}


@pytest.fixture(scope='session')
def base_app(settings):
    app = create_app(settings)
    from desk.core.migrate import migrate
    migrate()
    return app


@functools.lru_cache(maxsize=1)
def _reference_rows():
    """{table: rows} the migrations seed (categories, clauses, SLA policies …), restored
    after each wipe: every migration that seeds data names it in a module-level SEEDS."""
    from playhouse.migrations import Migration

    from desk.core.migrate import DIRECTORY
    seeds = {}
    for migration in Migration.load_directory(DIRECTORY):
        seeds.update(getattr(migration.load(), 'SEEDS', {}))
    return seeds


def _wipe():
    tables = [m._meta.table_name for m in ALL_MODELS]
    with database.connection_context():
        if TEST_DB_URL:
            database.execute_sql('TRUNCATE ' + ', '.join(f'"{t}"' for t in tables) + ' RESTART IDENTITY CASCADE')
        else:
            database.execute_sql('PRAGMA foreign_keys = OFF')
            for table in tables:
                database.execute_sql(f'DELETE FROM "{table}"')
            database.execute_sql('PRAGMA foreign_keys = ON')
        models = {m._meta.table_name: m for m in ALL_MODELS}
        for table, rows in _reference_rows().items():
            models[table].insert_many(rows).execute()


@pytest.fixture
def app(base_app, settings):
    """The app with an empty database; the clock is real unless a test freezes it."""
    from desk.core.db import init_database
    init_database(settings['DATABASE_URL'])
    _wipe()
    base_app.config.update(WTF_CSRF_ENABLED=True)
    with base_app.app_context():
        yield base_app
    clock.unfreeze()
    if not database.is_closed():
        database.close()


@pytest.fixture
def make_app(settings):
    """Build an app with extra settings (same database), e.g. make_app(LOGIN_MAX_FAILURES=2)."""
    def factory(**overrides):
        merged = dict(settings)
        merged.update(overrides)
        return create_app(merged)
    return factory


@pytest.fixture
def frozen():
    """Freeze the clock at T0; the test moves it with clock.advance()."""
    clock.freeze(T0)
    yield clock
    clock.unfreeze()


@pytest.fixture
def client(app):
    """A test client whose every request gets its own application context, as on a real
    server (see tests/support.py: otherwise `g`, and with it the logged-in user, would leak
    from one request and one client to the next)."""
    from tests.support import isolated_client
    return isolated_client(app, language=None)


@pytest.fixture
def en_client(app):
    """A client like `client`, its requests in English (`client` leaves the language to the
    app's default, Chinese): for tests that assert English messages."""
    from tests.support import isolated_client
    return isolated_client(app)


@pytest.fixture
def users(app):
    """Factory: users('agent', department='cs') -> a saved User with PASSWORD."""
    counter = {'n': 0}

    def make(role, username=None, **kwargs):
        counter['n'] += 1
        username = username or f'{role}{counter["n"]}'
        if role in ('agent', 'senior_agent'):
            kwargs.setdefault('department', 'cs')
        return accounts.create_user(username, PASSWORD, role, **kwargs)
    return make


@pytest.fixture
def api_key(app):
    """Factory: api_key(user) -> headers with a fresh bearer key for `user`."""
    def make(user):
        _key, secret = accounts.create_api_key(user, 'test')
        return {'Authorization': f'Bearer {secret}'}
    return make


@pytest.fixture
def no_leftover_clock():
    """Unfreeze the clock after the test, whatever it did (for modules that freeze it outside
    `frozen`: `pytestmark = pytest.mark.usefixtures('no_leftover_clock')`)."""
    yield
    clock.unfreeze()


@pytest.fixture
def no_complaint_spike(app):
    """Deactivate the complaint_spike rule: tests that file many complaints against m-1 would
    otherwise record spike violations on filing (tests/arbitration/penalties/test_spike.py
    covers those) beside what they look at."""
    from arbitration.penalties.models import ViolationRule
    ViolationRule.update(active=False).where(ViolationRule.code == 'complaint_spike').execute()


@pytest.fixture
def receiver():
    """A scripted webhook endpoint on 127.0.0.1 (tests/webhook_receiver.py)."""
    from tests.webhook_receiver import ScriptedReceiver
    server = ScriptedReceiver()
    yield server
    server.close()


@pytest.fixture
def redis_url():
    if not TEST_REDIS_URL:
        pytest.skip('needs Redis: set DESK_TEST_REDIS_URL=redis://127.0.0.1:6379/15 (.ci/run does)')
    import redis
    try:
        redis.Redis.from_url(TEST_REDIS_URL).ping()
    except redis.RedisError as err:
        pytest.skip(f'Redis at {TEST_REDIS_URL} is not answering: {err}')
    return TEST_REDIS_URL


@pytest.fixture
def redis_conn(redis_url):
    """A connection to the test Redis, emptied before and after the test."""
    import redis
    connection = redis.Redis.from_url(redis_url)
    connection.flushdb()
    yield connection
    connection.flushdb()


@pytest.fixture
def spawn(settings, redis_url, redis_conn, tmp_path):
    """spawn(name, *rq_args, **env) -> a running `rq …` subprocess on the suite's database and
    secret (plus `env`), started from the repository root as the Procfile starts it; stopped
    after the test. Its output is in `proc.log`."""
    from tests.support import ROOT, rq_command
    base_env = dict(os.environ,
                    DESK_ENV='testing', DESK_SECRET_KEY=settings['SECRET_KEY'],
                    DESK_DATABASE_URL=settings['DATABASE_URL'], DESK_DATA_DIR=settings['DATA_DIR'],
                    DESK_REDIS_URL=redis_url, PYTHONUNBUFFERED='1')
    started = []

    def start(name, *args, **env):
        log = open(tmp_path / f'{name}.log', 'w+')
        proc = subprocess.Popen(rq_command(*args), cwd=ROOT, env=dict(base_env, **env), stdin=subprocess.DEVNULL,
                                stdout=log, stderr=subprocess.STDOUT)
        proc.log = log
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        proc.log.close()


@pytest.fixture
def worker(spawn, redis_url):
    """A real `rq worker --with-scheduler -w web.worker.DeskWorker` on the desk queue."""
    return spawn('worker', 'worker', '--with-scheduler', '-w', 'web.worker.DeskWorker', '--url', redis_url,
                 '--name', f'desk-test-{os.getpid()}', 'desk')


@pytest.fixture(scope='session')
def chromium_path():
    if not (os.path.exists(CHROMIUM) or shutil.which('chromium')):
        pytest.skip(f'needs Chromium at {CHROMIUM} (apt-get install chromium; .ci/run installs it)')
    try:
        import playwright  # noqa: F401
    except ImportError:
        pytest.skip('needs the playwright Python package (make test installs it)')
    return CHROMIUM if os.path.exists(CHROMIUM) else shutil.which('chromium')
