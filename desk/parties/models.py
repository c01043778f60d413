"""The tables of who takes part: merchants, buyers (as the marketplace knows them), user
accounts of every role, API keys and the login throttle's failures.

Every datetime column holds naive UTC (see `desk.core.clock`); money columns hold integer fen
(see `desk.core.money`). Schema changes are made by adding a migration under
`desk/migrations/`; a test compares the models with the migrated schema so the two never drift.
"""

from peewee import AutoField, BooleanField, CharField, DateTimeField, ForeignKeyField, IntegerField

from desk.core import clock
from desk.core.db import BaseModel

ROLES = ('buyer', 'merchant_staff', 'agent', 'senior_agent', 'supervisor', 'admin', 'integration')
STAFF_ROLES = ('agent', 'senior_agent', 'supervisor', 'admin')
DEPARTMENTS = ('cs', 'ops', 'tech')
AGENT_STATUSES = ('online', 'away', 'offline')


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
    #: `desk.credit.models.BuyerCreditEntry` deltas, written in the entry's transaction.
    #: Staff see it; the buyer never does (desk/credit/ledger.py).
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

#: The tables of this module, in dependency order (what the migrations build).
MODELS = [Merchant, Buyer, User, ApiKey, LoginFailure]
