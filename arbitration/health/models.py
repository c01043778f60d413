"""Tables of merchant health (SPEC §7): each merchant's current figures, a daily snapshot of
them for the trend charts, and the admin-editable policy (thresholds of the healthy and
trusted marks, the health window, the complaint-spike rule).

The figures are computed set-based by `arbitration.health.merchant_health` (a daily job, and on
demand); pages and the standing API only read these rows. Every figure the backoffice list
sorts by has an index (figure, merchant) so a page of 50 out of 100,000 merchants is an index
range scan (keyset pagination, see `web.consoles.health`).
"""
from decimal import Decimal

from peewee import (
    AutoField,
    BooleanField,
    DateField,
    DateTimeField,
    DecimalField,
    DoubleField,
    ForeignKeyField,
    IntegerField,
)

from desk.core import clock
from desk.core.db import BaseModel
from desk.parties.models import Merchant

#: The figures a list can be sorted by: name -> column of MerchantHealth.
SORT_COLUMNS = ('complaint_rate', 'answered_rate', 'median_response_seconds', 'loss_rate',
                'defect_rate', 'level', 'active_points', 'trusted', 'orders')


class MerchantHealth(BaseModel):
    """A merchant's current health figures over the policy window (60 days by default),
    as of `computed_at`. Counts are kept next to the rates, so every rate can be explained
    ("2 defects in 180 orders"). A rate is NULL when its denominator is zero.

    `level` and `active_points` are copied from the merchant's standing when the figures are
    computed (and by `merchant_health.sync_standing`), so the list sorts by them through an
    index instead of joining the standing of every merchant."""
    merchant = ForeignKeyField(Merchant, primary_key=True, backref='health', on_delete='CASCADE')
    computed_at = DateTimeField()
    window_days = IntegerField()
    orders = IntegerField(default=0)
    complaints = IntegerField(default=0)             # valid complaints filed in the window
    complaint_rate = DoubleField(null=True)            # per 100 orders
    answerable = IntegerField(default=0)             # complaints the merchant had to answer
    answered_in_time = IntegerField(default=0)       # first proposal within the response window
    answered_rate = DoubleField(null=True)             # share, 0..1
    median_response_seconds = IntegerField(null=True)
    rulings = IntegerField(default=0)
    rulings_lost = IntegerField(default=0)
    loss_rate = DoubleField(null=True)                 # share, 0..1
    defects = IntegerField(default=0)
    defect_rate = DoubleField(null=True)               # share, 0..1
    healthy = BooleanField(null=True)                 # defect rate below the healthy threshold
    trusted = BooleanField(default=False)
    level = IntegerField(default=0)
    active_points = IntegerField(default=0)

    class Meta:
        indexes = tuple(((column, 'merchant'), False) for column in SORT_COLUMNS)


class MerchantHealthDay(BaseModel):
    """The figures as they stood on one local day (the last computation of that day), for the
    trend charts. Written only for merchants with orders or complaints in the window: a
    missing day is a day with nothing to measure."""
    id = AutoField()
    merchant = ForeignKeyField(Merchant, backref='health_days', on_delete='CASCADE')
    day = DateField()
    orders = IntegerField(default=0)
    complaints = IntegerField(default=0)
    complaint_rate = DoubleField(null=True)
    answered_rate = DoubleField(null=True)
    median_response_seconds = IntegerField(null=True)
    loss_rate = DoubleField(null=True)
    defect_rate = DoubleField(null=True)

    class Meta:
        indexes = ((('merchant', 'day'), True), (('day',), False))


class MerchantHealthPolicy(BaseModel):
    """The thresholds (one row, admin-editable; defaults seeded by migration 0014).

    Percentages are exact decimals and compared with integer counts (defects × 100 <
    percent × orders), so a merchant exactly at 1 % is not "healthy" by a rounding error."""
    id = AutoField()
    window_days = IntegerField(default=60)
    healthy_defect_pct = DecimalField(max_digits=6, decimal_places=3, default=1)
    trusted_defect_pct = DecimalField(max_digits=6, decimal_places=3, default=0.5)
    trusted_max_points = IntegerField(default=0)
    trusted_min_orders = IntegerField(default=1)
    spike_complaints = IntegerField(default=5)
    spike_window_days = IntegerField(default=30)
    updated_at = DateTimeField(default=clock.now)

    @classmethod
    def current(cls):
        """The thresholds in force: the policy row, or its defaults when the table is empty."""
        row = cls.select().order_by(cls.id).first()
        return row or cls(window_days=60, healthy_defect_pct=Decimal('1'), trusted_defect_pct=Decimal('0.5'),
                          trusted_max_points=0, trusted_min_orders=1, spike_complaints=5, spike_window_days=30)


MODELS = [MerchantHealth, MerchantHealthDay, MerchantHealthPolicy]
