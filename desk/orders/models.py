"""The tables of the marketplace's orders as the desk keeps them (pushed by the integration or
imported from CSV) and of the CSV import runs."""

from peewee import AutoField, CharField, DateTimeField, ForeignKeyField, IntegerField, TextField

from desk.core import clock
from desk.core.db import BaseModel
from desk.parties.models import Buyer, Merchant, User

GOODS_TYPES = ('game_card', 'phone_recharge', 'gift_card', 'game_account', 'other')
PAYMENT_METHODS = ('alipay', 'wechat', 'bank', 'balance')


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

#: The tables of this module, in dependency order (what the migrations build).
MODELS = [Order, ImportRun]
