"""Complaint spike (SPEC §7, issue 8 item 5): 5 or more valid complaints against one merchant
within 30 days record ONE `complaint_spike` violation, not one per complaint.

The rule, checked when a complaint is filed (a timeline listener on the `filed` event, so it
runs inside the filing's transaction):

- a complaint *counts* when it is against the merchant (merchant-path category: the
  negotiation categories; platform faults and self-service inquiries are not the merchant's),
  is not withdrawn, is not ruled with responsibility `buyer` (its active ruling), and is not
  already linked to an earlier `complaint_spike` violation (a complaint feeds one spike only,
  whatever became of that violation — revoked on appeal included, else the next filing would
  record the revoked spike again);
- the window is the 30 days up to the new filing: filed in (t − 30 days, t], t being the new
  complaint's filing time — a complaint filed exactly 30 days before is outside;
- when the counted complaints reach 5 (thresholds in `MerchantHealthPolicy`), one violation is
  recorded at t on the filing that completed the window, and every counted complaint is linked
  to it (`ViolationComplaint`). The 6th and 7th complaint then count 1 and 2: a new violation
  needs 5 more valid complaints that are themselves within 30 days of each other.

What happens to a complaint after the spike (withdrawn later, ruled `buyer` later) does not undo
the spike: the merchant appeals the violation (the supervisor sees the linked complaints).

Race safety: the merchant's row is locked (`FOR NO KEY UPDATE`, which does not block the
foreign-key checks of concurrent inserts) before counting, so two filings at once are counted one
after the other and the second sees the first's links. SQLite serialises writers anyway.
"""
import datetime as dt

from peewee import JOIN, SQL, fn

from arbitration.health.models import MerchantHealthPolicy
from arbitration.penalties.models import Violation, ViolationComplaint, ViolationRule
from arbitration.penalties.violations import record_violation
from desk.cases import lifecycle, timeline
from desk.cases.models import Complaint, Ruling
from desk.core.db import among, insert_rows, is_sqlite
from desk.parties.models import Merchant

CODE = 'complaint_spike'
#: Complaint paths that are complaints against the merchant.
COUNTED_PATHS = ('merchant',)


def valid_complaints(merchant_ids=None):
    """Complaints that count against their merchant (SPEC §7 "valid"): merchant path, not
    withdrawn, no active ruling with responsibility `buyer`. A query of Complaint (the caller
    adds the window); merchant health counts complaints with the same rule. NOT EXISTS (an
    anti-join through the ruling's complaint index), not NOT IN over every ruling."""
    buyer_ruled = (Ruling
                   .select(SQL('1'))
                   .where((Ruling.complaint == Complaint.id) & (Ruling.active == True)  # noqa: E712
                          & (Ruling.responsibility == 'buyer')))
    query = (Complaint
             .select()
             .where(Complaint.path.in_(COUNTED_PATHS)
                    & (Complaint.state != lifecycle.WITHDRAWN)
                    & ~fn.EXISTS(buyer_ruled)))
    if merchant_ids is not None:
        query = query.where(Complaint.merchant.in_(list(merchant_ids)))
    return query


def counted(merchant_id, at, window_days):
    """Ids (oldest first) of the merchant's complaints that count toward a spike at `at`: the
    valid ones of the window not yet linked to a spike. Two indexed reads — the window's
    complaints, then which of them a spike holds — rather than one anti-join, whose plan
    depends on the planner guessing how many spikes there are (a bad guess compared every
    complaint with every link: seconds per filing on 1,000,000 complaints)."""
    start = at - dt.timedelta(days=window_days)
    # A spike links every counted complaint up to its own time, so none before the last
    # spike can count again: the window starts there when that is later (from the same
    # second on, for complaints filed in the spike's second after it).
    last = (Violation
            .select(fn.MAX(Violation.at))
            .where((Violation.merchant == merchant_id) & (Violation.code == CODE))
            .scalar())
    since = (Complaint.created_at >= last) if last is not None and last > start else (Complaint.created_at > start)
    ids = [c.id for c in (valid_complaints([merchant_id])
                          .select(Complaint.id)
                          .where(since & (Complaint.created_at <= at))
                          .order_by(Complaint.created_at, Complaint.id))]
    linked = {c for (c,) in (ViolationComplaint
                             .select(ViolationComplaint.complaint)
                             .join(Violation, JOIN.INNER, on=(ViolationComplaint.violation == Violation.id))
                             .where(among(ViolationComplaint.complaint, ids) & (Violation.code == CODE))
                             .tuples())} if ids else set()
    return [cid for cid in ids if cid not in linked]


def check(complaint, at=None):
    """Record the merchant's complaint_spike violation if `complaint` (just filed) completes a
    window; returns the violation or None. Call inside the filing's transaction."""
    if complaint.path not in COUNTED_PATHS:
        return None
    rule = ViolationRule.get_or_none(ViolationRule.code == CODE)
    if rule is not None and not rule.active:
        return None  # an admin switched the rule off
    at = at or complaint.created_at
    rules = MerchantHealthPolicy.current()
    if not is_sqlite():
        (Merchant
         .select(Merchant.id)
         .where(Merchant.id == complaint.merchant_id)
         .for_update('FOR NO KEY UPDATE')
         .execute())
    ids = counted(complaint.merchant_id, at, rules.spike_window_days)
    if len(ids) < rules.spike_complaints:
        return None
    violation = record_violation(complaint.merchant_id, CODE, complaint, now=at)
    if not ViolationComplaint.select().where(ViolationComplaint.violation == violation.id).exists():
        insert_rows(ViolationComplaint, [ViolationComplaint.violation, ViolationComplaint.complaint],
                    [[violation.id, cid] for cid in ids])
    return violation


def linked_complaints(violation_id):
    """Ticket numbers of the complaints a spike violation rests on (oldest first)."""
    return [c.ticket_no for c in (Complaint
                                  .select(Complaint.ticket_no)
                                  .join(ViolationComplaint, on=(ViolationComplaint.complaint == Complaint.id))
                                  .where(ViolationComplaint.violation == violation_id)
                                  .order_by(Complaint.created_at, Complaint.id))]


def _on_event(complaint, event):
    if event.kind == 'filed':
        check(complaint)


def init_app(app):
    timeline.add_listener(_on_event)
