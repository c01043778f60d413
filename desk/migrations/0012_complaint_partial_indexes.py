# Written by hand (the schema diff does not see index predicates).
#
# `complaint` is the hot table: every transition updates its row, and such an update (not HOT:
# indexed columns change) writes an entry into every index whose predicate the new row
# matches. It carried 29 indexes. This migration
# - drops the single-column indexes that a composite index beginning with the same column
#   already serves: buyer_id (buyer, id), merchant_id (merchant, id), state (state, id),
#   category (category, id), department (department, state, id), owner_id (owner, in_queue);
#   and tier and filed_by_id, which no query selects by alone;
# - makes the deadline indexes partial (WHERE <deadline> IS NOT NULL): a case carries one or
#   two deadlines at a time, so the other seven no longer get an entry on each update, and
#   the sweep's `<deadline> <= now` (which implies NOT NULL) still reads them;
# - makes the queue-order index partial (WHERE in_queue): a few percent of the cases.
# See bench/README.md (deadlines, queries) for the figures before and after.
from peewee import *

DROPPED = ('buyer_id', 'merchant_id', 'state', 'category', 'department', 'owner_id', 'tier',
           'filed_by_id')
DEADLINES = ('merchant_due_at', 'buyer_due_at', 'evidence_due_at', 'first_response_due_at',
             'resolution_due_at', 'rating_due_at', 'appeal_due_at', 'sla_check_at',
             'merchant_remind_at')
QUEUE_COLUMNS = 'department, in_queue, queue_rank, tier, next_due_at, id, state, owner_id'
OLD_QUEUE_INDEX = 'complaint_department_in_queue_queue_rank_tier_next_due_a_bb4b934'


def up(migrator, db):
    # The new queue index first, so the queue always has one.
    db.execute_sql(f'CREATE INDEX complaint_queue_order ON complaint ({QUEUE_COLUMNS}) WHERE in_queue')
    db.execute_sql(f'DROP INDEX {OLD_QUEUE_INDEX}')
    for column in DROPPED:
        db.execute_sql(f'DROP INDEX complaint_{column}')
    for column in DEADLINES:
        db.execute_sql(f'DROP INDEX complaint_{column}')
        db.execute_sql(f'CREATE INDEX complaint_{column} ON complaint ({column}) '
                       f'WHERE {column} IS NOT NULL')


def down(migrator, db):
    for column in DEADLINES:
        db.execute_sql(f'DROP INDEX complaint_{column}')
        db.execute_sql(f'CREATE INDEX complaint_{column} ON complaint ({column})')
    for column in DROPPED:
        db.execute_sql(f'CREATE INDEX complaint_{column} ON complaint ({column})')
    db.execute_sql(f'CREATE INDEX {OLD_QUEUE_INDEX} ON complaint ({QUEUE_COLUMNS})')
    db.execute_sql('DROP INDEX complaint_queue_order')
