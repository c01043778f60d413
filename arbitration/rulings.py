"""Rulings, platform resolutions and appeals (SPEC §5).

`rule` (the owner of an `in_arbitration` case, or on appeal a senior agent who did not make
the first ruling) records outcome, responsibility, remedy, clause and reasoning, creates the
remedy through the webhook pipeline (`desk.cases.remedies`, refunds capped at what is left
to refund), opens the rating and appeal windows, records a merchant violation when the
merchant is responsible and takes 10 of the buyer's credit when the buyer is (`desk.credit.ledger`). `resolve` closes a platform case (`in_progress`) with a remedy and a
note. `appeal` (once per case, within the appeal window, only with new evidence) sends the
case to a senior agent; the appeal's ruling replaces the first (both kept), a changed outcome
marks the first as overturned, and remedies are adjusted by the difference only.

Every change is one transaction that starts with the compare-and-set on the complaint's
version, so two agents ruling at once give one ruling and one 409.
"""
import datetime as dt

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from peewee import IntegrityError

from arbitration.intervention import PARTIES, close_for_ruling, evidence_open
from arbitration.penalties.models import Violation
from arbitration.penalties.standing import recompute
from arbitration.penalties.violations import record_violation
from desk.agent_desk import assignment, sla
from desk.cases import lifecycle, remedies, transitions
from desk.cases.access import buyer_users, merchant_users, relations
from desk.cases.complaints import PROOF_AMOUNT_FEN
from desk.cases.models import RESPONSIBILITIES, RULING_OUTCOMES, RULING_REMEDIES, Appeal, Evidence, RuleClause, Ruling
from desk.cases.timeline import record
from desk.cases.transitions import check, ensure_unchanged, transition
from desk.core import clock
from desk.core.db import atomic
from desk.core.errors import Conflict, Forbidden, Invalid
from desk.core.labels import outcome_label, party_label
from desk.core.money import parse_yuan, to_yuan
from desk.core.tasks import enqueue
from desk.core.text_input import clean_text
from desk.core.times import format_local
from desk.credit import ledger as credit
from desk.messaging import notifications
from desk.messaging.notifications import notify
from desk.messaging.webhooks import publish
from desk.orders.models import Order
from desk.parties.models import User

REASONING_MAX = 5000
NOTE_MAX = 2000
#: SPEC §7: the violation a merchant-responsible ruling records, by the case's category.
VIOLATION_BY_CATEGORY = {'fake_delivery': 'fake_delivery', 'not_as_described': 'not_as_described'}
DEFAULT_VIOLATION = 'arbitration_lost'

NOTICES = {
    'ruling_made': (_l('%(ticket)s has been ruled'),
                    _l('The platform ruled: %(outcome)s. Read the reasoning on the case page; '
                       'you may appeal with new evidence until %(appeal_due)s.')),
    'appeal_ruled': (_l('The appeal on %(ticket)s has been decided'),
                     _l('The appeal was decided: %(outcome)s. This decision is final.')),
    'case_resolved': (_l('%(ticket)s is resolved'), _l('The platform resolved your complaint: %(note)s')),
    'appeal_filed': (_l('%(ticket)s was appealed'),
                     _l('The %(party)s appealed the ruling; a senior agent will decide.')),
}


def active_ruling(complaint):
    return (Ruling
            .select()
            .where((Ruling.complaint == complaint.id) & (Ruling.active == True))  # noqa: E712
            .order_by(Ruling.round.desc())
            .first())


def current_ruling(complaint):
    """The active ruling as a listed page's prefetch (`_prefetch_guards`) found it, else read
    now: for the guards and representations of a page, no query per row."""
    prefetched = getattr(complaint, 'prefetched_ruling', None)
    return prefetched[0] if prefetched is not None else active_ruling(complaint)


