# Generated from a schema diff on 2026-11-24 04:33.
from peewee import *
# The queue-order index with state and owner_id at the end replaces the counts index of
# 0005: the counts are still read from an index alone, and a queue page filtered by state
# walks the queue order again instead of sorting every case of that state (0005 made the
# planner pick its index for that page: 4 ms -> 28 ms). See bench/README.md, queries.
# The new index is built before the old ones are dropped, so the queue always has one.

def up(migrator, db):
    migrator.migrate(migrator.add_index('complaint', ('department', 'in_queue', 'queue_rank', 'tier', 'next_due_at', 'id', 'state', 'owner_id')))
    migrator.migrate(migrator.drop_index('complaint', 'complaint_department_in_queue_queue_rank_tier_next_due_at_id'))
    migrator.migrate(migrator.drop_index('complaint', 'complaint_department_in_queue_state_tier_queue_rank_owner_id'))


def down(migrator, db):
    migrator.migrate(migrator.add_index('complaint', ('department', 'in_queue', 'state', 'tier', 'queue_rank', 'owner_id')))
    migrator.migrate(migrator.add_index('complaint', ('department', 'in_queue', 'queue_rank', 'tier', 'next_due_at', 'id')))
    migrator.migrate(migrator.drop_index('complaint', 'complaint_department_in_queue_queue_rank_tier_next_due_a_bb4b934'))
