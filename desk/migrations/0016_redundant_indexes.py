# Generated from a schema diff on 2026-11-29 10:00: single-column indexes that a composite index
# beginning with the same column already serves, dropped to make the inserts of a batch cheaper
# (timeline events, SLA clocks and events, inbox messages; bench/README.md, deadlines).
from peewee import *

def up(migrator, db):
    migrator.migrate(migrator.drop_index('event', 'event_complaint_id'))
    migrator.migrate(migrator.drop_index('inbox_message', 'inboxmessage_outbox_id'))
    migrator.migrate(migrator.drop_index('inbox_message', 'inboxmessage_user_id'))
    migrator.migrate(migrator.drop_index('sla_clock', 'slaclock_complaint_id'))
    migrator.migrate(migrator.drop_index('sla_event', 'slaevent_owner_id'))


def down(migrator, db):
    migrator.migrate(migrator.add_index('sla_event', ('owner_id',), name='slaevent_owner_id'))
    migrator.migrate(migrator.add_index('sla_clock', ('complaint_id',), name='slaclock_complaint_id'))
    migrator.migrate(migrator.add_index('inbox_message', ('user_id',), name='inboxmessage_user_id'))
    migrator.migrate(migrator.add_index('inbox_message', ('outbox_id',), name='inboxmessage_outbox_id'))
    migrator.migrate(migrator.add_index('event', ('complaint_id',)))
