# Written by hand: a storage setting, not a schema change (PostgreSQL only).
from peewee import *
# The queue counts (desk.queue.counts) are index-only scans, which skip the table only for
# pages the visibility map marks all-visible; only VACUUM sets those bits. With the default
# thresholds (20 % of the table changed) a table of millions of mostly closed complaints is
# vacuumed rarely while its few thousand open cases change all day, so the counts fall back
# to a heap read per queued case (8,000 of 19,500 in bench/README.md, queries). Vacuuming
# the complaint table after 1 % of it changed keeps the counts index-only.

SETTINGS = ('autovacuum_vacuum_scale_factor', 'autovacuum_vacuum_insert_scale_factor',
            'autovacuum_analyze_scale_factor')


def up(migrator, db):
    if isinstance(db, PostgresqlDatabase):
        db.execute_sql('ALTER TABLE complaint SET (%s)' % ', '.join(f'{s} = 0.01' for s in SETTINGS))


def down(migrator, db):
    if isinstance(db, PostgresqlDatabase):
        db.execute_sql('ALTER TABLE complaint RESET (%s)' % ', '.join(SETTINGS))
