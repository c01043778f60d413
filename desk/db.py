"""The one database handle, its initialisation from a URL, and transactions with
after-commit hooks.

Models bind to `database` (a proxy) so the URL can be chosen at start-up. Services open a
transaction with `atomic()`; work that must only happen once the data is durable (enqueuing
a job that reads the new rows) is registered with `after_commit()` and runs when the
outermost transaction commits, and is dropped if it rolls back.
"""
import contextlib
import os
import threading

from peewee import DatabaseProxy, SqliteDatabase
from playhouse.db_url import connect as connect_url

database = DatabaseProxy()

_local = threading.local()

SQLITE_PRAGMAS = {
    'journal_mode': 'wal',
    'foreign_keys': 1,
    'busy_timeout': 10000,
    'synchronous': 'normal',
}


def default_sqlite_url(instance_path):
    return 'sqlite:///' + os.path.join(instance_path, 'desk.sqlite3')


def make_database(url):
    """Build (not connect) a peewee database for `url`."""
    if url.startswith('sqlite:'):
        path = url.split('sqlite:///', 1)[-1]
        if path and path != ':memory:':
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        # BEGIN IMMEDIATE: a transaction takes the write lock up front and waits for it
        # (busy_timeout) instead of failing with "database is locked" when it reads first
        # and another connection commits before it writes.
        return connect_url(url, pragmas=SQLITE_PRAGMAS, lock_type='IMMEDIATE')
    return connect_url(url)


def init_database(url):
    """Point the proxy at the database for `url` (closing any previous one)."""
    previous = database.obj
    if previous is not None and not previous.is_closed():
        previous.close()
    database.initialize(make_database(url))
    return database.obj


def is_sqlite():
    return isinstance(database.obj, SqliteDatabase)


def _pending():
    if not hasattr(_local, 'callbacks'):
        _local.callbacks = []
    return _local.callbacks


def after_commit(callback):
    """Run `callback()` once the outermost `atomic()` commits; at once outside a transaction."""
    if getattr(_local, 'depth', 0) == 0:
        callback()
    else:
        _pending().append(callback)


@contextlib.contextmanager
def atomic():
    """A transaction (or savepoint when nested) that fires `after_commit` hooks on commit."""
    depth = getattr(_local, 'depth', 0)
    mark = len(_pending())  # hooks registered before this block survive its rollback
    _local.depth = depth + 1
    try:
        with database.atomic():
            yield
    except BaseException:
        del _pending()[mark:]  # a rolled-back savepoint drops only its own hooks
        raise
    finally:
        _local.depth = depth
    if depth == 0:
        callbacks, _local.callbacks = _pending()[:], []
        for callback in callbacks:
            callback()


@contextlib.contextmanager
def connection():
    """Open a connection for a job or command unless one is open; close only what we opened.

    (peewee's `connection_context` closes on exit even a connection a request opened.)
    """
    opened = database.is_closed()
    if opened:
        database.connect()
    try:
        yield
    finally:
        if opened and not database.is_closed():
            database.close()


_PG_TYPES = {'DATETIME': 'timestamp', 'INT': 'integer', 'BOOL': 'boolean', 'VARCHAR': 'varchar',
             'TEXT': 'text', 'BIGINT': 'bigint'}


def update_each(model, changes, chunk=1000):
    """Write different values to many rows: `changes` maps a primary key to {field name:
    value}. Rows getting the same values share one UPDATE (a batch of deadlines applied at
    one moment mostly does); otherwise one UPDATE per `chunk` rows with a CASE per column.
    Returns how many rows were updated."""
    if not changes:
        return 0
    from peewee import Case, Cast
    pk = model._meta.primary_key
    groups = {}
    for key, values in changes.items():
        groups.setdefault(tuple(sorted(values.items())), []).append(key)
    updated = 0
    if len(groups) <= 4:
        for values, keys in groups.items():
            for start in range(0, len(keys), chunk):
                updated += (model
                            .update(**dict(values))
                            .where(pk.in_(keys[start:start + chunk]))
                            .execute())
        return updated
    keys = list(changes)
    names = sorted({name for values in changes.values() for name in values})
    for start in range(0, len(keys), chunk):
        part = keys[start:start + chunk]
        columns = {}
        for name in names:
            field = model._meta.fields[name]
            case = Case(pk, [(key, field.db_value(changes[key][name]))
                             for key in part if name in changes[key]], field)
            if not is_sqlite():  # NULL-only branches would otherwise be typed text
                case = Cast(case, _PG_TYPES.get(field.field_type, 'text'))
            columns[field] = case
        updated += model.update(columns).where(pk.in_(part)).execute()
    return updated
