"""The tables of what the desk announces: the transactional outbox, the in-app inbox, and the
marketplace's webhook subscriptions with their delivery log."""

from peewee import AutoField, BooleanField, CharField, DateTimeField, ForeignKeyField, IntegerField, TextField

from desk.cases.models import Complaint
from desk.core import clock
from desk.core.db import BaseModel
from desk.parties.models import User


class WebhookSubscription(BaseModel):
    """Where the marketplace wants events: URL, signing secret and the event types."""
    id = AutoField()
    user = ForeignKeyField(User, backref='webhooks', on_delete='CASCADE')
    url = CharField(max_length=500)
    secret = CharField(max_length=128)
    events = TextField(default='["*"]')  # JSON list of event types, "*" for all
    active = BooleanField(default=True)
    created_at = DateTimeField(default=clock.now)


class WebhookDelivery(BaseModel):
    """One event to one subscription: retried with backoff until delivered or given up."""
    id = AutoField()
    subscription = ForeignKeyField(WebhookSubscription, backref='deliveries', on_delete='CASCADE')
    event = CharField(max_length=64)
    payload = TextField()
    idempotency_key = CharField(max_length=80)
    state = CharField(max_length=10, default='pending')  # pending, delivered, failed
    attempts = IntegerField(default=0)
    next_attempt_at = DateTimeField(null=True, index=True)
    last_status = IntegerField(null=True)
    last_error = TextField(null=True)
    created_at = DateTimeField(default=clock.now)
    delivered_at = DateTimeField(null=True)

    class Meta:
        indexes = ((('subscription', 'idempotency_key'), True), (('created_at',), False))


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

#: The tables of this module, in dependency order (what the migrations build).
MODELS = [WebhookSubscription, WebhookDelivery, Outbox, InboxMessage]
