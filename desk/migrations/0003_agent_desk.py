# Generated from a schema diff on 2026-11-24 01:56.
from peewee import *

# Python-side defaults (SlaEvent.at = clock.now) live in the models, not the schema.
import datetime

def up(migrator, db):
    class Complaint(Model):
        class Meta:
            database = db
            table_name = 'complaint'

    class User(Model):
        class Meta:
            database = db
            table_name = 'user'

    class BusinessHours(Model):
        weekday = IntegerField()
        opens = CharField(max_length=5)
        closes = CharField(max_length=5)
        class Meta:
            database = db
            table_name = 'business_hours'
    db.create_tables([BusinessHours])

    class DepartmentSetting(Model):
        department = CharField(primary_key=True, max_length=8)
        mode = CharField(max_length=16, default='manual')
        last_assigned_id = IntegerField(null=True)
        class Meta:
            database = db
            table_name = 'department_setting'
    db.create_tables([DepartmentSetting])

    class Holiday(Model):
        date = DateField(unique=True)
        kind = CharField(max_length=8, default='holiday')
        name = CharField(max_length=100, default='')
        class Meta:
            database = db
            table_name = 'holiday'
    db.create_tables([Holiday])

    class SlaClock(Model):
        complaint = ForeignKeyField(Complaint, on_delete='CASCADE')
        target = CharField(max_length=16)
        state = CharField(max_length=10, default='running')
        started_at = DateTimeField()
        due_at = DateTimeField(null=True)
        paused_at = DateTimeField(null=True)
        paused_seconds = IntegerField(default=0)
        warned = BooleanField(default=False)
        finished_at = DateTimeField(null=True)
        class Meta:
            database = db
            table_name = 'sla_clock'
            indexes = ((('complaint', 'target'), True),)
    db.create_tables([SlaClock])

    class SlaEvent(Model):
        complaint = ForeignKeyField(Complaint, on_delete='CASCADE')
        target = CharField(max_length=16)
        kind = CharField(max_length=10)
        at = DateTimeField()
        owner = ForeignKeyField(User, null=True, on_delete='SET NULL')
        department = CharField(max_length=8)
        due_at = DateTimeField(null=True)
        class Meta:
            database = db
            table_name = 'sla_event'
            indexes = ((('owner', 'at'), False), (('department', 'at'), False), (('kind', 'at'), False))
    db.create_tables([SlaEvent])

    class SlaPolicy(Model):
        tier = CharField(primary_key=True, max_length=2)
        first_response_seconds = IntegerField(null=True)
        resolution_seconds = IntegerField(null=True)
        class Meta:
            database = db
            table_name = 'sla_policy'
    db.create_tables([SlaPolicy])

    migrator.migrate(migrator.add_column('complaint', 'in_queue', BooleanField(default=False)))
    migrator.migrate(migrator.add_column('complaint', 'queue_rank', IntegerField(default=1)))
    migrator.migrate(migrator.add_column('complaint', 'next_due_at', DateTimeField(default=datetime.datetime(9999, 12, 31))))
    migrator.migrate(migrator.add_column('complaint', 'sla_check_at', DateTimeField(index=True, null=True)))
    migrator.migrate(migrator.add_column('complaint', 'first_response_at', DateTimeField(null=True)))
    migrator.migrate(migrator.add_column('complaint', 'assigned_at', DateTimeField(null=True)))
    migrator.migrate(migrator.add_column('complaint', 'timeline_length', IntegerField(default=0)))
    migrator.migrate(migrator.add_column('complaint', 'timeline_head', CharField(max_length=64, null=True)))
    migrator.migrate(migrator.add_index('complaint', ('department', 'in_queue', 'queue_rank', 'tier', 'next_due_at', 'id')))
    migrator.migrate(migrator.add_index('complaint', ('owner_id', 'in_queue')))

    SlaPolicy.insert_many(SEEDS['sla_policy']).execute()
    DepartmentSetting.insert_many(SEEDS['department_setting']).execute()


# SPEC §3 defaults: 24×7 (no business hours), manual claiming in every department.
SEEDS = {
    'sla_policy': [
        dict(tier='L1', first_response_seconds=30 * 60, resolution_seconds=4 * 3600),
        dict(tier='L2', first_response_seconds=2 * 3600, resolution_seconds=24 * 3600),
        dict(tier='L3', first_response_seconds=None, resolution_seconds=None),
    ],
    'department_setting': [dict(department=d, mode='manual') for d in ('cs', 'ops', 'tech')],
}


def down(migrator, db):
    migrator.migrate(migrator.drop_index('complaint', 'complaint_sla_check_at'))
    migrator.migrate(migrator.drop_index('complaint', 'complaint_owner_id_in_queue'))
    migrator.migrate(migrator.drop_index('complaint', 'complaint_department_in_queue_queue_rank_tier_next_due_at_id'))
    migrator.migrate(migrator.drop_column('complaint', 'timeline_head'))
    migrator.migrate(migrator.drop_column('complaint', 'timeline_length'))
    migrator.migrate(migrator.drop_column('complaint', 'assigned_at'))
    migrator.migrate(migrator.drop_column('complaint', 'first_response_at'))
    migrator.migrate(migrator.drop_column('complaint', 'sla_check_at'))
    migrator.migrate(migrator.drop_column('complaint', 'next_due_at'))
    migrator.migrate(migrator.drop_column('complaint', 'queue_rank'))
    migrator.migrate(migrator.drop_column('complaint', 'in_queue'))
    migrator.migrate(migrator.drop_table('sla_policy'))
    migrator.migrate(migrator.drop_table('sla_event'))
    migrator.migrate(migrator.drop_table('sla_clock'))
    migrator.migrate(migrator.drop_table('holiday'))
    migrator.migrate(migrator.drop_table('department_setting'))
    migrator.migrate(migrator.drop_table('business_hours'))
