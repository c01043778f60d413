"""The tables of one aggregate, the complaint (工单), defined together: categories and the rule
catalogue it refers to, the complaint itself, its timeline, the merchant's proposals, the remedies
the marketplace executes, evidence (content-addressed blobs and the immutable items that point at
them), evidence requests and declarations, rulings and appeals.

Every deadline is its own indexed column (the timers and queues select through them), and a
partial unique index keeps at most one open complaint per order even under concurrent filing.
Evidence is never edited or deleted: a correction is a new item whose `supersedes` names the
old one. The bytes live in the storage backend under their SHA-256 (`Blob`), so the same file
uploaded twice is stored once and listed twice.

It may import `desk.core`, `desk.parties` and `desk.orders.orders` models only.
"""
import datetime as dt

from peewee import (
    AutoField,
    BooleanField,
    CharField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    TextField,
)

from desk.cases import lifecycle
from desk.core import clock
from desk.core.db import BaseModel
from desk.core.labels import category_label
from desk.orders.models import Order
from desk.parties.models import Buyer, Merchant, User

TIERS = ('L1', 'L2', 'L3')
PATHS = ('merchant', 'platform', 'self_service')
DEMAND_TYPES = ('full_refund', 'partial_refund', 'reissue', 'compensation', 'fix', 'other')
CHANNELS = ('app', 'web', 'api', 'phone', 'wechat', 'qq')
EXTERNAL = ('12315', 'heimao')
#: Sorts after every real time; the queue's keyset needs a non-NULL due time on every row.
FAR_FUTURE = dt.datetime(9999, 12, 31)
DEADLINES = ('merchant_due', 'buyer_due', 'evidence_due', 'first_response_due',
             'resolution_due', 'rating_due', 'appeal_due', 'edit_until')


class Category(BaseModel):
    """A complaint category (admin-editable): where it goes and which facts it needs."""
    id = AutoField()
    code = CharField(max_length=40, unique=True)
    name_zh = CharField(max_length=100)
    name_en = CharField(max_length=100)
    path = CharField(max_length=16)
    tier = CharField(max_length=2)
    department = CharField(max_length=8)
    scenario_fields = TextField(default='[]')  # JSON list of field names required at filing
    senior_only = BooleanField(default=False)
    active = BooleanField(default=True)
    position = IntegerField(default=0)

    @classmethod
    def names(cls):
        """Code -> name in the interface language, of every category (one query)."""
        return {c.code: category_label(c) for c in cls.select()}

    @classmethod
    def name_of(cls, code):
        """The name of the category `code` in the interface language (the code if unknown)."""
        category = cls.get_or_none(cls.code == code)
        return category_label(category) if category else code


class RuleClause(BaseModel):
    """A clause of the platform rule catalogue a complaint or ruling can cite."""
    id = AutoField()
    code = CharField(max_length=40, unique=True)
    title_zh = CharField(max_length=200)
    title_en = CharField(max_length=200)
    body_zh = TextField()
    category = CharField(max_length=40, null=True)
    active = BooleanField(default=True)


def state_in(states, doc):
    """A predicate of a complaint: whether its state is one of `states` (a lifecycle group)."""
    return property(lambda complaint: complaint.state in states, doc=doc)


class TicketCounter(BaseModel):
    """Per-day sequence behind ticket numbers like TS20261124-000123."""
    day = CharField(max_length=8, primary_key=True)
    last = IntegerField(default=0)


