# Generated from a schema diff on 2026-11-24 01:23.
# Python-side defaults (created_at = clock.now) live in the models, not the schema.
from peewee import *


def up(migrator, db):
    class Merchant(Model):
        ref = CharField(unique=True, max_length=64)
        name = CharField(max_length=200)
        deposit_fen = IntegerField(default=0)
        created_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'merchant'
    db.create_tables([Merchant])

    class Buyer(Model):
        ref = CharField(unique=True, max_length=64)
        display_name = CharField(max_length=200)
        phone = CharField(null=True, max_length=32)
        created_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'buyer'
    db.create_tables([Buyer])

    class User(Model):
        username = CharField(unique=True, max_length=64)
        password_hash = CharField()
        display_name = CharField(max_length=200)
        role = CharField(index=True, max_length=20)
        department = CharField(null=True, max_length=8)
        merchant = ForeignKeyField(Merchant, null=True, on_delete='RESTRICT')
        buyer = ForeignKeyField(Buyer, null=True, on_delete='RESTRICT')
        status = CharField(max_length=8, default='offline')
        capacity = IntegerField(default=10)
        active = BooleanField(default=True)
        locale = CharField(null=True, max_length=8)
        created_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'user'
    db.create_tables([User])

    class ApiKey(Model):
        user = ForeignKeyField(User, on_delete='CASCADE')
        name = CharField(max_length=100)
        prefix = CharField(unique=True, max_length=16)
        key_hash = CharField(max_length=64)
        created_at = DateTimeField()
        last_used_at = DateTimeField(null=True)
        revoked_at = DateTimeField(null=True)
        class Meta:
            database = db
            table_name = 'api_key'
    db.create_tables([ApiKey])

    class ImportRun(Model):
        kind = CharField(max_length=20, default='orders')
        created_by = ForeignKeyField(User, on_delete='CASCADE')
        filename = CharField()
        content = TextField()
        state = CharField(max_length=10, default='queued')
        total_rows = IntegerField(default=0)
        processed_rows = IntegerField(default=0)
        ok_rows = IntegerField(default=0)
        error_rows = IntegerField(default=0)
        errors = TextField(default='[]')
        created_at = DateTimeField()
        finished_at = DateTimeField(null=True)
        class Meta:
            database = db
            table_name = 'import_run'
    db.create_tables([ImportRun])

    class LoginFailure(Model):
        key = CharField(max_length=120)
        at = DateTimeField()
        class Meta:
            database = db
            table_name = 'login_failure'
            indexes = ((('key', 'at'), False),)
    db.create_tables([LoginFailure])

    class Order(Model):
        order_no = CharField(unique=True, max_length=64)
        buyer = ForeignKeyField(Buyer, on_delete='RESTRICT')
        merchant = ForeignKeyField(Merchant, on_delete='RESTRICT')
        product = CharField(max_length=200)
        sku = CharField(index=True, null=True, max_length=64)
        goods_type = CharField(max_length=20)
        amount_fen = IntegerField()
        paid_at = DateTimeField(index=True)
        delivered_at = DateTimeField(null=True)
        confirmed_at = DateTimeField(null=True)
        payment_method = CharField(max_length=10)
        receiving_account = CharField(null=True, max_length=100)
        region = CharField(index=True, null=True, max_length=32)
        card_last4 = CharField(null=True, max_length=4)
        card_hash = CharField(null=True, max_length=64)
        created_at = DateTimeField()
        updated_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'order'
    db.create_tables([Order])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('order'))
    migrator.migrate(migrator.drop_table('login_failure'))
    migrator.migrate(migrator.drop_table('import_run'))
    migrator.migrate(migrator.drop_table('api_key'))
    migrator.migrate(migrator.drop_table('user'))
    migrator.migrate(migrator.drop_table('buyer'))
    migrator.migrate(migrator.drop_table('merchant'))
