"""Tables of the dispute side: the merchant's proposals, remedies the marketplace executes,
and merchant violations (the penalty issue builds points and levels on them)."""
from peewee import (AutoField, BooleanField, CharField, DateTimeField, ForeignKeyField,
                    IntegerField, TextField)

from desk import clock
from desk.complaint_models import Complaint
from desk.models import BaseModel, Merchant, Order, User

PROPOSAL_KINDS = ('refund', 'reissue', 'compensation', 'reject')
REMEDY_KINDS = ('refund', 'reissue', 'compensation')
MAX_PROPOSALS = 3


class Proposal(BaseModel):
    """A merchant's answer to a complaint; at most three per complaint."""
    id = AutoField()
    complaint = ForeignKeyField(Complaint, backref='proposals', on_delete='CASCADE')
    seq = IntegerField()
    kind = CharField(max_length=16)
    amount_fen = IntegerField(null=True)
    message = TextField()
    state = CharField(max_length=10, default='pending')  # pending, accepted, rejected, superseded
    created_by = ForeignKeyField(User, null=True, on_delete='SET NULL')
    created_at = DateTimeField(default=clock.now)
    answered_at = DateTimeField(null=True)
    buyer_reason = TextField(null=True)
    accepted_by_timeout = BooleanField(default=False)

    class Meta:
        indexes = ((('complaint', 'seq'), True),)


class Remedy(BaseModel):
    """What the marketplace must execute (refund, reissue, coupon), and its confirmation."""
    id = AutoField()
    complaint = ForeignKeyField(Complaint, backref='remedies', on_delete='CASCADE')
    order = ForeignKeyField(Order, backref='remedies', on_delete='RESTRICT')
    kind = CharField(max_length=16)
    amount_fen = IntegerField(null=True)
    source = CharField(max_length=16)  # agreement, timeout, auto_refund, ruling, review
    state = CharField(max_length=10, default='pending')  # pending, confirmed
    idempotency_key = CharField(max_length=64, unique=True)
    created_at = DateTimeField(default=clock.now)
    confirmed_at = DateTimeField(null=True)
    confirm_due_at = DateTimeField(null=True, index=True)


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

ARBITRATION_MODELS = [Proposal, Remedy, Violation]