def payment_proof_missing(complaint):
    """True when the order is >= 500.00 and the buyer has no `payment_proof` item."""
    order = Order.get_by_id(complaint.order_id)
    if order.amount_fen < PROOF_AMOUNT_FEN:
        return False
    return not (Evidence
                .select(Evidence.id)
                .where((Evidence.complaint == complaint.id) & (Evidence.party == 'buyer') &
                       (Evidence.kind == 'payment_proof'))
                .exists())


# --- guards -------------------------------------------------------------------------------

def _guard_ruling_ready(complaint, user, now):
    if evidence_open(complaint, now):
        return _('The evidence period is open until %(t)s; rule after it ends or close it early '
                 'once both parties are done.', t=format_local(complaint.evidence_due_at))
    if payment_proof_missing(complaint):
        return _('The order is %(a)s (500.00 or more): a ruling needs the buyer\'s payment proof '
                 '(evidence of kind payment_proof), which is missing.',
                 a=to_yuan(Order.get_by_id(complaint.order_id).amount_fen))
    return None


def _guard_not_first_arbiter(complaint, user, now):
    first = active_ruling(complaint)
    if first is not None and first.agent_id == user.id:
        raise Forbidden(_('You made the ruling under appeal: a different senior agent decides it.'))
    if complaint.owner_id is not None and complaint.owner_id != user.id:
        holder = User.get_or_none(User.id == complaint.owner_id)
        if holder is not None and holder.role == 'senior_agent':
            return _('%(name)s holds this appeal.', name=holder.display_name)
    return None


def _guard_appeal_window(complaint, user, now):
    # a listed page has both prefetched (_prefetch_guards): no query per row
    appealed = getattr(complaint, 'prefetched_appealed', None)
    if appealed is None:
        appealed = Appeal.select(Appeal.id).where(Appeal.complaint == complaint.id).exists()
    if appealed:
        return _('This case has already been appealed; an appeal is possible once per case.')
    if current_ruling(complaint) is None:
        return _('Only a ruling can be appealed.')
    if complaint.appeal_due_at is None or now >= complaint.appeal_due_at:
        return _('The appeal window has closed.')
    return None


def _prefetch_guards(complaints):
    """The active ruling and whether an appeal exists, for a whole listed page in two queries
    (`allowed_actions` runs the appeal guard for every row; `current_ruling` reads it)."""
    ids = [c.id for c in complaints]
    if not ids:
        return
    active = {r.complaint_id: r for r in
              Ruling.select().where(Ruling.complaint.in_(ids) & (Ruling.active == True))}  # noqa: E712
    appealed = {a.complaint_id for a in Appeal.select(Appeal.complaint).where(Appeal.complaint.in_(ids))}
    for c in complaints:
        c.prefetched_ruling = (active.get(c.id),)
        c.prefetched_appealed = c.id in appealed


def _first_arbiter(complaint):
    """Who may not take an appealed case: the agent of the ruling under appeal."""
    if complaint.state != lifecycle.APPEALED:
        return set()
    first = active_ruling(complaint)
    return {first.agent_id} if first is not None and first.agent_id else set()


# --- validation ---------------------------------------------------------------------------

def _remedy(raw, order, fields, refund_cap):
    """(kind, refund_fen, coupon_fen) from a remedy object; problems go to `fields`."""
    if not isinstance(raw, dict) or raw.get('type') not in RULING_REMEDIES:
        fields['remedy.type'] = _('one of %(c)s', c=', '.join(RULING_REMEDIES))
        return None, 0, 0
    kind, amount = raw['type'], raw.get('amount')
    if kind in ('reissue', 'none'):
        if amount not in (None, ''):
            fields['remedy.amount'] = _('only a refund or compensation has an amount')
        return kind, 0, 0
    if kind == 'refund':
        if amount in (None, ''):
            fen = refund_cap  # the whole remainder
        else:
            try:
                fen = parse_yuan(amount, 'remedy.amount', allow_zero=False)
            except Invalid as err:
                fields.update(err.fields)
                return kind, 0, 0
        if fen <= 0 or fen > refund_cap:
            fields['remedy.amount'] = _('at most %(left)s, what is left to refund on this order',
                                        left=to_yuan(refund_cap))
        return kind, fen, 0
    try:
        fen = parse_yuan(amount, 'remedy.amount', allow_zero=False)
    except Invalid as err:
        fields.update(err.fields)
        return kind, 0, 0
    if fen > order.amount_fen:
        fields['remedy.amount'] = _('at most %(a)s', a=to_yuan(order.amount_fen))
    return kind, 0, fen


