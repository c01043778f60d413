# Written by hand (the schema diff does not see index predicates).
#
# `arbitration.standing.recompute` sums a merchant's active points and finds its next expiry
# every time a violation is recorded (the merchant-timeout batch: hundreds of merchants per
# batch). A partial index on the active violations carrying the points answers that from the
# index alone. The single-column merchant_id and complaint_id indexes go: (merchant_id, at)
# and (complaint_id, code) begin with the same columns.
from peewee import *


def up(migrator, db):
    db.execute_sql('CREATE INDEX violation_active_points ON violation (merchant_id, expires_at, points) '
                   "WHERE state = 'active'")
    db.execute_sql('DROP INDEX violation_merchant_id')
    db.execute_sql('DROP INDEX violation_complaint_id')


def down(migrator, db):
    db.execute_sql('CREATE INDEX violation_complaint_id ON violation (complaint_id)')
    db.execute_sql('CREATE INDEX violation_merchant_id ON violation (merchant_id)')
    db.execute_sql('DROP INDEX violation_active_points')
