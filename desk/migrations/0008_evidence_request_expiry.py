# The timer of an evidence request: `expire_at` is its due time while the request is open
# (indexed, swept by desk.deadlines) and NULL once it was answered, expired or closed, so
# the sweep never walks requests that are done (`due_at` itself stays as the record).
from peewee import *


def up(migrator, db):
    migrator.migrate(migrator.add_column('evidence_request', 'expire_at', DateTimeField(null=True)))
    migrator.migrate(migrator.add_index('evidence_request', ('expire_at',)))


def down(migrator, db):
    migrator.migrate(migrator.drop_index('evidence_request', 'evidence_request_expire_at'))
    migrator.migrate(migrator.drop_column('evidence_request', 'expire_at'))
