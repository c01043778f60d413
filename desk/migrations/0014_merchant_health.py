# Generated from a schema diff on 2026-11-29 09:01; the default health policy seeded.
import datetime
import decimal

from peewee import *

def up(migrator, db):
    class Merchant(Model):
        class Meta:
            database = db
            table_name = 'merchant'

    class MerchantHealth(Model):
        merchant = ForeignKeyField(Merchant, primary_key=True, on_delete='CASCADE')
        computed_at = DateTimeField()
        window_days = IntegerField()
        orders = IntegerField(default=0)
        complaints = IntegerField(default=0)
        complaint_rate = DoubleField(null=True)
        answerable = IntegerField(default=0)
        answered_in_time = IntegerField(default=0)
        answered_rate = DoubleField(null=True)
        median_response_seconds = IntegerField(null=True)
        rulings = IntegerField(default=0)
        rulings_lost = IntegerField(default=0)
        loss_rate = DoubleField(null=True)
        defects = IntegerField(default=0)
        defect_rate = DoubleField(null=True)
        healthy = BooleanField(null=True)
        trusted = BooleanField(default=False)
        level = IntegerField(default=0)
        active_points = IntegerField(default=0)
        class Meta:
            database = db
            table_name = 'merchant_health'
            indexes = ((('complaint_rate', 'merchant'), False), (('answered_rate', 'merchant'), False), (('median_response_seconds', 'merchant'), False), (('loss_rate', 'merchant'), False), (('defect_rate', 'merchant'), False), (('level', 'merchant'), False), (('active_points', 'merchant'), False), (('trusted', 'merchant'), False), (('orders', 'merchant'), False))
    db.create_tables([MerchantHealth])

    class MerchantHealthDay(Model):
        merchant = ForeignKeyField(Merchant, on_delete='CASCADE')
        day = DateField()
        orders = IntegerField(default=0)
        complaints = IntegerField(default=0)
        complaint_rate = DoubleField(null=True)
        answered_rate = DoubleField(null=True)
        median_response_seconds = IntegerField(null=True)
        loss_rate = DoubleField(null=True)
        defect_rate = DoubleField(null=True)
        class Meta:
            database = db
            table_name = 'merchant_health_day'
            indexes = ((('merchant', 'day'), True), (('day',), False))
    db.create_tables([MerchantHealthDay])

    class MerchantHealthPolicy(Model):
        window_days = IntegerField(default=60)
        healthy_defect_pct = DecimalField(max_digits=6, decimal_places=3, default=1)
        trusted_defect_pct = DecimalField(max_digits=6, decimal_places=3, default=0.5)
        trusted_max_points = IntegerField(default=0)
        trusted_min_orders = IntegerField(default=1)
        spike_complaints = IntegerField(default=5)
        spike_window_days = IntegerField(default=30)
        updated_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'merchant_health_policy'
    db.create_tables([MerchantHealthPolicy])
    MerchantHealthPolicy.insert_many(SEEDS['merchant_health_policy']).execute()

    migrator.migrate(migrator.add_index('complaint', ('merchant_id', 'created_at')))


def down(migrator, db):
    migrator.migrate(migrator.drop_index('complaint', 'complaint_merchant_id_created_at'))
    migrator.migrate(migrator.drop_table('merchant_health_policy'))
    migrator.migrate(migrator.drop_table('merchant_health_day'))
    migrator.migrate(migrator.drop_table('merchant_health'))


# The defaults (editable afterwards in the backoffice): Amazon's 1 % order defect rate over
# 60 days for "healthy", half of it and no active points for the trusted badge, and the SPEC
# §7 complaint spike (5 valid complaints within 30 days).
SEEDS = {
    'merchant_health_policy': [dict(window_days=60, healthy_defect_pct=decimal.Decimal('1.000'),
                                    trusted_defect_pct=decimal.Decimal('0.500'), trusted_max_points=0,
                                    trusted_min_orders=1, spike_complaints=5, spike_window_days=30,
                                    updated_at=datetime.datetime(2026, 11, 29))],
}