def _consistency(outcome, responsibility, kind, fields):
    """Combinations that contradict themselves (422)."""
    if outcome == 'merchant' and kind not in (None, 'none'):
        fields['remedy.type'] = _('a ruling for the merchant gives the buyer no remedy')
    if outcome == 'merchant' and responsibility == 'merchant':
        fields['responsibility'] = _('a ruling for the merchant cannot hold the merchant responsible')
    if outcome in ('buyer_full', 'buyer_partial') and kind == 'none':
        fields['remedy.type'] = _('a ruling for the buyer needs a remedy')
    if outcome in ('buyer_full', 'buyer_partial') and responsibility == 'buyer':
        fields['responsibility'] = _('a ruling for the buyer cannot hold the buyer responsible')


def parse_ruling(complaint, data, refund_cap):
    """The validated ruling fields, or `Invalid` naming every bad field."""
    if not isinstance(data, dict):
        raise Invalid(_('The body must be a JSON object.'))
    fields = {}
    order = Order.get_by_id(complaint.order_id)
    outcome = data.get('outcome')
    if outcome not in RULING_OUTCOMES:
        fields['outcome'] = _('one of %(c)s', c=', '.join(RULING_OUTCOMES))
    responsibility = data.get('responsibility')
    if responsibility not in RESPONSIBILITIES:
        fields['responsibility'] = _('one of %(c)s', c=', '.join(RESPONSIBILITIES))
    kind, refund_fen, coupon_fen = _remedy(data.get('remedy'), order, fields, refund_cap)
    clause = None
    if data.get('clause') not in (None, ''):
        clause = RuleClause.get_or_none((RuleClause.code == str(data['clause'])) &
                                        (RuleClause.active == True))  # noqa: E712
        if clause is None:
            fields['clause'] = _('unknown rule clause')
    reasoning = clean_text(data.get('reasoning'), 'reasoning', REASONING_MAX, fields)
    _consistency(outcome, responsibility, kind, fields)
    if fields:
        status_422 = _('The ruling has invalid fields.')
        raise Invalid(status_422, fields=fields)
    return dict(outcome=outcome, responsibility=responsibility, remedy=kind, refund_fen=refund_fen,
                coupon_fen=coupon_fen, clause=clause, reasoning=reasoning)


# --- effects --------------------------------------------------------------------------------

def _violation_code(complaint):
    return VIOLATION_BY_CATEGORY.get(complaint.category, DEFAULT_VIOLATION)


def _event_data(ruling, fields, extra=None):
    data = {'ruling': ruling.id, 'round': ruling.round, 'outcome': ruling.outcome,
            'responsibility': ruling.responsibility, 'remedy': ruling.remedy,
            'refund_fen': ruling.refund_fen, 'coupon_fen': ruling.coupon_fen,
            'clause': fields['clause'].code if fields['clause'] else None,
            'reasoning': ruling.reasoning}
    data.update(extra or {})
    return data


def _windows(now, appeal=True):
    config = current_app.config
    windows = {'rating_due_at': now + dt.timedelta(seconds=config['RATING_SECONDS'])}
    windows['appeal_due_at'] = now + dt.timedelta(seconds=config['APPEAL_SECONDS']) if appeal else None
    return windows