class Complaint(BaseModel):
    id = AutoField()
    ticket_no = CharField(max_length=32, unique=True)
    order = ForeignKeyField(Order, backref='complaints', on_delete='RESTRICT')
    buyer = ForeignKeyField(Buyer, backref='complaints', on_delete='RESTRICT', index=False)
    merchant = ForeignKeyField(Merchant, backref='complaints', on_delete='RESTRICT', index=False)
    category = CharField(max_length=40)
    path = CharField(max_length=16)
    tier = CharField(max_length=2)
    department = CharField(max_length=8)
    state = CharField(max_length=16)
    version = IntegerField(default=1)
    owner = ForeignKeyField(User, null=True, backref='owned_complaints', on_delete='RESTRICT',
                            index=False)
    filed_by = ForeignKeyField(User, null=True, backref='filed_complaints', on_delete='SET NULL',
                               index=False)
    facts = TextField()
    scenario = TextField(default='{}')
    demand_type = CharField(max_length=16)
    demand_fen = IntegerField(null=True)
    basis = CharField(max_length=40, null=True)
    channel = CharField(max_length=8)
    external_12315 = BooleanField(default=False)
    external_heimao = BooleanField(default=False)
    priority = IntegerField(default=0)
    needs_payment_proof = BooleanField(default=False)
    override_reason = TextField(null=True)
    created_at = DateTimeField(default=clock.now, index=True)
    updated_at = DateTimeField(default=clock.now)
    resolved_at = DateTimeField(null=True)
    closed_at = DateTimeField(null=True)
    merchant_due_at = DateTimeField(null=True)
    buyer_due_at = DateTimeField(null=True)
    evidence_due_at = DateTimeField(null=True)
    first_response_due_at = DateTimeField(null=True)
    resolution_due_at = DateTimeField(null=True)
    rating_due_at = DateTimeField(null=True)
    appeal_due_at = DateTimeField(null=True)
    edit_until = DateTimeField(null=True)
    # The agent desk's queue: overdue first (rank 0), then L1 cases and complaints also filed
    # with 12315 or 黑猫投诉 (rank 1), then the rest (2); within a rank by tier, then due time.
    in_queue = BooleanField(default=False)
    queue_rank = IntegerField(default=2)  # 0 overdue, 1 L1 or filed externally, 2 others
    next_due_at = DateTimeField(default=FAR_FUTURE)
    sla_check_at = DateTimeField(null=True)
    first_response_at = DateTimeField(null=True)
    assigned_at = DateTimeField(null=True)
    # Negotiation (arbitration.negotiation): reminders, answers, urges.
    merchant_remind_at = DateTimeField(null=True)
    merchant_answered_at = DateTimeField(null=True)
    proposal_count = IntegerField(default=0)
    urge_count = IntegerField(default=0)
    last_urged_at = DateTimeField(null=True)
    # Head of the hash-chained timeline (see desk.cases.timeline): its length and newest hash.
    timeline_length = IntegerField(default=0)
    timeline_head = CharField(max_length=64, null=True)
    # The supervisor pre-screen of a low-credit buyer's complaint (desk.credit.screening): None
    # (never screened), 'pending', 'accepted' or 'rejected'. The merchant does not see a
    # complaint that is pending or was rejected.
    screening = CharField(max_length=10, null=True)

    class Meta:
        indexes = (
            (('buyer', 'id'), False),
            (('merchant', 'id'), False),
            (('state', 'id'), False),
            (('category', 'id'), False),
            (('department', 'state', 'id'), False),
        )

    # What the case is at, for the pages: they ask these instead of comparing states (the
    # states and their groups are named in desk.cases.lifecycle only).
    @property
    def is_open(self):
        return self.state not in lifecycle.TERMINAL

    awaits_merchant = state_in((lifecycle.NEGOTIATING,), 'The merchant owes an answer (a proposal).')
    awaits_buyer = state_in((lifecycle.AWAITING_BUYER,), "The buyer owes an answer to the merchant's proposal.")
    awaits_agent = state_in((lifecycle.PENDING_AGENT,), 'In the queue, waiting for an agent to claim it.')
    in_arbitration = state_in((lifecycle.IN_ARBITRATION,), 'In the first round of arbitration (its evidence period).')
    under_appeal = state_in((lifecycle.APPEALED,), 'Appealed: a senior agent decides.')
    being_arbitrated = state_in(lifecycle.ARBITRATION, 'Arbitrated now: in the first round or on appeal.')
    has_workspace = state_in(lifecycle.WORKSPACE, 'Staff may open its arbitration workspace.')
    is_resolved = state_in((lifecycle.RESOLVED,), 'Resolved (by agreement, a ruling or the platform).')

    @property
    def progress_stage(self):
        """The buyer's progress bar: 1 received (已受理), 2 being handled (处理中), 3 finished (已完成)."""
        if self.state in lifecycle.RECEIVED:
            return 1
        return 3 if self.state in lifecycle.FINISHED else 2

    @property
    def negotiation_due_at(self):
        """The deadline of the party that owes the next answer in the negotiation (the
        merchant's while it must propose, the buyer's while a proposal waits), else None."""
        if self.awaits_merchant:
            return self.merchant_due_at
        return self.buyer_due_at if self.awaits_buyer else None


