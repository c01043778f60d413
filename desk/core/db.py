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

from peewee import SQL, DatabaseProxy, Model, NodeList, SqliteDatabase
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


def _closing():
    if not hasattr(_local, 'closing'):
        _local.closing = []
    return _local.closing


def after_commit(callback):
    """Run `callback()` once the outermost `atomic()` commits; at once outside a transaction."""
    if getattr(_local, 'depth', 0) == 0:
        callback()
    else:
        _pending().append(callback)


def before_commit(callback):
    """Run `callback()` inside the outermost `atomic()`, as its last work before the commit; at
    once outside a transaction. For work that locks rows many transactions share (a
    merchant's standing): done last, the locks are held only until the commit, not for the
    rest of a long batch — and it still commits or rolls back with everything else."""
    if getattr(_local, 'depth', 0) == 0:
        callback()
    else:
        _closing().append(callback)


@contextlib.contextmanager
def atomic():
    """A transaction (or savepoint when nested) that runs `before_commit` hooks last inside
    it and fires `after_commit` hooks on commit."""
    depth = getattr(_local, 'depth', 0)
    mark = len(_pending())  # hooks registered before this block survive its rollback
    closing_mark = len(_closing())
    _local.depth = depth + 1
    try:
        with database.atomic():
            yield
            while depth == 0 and _closing():  # a hook may register another
                callbacks, _local.closing = _closing()[:], []
                for callback in callbacks:
                    callback()
    except BaseException:
        del _pending()[mark:]  # a rolled-back savepoint drops only its own hooks
        del _closing()[closing_mark:]
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
#: SQLite allows 32,766 parameters a statement; PostgreSQL 65,535.
MAX_PARAMS = 30000


def _quote(name):
    return '"%s"' % name


def among(field, values):
    """`field IN values` for a long list, cheap to build: one array parameter on PostgreSQL
    (`= ANY(%s)`), plain placeholders on SQLite — not a peewee node per value."""
    values = list(values)
    if not values:
        return SQL('1 = 0')
    if is_sqlite():
        return NodeList((field, SQL('IN (%s)' % ', '.join(['?'] * len(values)), values)))
    return NodeList((field, SQL('= ANY(%s)', [values])))


def insert_rows(model, fields, rows, returning=False):
    """One multi-row INSERT of `rows` (sequences of values in `fields` order) into `model`'s
    table, written as plain SQL: peewee builds a node per value, which at tens of thousands
    of rows costs more than the database does. Values go through each field's `db_value`.
    With `returning`, the new primary keys in the order of `rows`."""
    if not rows:
        return []
    param = database.obj.param
    converters = [f.db_value for f in fields]
    head = 'INSERT INTO %s (%s) VALUES ' % (_quote(model._meta.table_name),
                                            ', '.join(_quote(f.column_name) for f in fields))
    one = '(' + ', '.join([param] * len(fields)) + ')'
    tail = ' RETURNING %s' % _quote(model._meta.primary_key.column_name) if returning else ''
    per = max(1, MAX_PARAMS // len(fields))
    ids = []
    for start in range(0, len(rows), per):
        part = rows[start:start + per]
        params = [convert(value) for row in part for convert, value in zip(converters, row)]
        cursor = database.execute_sql(head + ', '.join([one] * len(part)) + tail, params)
        if returning:
            ids.extend(row[0] for row in cursor.fetchall())
    return ids


def update_each(model, changes, condition=None, increment=None):
    """Write different values to many rows: `changes` maps a primary key to {field name:
    value}. A column with the same value for every row is set plainly; the columns that
    differ come from a VALUES list joined on the key (UPDATE … FROM), one statement for
    all rows (per set of column names). `condition` is extra SQL for the WHERE clause as
    (sql with `database.obj.param` placeholders, params) — a compare-and-set; `increment`
    names a column to add 1 to (a version). Returns the number of rows updated."""
    if not changes:
        return 0
    groups = {}
    for key, values in changes.items():
        groups.setdefault(tuple(values), []).append(key)
    return sum(_update_group(model, names, keys, changes, condition, increment)
               for names, keys in groups.items())


def _update_group(model, names, keys, changes, condition, increment):
    param = database.obj.param
    table = _quote(model._meta.table_name)
    pk = _quote(model._meta.primary_key.column_name)
    fields = [model._meta.fields[name] for name in names]
    constant, varying = [], []
    for field in fields:
        first = changes[keys[0]][field.name]
        if all(_same(changes[key][field.name], first) for key in keys):
            constant.append((field, first))
        else:
            varying.append(field)
    per = max(1, MAX_PARAMS // (len(varying) + 1))
    updated = 0
    for start in range(0, len(keys), per):
        part = keys[start:start + per]
        sets, params, prefix, source = [], [], '', ''
        if varying:
            columns = ['k'] + ['c%d' % n for n in range(len(varying))]
            row = '(' + ', '.join([param] * len(columns)) + ')'
            prefix = 'WITH v(%s) AS (VALUES %s) ' % (', '.join(columns), ', '.join([row] * len(part)))
            converters = [f.db_value for f in varying]
            for key in part:
                params.append(key)
                params.extend(convert(changes[key][f.name]) for convert, f in zip(converters, varying))
            for n, field in enumerate(varying):
                value = 'v.c%d' % n
                if not is_sqlite():  # NULL-only columns would otherwise be typed text
                    value = 'CAST(%s AS %s)' % (value, _PG_TYPES.get(field.field_type, 'text'))
                sets.append('%s = %s' % (_quote(field.column_name), value))
            source = ' FROM v'
        for field, value in constant:
            sets.append('%s = %s' % (_quote(field.column_name), param))
            params.append(field.db_value(value))
        if increment:
            column = _quote(model._meta.fields[increment].column_name)
            sets.append('%s = %s.%s + 1' % (column, table, column))
        if varying:
            where = '%s.%s = v.k' % (table, pk)
        else:
            where = '%s.%s IN (%s)' % (table, pk, ', '.join([param] * len(part)))
            params.extend(part)
        if condition is not None:
            where += ' AND (%s)' % condition[0]
            params.extend(condition[1])
        sql = '%sUPDATE %s SET %s%s WHERE %s' % (prefix, table, ', '.join(sets), source, where)
        if is_sqlite():  # Python's sqlite3 reports no rowcount for a statement starting WITH
            before = database.connection().total_changes
            database.execute_sql(sql, params)
            updated += database.connection().total_changes - before
        else:
            updated += database.execute_sql(sql, params).rowcount
    return updated


def _same(a, b):
    return a is b or (type(a) is type(b) and a == b)


class BaseModel(Model):
    class Meta:
        database = database
        legacy_table_names = False