def _first_ruling(actor, complaint, data, now):
    fields = parse_ruling(complaint, data, remedies.refundable(complaint.order))
    with atomic():
        # the compare-and-set first: a concurrent ruling waits here, then finds the version moved
        transition(complaint, 'rule', lifecycle.RESOLVED, resolved_at=now, evidence_due_at=None,
                   **_windows(now))
        # a case reopened after a supervisor review is ruled again: the next round replaces the last
        previous = active_ruling(complaint)
        if previous is not None:
            Ruling.update(active=False).where(Ruling.id == previous.id).execute()
        ruling = _create_ruling(complaint, _next_round(complaint), actor, fields, now,
                                _('This case has already been ruled.'))
        close_for_ruling(complaint, now)
        sla.achieve(complaint, 'resolution', now)
        record(complaint, actor, 'ruled', _event_data(ruling, fields, {'agent': actor.display_name}))
        _execute(complaint, ruling.remedy, ruling.refund_fen, ruling.coupon_fen, actor)
        if ruling.responsibility == 'merchant':
            record_violation(complaint.merchant_id, _violation_code(complaint), complaint, now=now)
        credit.on_ruling(complaint, ruling, now)  # −10 for the buyer held responsible (once per case)
        _announce(complaint, ruling, 'ruling_made')
    return ruling


def _next_round(complaint):
    """1 for the first ruling, then one more per ruling (an appeal, or a case reopened
    after a supervisor review); the unique (complaint, round) index turns a race into 409."""
    last = (Ruling
            .select(Ruling.round)
            .where(Ruling.complaint == complaint.id)
            .order_by(Ruling.round.desc())
            .first())
    return last.round + 1 if last else 1


def _create_ruling(complaint, round_, actor, fields, now, taken_message):
    """The round's Ruling row; the unique (complaint, round) index turns a second one into 409."""
    try:
        with atomic():
            return Ruling.create(complaint=complaint.id, round=round_, agent=actor.id, active=True,
                                 created_at=now, **{k: (v.id if k == 'clause' and v else v)
                                                    for k, v in fields.items()})
    except IntegrityError:
        raise Conflict(taken_message) from None


def _execute(complaint, kind, refund_fen, coupon_fen, actor, source='ruling'):
    if kind == 'refund' and refund_fen > 0:
        remedies.create(complaint, 'refund', refund_fen, source, actor)
    elif kind == 'compensation' and coupon_fen > 0:
        remedies.create(complaint, 'compensation', coupon_fen, source, actor)
    elif kind == 'reissue':
        remedies.create(complaint, 'reissue', None, source, actor)


def _announce(complaint, ruling, template):
    params = {'ticket': complaint.ticket_no, 'outcome': str(outcome_label(ruling.outcome)),
              'appeal_due': format_local(complaint.appeal_due_at) if complaint.appeal_due_at else ''}
    notify(template, buyer_users(complaint), params, complaint,
           link=f'/buyer/complaints/{complaint.ticket_no}', sms=True)
    notify(template, merchant_users(complaint), params, complaint)
    publish('complaint.ruled', {'ticket_no': complaint.ticket_no, 'round': ruling.round,
                                'outcome': ruling.outcome, 'responsibility': ruling.responsibility,
                                'remedy': ruling.remedy, 'state': complaint.state}, complaint)


