# Generated from a schema diff on 2026-11-29 09:00: the buyer credit ledger, the cached
# Buyer.credit (100 for every existing buyer) and Complaint.screening (the pre-screen).
from peewee import *

def up(migrator, db):
    class Buyer(Model):
        class Meta:
            database = db
            table_name = 'buyer'

    class Complaint(Model):
        class Meta:
            database = db
            table_name = 'complaint'

    class User(Model):
        class Meta:
            database = db
            table_name = 'user'

    class BuyerCreditEntry(Model):
        buyer = ForeignKeyField(Buyer, on_delete='CASCADE')
        delta = IntegerField()
        credit_after = IntegerField()
        reason = CharField(max_length=20)
        complaint = ForeignKeyField(Complaint, null=True, on_delete='SET NULL')
        created_by = ForeignKeyField(User, null=True, on_delete='SET NULL')
        note = TextField(default='')
        month = CharField(null=True, max_length=7)
        key = CharField(unique=True, max_length=64)
        at = DateTimeField()
        class Meta:
            database = db
            table_name = 'buyer_credit_entry'
            indexes = ((('buyer', 'at'), False), (('complaint', 'reason'), False))
    db.create_tables([BuyerCreditEntry])

    migrator.migrate(migrator.add_column('buyer', 'credit', IntegerField(default=100)))
    migrator.migrate(migrator.add_column('complaint', 'screening', CharField(null=True, max_length=10)))


def down(migrator, db):
    migrator.migrate(migrator.drop_column('complaint', 'screening'))
    migrator.migrate(migrator.drop_column('buyer', 'credit'))
    migrator.migrate(migrator.drop_table('buyer_credit_entry'))
