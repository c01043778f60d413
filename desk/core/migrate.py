"""Applies the schema migrations in `desk/migrations/` (peewee's own runner).

Idempotent: applied migrations are recorded in `schema_migration` and skipped next time.
"""
import os

from playhouse.migrations import Runner

from desk.core.db import database

DIRECTORY = os.path.join(os.path.dirname(os.path.dirname(__file__)), 'migrations')


def runner():
    return Runner(database.obj, directory=DIRECTORY)


def migrate():
    """Apply pending migrations; returns the names applied (empty when up to date)."""
    with database.connection_context():
        return runner().up()
