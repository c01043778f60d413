"""Penalty appeals (SPEC §7): a merchant contests one of its violations; a supervisor decides.

- The merchant's staff appeal a violation of their own merchant (another merchant's answers
  404, like any row they may not see) within 7 days of `violation.at` (409 after, naming the
  deadline), once per violation (409 for a second), only while the violation is active (409
  for a revoked or expired one), with a reason and optional files. Files go through the
  evidence store's checks (`arbitration.evidence.store_upload`: size cap, content sniffing,
  allow list) and become `AppealEvidence` rows. Supervisors are told an appeal arrived.
- A supervisor (or an admin) upholds or revokes with a note (403 for anyone else, 409 when the
  appeal was decided already). Revoking ends the violation (`revoked`, `ended_at`), refunds its
  fine through the deposit ledger and recomputes the standing, all in one transaction: the
  points stop counting at once and a level may drop. The merchant's staff are told either way.
"""
import datetime as dt

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from peewee import IntegrityError

from arbitration.evidence import store_upload
from arbitration.penalties import deposit, standing
from arbitration.penalties.models import AppealEvidence, Violation, ViolationAppeal
from desk.cases.models import Blob
from desk.core import clock
from desk.core.db import atomic, is_sqlite
from desk.core.errors import Conflict, Forbidden, Invalid, NotFound
from desk.core.money import format_money
from desk.core.text_input import clean_text
from desk.core.times import format_local
from desk.messaging import notifications
from desk.messaging.notifications import notify
from desk.parties.accounts import supervisor_ids
from desk.parties.models import User

APPEAL_WINDOW = dt.timedelta(days=7)
REASON_MAX = 2000
NOTE_MAX = 2000
MAX_FILES = 10
DECISIONS = ('uphold', 'revoke')
#: Who decides penalty appeals (and records manual violations).
SUPERVISORS = ('supervisor', 'admin')
STANDING_LINK = '/merchant/standing'
QUEUE_LINK = '/admin/violation-appeals/'

NOTICES = {
    'violation_appeal_filed': (_l('Penalty appeal from %(merchant)s'),
                               _l('%(merchant)s appealed violation %(violation)s (%(code)s, %(points)s points). '
                                  'Decide it in the appeal queue.')),
    'violation_appeal_upheld': (_l('Your appeal of violation %(violation)s was not accepted'),
                                _l('The violation (%(code)s) stands. The supervisor wrote: %(note)s')),
    'violation_appeal_revoked': (_l('Violation %(violation)s was revoked'),
                                 _l('Your appeal was accepted: the %(points)s points no longer count and '
                                    'a fine of %(fine)s is refunded to your deposit. The supervisor wrote: %(note)s')),
}


def appeal_deadline(violation):
    return violation.at + APPEAL_WINDOW


def visible_violation(actor, violation_id):
    """The violation if `actor` may see it: merchant staff their own merchant's, staff all;
    404 otherwise (never revealing another merchant's)."""
    violation = None
    if isinstance(violation_id, int) and 0 < violation_id < 2 ** 31:
        violation = Violation.get_or_none(Violation.id == violation_id)
    if violation is None or (actor.role == 'merchant_staff' and violation.merchant_id != actor.merchant_id) \
            or (actor.role != 'merchant_staff' and not actor.is_staff):
        raise NotFound(_('No violation %(id)s.', id=violation_id))
    return violation


def appeal(actor, violation_id, reason, files=(), now=None):
    """File the merchant's appeal of a violation; returns the `ViolationAppeal`.

    `files` is a list of (filename, binary stream)."""
    now = now or clock.now()
    if actor.role != 'merchant_staff':
        raise Forbidden(_('Only the merchant may appeal its violation.'))
    violation = visible_violation(actor, violation_id)
    fields = {}
    reason = clean_text(reason, 'reason', REASON_MAX, fields)
    files = [(name, stream) for name, stream in files or () if stream is not None]
    if len(files) > MAX_FILES:
        fields['files'] = _('at most %(n)d files', n=MAX_FILES)
    if fields:
        raise Invalid(_('The appeal has invalid fields.'), fields=fields)
    _check_open(violation, now)  # the 409s before any bytes are read
    stored = [_store(name, stream) for name, stream in files]
    try:
        with atomic():
            violation = _locked(violation.id)
            _check_open(violation, now)
            row = ViolationAppeal.create(violation=violation.id, merchant=violation.merchant_id, reason=reason,
                                         state='open', created_by=actor.id, created_at=now)
            for name, digest, size, mime in stored:
                (Blob
                 .insert(sha256=digest, size=size, mime=mime, created_at=now)
                 .on_conflict_ignore()
                 .execute())
                AppealEvidence.create(appeal=row.id, blob=digest, filename=name, mime=mime, size=size,
                                      created_at=now)
            notify('violation_appeal_filed', supervisor_ids(),
                   {'merchant': violation.merchant.name, 'violation': violation.id, 'code': violation.code,
                    'points': violation.points}, link=QUEUE_LINK)
    except IntegrityError:  # a concurrent appeal of the same violation won
        raise Conflict(_('Violation %(id)s has been appealed already.', id=violation.id)) from None
    return row


