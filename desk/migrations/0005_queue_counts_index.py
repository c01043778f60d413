# Generated from a schema diff on 2026-11-24 04:25.
from peewee import *
# The counts beside the agent queue filters (desk.queue.counts) as an index-only scan
# instead of ~20,000 heap reads per department: see bench/README.md, queries.

def up(migrator, db):
    migrator.migrate(migrator.add_index('complaint', ('department', 'in_queue', 'state', 'tier', 'queue_rank', 'owner_id')))


def down(migrator, db):
    migrator.migrate(migrator.drop_index('complaint', 'complaint_department_in_queue_state_tier_queue_rank_owner_id'))
