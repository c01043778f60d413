# Generated from a schema diff on 2026-11-29 08:55; the SPEC §7 rule and level tables seeded.
import datetime

from peewee import *

def up(migrator, db):
    class Blob(Model):
        sha256 = CharField(primary_key=True, max_length=64)
        class Meta:
            database = db
            table_name = 'blob'

    class Complaint(Model):
        class Meta:
            database = db
            table_name = 'complaint'

    class Merchant(Model):
        class Meta:
            database = db
            table_name = 'merchant'

    class User(Model):
        class Meta:
            database = db
            table_name = 'user'

    class Violation(Model):
        class Meta:
            database = db
            table_name = 'violation'

    class ViolationAppeal(Model):
        violation = ForeignKeyField(Violation, unique=True, on_delete='CASCADE')
        merchant = ForeignKeyField(Merchant, on_delete='CASCADE')
        reason = TextField()
        state = CharField(index=True, max_length=10, default='open')
        created_by = ForeignKeyField(User, null=True, on_delete='SET NULL')
        created_at = DateTimeField()
        decided_by = ForeignKeyField(User, null=True, on_delete='SET NULL')
        decided_at = DateTimeField(null=True)
        decision_note = TextField(null=True)
        class Meta:
            database = db
            table_name = 'violation_appeal'
    db.create_tables([ViolationAppeal])

    class AppealEvidence(Model):
        appeal = ForeignKeyField(ViolationAppeal, on_delete='CASCADE')
        blob = ForeignKeyField(Blob, on_delete='RESTRICT')
        filename = CharField(null=True)
        mime = CharField(max_length=100)
        size = IntegerField()
        created_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'appeal_evidence'
    db.create_tables([AppealEvidence])

    class DepositEntry(Model):
        merchant = ForeignKeyField(Merchant, on_delete='CASCADE')
        kind = CharField(max_length=12)
        amount_fen = IntegerField()
        balance_after_fen = IntegerField()
        violation = ForeignKeyField(Violation, null=True, on_delete='SET NULL')
        note = TextField(default='')
        created_by = ForeignKeyField(User, null=True, on_delete='SET NULL')
        idempotency_key = CharField(unique=True, null=True, max_length=64)
        at = DateTimeField()
        class Meta:
            database = db
            table_name = 'deposit_entry'
            indexes = ((('merchant', 'id'), False),)
    db.create_tables([DepositEntry])

    class MerchantStanding(Model):
        merchant = ForeignKeyField(Merchant, primary_key=True, on_delete='CASCADE')
        active_points = IntegerField(default=0)
        level = IntegerField(default=0)
        level_since = DateTimeField(null=True)
        restriction_until = DateTimeField(null=True)
        deposit_hold = BooleanField(default=False)
        due_at = DateTimeField(index=True, null=True)
        version = IntegerField(default=0)
        updated_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'merchant_standing'
    db.create_tables([MerchantStanding])

    class StandingLevel(Model):
        level = IntegerField(unique=True)
        code = CharField(unique=True, max_length=16)
        min_points = IntegerField()
        restriction = CharField(max_length=20)
        duration_seconds = IntegerField(null=True)
        class Meta:
            database = db
            table_name = 'standing_level'
    db.create_tables([StandingLevel])

    class ViolationComplaint(Model):
        violation = ForeignKeyField(Violation, on_delete='CASCADE')
        complaint = ForeignKeyField(Complaint, on_delete='CASCADE')
        class Meta:
            database = db
            table_name = 'violation_complaint'
            primary_key = False
            indexes = ((('violation', 'complaint'), True),)
    db.create_tables([ViolationComplaint])

    class ViolationRule(Model):
        code = CharField(unique=True, max_length=32)
        description_zh = TextField()
        description_en = TextField()
        points = IntegerField(default=0)
        fine_fen = IntegerField(default=0)
        automatic = BooleanField(default=True)
        active = BooleanField(default=True)
        updated_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'violation_rule'
    db.create_tables([ViolationRule])

    migrator.migrate(migrator.add_column('violation', 'created_by_id', ForeignKeyField(User, field=User.id, null=True, on_delete='SET NULL')))
    migrator.migrate(migrator.add_column('violation', 'ended_at', DateTimeField(null=True)))

    ViolationRule.insert_many(SEEDS['violation_rule']).execute()
    StandingLevel.insert_many(SEEDS['standing_level']).execute()


def down(migrator, db):
    migrator.migrate(migrator.drop_index('violation', 'violation_created_by_id'))
    migrator.migrate(migrator.drop_column('violation', 'ended_at'))
    migrator.migrate(migrator.drop_column('violation', 'created_by_id'))
    migrator.migrate(migrator.drop_table('violation_rule'))
    migrator.migrate(migrator.drop_table('violation_complaint'))
    migrator.migrate(migrator.drop_table('standing_level'))
    migrator.migrate(migrator.drop_table('merchant_standing'))
    migrator.migrate(migrator.drop_table('deposit_entry'))
    migrator.migrate(migrator.drop_table('appeal_evidence'))
    migrator.migrate(migrator.drop_table('violation_appeal'))


# The defaults of SPEC §7 (editable afterwards in the backoffice). `manual` carries no points
# of its own: the supervisor chooses them per violation.
RULES = [
    ('no_response', '未在 24 小时内回应投诉', 'Let the 24-hour response window expire', 2, 0),
    ('arbitration_lost', '仲裁判定商家责任', 'Ruled responsible in arbitration', 3, 0),
    ('not_as_described', '商品与描述不符，仲裁败诉', 'Lost a not-as-described case', 4, 0),
    ('fake_delivery', '虚假发货，仲裁败诉', 'Lost a fake-delivery case', 12, 50000),
    ('complaint_spike', '30 天内有效投诉达到 5 起', '5 or more valid complaints within 30 days', 6, 0),
    ('manual', '主管人工处罚', 'Recorded by a supervisor', 0, 0),
]
# (code, min active points, restriction, duration in seconds or None)
LEVELS = [
    ('warning', 12, 'search_demotion', None),
    ('no_listing', 24, 'no_new_listings', 7 * 86400),
    ('suspended', 36, 'shop_suspended', 14 * 86400),
    ('cleared', 48, 'cleared', None),
]

SEEDS = {
    'violation_rule': [dict(code=code, description_zh=zh, description_en=en, points=points,
                            fine_fen=fine, automatic=code != 'manual', active=True,
                            updated_at=datetime.datetime(2026, 11, 29))
                       for code, zh, en, points, fine in RULES],
    'standing_level': [dict(level=n, code=code, min_points=points, restriction=restriction,
                            duration_seconds=seconds)
                       for n, (code, points, restriction, seconds) in enumerate(LEVELS, 1)],
}
