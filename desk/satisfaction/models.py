"""Tables of satisfaction ratings, supervisor reviews and agent metrics (SPEC §6).

`Rating` keeps every rating (one per complaint and resolution round), with the agent (or, for
an agreement without an agent, the merchant) and department snapshotted when it was given.
`Review` is the supervisor's review a 1–2 rating opens. `RatingFollowup` holds the two timers
of a resolved case (day 3 / day 6 rating reminders, and the close once the rating and appeal
windows are over). `CaseMetric` keeps each complaint's current contribution to the rollups and
`MetricDay` is the rollup itself (per subject, department and local day), so metric pages never
aggregate the raw tables; `MetricWeights` are the composite score's admin-editable weights.
"""
from peewee import (
    AutoField,
    BooleanField,
    CharField,
    DateField,
    DateTimeField,
    FloatField,
    ForeignKeyField,
    IntegerField,
    TextField,
)

from desk.cases.models import Complaint
from desk.core import clock
from desk.core.db import BaseModel
from desk.parties.models import Merchant, User

TAGS = ('slow', 'unfair', 'rude', 'not_resolved', 'good')
FINDINGS = ('agent_fault', 'policy_gap', 'merchant_fault', 'buyer_unreasonable')
REVIEW_ACTIONS = ('uphold', 'reopen', 'compensate', 'coach')
#: A review waits for the supervisor (`open`) until it is recorded (`done`).
REVIEW_STATES = ('open', 'done')
HANDLE_BUCKETS = 48


class Rating(BaseModel):
    id = AutoField()
    complaint = ForeignKeyField(Complaint, backref='ratings', on_delete='CASCADE')
    round = IntegerField(default=1)
    resolved_at = DateTimeField()          # the resolution this rating is about (one per round)
    stars = IntegerField()
    tags = TextField(default='[]')         # JSON list of TAGS
    comment = TextField(null=True)
    agent = ForeignKeyField(User, null=True, backref='ratings', on_delete='SET NULL')
    merchant = ForeignKeyField(Merchant, null=True, on_delete='SET NULL')  # agreement without agent
    department = CharField(max_length=8, null=True)
    rated_by = ForeignKeyField(User, null=True, backref='ratings_given', on_delete='SET NULL')
    rated_at = DateTimeField(default=clock.now)
    excluded = BooleanField(default=False)  # buyer_unreasonable: kept, not counted in CSAT
    excluded_by = ForeignKeyField(User, null=True, backref='ratings_excluded', on_delete='SET NULL')
    excluded_reason = TextField(null=True)
    excluded_at = DateTimeField(null=True)

    class Meta:
        indexes = ((('complaint', 'resolved_at'), True), (('agent', 'rated_at'), False),
                   (('merchant', 'rated_at'), False))


class Review(BaseModel):
    """A supervisor's review of a dissatisfied rating (24 h SLA: `due_at`).

    `overdue_check_at` is the pending breach check (deadline `review_overdue`): a second
    after `due_at` (the first second the review is late) while the review is open and not
    yet found overdue, cleared once the check has run or the review is done. `due_at`
    stays as it is for display and for `breached`.
    """
    id = AutoField()
    rating = ForeignKeyField(Rating, unique=True, backref='reviews', on_delete='CASCADE')
    complaint = ForeignKeyField(Complaint, backref='reviews', on_delete='CASCADE')
    state = CharField(max_length=8, default='open', index=True)  # REVIEW_STATES
    opened_at = DateTimeField(default=clock.now)
    due_at = DateTimeField(index=True)
    breached = BooleanField(default=False)
    overdue_check_at = DateTimeField(null=True)  # partial index below
    finding = CharField(max_length=20, null=True)
    actions = TextField(default='[]')
    note = TextField(null=True)
    coupon_fen = IntegerField(null=True)
    reopened_to = ForeignKeyField(User, null=True, backref='reviews_reopened_to', on_delete='SET NULL')
    reviewer = ForeignKeyField(User, null=True, backref='reviews_done', on_delete='SET NULL')
    reviewed_at = DateTimeField(null=True)
    coach_note = TextField(null=True)       # what the agent sees
    agent = ForeignKeyField(User, null=True, backref='reviews_of', on_delete='SET NULL')
    coach_seen_at = DateTimeField(null=True)


# Partial, like the complaint's deadline indexes: only the few open reviews carry the check,
# and the sweep's `overdue_check_at <= now` reads nothing else (migration 0017).
Review.add_index(Review.index(Review.overdue_check_at, name='review_overdue_check_at',
                              where=Review.overdue_check_at.is_null(False)))


class RatingFollowup(BaseModel):
    """The timers of a resolved case: rating reminders (day 3, day 6) and the close."""
    complaint = ForeignKeyField(Complaint, primary_key=True, on_delete='CASCADE')
    resolved_at = DateTimeField()
    remind_at = DateTimeField(null=True, index=True)
    reminders_sent = IntegerField(default=0)
    close_at = DateTimeField(null=True, index=True)


class CaseMetric(BaseModel):
    """A complaint's current contribution to `MetricDay` (JSON), to apply changes as deltas."""
    complaint = ForeignKeyField(Complaint, primary_key=True, on_delete='CASCADE')
    contrib = TextField(default='{}')
    updated_at = DateTimeField(default=clock.now)


class MetricDay(BaseModel):
    """Counters of one subject (an agent, or a merchant for agreement ratings) in one
    department on one local day. Every metric of docs/metrics.md is a ratio of sums of these."""
    id = AutoField()
    subject_kind = CharField(max_length=8)   # agent, merchant
    subject = IntegerField()
    department = CharField(max_length=8)
    day = DateField()
    handled = IntegerField(default=0)
    fcr = IntegerField(default=0)
    reopened = IntegerField(default=0)
    appealed = IntegerField(default=0)
    overturned = IntegerField(default=0)
    handle_seconds = IntegerField(default=0)
    # handle-time histogram: hNN counts cases whose handle time fell in bucket NN (metrics.bucket_of)
    for _n in range(HANDLE_BUCKETS):
        locals()[f'h{_n:02d}'] = IntegerField(default=0)
    del _n
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
        indexes = ((('subject_kind', 'subject', 'department', 'day'), True),
                   (('subject_kind', 'day', 'subject'), False))


class MetricWeights(BaseModel):
    """The composite score's weights (one row, admin-editable)."""
    id = AutoField()
    csat = FloatField(default=40)
    fcr = FloatField(default=25)
    sla = FloatField(default=20)
    not_overturned = FloatField(default=15)
    updated_at = DateTimeField(default=clock.now)


MODELS = [Rating, Review, RatingFollowup, CaseMetric, MetricDay, MetricWeights]