def _store(name, stream):
    return store_upload(name, stream, field='files')


def _locked(violation_id):
    query = Violation.select().where(Violation.id == violation_id)
    if not is_sqlite():
        query = query.for_update()
    return query.get()


def _check_open(violation, now):
    if violation.state != 'active' or violation.expires_at <= now:
        state = 'expired' if violation.state == 'active' else violation.state
        raise Conflict(_('Violation %(id)s is %(state)s: only an active violation can be appealed.',
                         id=violation.id, state=state))
    if ViolationAppeal.select().where(ViolationAppeal.violation == violation.id).exists():
        raise Conflict(_('Violation %(id)s has been appealed already.', id=violation.id))
    deadline = appeal_deadline(violation)
    if now > deadline:
        raise Conflict(_('The time to appeal violation %(id)s ended on %(date)s (7 days after it was recorded).',
                         id=violation.id, date=format_local(deadline)), deadline=deadline.isoformat())


def merchant_staff(merchant_id):
    return [u.id for u in User.select(User.id).where((User.merchant == merchant_id)
                                                     & (User.role == 'merchant_staff')
                                                     & (User.active == True))]  # noqa: E712


def get_appeal(actor, appeal_id):
    """An appeal for a supervisor (all) or the merchant's staff (their own; 404 otherwise)."""
    row = None
    if isinstance(appeal_id, int) and 0 < appeal_id < 2 ** 31:
        row = ViolationAppeal.get_or_none(ViolationAppeal.id == appeal_id)
    if row is None or (actor.role == 'merchant_staff' and row.merchant_id != actor.merchant_id) \
            or (actor.role != 'merchant_staff' and not actor.is_staff):
        raise NotFound(_('No penalty appeal %(id)s.', id=appeal_id))
    return row


def decide(actor, appeal_id, decision, note, now=None):
    """Uphold or revoke; returns the decided appeal."""
    now = now or clock.now()
    if actor.role not in SUPERVISORS:
        raise Forbidden(_('Only a supervisor decides penalty appeals.'))
    row = get_appeal(actor, appeal_id)
    fields = {}
    if decision not in DECISIONS:
        fields['decision'] = _('one of %(c)s', c=', '.join(DECISIONS))
    note = clean_text(note, 'note', NOTE_MAX, fields)
    if fields:
        raise Invalid(_('The decision has invalid fields.'), fields=fields)
    state = 'upheld' if decision == 'uphold' else 'revoked'
    with atomic():
        changed = (ViolationAppeal
                   .update(state=state, decided_by=actor.id, decided_at=now, decision_note=note)
                   .where((ViolationAppeal.id == row.id) & (ViolationAppeal.state == 'open'))
                   .execute())
        if not changed:
            raise Conflict(_('Penalty appeal %(id)s has been decided already.', id=row.id))
        violation = _locked(row.violation_id)
        refund = None
        if state == 'revoked':
            refund = revoke(violation, actor, now)
        params = {'violation': violation.id, 'code': violation.code, 'points': violation.points,
                  'fine': _yuan(refund.amount_fen if refund else 0), 'note': note}
        notify(f'violation_appeal_{state}', merchant_staff(violation.merchant_id), params, link=STANDING_LINK)
    return ViolationAppeal.get_by_id(row.id)


def revoke(violation, actor, now):
    """End `violation` as revoked, refund its fine and recompute the standing (inside the
    caller's transaction); the refund entry or None."""
    (Violation
     .update(state='revoked', ended_at=now)
     .where(Violation.id == violation.id)
     .execute())
    refund = deposit.refund_fine(violation, actor, now)
    standing.recompute([violation.merchant_id], now)
    return refund


def _yuan(fen):
    return format_money(fen)


def init_app(app):
    notifications.TEMPLATES.update(NOTICES)
