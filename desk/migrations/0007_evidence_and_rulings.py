# Generated from a schema diff on 2026-11-29 05:49.
# Python-side defaults (created_at = clock.now) live in the models, not the schema.
from peewee import *


def up(migrator, db):
    class Complaint(Model):
        class Meta:
            database = db
            table_name = 'complaint'

    class RuleClause(Model):
        class Meta:
            database = db
            table_name = 'rule_clause'

    class User(Model):
        class Meta:
            database = db
            table_name = 'user'

    class Ruling(Model):
        complaint = ForeignKeyField(Complaint, on_delete='CASCADE')
        round = IntegerField(default=1)
        agent = ForeignKeyField(User, null=True, on_delete='SET NULL')
        outcome = CharField(max_length=16)
        responsibility = CharField(max_length=16)
        remedy = CharField(max_length=16)
        refund_fen = IntegerField(default=0)
        coupon_fen = IntegerField(default=0)
        clause = ForeignKeyField(RuleClause, null=True, on_delete='SET NULL')
        reasoning = TextField()
        active = BooleanField(default=True)
        overturned = BooleanField(default=False)
        created_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'ruling'
            indexes = ((('complaint', 'round'), True), (('agent', 'created_at'), False))
    db.create_tables([Ruling])

    class Appeal(Model):
        complaint = ForeignKeyField(Complaint, unique=True, on_delete='CASCADE')
        ruling = ForeignKeyField(Ruling, on_delete='CASCADE')
        party = CharField(max_length=10)
        reason = TextField()
        created_by = ForeignKeyField(User, null=True, on_delete='SET NULL')
        created_at = DateTimeField()
        decided_at = DateTimeField(null=True)
        new_ruling = ForeignKeyField(Ruling, null=True, on_delete='SET NULL')
        changed = BooleanField(null=True)
        class Meta:
            database = db
            table_name = 'appeal'
    db.create_tables([Appeal])

    class Blob(Model):
        sha256 = CharField(primary_key=True, max_length=64)
        size = IntegerField()
        mime = CharField(max_length=100)
        created_at = DateTimeField()
        thumbnail_sha256 = CharField(null=True, max_length=64)
        class Meta:
            database = db
            table_name = 'blob'
    db.create_tables([Blob])

    class EvidenceRequest(Model):
        complaint = ForeignKeyField(Complaint, on_delete='CASCADE')
        party = CharField(max_length=10)
        note = TextField()
        due_at = DateTimeField(index=True)
        created_by = ForeignKeyField(User, null=True, on_delete='SET NULL')
        created_at = DateTimeField()
        answered_at = DateTimeField(null=True)
        closed_at = DateTimeField(null=True)
        class Meta:
            database = db
            table_name = 'evidence_request'
    db.create_tables([EvidenceRequest])

    class Evidence(Model):
        complaint = ForeignKeyField(Complaint, on_delete='CASCADE')
        party = CharField(max_length=10)
        kind = CharField(max_length=20)
        description = TextField(default='')
        blob = ForeignKeyField(Blob, null=True, on_delete='RESTRICT')
        text = TextField(null=True)
        filename = CharField(null=True)
        mime = CharField(max_length=100)
        size = IntegerField()
        sha256 = CharField(max_length=64)
        created_by = ForeignKeyField(User, null=True, on_delete='SET NULL')
        created_at = DateTimeField()
        supersedes = ForeignKeyField('self', null=True, on_delete='SET NULL')
        request = ForeignKeyField(EvidenceRequest, null=True, on_delete='SET NULL')
        class Meta:
            database = db
            table_name = 'evidence'
            indexes = ((('complaint', 'party', 'created_at'), False),)
    db.create_tables([Evidence])

    class EvidenceDeclaration(Model):
        complaint = ForeignKeyField(Complaint, on_delete='CASCADE')
        party = CharField(max_length=10)
        round = IntegerField(default=1)
        at = DateTimeField()
        class Meta:
            database = db
            table_name = 'evidence_declaration'
            indexes = ((('complaint', 'party', 'round'), True),)
    db.create_tables([EvidenceDeclaration])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('evidence_declaration'))
    migrator.migrate(migrator.drop_table('evidence'))
    migrator.migrate(migrator.drop_table('evidence_request'))
    migrator.migrate(migrator.drop_table('blob'))
    migrator.migrate(migrator.drop_table('appeal'))
    migrator.migrate(migrator.drop_table('ruling'))