def _appeal_ruling(actor, complaint, data, now):
    first = active_ruling(complaint)
    already = first.refund_fen if first is not None and first.remedy == 'refund' else 0
    # the new ruling says how much the buyer gets in all: what the first ruling granted
    # counts towards it, so the cap is what is left plus that
    cap = remedies.refundable(complaint.order) + already
    try:
        fields = parse_ruling(complaint, data, cap)
    except Invalid:
        # another senior's decision may have landed between the reads above (the refunds
        # it added shrink the cap): that is a conflict to reload, not a bad amount
        ensure_unchanged(complaint)
        raise
    appeal = Appeal.get_or_none(Appeal.complaint == complaint.id)
    with atomic():
        transition(complaint, 'rule', lifecycle.RESOLVED, resolved_at=now, owner=actor.id,
                   **_windows(now, appeal=False))
        changed = first is not None and first.outcome != fields['outcome']
        if first is not None:
            Ruling.update(active=False, overturned=changed).where(Ruling.id == first.id).execute()
        ruling = _create_ruling(complaint, _next_round(complaint), actor, fields, now,
                                _('The appeal has already been decided.'))
        if appeal is not None:
            Appeal.update(decided_at=now, new_ruling=ruling.id, changed=changed).where(
                Appeal.id == appeal.id).execute()
        sla.achieve(complaint, 'resolution', now)
        adjustment = _adjust(complaint, first, ruling, actor)
        _adjust_violation(complaint, first, ruling, now)
        credit.on_ruling(complaint, ruling, now)  # the buyer's −10 follows the ruling now in force
        record(complaint, actor, 'appeal_ruled', _event_data(ruling, fields, {
            'agent': actor.display_name, 'changed': changed,
            'previous_outcome': first.outcome if first else None,
            'previous_ruling': first.id if first else None, 'adjustment': adjustment}))
        _announce(complaint, ruling, 'appeal_ruled')
    return ruling


def _adjust(complaint, first, new, actor):
    """Remedies by difference: only what the new ruling adds is executed; nothing is clawed
    back (the pipeline has no reversal) — a smaller award is recorded as such."""
    old_refund = first.refund_fen if first and first.remedy == 'refund' else 0
    old_coupon = first.coupon_fen if first and first.remedy == 'compensation' else 0
    new_refund = new.refund_fen if new.remedy == 'refund' else 0
    new_coupon = new.coupon_fen if new.remedy == 'compensation' else 0
    done = {'refund_added_fen': 0, 'coupon_added_fen': 0, 'reissued': False,
            'not_clawed_back_fen': max(0, old_refund - new_refund) + max(0, old_coupon - new_coupon)}
    if new_refund > old_refund:
        remedies.create(complaint, 'refund', new_refund - old_refund, 'ruling', actor)
        done['refund_added_fen'] = new_refund - old_refund
    if new_coupon > old_coupon:
        remedies.create(complaint, 'compensation', new_coupon - old_coupon, 'ruling', actor)
        done['coupon_added_fen'] = new_coupon - old_coupon
    if new.remedy == 'reissue' and not (first and first.remedy == 'reissue'):
        remedies.create(complaint, 'reissue', None, 'ruling', actor)
        done['reissued'] = True
    return done


def _adjust_violation(complaint, first, new, now):
    code = _violation_code(complaint)
    was = first is not None and first.responsibility == 'merchant'
    now_merchant = new.responsibility == 'merchant'
    if now_merchant and not was:
        record_violation(complaint.merchant_id, code, complaint, now=now)
    elif was and not now_merchant:
        (Violation
         .update(state='revoked', ended_at=now,
                 reason=_('revoked: the appeal ruling no longer holds the merchant responsible'))
         .where((Violation.complaint == complaint.id) & (Violation.code == code) & (Violation.state == 'active'))
         .execute())
        recompute([complaint.merchant_id], now)


def rule(actor, complaint, data):
    """The owner rules an arbitration case; on appeal, a senior agent decides it again."""
    now = clock.now()
    check(complaint, actor, 'rule', now)
    if complaint.state == lifecycle.APPEALED:
        return _appeal_ruling(actor, complaint, data or {}, now)
    return _first_ruling(actor, complaint, data or {}, now)


