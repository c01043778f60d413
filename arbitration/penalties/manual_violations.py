"""Violations recorded by hand (SPEC §7 rule `manual`): a supervisor chooses the points and
the fine and must give a reason.

Unlike the automatic codes (one violation per complaint and code, `violations.record_many`),
a supervisor may record several manual violations on the same complaint, so these rows are
written here directly; the fine goes into the deposit ledger and the standing is recomputed in
the same transaction.
"""
import datetime as dt

from flask_babel import gettext as _

from arbitration.penalties import deposit, standing
from arbitration.penalties.models import Violation, ViolationComplaint, ViolationRule
from arbitration.penalties.penalty_appeals import SUPERVISORS
from arbitration.penalties.violations import VALID_DAYS
from desk.cases.models import Complaint
from desk.core import clock
from desk.core.db import atomic
from desk.core.errors import Conflict, Forbidden, Invalid
from desk.core.money import MAX_FEN
from desk.core.text_input import clean_text

REASON_MAX = 2000
MAX_POINTS = 100


def _count(value, field, limit, fields):
    if isinstance(value, bool) or not isinstance(value, int):
        fields[field] = _('must be a whole number')
    elif value < 0:
        fields[field] = _('must not be negative')
    elif value > limit:
        fields[field] = _('at most %(n)d', n=limit)
    return value


def record_manual(actor, merchant, points, fine_fen, reason, ticket_no=None, now=None):
    """Record a manual violation against `merchant`; returns the `Violation`.

    403 for anyone but a supervisor (or an admin); 422 without a reason, for negative or
    non-integer points or fine, for neither points nor a fine, or for a ticket that is not a
    complaint against this merchant; 409 when an admin switched the `manual` rule off."""
    if actor is None or actor.role not in SUPERVISORS:
        raise Forbidden(_('Only a supervisor records manual violations.'))
    now = now or clock.now()
    fields = {}
    _count(points, 'points', MAX_POINTS, fields)
    _count(fine_fen, 'fine', MAX_FEN, fields)
    reason = clean_text(reason, 'reason', REASON_MAX, fields)
    if not fields and points == 0 and fine_fen == 0:
        fields['points'] = _('give points, a fine or both')
    complaint = None
    if ticket_no not in (None, ''):
        complaint = Complaint.get_or_none(Complaint.ticket_no == str(ticket_no).strip())
        if complaint is None or complaint.merchant_id != merchant.id:
            fields['ticket_no'] = _('not a complaint against this merchant')
    if fields:
        raise Invalid(_('The violation has invalid fields.'), fields=fields)
    rule = ViolationRule.get_or_none(ViolationRule.code == 'manual')
    if rule is not None and not rule.active:
        raise Conflict(_('Manual violations are switched off in the rule table.'))
    with atomic():
        violation = Violation.create(
            merchant=merchant.id, complaint=complaint.id if complaint else None, code='manual',
            points=points, fine_fen=fine_fen, at=now, expires_at=now + dt.timedelta(days=VALID_DAYS),
            state='active', reason=reason, created_by=actor.id)
        if complaint is not None:
            ViolationComplaint.insert(violation=violation.id, complaint=complaint.id).on_conflict_ignore().execute()
        deposit.charge_fines([violation], now)
        standing.recompute([merchant.id], now)
    return violation
