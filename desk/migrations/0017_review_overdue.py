# Written by hand (the schema diff does not see index predicates).
#
# The supervisor review of a dissatisfied rating gets its breach check as a deadline column
# (`review.overdue_check_at`, deadline `review_overdue` in desk/ratings.py), indexed only
# where it is set, like the complaint's deadlines (0012). Open reviews get their check at
# their due time, so the sweep tells the supervisors about those already overdue.
from peewee import *


def up(migrator, db):
    migrator.migrate(migrator.add_column('review', 'overdue_check_at', DateTimeField(null=True)))
    db.execute_sql('CREATE INDEX review_overdue_check_at ON review (overdue_check_at) '
                   'WHERE overdue_check_at IS NOT NULL')
    db.execute_sql("UPDATE review SET overdue_check_at = due_at WHERE state = 'open'")


def down(migrator, db):
    db.execute_sql('DROP INDEX review_overdue_check_at')
    migrator.migrate(migrator.drop_column('review', 'overdue_check_at'))
