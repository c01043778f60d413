"""Tables of platform intervention: evidence (content-addressed blobs and the immutable items
that point at them), evidence requests addressed to one party, rulings and appeals.

Evidence is never edited or deleted: a correction is a new item whose `supersedes` names the
old one. The bytes live in the storage backend under their SHA-256 (`Blob`), so the same file
uploaded twice is stored once and listed twice.
"""
from peewee import (AutoField, BooleanField, CharField, DateTimeField, ForeignKeyField,
                    IntegerField, TextField)

from desk import clock
from desk.complaint_models import Complaint, RuleClause
from desk.models import BaseModel, User

#: SPEC §5 evidence kinds.
EVIDENCE_KINDS = ('order_screenshot', 'payment_proof', 'chat_log', 'screen_recording',
                  'error_screenshot', 'delivery_log', 'other')
#: Who submitted an item: one of the two parties, or the platform's staff.
EVIDENCE_PARTIES = ('buyer', 'merchant', 'staff')
RULING_OUTCOMES = ('buyer_full', 'buyer_partial', 'merchant', 'split')
RESPONSIBILITIES = ('merchant', 'buyer', 'platform', 'third_party')
RULING_REMEDIES = ('refund', 'reissue', 'compensation', 'none')


class Blob(BaseModel):
    """Stored bytes, keyed by their SHA-256; the storage backend holds the content."""
    sha256 = CharField(max_length=64, primary_key=True)
    size = IntegerField()
    mime = CharField(max_length=100)
    created_at = DateTimeField(default=clock.now)
    thumbnail_sha256 = CharField(max_length=64, null=True)  # a JPEG/PNG thumbnail blob, for images


class EvidenceRequest(BaseModel):
    """An agent's request for specific evidence from one party, with its own deadline."""
    id = AutoField()
    complaint = ForeignKeyField(Complaint, backref='evidence_requests', on_delete='CASCADE')
    party = CharField(max_length=10)            # buyer or merchant
    note = TextField()
    due_at = DateTimeField(index=True)
    created_by = ForeignKeyField(User, null=True, on_delete='SET NULL')
    created_at = DateTimeField(default=clock.now)
    answered_at = DateTimeField(null=True)      # first item submitted against it
    closed_at = DateTimeField(null=True)        # answered, expired or the period closed
    expire_at = DateTimeField(null=True, index=True)  # = due_at while open (the timer; migration 0008)


class Evidence(BaseModel):
    """One evidence item of a case: a file (blob) or pasted text; immutable once written."""
    id = AutoField()
    complaint = ForeignKeyField(Complaint, backref='evidence', on_delete='CASCADE')
    party = CharField(max_length=10)            # EVIDENCE_PARTIES
    kind = CharField(max_length=20)             # EVIDENCE_KINDS
    description = TextField(default='')
    blob = ForeignKeyField(Blob, null=True, on_delete='RESTRICT')  # None for pasted text
    text = TextField(null=True)                 # pasted text evidence (chat logs)
    filename = CharField(max_length=255, null=True)  # the uploader's name, cleaned, for display only
    mime = CharField(max_length=100)            # sniffed from the content (text/plain for pasted text)
    size = IntegerField()
    sha256 = CharField(max_length=64)
    created_by = ForeignKeyField(User, null=True, on_delete='SET NULL')
    created_at = DateTimeField(default=clock.now)
    supersedes = ForeignKeyField('self', null=True, backref='superseded_by', on_delete='SET NULL')
    request = ForeignKeyField(EvidenceRequest, null=True, backref='items', on_delete='SET NULL')

    class Meta:
        indexes = ((('complaint', 'party', 'created_at'), False),)


class EvidenceDeclaration(BaseModel):
    """A party's "I have submitted all my evidence" (lets the owner close the period early)."""
    id = AutoField()
    complaint = ForeignKeyField(Complaint, backref='evidence_declarations', on_delete='CASCADE')
    party = CharField(max_length=10)
    round = IntegerField(default=1)             # 1 = first arbitration, 2 = appeal
    at = DateTimeField(default=clock.now)

    class Meta:
        indexes = ((('complaint', 'party', 'round'), True),)


class Ruling(BaseModel):
    """An arbiter's decision; an appeal's ruling replaces the first (both kept)."""
    id = AutoField()
    complaint = ForeignKeyField(Complaint, backref='rulings', on_delete='CASCADE')
    round = IntegerField(default=1)             # 1 = first ruling, 2 = on appeal
    agent = ForeignKeyField(User, null=True, on_delete='SET NULL')
    outcome = CharField(max_length=16)          # RULING_OUTCOMES
    responsibility = CharField(max_length=16)   # RESPONSIBILITIES
    remedy = CharField(max_length=16)           # RULING_REMEDIES
    refund_fen = IntegerField(default=0)
    coupon_fen = IntegerField(default=0)
    clause = ForeignKeyField(RuleClause, null=True, on_delete='SET NULL')
    reasoning = TextField()
    active = BooleanField(default=True)         # exactly one active ruling per complaint
    overturned = BooleanField(default=False)    # replaced on appeal by a different outcome
    created_at = DateTimeField(default=clock.now)

    class Meta:
        indexes = ((('complaint', 'round'), True), (('agent', 'created_at'), False))


class Appeal(BaseModel):
    """A party's appeal against a ruling; at most one per complaint."""
    id = AutoField()
    complaint = ForeignKeyField(Complaint, backref='appeals', on_delete='CASCADE', unique=True)
    ruling = ForeignKeyField(Ruling, backref='appeals', on_delete='CASCADE')
    party = CharField(max_length=10)            # buyer or merchant
    reason = TextField()
    created_by = ForeignKeyField(User, null=True, on_delete='SET NULL')
    created_at = DateTimeField(default=clock.now)
    decided_at = DateTimeField(null=True)
    new_ruling = ForeignKeyField(Ruling, null=True, on_delete='SET NULL')
    changed = BooleanField(null=True)           # the new ruling changed the outcome (an overturn)


EVIDENCE_MODELS = [Blob, EvidenceRequest, Evidence, EvidenceDeclaration, Ruling, Appeal]
