"""The migrations build exactly the schema the models describe, and running them again is a
no-op. A model change without a migration (or the reverse) fails here."""
import os
from urllib.parse import urlsplit, urlunsplit

import pytest
from peewee import CharField, IntegerField, TextField
from playhouse.reflection import Introspector
from playhouse.schema_diff import diff_models

from app import ALL_MODELS
from desk.core.db import database, init_database
from desk.core.migrate import migrate, runner
from desk.orders.models import Order
from desk.parties.models import Merchant

HISTORY = 'schema_migration'


def _kind(field, db):
    """How `db` declares the column of `field`: type, length, nullability, key, target."""
    types = db.get_context_options()['field_types']
    declared = types.get(field.field_type, field.field_type)
    target = getattr(field, 'rel_model', None)
    return {
        'type': declared,
        'max_length': getattr(field, 'max_length', None),
        'null': bool(field.null),
        'primary_key': bool(field.primary_key),
        'references': target._meta.table_name if target is not None else None,
    }


def schema_problems(db, models):
    """Every difference between the database schema and `models`, as readable lines."""
    problems = [line for line in str(diff_models(db, models)).splitlines() if line]
    tables = [m._meta.table_name for m in models if not getattr(m._meta, 'extension_module', None)]
    existing = set(db.get_tables())
    reflected = Introspector.from_database(db).generate_models(
        table_names=[t for t in tables if t in existing], literal_column_names=True)
    for model in models:
        actual = reflected.get(model._meta.table_name)
        if actual is None:
            continue  # missing tables are reported by the diff
        columns = {f.column_name: f for f in actual._meta.sorted_fields}
        for field in model._meta.sorted_fields:
            column = columns.get(field.column_name)
            if column is None:
                continue  # missing columns too
            want, have = _kind(field, db), _kind(column, db)
            for key in want:
                if want[key] != have[key]:
                    problems.append(f'{model._meta.table_name}.{field.column_name}: {key} is '
                                    f'{have[key]!r} in the database, {want[key]!r} in the model')
    virtual = [t for m in models if getattr(m._meta, 'extension_module', None)
               for t in [m._meta.table_name]]
    for table in sorted(existing - set(tables) - {HISTORY}):
        if not any(table == v or table.startswith(v + '_') for v in virtual):
            problems.append(f'table {table} has no model')
    return problems


@pytest.fixture(scope='module')
def scratch_url(settings, tmp_path_factory):
    """A second database of the suite's engine for these tests (created once: creating a
    PostgreSQL database is slow)."""
    url = settings['DATABASE_URL']
    if url.startswith('sqlite'):
        yield 'sqlite:///' + str(tmp_path_factory.mktemp('scratch') / 'scratch.sqlite3')
        return
    import psycopg2
    parts = urlsplit(url)
    name = parts.path.lstrip('/') + '_scratch'
    admin = psycopg2.connect(url)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(parts._replace(path='/' + name))
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture
def scratch_db(app, settings, scratch_url):
    """The scratch database, emptied, bound while the test runs."""
    if scratch_url.startswith('sqlite'):
        path = scratch_url.split('sqlite:///', 1)[1]
        for suffix in ('', '-wal', '-shm'):
            if os.path.exists(path + suffix):
                os.remove(path + suffix)
    init_database(scratch_url)
    if not scratch_url.startswith('sqlite'):
        with database.connection_context():
            database.execute_sql('DROP SCHEMA public CASCADE; CREATE SCHEMA public;')
    try:
        yield scratch_url
    finally:
        init_database(settings['DATABASE_URL'])


def migration_names():
    return [m.name for m in runner().migrations()]


def test_migrating_a_fresh_database_then_again_is_a_no_op(scratch_db):
    names = migration_names()
    assert names, 'there are migrations'
    assert migrate() == names
    with database.connection_context():
        before = {t: [c.name for c in database.get_columns(t)] for t in database.get_tables()}
    assert migrate() == []
    assert migrate() == []
    with database.connection_context():
        after = {t: [c.name for c in database.get_columns(t)] for t in database.get_tables()}
        applied = [m.name for m in runner().status() if m.applied]
    assert after == before
    assert applied == names


def test_migrated_schema_matches_the_models(scratch_db):
    migrate()
    with database.connection_context():
        assert schema_problems(database.obj, ALL_MODELS) == []


def test_the_suite_database_is_up_to_date(app):
    assert migrate() == []
    with database.connection_context():
        assert schema_problems(database.obj, ALL_MODELS) == []


def test_every_model_is_listed_for_the_migrations_check():
    """A model that is not in app.ALL_MODELS would escape the schema check."""
    import importlib
    import pkgutil

    import arbitration
    import desk
    from desk.core.db import BaseModel
    missing = []
    for package in (desk, arbitration):
        for info in pkgutil.iter_modules(package.__path__):
            module = importlib.import_module(f'{package.__name__}.{info.name}')
            for value in vars(module).values():
                if (isinstance(value, type) and issubclass(value, BaseModel) and value is not BaseModel
                        and value.__module__ == module.__name__ and value not in ALL_MODELS):
                    missing.append(f'{module.__name__}.{value.__name__}')
    assert missing == []


def test_migrations_can_be_rolled_back_and_applied_again(scratch_db):
    names = migration_names()
    migrate()
    with database.connection_context():
        reverted = runner().down(target=names[0])
        assert reverted == list(reversed(names))
        assert set(database.get_tables()) <= {HISTORY}
    assert migrate() == names
    with database.connection_context():
        assert schema_problems(database.obj, ALL_MODELS) == []


# -- the check itself must be able to fail -------------------------------------------------

def _variant(model, **fields):
    """A copy of `model` on the same table with some fields added or redefined."""
    attrs = dict(fields)
    attrs['Meta'] = type('Meta', (), {'table_name': model._meta.table_name})
    return type(model.__name__, (model,), attrs)


@pytest.mark.parametrize('change, expected', [
    ({'remark': TextField(null=True)}, 'add column order.remark'),
    ({'product': CharField(max_length=300)}, "order.product: max_length is 200"),
    ({'sku': CharField(max_length=64, index=True)}, "order.sku: null is True"),
    ({'amount_fen': CharField(max_length=20)}, 'order.amount_fen: type is'),
    ({'region': CharField(max_length=32, null=True)}, 'drop index order'),
])
def test_a_model_change_without_a_migration_is_caught(app, change, expected):
    changed = _variant(Order, **change)
    models = [changed if m is Order else m for m in ALL_MODELS]
    with database.connection_context():
        problems = schema_problems(database.obj, models)
    assert any(expected in p for p in problems), problems


def test_a_new_model_without_a_migration_is_caught(app):
    class Gadget(Merchant.__base__):
        size = IntegerField()
    with database.connection_context():
        problems = schema_problems(database.obj, ALL_MODELS + [Gadget])
    assert 'create table gadget' in problems


def test_a_table_without_a_model_is_caught(app):
    models = [m for m in ALL_MODELS if m is not Order]
    with database.connection_context():
        problems = schema_problems(database.obj, models)
    assert 'table order has no model' in problems


def test_migration_files_are_numbered_without_gaps():
    from desk.core.migrate import DIRECTORY
    files = sorted(f for f in os.listdir(DIRECTORY) if f.endswith('.py') and f[0].isdigit())
    numbers = [int(f.split('_', 1)[0]) for f in files]
    assert numbers == list(range(1, len(files) + 1))