# The partial unique index migration 0002 builds (at most one open complaint per order),
# declared on the model too, so the schema check sees model and database agree.
Complaint.add_index(Complaint.index(Complaint.order, unique=True, name='complaint_one_open_per_order',
                                    where=Complaint.state.not_in(lifecycle.TERMINAL)))


# Queue order, and (with state and owner at the end) the counts beside the queue filters read
# from the index alone (bench/README.md); partial: only the few percent of cases in a queue.
Complaint.add_index(Complaint.index(
    Complaint.department, Complaint.in_queue, Complaint.queue_rank, Complaint.tier, Complaint.next_due_at,
    Complaint.id, Complaint.state, Complaint.owner, name='complaint_queue_order',
    where=Complaint.in_queue == True))  # noqa: E712


# A case's owner: only owned cases (every query names the owner; migration 0018).
Complaint.add_index(Complaint.index(Complaint.owner, Complaint.in_queue, name='complaint_owner_id_in_queue',
                                    where=Complaint.owner.is_null(False)))


#: The deadline columns the timers select through. Their indexes are partial (only rows where
#: the deadline is set): most cases carry one or two deadlines at a time, and a row update
#: (not HOT: `complaint` is updated in place constantly) writes an entry only into the
#: indexes whose predicate it matches — migration 0016, bench/README.md.
DEADLINE_INDEXED = ('merchant_due_at', 'buyer_due_at', 'evidence_due_at', 'first_response_due_at',
                    'resolution_due_at', 'rating_due_at', 'appeal_due_at', 'sla_check_at',
                    'merchant_remind_at')


for _name in DEADLINE_INDEXED:
    _column = getattr(Complaint, _name)
    Complaint.add_index(Complaint.index(_column, name=f'complaint_{_name}', where=_column.is_null(False)))


# A merchant's complaints by filing time: the complaint spike check and merchant health read
# them so (migration 0014 builds it).
Complaint.add_index(Complaint.index(Complaint.merchant, Complaint.created_at))


class Event(BaseModel):
    """One line of a complaint's timeline: append-only and hash-chained per complaint."""
    id = AutoField()
    complaint = ForeignKeyField(Complaint, backref='events', on_delete='CASCADE', index=False)  # (complaint, seq)
    seq = IntegerField()
    at = DateTimeField()
    actor = ForeignKeyField(User, null=True, on_delete='SET NULL', index=False)  # partial, below
    actor_role = CharField(max_length=20)
    kind = CharField(max_length=32)
    public = BooleanField(default=True)
    data = TextField(default='{}')
    prev_hash = CharField(max_length=64)
    hash = CharField(max_length=64)

    class Meta:
        indexes = ((('complaint', 'seq'), True),)


# Events with a person behind them only: system events (timers, most of the timeline) have
# no actor, and every lookup names one (migration 0018).
Event.add_index(Event.index(Event.actor, name='event_actor_id', where=Event.actor.is_null(False)))


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

#: The tables of this module, in dependency order (what the migrations build).
MODELS = [Category, RuleClause, TicketCounter, Complaint, Event, Proposal, Remedy, Blob,
          EvidenceRequest, Evidence, EvidenceDeclaration, Ruling, Appeal]
