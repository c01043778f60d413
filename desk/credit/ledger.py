"""Buyer complaint credit (SPEC §7, last paragraph): what it is, what changes it, what it asks
of a filing.

Every buyer starts at 100. A ruling that holds the buyer responsible costs 10 (once per
complaint: a later ruling of the same complaint that no longer holds the buyer responsible —
an appeal, or a re-ruling after a supervisor review — gives the 10 back, and a later one that
does again takes them again); a supervisor's malicious flag costs 30 (once per complaint);
every clean calendar month (no deduction in it, months in DESK_TIMEZONE) gives 5 back, never
above 100. The credit never goes below 0: a deduction at the floor records what it really
took, and giving it back returns exactly that.

Below 60 a new complaint needs at least one evidence item at filing; below 30 it waits for a
supervisor's pre-screen (`desk.credit.screening`). The buyer is told only what to do, never the
score: nothing here is in a buyer's API representation or portal page; staff see the credit
and its entries on the case workspace.

Every change locks the buyer row first (one writer per buyer at a time), writes one
`BuyerCreditEntry` whose unique `key` names the effect (so a retried or concurrent effect
happens once) and updates the cached `Buyer.credit`, in the caller's transaction.
"""
import datetime as dt
from typing import NamedTuple

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from peewee import fn

from desk.cases import transitions
from desk.cases.access import can_see, is_staff_view
from desk.cases.timeline import record
from desk.cases.transitions import check, save
from desk.core import clock
from desk.core.db import atomic, database, is_sqlite, update_each
from desk.core.errors import Conflict, NotFound
from desk.core.text_input import required_text
from desk.core.times import to_local, zone
from desk.credit.models import DEDUCTIONS, BuyerCreditEntry
from desk.parties.models import Buyer

CEILING = 100
FLOOR = 0
RULED_BUYER = 10
MALICIOUS = 30
RECOVERY = 5
#: Below these a new complaint needs evidence at filing / waits for a supervisor's pre-screen.
EVIDENCE_BELOW = 60
SCREENING_BELOW = 30
REASON_MAX = 1000
BATCH = 1000
#: The one message a buyer gets when evidence is missing at filing (zh: 请上传至少一项证据).
EVIDENCE_REQUIRED = _l('Please upload at least one piece of evidence')



class FilingRules(NamedTuple):
    evidence_required: bool
    screening: bool


def credit_of(buyer_id):
    return Buyer.select(Buyer.credit).where(Buyer.id == buyer_id).scalar()


def filing_rules(buyer_id):
    """What the buyer's credit asks of a new complaint."""
    credit = credit_of(buyer_id)
    credit = CEILING if credit is None else credit
    return FilingRules(evidence_required=credit < EVIDENCE_BELOW, screening=credit < SCREENING_BELOW)


# --- changing the credit ----------------------------------------------------------------------

def _lock(buyer_ids):
    """The buyers' current credit {id: credit}, their rows locked (PostgreSQL; a SQLite
    transaction holds the write lock already)."""
    query = Buyer.select(Buyer.id, Buyer.credit).where(Buyer.id.in_(sorted(buyer_ids))).order_by(Buyer.id)
    if not is_sqlite():
        query = query.for_update()
    return {row.id: row.credit for row in query}


def _change(buyer_id, amount, reason, key, complaint=None, actor=None, note='', month=None, now=None):
    """Apply `amount` (nominal) to the buyer's credit, kept within FLOOR..CEILING, as the
    effect `key`; the new entry, or None when that effect was applied before. Call inside
    a transaction."""
    now = now or clock.now()
    before = _lock([buyer_id])[buyer_id]
    if BuyerCreditEntry.select(BuyerCreditEntry.id).where(BuyerCreditEntry.key == key).exists():
        return None
    after = max(FLOOR, min(CEILING, before + amount))
    entry = BuyerCreditEntry.create(
        buyer=buyer_id, delta=after - before, credit_after=after, reason=reason,
        complaint=complaint.id if complaint is not None else None,
        created_by=actor.id if actor is not None and actor.id else None, note=note or '', month=month,
        key=key, at=now)
    if after != before:
        Buyer.update(credit=after).where(Buyer.id == buyer_id).execute()
    return entry


