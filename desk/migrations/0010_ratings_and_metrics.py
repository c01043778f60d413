# Generated from a schema diff on 2026-11-29 06:54.
from peewee import *


def up(migrator, db):
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

    class CaseMetric(Model):
        complaint = ForeignKeyField(Complaint, primary_key=True, on_delete='CASCADE')
        contrib = TextField(default='{}')
        updated_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'case_metric'
    db.create_tables([CaseMetric])

    class MetricDay(Model):
        subject_kind = CharField(max_length=8)
        subject = IntegerField()
        department = CharField(max_length=8)
        day = DateField()
        handled = IntegerField(default=0)
        fcr = IntegerField(default=0)
        reopened = IntegerField(default=0)
        appealed = IntegerField(default=0)
        overturned = IntegerField(default=0)
        handle_seconds = IntegerField(default=0)
        h00 = IntegerField(default=0)
        h01 = IntegerField(default=0)
        h02 = IntegerField(default=0)
        h03 = IntegerField(default=0)
        h04 = IntegerField(default=0)
        h05 = IntegerField(default=0)
        h06 = IntegerField(default=0)
        h07 = IntegerField(default=0)
        h08 = IntegerField(default=0)
        h09 = IntegerField(default=0)
        h10 = IntegerField(default=0)
        h11 = IntegerField(default=0)
        h12 = IntegerField(default=0)
        h13 = IntegerField(default=0)
        h14 = IntegerField(default=0)
        h15 = IntegerField(default=0)
        h16 = IntegerField(default=0)
        h17 = IntegerField(default=0)
        h18 = IntegerField(default=0)
        h19 = IntegerField(default=0)
        h20 = IntegerField(default=0)
        h21 = IntegerField(default=0)
        h22 = IntegerField(default=0)
        h23 = IntegerField(default=0)
        h24 = IntegerField(default=0)
        h25 = IntegerField(default=0)
        h26 = IntegerField(default=0)
        h27 = IntegerField(default=0)
        h28 = IntegerField(default=0)
        h29 = IntegerField(default=0)
        h30 = IntegerField(default=0)
        h31 = IntegerField(default=0)
        h32 = IntegerField(default=0)
        h33 = IntegerField(default=0)
        h34 = IntegerField(default=0)
        h35 = IntegerField(default=0)
        h36 = IntegerField(default=0)
        h37 = IntegerField(default=0)
        h38 = IntegerField(default=0)
        h39 = IntegerField(default=0)
        h40 = IntegerField(default=0)
        h41 = IntegerField(default=0)
        h42 = IntegerField(default=0)
        h43 = IntegerField(default=0)
        h44 = IntegerField(default=0)
        h45 = IntegerField(default=0)
        h46 = IntegerField(default=0)
        h47 = IntegerField(default=0)
        rated = IntegerField(default=0)
        stars = IntegerField(default=0)
        satisfied = IntegerField(default=0)
        dissatisfied = IntegerField(default=0)
        excluded = IntegerField(default=0)
        fr_met = IntegerField(default=0)
        fr_total = IntegerField(default=0)
        res_met = IntegerField(default=0)
        res_total = IntegerField(default=0)
        class Meta:
            database = db
            table_name = 'metric_day'
            indexes = ((('subject_kind', 'subject', 'department', 'day'), True), (('subject_kind', 'day', 'subject'), False))
    db.create_tables([MetricDay])

    class MetricWeights(Model):
        csat = FloatField(default=40)
        fcr = FloatField(default=25)
        sla = FloatField(default=20)
        not_overturned = FloatField(default=15)
        updated_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'metric_weights'
    db.create_tables([MetricWeights])

    class Rating(Model):
        complaint = ForeignKeyField(Complaint, on_delete='CASCADE')
        round = IntegerField(default=1)
        resolved_at = DateTimeField()
        stars = IntegerField()
        tags = TextField(default='[]')
        comment = TextField(null=True)
        agent = ForeignKeyField(User, null=True, on_delete='SET NULL')
        merchant = ForeignKeyField(Merchant, null=True, on_delete='SET NULL')
        department = CharField(null=True, max_length=8)
        rated_by = ForeignKeyField(User, null=True, on_delete='SET NULL')
        rated_at = DateTimeField()
        excluded = BooleanField(default=False)
        excluded_by = ForeignKeyField(User, null=True, on_delete='SET NULL')
        excluded_reason = TextField(null=True)
        excluded_at = DateTimeField(null=True)
        class Meta:
            database = db
            table_name = 'rating'
            indexes = ((('complaint', 'resolved_at'), True), (('agent', 'rated_at'), False), (('merchant', 'rated_at'), False))
    db.create_tables([Rating])

    class RatingFollowup(Model):
        complaint = ForeignKeyField(Complaint, primary_key=True, on_delete='CASCADE')
        resolved_at = DateTimeField()
        remind_at = DateTimeField(index=True, null=True)
        reminders_sent = IntegerField(default=0)
        close_at = DateTimeField(index=True, null=True)
        class Meta:
            database = db
            table_name = 'rating_followup'
    db.create_tables([RatingFollowup])

    class Review(Model):
        rating = ForeignKeyField(Rating, unique=True, on_delete='CASCADE')
        complaint = ForeignKeyField(Complaint, on_delete='CASCADE')
        state = CharField(index=True, max_length=8, default='open')
        opened_at = DateTimeField()
        due_at = DateTimeField(index=True)
        breached = BooleanField(default=False)
        finding = CharField(null=True, max_length=20)
        actions = TextField(default='[]')
        note = TextField(null=True)
        coupon_fen = IntegerField(null=True)
        reopened_to = ForeignKeyField(User, null=True, on_delete='SET NULL')
        reviewer = ForeignKeyField(User, null=True, on_delete='SET NULL')
        reviewed_at = DateTimeField(null=True)
        coach_note = TextField(null=True)
        agent = ForeignKeyField(User, null=True, on_delete='SET NULL')
        coach_seen_at = DateTimeField(null=True)
        class Meta:
            database = db
            table_name = 'review'
    db.create_tables([Review])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('review'))
    migrator.migrate(migrator.drop_table('rating_followup'))
    migrator.migrate(migrator.drop_table('rating'))
    migrator.migrate(migrator.drop_table('metric_weights'))
    migrator.migrate(migrator.drop_table('metric_day'))
    migrator.migrate(migrator.drop_table('case_metric'))