def resolve(actor, complaint, data):
    """The owner resolves a platform case (no opposing party) with a remedy and a note."""
    now = clock.now()
    check(complaint, actor, 'resolve', now)
    data = data or {}
    if not isinstance(data, dict):
        raise Invalid(_('The body must be a JSON object.'))
    fields = {}
    order = Order.get_by_id(complaint.order_id)
    kind, refund_fen, coupon_fen = _remedy(data.get('remedy'), order, fields, remedies.refundable(order))
    note = clean_text(data.get('note'), 'note', NOTE_MAX, fields)
    if fields:
        raise Invalid(_('The resolution has invalid fields.'), fields=fields)
    with atomic():
        transition(complaint, 'resolve', lifecycle.RESOLVED, resolved_at=now, **_windows(now, appeal=False))
        sla.achieve(complaint, 'resolution', now)
        record(complaint, actor, 'resolved', {'remedy': kind, 'refund_fen': refund_fen,
                                              'coupon_fen': coupon_fen, 'note': note})
        _execute(complaint, kind, refund_fen, coupon_fen, actor, 'resolution')
        notify('case_resolved', buyer_users(complaint), {'ticket': complaint.ticket_no, 'note': note},
               complaint, link=f'/buyer/complaints/{complaint.ticket_no}', sms=True)
        publish('complaint.state_changed', {'ticket_no': complaint.ticket_no, 'state': complaint.state,
                                            'reason': 'resolved'}, complaint)
    return complaint


def appeal(actor, complaint, data):
    """A party appeals the ruling: once per case, in the window, with new evidence."""
    now = clock.now()
    check(complaint, actor, 'appeal', now)
    data = data or {}
    problems = {}
    reason = clean_text(data.get('reason') if isinstance(data, dict) else None, 'reason', REASONING_MAX, problems)
    if problems:
        raise Invalid(_('Say why you appeal.'), fields=problems)
    party = next(p for p in PARTIES if p in relations(complaint, actor))
    ruling = active_ruling(complaint)
    fresh = (Evidence
             .select(Evidence.id)
             .where((Evidence.complaint == complaint.id) & (Evidence.party == party) &
                    # times are whole seconds: an item in the ruling's own second came after it
                    # (the evidence period was closed for the ruling)
                    (Evidence.created_at >= ruling.created_at))
             .exists())
    if not fresh:
        raise Conflict(_('An appeal needs new evidence: submit at least one new evidence item '
                         'after the ruling of %(t)s, then appeal.', t=format_local(ruling.created_at)))
    with atomic():
        transition(complaint, 'appeal', lifecycle.APPEALED, owner=None, appeal_due_at=None,
                   rating_due_at=None)
        try:
            with atomic():
                Appeal.create(complaint=complaint.id, ruling=ruling.id, party=party, reason=reason,
                              created_by=actor.id, created_at=now)
        except IntegrityError:
            raise Conflict(_('This case has already been appealed; an appeal is possible once per case.')) from None
        record(complaint, actor, 'appealed', {'party': party, 'reason': reason, 'ruling': ruling.id},
               actor_role=party)
        seniors = [u.id for u in User.select(User.id).where(
            (User.role == 'senior_agent') & (User.department == complaint.department) &
            (User.active == True) & (User.id != (ruling.agent_id or 0)))]  # noqa: E712
        other = merchant_users(complaint) if party == 'buyer' else buyer_users(complaint)
        notify('appeal_filed', other + seniors,
               {'ticket': complaint.ticket_no, 'party': str(party_label(party, 'message'))},
               complaint)
        publish('complaint.state_changed', {'ticket_no': complaint.ticket_no, 'state': complaint.state,
                                            'reason': 'appeal'}, complaint)
        enqueue('desk.jobs.assign_case', complaint.id)  # to a senior who did not rule, where assignment is automatic
    return complaint


def init_app(app):
    notifications.TEMPLATES.update(NOTICES)
    transitions.GUARDS.update({'ruling_ready': _guard_ruling_ready, 'not_first_arbiter': _guard_not_first_arbiter,
                               'appeal_window': _guard_appeal_window})
    transitions.ACTIONS.update({'rule': rule, 'resolve': resolve, 'appeal': appeal})
    transitions.add_guard_prefetch(_prefetch_guards)
    assignment.exclude(_first_arbiter)
