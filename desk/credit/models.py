"""The buyer credit ledger (SPEC §7): every change of a buyer's complaint credit is one entry.

`Buyer.credit` is the cached balance (100 plus the sum of the entries' deltas, kept between
`desk.credit.ledger.FLOOR` and `desk.credit.ledger.CEILING`); an entry records the change
actually applied (a deduction at the floor records less than its nominal amount), so the cache
can always be recomputed from the entries. `key` is unique: it makes each effect happen once —
one monthly recovery per buyer and month, one malicious flag per complaint, one deduction per
ruling.
"""

from peewee import AutoField, CharField, DateTimeField, ForeignKeyField, IntegerField, TextField

from desk.cases.models import Complaint
from desk.core import clock
from desk.core.db import BaseModel
from desk.parties.models import Buyer, User

#: Why the credit changed: a ruling holding the buyer responsible, the same deduction given
#: back when a later ruling (appeal, re-ruling after a review) no longer does, a supervisor's
#: malicious flag, and the monthly recovery of a clean calendar month.
CREDIT_REASONS = ('ruled_buyer', 'ruling_restored', 'malicious', 'monthly_recovery')
#: The reasons that make a month unclean (no recovery for it).
DEDUCTIONS = ('ruled_buyer', 'malicious')


class BuyerCreditEntry(BaseModel):
    """One change of a buyer's complaint credit."""
    id = AutoField()
    buyer = ForeignKeyField(Buyer, backref='credit_entries', on_delete='CASCADE')
    delta = IntegerField()                         # signed; the change actually applied
    credit_after = IntegerField()                  # the balance after it, for the statement
    reason = CharField(max_length=20)              # CREDIT_REASONS
    complaint = ForeignKeyField(Complaint, null=True, backref='credit_entries', on_delete='SET NULL')
    created_by = ForeignKeyField(User, null=True, on_delete='SET NULL')  # None: a rule or the job
    note = TextField(default='')
    month = CharField(max_length=7, null=True)     # 'YYYY-MM' (local) of a monthly recovery
    key = CharField(max_length=64, unique=True)    # the effect this entry is: applied once
    at = DateTimeField(default=clock.now)

    class Meta:
        indexes = ((('buyer', 'at'), False), (('complaint', 'reason'), False))

#: The tables of this module, in dependency order (what the migrations build).
MODELS = [BuyerCreditEntry]
