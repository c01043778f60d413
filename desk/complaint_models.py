"""Tables of the complaint itself: categories, the rule catalogue, complaints, their
timeline, the outbox and the in-app inbox.

Every deadline is its own indexed column (the timers and queues select through them), and a
partial unique index keeps at most one open complaint per order even under concurrent filing.
"""
import datetime as dt

from peewee import (AutoField, BooleanField, CharField, DateTimeField, ForeignKeyField,
                    IntegerField, TextField)

from desk import clock
from desk.models import BaseModel, Buyer, Merchant, Order, User

STATES = ('self_service', 'negotiating', 'awaiting_buyer', 'pending_agent', 'in_progress',
          'in_arbitration', 'resolved', 'appealed', 'closed', 'withdrawn', 'screening')
TERMINAL_STATES = ('closed', 'withdrawn')
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


class RuleClause(BaseModel):
    """A clause of the platform rule catalogue a complaint or ruling can cite."""
    id = AutoField()
    code = CharField(max_length=40, unique=True)
    title_zh = CharField(max_length=200)
    title_en = CharField(max_length=200)
    body_zh = TextField()
    category = CharField(max_length=40, null=True)
    active = BooleanField(default=True)


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
    # Head of the hash-chained timeline (see desk.timeline): its length and newest hash.
    timeline_length = IntegerField(default=0)
    timeline_head = CharField(max_length=64, null=True)
    # The supervisor pre-screen of a low-credit buyer's complaint (desk.screening): None
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

    @property
    def is_open(self):
        return self.state not in TERMINAL_STATES


# The partial unique index migration 0002 builds (at most one open complaint per order),
# declared on the model too, so the schema check sees model and database agree.
Complaint.add_index(Complaint.index(Complaint.order, unique=True, name='complaint_one_open_per_order',
                                    where=Complaint.state.not_in(TERMINAL_STATES)))
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


class Outbox(BaseModel):
    """Work to deliver after commit (inbox, e-mail, SMS, webhooks), written in the same
    transaction as the change it announces; `state` moves pending -> sent exactly once."""
    id = AutoField()
    topic = CharField(max_length=40)
    complaint = ForeignKeyField(Complaint, null=True, on_delete='CASCADE')
    payload = TextField(default='{}')
    state = CharField(max_length=10, default='pending')
    attempts = IntegerField(default=0)
    available_at = DateTimeField(default=clock.now)
    created_at = DateTimeField(default=clock.now)
    sent_at = DateTimeField(null=True)
    last_error = TextField(null=True)

    class Meta:
        indexes = ((('state', 'available_at'), False),)


class InboxMessage(BaseModel):
    """An in-app notification; one per (outbox row, user) so a redelivery adds nothing."""
    id = AutoField()
    user = ForeignKeyField(User, backref='inbox', on_delete='CASCADE', index=False)  # (user, read_at)
    outbox = ForeignKeyField(Outbox, null=True, on_delete='SET NULL', index=False)  # (outbox, user)
    complaint = ForeignKeyField(Complaint, null=True, on_delete='CASCADE')
    title = CharField(max_length=200)
    body = TextField(default='')
    link = CharField(max_length=255, null=True)
    created_at = DateTimeField(default=clock.now)
    read_at = DateTimeField(null=True)

    class Meta:
        indexes = ((('user', 'read_at'), False), (('outbox', 'user'), True))


COMPLAINT_MODELS = [Category, RuleClause, TicketCounter, Complaint, Event, Outbox, InboxMessage]
