# Generated from a schema diff on 2026-11-24 02:36.
# Python-side defaults (created_at = clock.now) live in the models, not the schema.
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

    class Order(Model):
        class Meta:
            database = db
            table_name = 'order'

    class User(Model):
        class Meta:
            database = db
            table_name = 'user'

    class Proposal(Model):
        complaint = ForeignKeyField(Complaint, on_delete='CASCADE')
        seq = IntegerField()
        kind = CharField(max_length=16)
        amount_fen = IntegerField(null=True)
        message = TextField()
        state = CharField(max_length=10, default='pending')
        created_by = ForeignKeyField(User, null=True, on_delete='SET NULL')
        created_at = DateTimeField()
        answered_at = DateTimeField(null=True)
        buyer_reason = TextField(null=True)
        accepted_by_timeout = BooleanField(default=False)
        class Meta:
            database = db
            table_name = 'proposal'
            indexes = ((('complaint', 'seq'), True),)
    db.create_tables([Proposal])

    class Remedy(Model):
        complaint = ForeignKeyField(Complaint, on_delete='CASCADE')
        order = ForeignKeyField(Order, on_delete='RESTRICT')
        kind = CharField(max_length=16)
        amount_fen = IntegerField(null=True)
        source = CharField(max_length=16)
        state = CharField(max_length=10, default='pending')
        idempotency_key = CharField(unique=True, max_length=64)
        created_at = DateTimeField()
        confirmed_at = DateTimeField(null=True)
        confirm_due_at = DateTimeField(index=True, null=True)
        class Meta:
            database = db
            table_name = 'remedy'
    db.create_tables([Remedy])

    class Violation(Model):
        merchant = ForeignKeyField(Merchant, on_delete='CASCADE')
        complaint = ForeignKeyField(Complaint, null=True, on_delete='SET NULL')
        code = CharField(max_length=32)
        points = IntegerField(default=0)
        fine_fen = IntegerField(default=0)
        at = DateTimeField()
        expires_at = DateTimeField(index=True)
        state = CharField(max_length=10, default='active')
        reason = TextField(null=True)
        class Meta:
            database = db
            table_name = 'violation'
            indexes = ((('merchant', 'at'), False), (('complaint', 'code'), False))
    db.create_tables([Violation])

    class WebhookSubscription(Model):
        user = ForeignKeyField(User, on_delete='CASCADE')
        url = CharField(max_length=500)
        secret = CharField(max_length=128)
        events = TextField(default='["*"]')
        active = BooleanField(default=True)
        created_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'webhook_subscription'
    db.create_tables([WebhookSubscription])

    class WebhookDelivery(Model):
        subscription = ForeignKeyField(WebhookSubscription, on_delete='CASCADE')
        event = CharField(max_length=64)
        payload = TextField()
        idempotency_key = CharField(max_length=80)
        state = CharField(max_length=10, default='pending')
        attempts = IntegerField(default=0)
        next_attempt_at = DateTimeField(index=True, null=True)
        last_status = IntegerField(null=True)
        last_error = TextField(null=True)
        created_at = DateTimeField()
        delivered_at = DateTimeField(null=True)
        class Meta:
            database = db
            table_name = 'webhook_delivery'
            indexes = ((('subscription', 'idempotency_key'), True), (('created_at',), False))
    db.create_tables([WebhookDelivery])

    migrator.migrate(migrator.add_column('complaint', 'merchant_remind_at', DateTimeField(index=True, null=True)))
    migrator.migrate(migrator.add_column('complaint', 'merchant_answered_at', DateTimeField(null=True)))
    migrator.migrate(migrator.add_column('complaint', 'proposal_count', IntegerField(default=0)))
    migrator.migrate(migrator.add_column('complaint', 'urge_count', IntegerField(default=0)))
    migrator.migrate(migrator.add_column('complaint', 'last_urged_at', DateTimeField(null=True)))


def down(migrator, db):
    migrator.migrate(migrator.drop_index('complaint', 'complaint_merchant_remind_at'))
    migrator.migrate(migrator.drop_column('complaint', 'last_urged_at'))
    migrator.migrate(migrator.drop_column('complaint', 'urge_count'))
    migrator.migrate(migrator.drop_column('complaint', 'proposal_count'))
    migrator.migrate(migrator.drop_column('complaint', 'merchant_answered_at'))
    migrator.migrate(migrator.drop_column('complaint', 'merchant_remind_at'))
    migrator.migrate(migrator.drop_table('webhook_delivery'))
    migrator.migrate(migrator.drop_table('webhook_subscription'))
    migrator.migrate(migrator.drop_table('violation'))
    migrator.migrate(migrator.drop_table('remedy'))
    migrator.migrate(migrator.drop_table('proposal'))