def on_ruling(complaint, ruling, now):
    """Called by `arbitration.rulings` with each new active ruling of a complaint (first
    ruling, appeal ruling, re-ruling after a review), in its transaction: the complaint
    carries one −10 while its active ruling holds the buyer responsible, none otherwise."""
    taken = list(BuyerCreditEntry
                 .select(BuyerCreditEntry.reason, BuyerCreditEntry.delta)
                 .where((BuyerCreditEntry.complaint == complaint.id) &
                        BuyerCreditEntry.reason.in_(('ruled_buyer', 'ruling_restored')))
                 .order_by(BuyerCreditEntry.id))
    deducted = [e for e in taken if e.reason == 'ruled_buyer']
    outstanding = deducted[sum(1 for e in taken if e.reason == 'ruling_restored'):]  # not yet given back
    if ruling.responsibility == 'buyer' and not outstanding:
        _change(complaint.buyer_id, -RULED_BUYER, 'ruled_buyer', f'ruling:{ruling.id}', complaint, now=now)
    elif ruling.responsibility != 'buyer' and outstanding:
        _change(complaint.buyer_id, -outstanding[-1].delta, 'ruling_restored', f'restore:{ruling.id}',
                complaint, now=now)


# --- the malicious flag -------------------------------------------------------------------------

def _flagged(complaint):
    prefetched = getattr(complaint, 'prefetched_flagged', None)
    if prefetched is not None:
        return prefetched
    return BuyerCreditEntry.select(BuyerCreditEntry.id).where(
        BuyerCreditEntry.key == f'malicious:{complaint.id}').exists()


def _guard_not_flagged(complaint, user, now):
    if _flagged(complaint):
        return _('This complaint has already been flagged as malicious.')
    return None


def _prefetch_flags(complaints):
    """The flag guard of a whole listed page in one query (`allowed_actions` runs it per row)."""
    if not complaints:
        return
    flagged = {cid for (cid,) in (BuyerCreditEntry
                                  .select(BuyerCreditEntry.complaint)
                                  .where(BuyerCreditEntry.complaint.in_([c.id for c in complaints]) &
                                         (BuyerCreditEntry.reason == 'malicious'))
                                  .tuples())}
    for c in complaints:
        c.prefetched_flagged = c.id in flagged


def supervisor_reason(data, missing):
    """The `reason` of a supervisor's decision on a buyer's complaint (a malicious flag, a
    pre-screen refusal), stripped; 422 with `missing` when absent, or when too long."""
    return required_text(data, 'reason', REASON_MAX, missing=missing, too_long=_('The reason is too long.'))


def flag_malicious(actor, complaint, data):
    """A supervisor flags the complaint as malicious, with a reason: −30 for its buyer, once
    per complaint. An internal timeline event; the buyer is not told of a score."""
    now = clock.now()
    check(complaint, actor, 'flag_malicious', now)
    reason = supervisor_reason(data, _('Say why the complaint is malicious.'))
    with atomic():
        save(complaint)  # a concurrent flag waits here, then finds the version moved
        entry = _change(complaint.buyer_id, -MALICIOUS, 'malicious', f'malicious:{complaint.id}', complaint,
                        actor, note=reason, now=now)
        if entry is None:
            raise Conflict(_('This complaint has already been flagged as malicious.'))
        record(complaint, actor, 'flagged_malicious', {'reason': reason, 'by': actor.display_name},
               public=False)
    return complaint


# --- the monthly recovery ------------------------------------------------------------------------

def last_month(now):
    """(start, end, 'YYYY-MM') of the calendar month before the one `now` falls in, local
    (DESK_TIMEZONE), with start and end as naive UTC."""
    local = to_local(now)
    this_start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    prev_start = (this_start - dt.timedelta(days=1)).replace(day=1)
    tz = zone()

    def utc(value):
        aware = dt.datetime(value.year, value.month, value.day, tzinfo=tz)
        return aware.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return utc(prev_start), utc(this_start), prev_start.strftime('%Y-%m')


