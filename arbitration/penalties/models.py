"""Tables of merchant penalties (SPEC §7): the editable rule and level tables, the links of a
violation to its complaints, each merchant's standing, the deposit ledger and penalty appeals.

`Violation` is the one record of a merchant's violation (the negotiation and ruling code record
it); the other tables build points, levels, fines and appeals on it.
"""
from peewee import AutoField, BooleanField, CharField, DateTimeField, ForeignKeyField, IntegerField, TextField

from desk.cases.models import Blob, Complaint
from desk.core import clock
from desk.core.db import BaseModel
from desk.parties.models import Merchant, User

VIOLATION_STATES = ('active', 'expired', 'revoked')
APPEAL_STATES = ('open', 'upheld', 'revoked')
#: Ledger entry kinds; `amount_fen` is signed (top-ups and refunds positive, fines negative).
LEDGER_KINDS = ('top_up', 'fine', 'fine_refund')
#: What a standing level restricts; `cleared` (清退) is final.
RESTRICTIONS = ('search_demotion', 'no_new_listings', 'shop_suspended', 'cleared')


class Violation(BaseModel):
    """A merchant's violation of the rules, recorded from an outcome or by a supervisor."""
    id = AutoField()
    merchant = ForeignKeyField(Merchant, backref='violations', on_delete='CASCADE', index=False)
    complaint = ForeignKeyField(Complaint, null=True, backref='violations', on_delete='SET NULL', index=False)
    code = CharField(max_length=32)
    points = IntegerField(default=0)
    fine_fen = IntegerField(default=0)
    at = DateTimeField(default=clock.now)
    expires_at = DateTimeField(index=True)
    state = CharField(max_length=10, default='active')  # active, expired, revoked
    reason = TextField(null=True)
    created_by = ForeignKeyField(User, null=True, on_delete='SET NULL', index=False)  # manual: partial, below
    ended_at = DateTimeField(null=True)  # when it expired or was revoked

    class Meta:
        indexes = ((('merchant', 'at'), False), (('complaint', 'code'), False))


# A merchant's active points and next expiry are summed from this index alone (standing
# recomputes them on every violation recorded: migration 0015, bench/README.md).
Violation.add_index(Violation.index(Violation.merchant, Violation.expires_at, Violation.points,
                                    name='violation_active_points', where=Violation.state == 'active'))


# Only manual violations have an author (migration 0018).
Violation.add_index(Violation.index(Violation.created_by, name='violation_created_by_id',
                                    where=Violation.created_by.is_null(False)))


class ViolationRule(BaseModel):
    """One row of the rule table (admin-editable; SPEC §7 defaults seeded by migration 0011).

    A violation copies the rule's points and fine when it is recorded, so editing a rule
    changes future violations, never the ones a merchant already carries."""
    id = AutoField()
    code = CharField(max_length=32, unique=True)
    description_zh = TextField()
    description_en = TextField()
    points = IntegerField(default=0)
    fine_fen = IntegerField(default=0)
    automatic = BooleanField(default=True)  # False: recorded by a supervisor (`manual`)
    active = BooleanField(default=True)
    updated_at = DateTimeField(default=clock.now)


class StandingLevel(BaseModel):
    """A standing level: reached at `min_points` active points, with its restriction and how
    long the restriction lasts (None: as long as the level holds, or for ever for `cleared`).
    Admin-editable; SPEC §7 defaults seeded by migration 0011."""
    id = AutoField()
    level = IntegerField(unique=True)            # 1 warning … 4 cleared; 0 (normal) has no row
    code = CharField(max_length=16, unique=True)  # warning, no_listing, suspended, cleared
    min_points = IntegerField()
    restriction = CharField(max_length=20)        # RESTRICTIONS
    duration_seconds = IntegerField(null=True)


class ViolationComplaint(BaseModel):
    """The complaints a violation rests on: one for an outcome, the window's complaints for a
    `complaint_spike`."""
    violation = ForeignKeyField(Violation, backref='complaint_links', on_delete='CASCADE')
    complaint = ForeignKeyField(Complaint, backref='violation_links', on_delete='CASCADE')

    class Meta:
        indexes = ((('violation', 'complaint'), True),)
        primary_key = False


class MerchantStanding(BaseModel):
    """A merchant's current standing, recomputed from its active violations and its deposit.

    `due_at` is the next moment the standing changes by itself (a violation expiring or a
    restriction ending): a deadline of the deadline machinery."""
    merchant = ForeignKeyField(Merchant, primary_key=True, backref='standing', on_delete='CASCADE')
    active_points = IntegerField(default=0)
    level = IntegerField(default=0)
    level_since = DateTimeField(null=True)
    restriction_until = DateTimeField(null=True)  # end of the level's timed restriction
    deposit_hold = BooleanField(default=False)    # an uncovered fine: suspended until topped up
    due_at = DateTimeField(null=True, index=True)
    version = IntegerField(default=0)
    updated_at = DateTimeField(default=clock.now)


class DepositEntry(BaseModel):
    """One entry of a merchant's deposit ledger (保证金); the balance is the sum of entries."""
    id = AutoField()
    merchant = ForeignKeyField(Merchant, backref='deposit_entries', on_delete='CASCADE')
    kind = CharField(max_length=12)               # LEDGER_KINDS
    amount_fen = IntegerField()                   # signed
    balance_after_fen = IntegerField()            # running sum, for the statement
    violation = ForeignKeyField(Violation, null=True, backref='ledger_entries', on_delete='SET NULL')
    note = TextField(default='')
    created_by = ForeignKeyField(User, null=True, on_delete='SET NULL')
    idempotency_key = CharField(max_length=64, null=True, unique=True)
    at = DateTimeField(default=clock.now)

    class Meta:
        indexes = ((('merchant', 'id'), False),)


class ViolationAppeal(BaseModel):
    """A merchant's appeal of one violation (one per violation, within 7 days)."""
    id = AutoField()
    violation = ForeignKeyField(Violation, unique=True, backref='appeals', on_delete='CASCADE')
    merchant = ForeignKeyField(Merchant, backref='violation_appeals', on_delete='CASCADE')
    reason = TextField()
    state = CharField(max_length=10, default='open', index=True)  # APPEAL_STATES
    created_by = ForeignKeyField(User, null=True, on_delete='SET NULL')
    created_at = DateTimeField(default=clock.now)
    decided_by = ForeignKeyField(User, null=True, on_delete='SET NULL')
    decided_at = DateTimeField(null=True)
    decision_note = TextField(null=True)


class AppealEvidence(BaseModel):
    """A file the merchant attached to a penalty appeal (bytes in the evidence store)."""
    id = AutoField()
    appeal = ForeignKeyField(ViolationAppeal, backref='evidence', on_delete='CASCADE')
    blob = ForeignKeyField(Blob, on_delete='RESTRICT')
    filename = CharField(max_length=255, null=True)
    mime = CharField(max_length=100)
    size = IntegerField()
    created_at = DateTimeField(default=clock.now)


MODELS = [Violation, ViolationRule, StandingLevel, ViolationComplaint, MerchantStanding,
          DepositEntry, ViolationAppeal, AppealEvidence]
