"""The platform's tables. Every datetime column holds naive UTC (see `desk.clock`); money
columns hold integer fen (see `desk.money`).

Schema changes are made by adding a migration under `desk/migrations/`; a test compares
these models with the migrated schema so the two never drift.
"""
from peewee import (AutoField, BooleanField, CharField, DateTimeField, ForeignKeyField,
                    IntegerField, Model, TextField)

from desk import clock
from desk.db import database

ROLES = ('buyer', 'merchant_staff', 'agent', 'senior_agent', 'supervisor', 'admin', 'integration')
STAFF_ROLES = ('agent', 'senior_agent', 'supervisor', 'admin')
DEPARTMENTS = ('cs', 'ops', 'tech')
AGENT_STATUSES = ('online', 'away', 'offline')
GOODS_TYPES = ('game_card', 'phone_recharge', 'gift_card', 'game_account', 'other')
PAYMENT_METHODS = ('alipay', 'wechat', 'bank', 'balance')


class BaseModel(Model):
    class Meta:
        database = database
        legacy_table_names = False


class Merchant(BaseModel):
    id = AutoField()
    ref = CharField(max_length=64, unique=True)
    name = CharField(max_length=200)
    deposit_fen = IntegerField(default=0)
    created_at = DateTimeField(default=clock.now)


class Buyer(BaseModel):
    """A marketplace buyer as the desk knows them; the phone is stored but shown masked."""
    id = AutoField()
    ref = CharField(max_length=64, unique=True)
    display_name = CharField(max_length=200)
    phone = CharField(max_length=32, null=True)
    created_at = DateTimeField(default=clock.now)
    #: 专属客服: owner of this buyer's third and later complaints within 30 days, when set.
    dedicated_agent_id = IntegerField(null=True)
    #: Complaint credit (SPEC §7), 0..100: a cache of 100 plus the sum of the buyer's
    #: `desk.credit_models.BuyerCreditEntry` deltas, written in the entry's transaction.
    #: Staff see it; the buyer never does (desk/credit.py).
    credit = IntegerField(default=100)


class User(BaseModel):
    id = AutoField()
    username = CharField(max_length=64, unique=True)
    password_hash = CharField(max_length=255)
    display_name = CharField(max_length=200)
    email = CharField(max_length=200, null=True)
    role = CharField(max_length=20, index=True)
    department = CharField(max_length=8, null=True)
    merchant = ForeignKeyField(Merchant, null=True, backref='staff', on_delete='RESTRICT')
    buyer = ForeignKeyField(Buyer, null=True, backref='users', on_delete='RESTRICT')
    status = CharField(max_length=8, default='offline')
    capacity = IntegerField(default=10)
    active = BooleanField(default=True)
    locale = CharField(max_length=8, null=True)
    created_at = DateTimeField(default=clock.now)

    # Flask-Login protocol
    @property
    def is_authenticated(self):
        return True

    @property
    def is_active(self):
        return self.active

    @property
    def is_anonymous(self):
        return False

    def get_id(self):
        return str(self.id)

    @property
    def is_staff(self):
        return self.role in STAFF_ROLES

    def __str__(self):
        return self.username


class Order(BaseModel):
    """A copy of a marketplace order, pushed by the integration or imported from CSV."""
    id = AutoField()
    order_no = CharField(max_length=64, unique=True)
    buyer = ForeignKeyField(Buyer, backref='orders', on_delete='RESTRICT')
    merchant = ForeignKeyField(Merchant, backref='orders', on_delete='RESTRICT')
    product = CharField(max_length=200)
    sku = CharField(max_length=64, null=True, index=True)
    goods_type = CharField(max_length=20)
    amount_fen = IntegerField()
    paid_at = DateTimeField(index=True)
    delivered_at = DateTimeField(null=True)
    confirmed_at = DateTimeField(null=True)
    payment_method = CharField(max_length=10)
    receiving_account = CharField(max_length=100, null=True)
    region = CharField(max_length=32, null=True, index=True)
    card_last4 = CharField(max_length=4, null=True)
    card_hash = CharField(max_length=64, null=True)
    created_at = DateTimeField(default=clock.now)
    updated_at = DateTimeField(default=clock.now)


class ApiKey(BaseModel):
    """An API key: only its prefix (to find it) and a hash (to check it) are kept."""
    id = AutoField()
    user = ForeignKeyField(User, backref='api_keys', on_delete='CASCADE')
    name = CharField(max_length=100)
    prefix = CharField(max_length=16, unique=True)
    key_hash = CharField(max_length=64)
    created_at = DateTimeField(default=clock.now)
    last_used_at = DateTimeField(null=True)
    revoked_at = DateTimeField(null=True)


class LoginFailure(BaseModel):
    """One failed login, keyed by account (`user:<name>`) and by address (`ip:<addr>`)."""
    id = AutoField()
    key = CharField(max_length=120)
    at = DateTimeField()

    class Meta:
        indexes = ((('key', 'at'), False),)


class ImportRun(BaseModel):
    """A CSV import run as a job; progress and per-line errors are read by the progress page."""
    id = AutoField()
    kind = CharField(max_length=20, default='orders')
    created_by = ForeignKeyField(User, backref='imports', on_delete='CASCADE')
    filename = CharField(max_length=255)
    content = TextField()
    state = CharField(max_length=10, default='queued')
    total_rows = IntegerField(default=0)
    processed_rows = IntegerField(default=0)
    ok_rows = IntegerField(default=0)
    error_rows = IntegerField(default=0)
    errors = TextField(default='[]')
    created_at = DateTimeField(default=clock.now)
    finished_at = DateTimeField(null=True)


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


MODELS = [Merchant, Buyer, User, Order, ApiKey, LoginFailure, ImportRun, WebhookSubscription,
          WebhookDelivery]