def recover(now=None):
    """Give +5 (up to 100) to every buyer whose last calendar month was clean; returns how
    many buyers recovered. Run daily: idempotent (the entry key `recovery:<buyer>:<month>` is
    unique, and a recovered buyer is no longer a candidate) and set-based (a batch of up to
    1,000 buyers is three statements: lock and read, one INSERT, one UPDATE).

    A month is clean when it holds no deduction (`ruled_buyer`, `malicious`) of the buyer; it
    counts only if the buyer was already below 100 when it began (a month before the first
    deduction has nothing to give back).
    """
    now = now or clock.now()
    start, end, month = last_month(now)
    total = 0
    while True:
        with atomic():
            seen, recovered = _recover_batch(start, end, month, now)
        total += recovered
        if seen < BATCH:
            return total


def candidates(start, end, month, skip_recovered=True):
    """Buyers (id, credit) below 100 whose month [start, end) was clean, who were below 100
    when it began, and (`skip_recovered`) who have not had its recovery yet."""
    E = BuyerCreditEntry.alias()
    deducted = (E
                .select(E.id)
                .where((E.buyer == Buyer.id) & E.reason.in_(DEDUCTIONS) & (E.at >= start) & (E.at < end)))
    P = BuyerCreditEntry.alias()
    credit_at_start = (P
                       .select(P.credit_after)
                       .where((P.buyer == Buyer.id) & (P.at < start))
                       .order_by(P.at.desc(), P.id.desc())
                       .limit(1))
    condition = (Buyer.credit < CEILING) & ~fn.EXISTS(deducted) & (credit_at_start < CEILING)
    if skip_recovered:
        R = BuyerCreditEntry.alias()
        recovered = R.select(R.id).where((R.buyer == Buyer.id) & (R.month == month) &
                                         (R.reason == 'monthly_recovery'))
        condition &= ~fn.EXISTS(recovered)
    return (Buyer
            .select(Buyer.id, Buyer.credit)
            .where(condition)
            .order_by(Buyer.id))


def _recover_batch(start, end, month, now):
    """One batch: (candidates seen, buyers recovered)."""
    query = candidates(start, end, month).limit(BATCH)
    if not is_sqlite():
        query = query.for_update(of=Buyer)
    found = {row.id: row.credit for row in query}
    if not found:
        return 0, 0
    rows = []
    for buyer_id, credit in found.items():
        after = min(CEILING, credit + RECOVERY)
        rows.append((buyer_id, after - credit, after, 'monthly_recovery', '', month,
                     f'recovery:{buyer_id}:{month}', now))
    columns = ('buyer_id', 'delta', 'credit_after', 'reason', 'note', 'month', 'key', 'at')
    param = database.obj.param
    sql = ('INSERT INTO "buyer_credit_entry" (%s) VALUES %s ON CONFLICT ("key") DO NOTHING RETURNING "buyer_id"'
           % (', '.join(f'"{c}"' for c in columns), ', '.join(['(' + ', '.join([param] * len(columns)) + ')'] * len(rows))))
    field = BuyerCreditEntry.at
    params = [field.db_value(v) if i == len(columns) - 1 else v for row in rows for i, v in enumerate(row)]
    inserted = {r[0] for r in database.execute_sql(sql, params).fetchall()}
    # a concurrent run that recovered some of them first: its rows stand, these are skipped
    update_each(Buyer, {bid: {'credit': min(CEILING, found[bid] + RECOVERY)} for bid in inserted})
    return len(found), len(inserted)


# --- what staff see ------------------------------------------------------------------------

def staff_panel(actor, complaint, limit=10):
    """The buyer's credit and latest entries for the case workspace (staff only; 404 for
    anyone who may not see the case, and a party never gets it)."""
    if not can_see(complaint, actor) or not is_staff_view(actor):
        raise NotFound(_('No complaint %(no)s.', no=complaint.ticket_no))
    entries = list(BuyerCreditEntry
                   .select()
                   .where(BuyerCreditEntry.buyer == complaint.buyer_id)
                   .order_by(BuyerCreditEntry.at.desc(), BuyerCreditEntry.id.desc())
                   .limit(limit))
    credit = credit_of(complaint.buyer_id)
    return {'credit': credit, 'entries': entries,
            'evidence_required': credit < EVIDENCE_BELOW, 'screening': credit < SCREENING_BELOW}


def init_app(app):
    transitions.GUARDS['not_flagged'] = _guard_not_flagged
    transitions.ACTIONS['flag_malicious'] = flag_malicious
    transitions.add_guard_prefetch(_prefetch_flags)
