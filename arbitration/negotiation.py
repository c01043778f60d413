"""Buyer–merchant negotiation and the 24-hour merchant timer (SPEC §4).

The merchant answers with a proposal (refund, reissue, compensation, or a reasoned
rejection); a chat message does not stop the timer. The buyer accepts or rejects; silence
for 72 hours counts as acceptance; after the third rejected proposal, or whenever either
party asks once the merchant has answered, the platform steps in. Merchant silence at the
deadline sends the case to an agent and records a `no_response` violation — or, below an
admin-set amount, refunds the buyer at once.

The timers are deadline columns (`merchant_due_at`, `merchant_remind_at`, `buyer_due_at`)
applied by `desk.core.deadlines`; every transition is a compare-and-set on the complaint's
version, so "merchant answered" and "time ran out" can never both win.
"""
import datetime as dt

from flask import current_app
from flask_babel import gettext as _

from arbitration.penalties import violations
from desk.cases import complaints, lifecycle, remedies, transitions
from desk.cases.access import buyer_users, buyer_users_many, merchant_users, merchant_users_many
from desk.cases.complaints import platform_takes, platform_takes_many
from desk.cases.models import MAX_PROPOSALS, PROPOSAL_KINDS, Complaint, Proposal
from desk.cases.timeline import record, record_many, run_listeners
from desk.cases.transitions import check, transition, transition_many
from desk.core import clock, deadlines
from desk.core.db import among, atomic, database
from desk.core.errors import Conflict, Invalid
from desk.core.money import parse_yuan, to_yuan
from desk.core.text_input import required_text
from desk.core.times import format_local
from desk.messaging.notifications import notify, notify_many
from desk.messaging.webhooks import publish, publish_many
from desk.orders.models import Order

REMINDERS_BEFORE = (dt.timedelta(hours=12), dt.timedelta(hours=2))
URGE_COOLDOWN = dt.timedelta(hours=4)
REASON_MAX = 1000


# --- guards -------------------------------------------------------------------------------

def _guard_merchant_window(complaint, user, now):
    if complaint.merchant_due_at is None or now >= complaint.merchant_due_at:
        return _('The time to answer this complaint has run out; the platform takes it from here.')
    if complaint.proposal_count >= MAX_PROPOSALS:
        return _('A complaint takes at most %(n)d proposals.', n=MAX_PROPOSALS)
    return None


def _guard_after_answer(complaint, user, now):
    ran_out = complaint.merchant_due_at is not None and now >= complaint.merchant_due_at
    if complaint.state == lifecycle.NEGOTIATING and not complaint.merchant_answered_at and not ran_out:
        return _('The platform can step in once the merchant has answered or the time has run out (%(t)s).',
                 t=format_local(complaint.merchant_due_at))
    return None


def _guard_urge_cooldown(complaint, user, now):
    if complaint.last_urged_at and now < complaint.last_urged_at + URGE_COOLDOWN:
        return _('You can urge again from %(t)s.', t=format_local(complaint.last_urged_at + URGE_COOLDOWN))
    return None


# --- timers -------------------------------------------------------------------------------

def start_merchant_window(complaint, now):
    """Give the merchant 24 hours (DESK_MERCHANT_RESPONSE_SECONDS) with two reminders."""
    due = now + dt.timedelta(seconds=current_app.config['MERCHANT_RESPONSE_SECONDS'])
    remind = next((due - before for before in REMINDERS_BEFORE if due - before > now), None)
    Complaint.update(merchant_due_at=due, merchant_remind_at=remind).where(Complaint.id == complaint.id).execute()
    complaint.merchant_due_at, complaint.merchant_remind_at = due, remind
    deadlines.schedule('merchant_due', complaint.id, due)
    deadlines.schedule('merchant_remind', complaint.id, remind)


def _merchant_remind(complaint_id, now):
    complaint = Complaint.get_by_id(complaint_id)
    if complaint.state != lifecycle.NEGOTIATING or complaint.merchant_due_at is None:
        Complaint.update(merchant_remind_at=None).where(Complaint.id == complaint_id).execute()
        return
    left = complaint.merchant_due_at - now
    following = next((complaint.merchant_due_at - b for b in REMINDERS_BEFORE
                      if complaint.merchant_due_at - b > now), None)
    Complaint.update(merchant_remind_at=following).where(Complaint.id == complaint_id).execute()
    deadlines.schedule('merchant_remind', complaint_id, following)
    notify('merchant_reminder', merchant_users(complaint),
           {'ticket': complaint.ticket_no, 'hours': max(1, round(left.total_seconds() / 3600)),
            'due': format_local(complaint.merchant_due_at)}, complaint, sms=False)


def _merchant_due(complaint_id, now):
    """The merchant did not propose in time: the platform steps in (or auto-refund)."""
    return _merchant_due_many([complaint_id], now)


def _merchant_due_many(complaint_ids, now):
    """The `merchant_due` deadline's batch handler (rows locked by `desk.core.deadlines`): every
    negotiating case of `complaint_ids` whose merchant did not propose in time goes to
    `pending_agent` (or, below the auto-refund limit, is refunded and resolved, the remedy
    created per case); timeline events, SLA clocks, violations, notifications and webhooks
    are written with one INSERT each. A case a human changed first (a last-second proposal)
    is no longer due or no longer negotiating and is left alone (its leftover deadline
    cleared). Returns how many cases timed out.

    Lock, read, decide, write once: the rows are locked before this runs; events, clocks and
    SLA events are inserted first and every complaint column they move (timeline head, queue
    columns) goes into the one compare-and-set UPDATE of the transition (`transition_many`).
    """
    rows = list(Complaint
                .select(Complaint.id, Complaint.ticket_no, Complaint.state, Complaint.version,
                        Complaint.order, Complaint.buyer, Complaint.merchant, Complaint.owner,
                        Complaint.tier, Complaint.priority, Complaint.department,
                        Complaint.merchant_due_at, Complaint.merchant_answered_at,
                        Complaint.sla_check_at)
                .where(among(Complaint.id, complaint_ids))
                .order_by(Complaint.id))
    stale = [c.id for c in rows if c.state != lifecycle.NEGOTIATING]
    if stale:  # answered or escalated meanwhile: the deadline is left over, clear it
        (Complaint
         .update(merchant_due_at=None, merchant_remind_at=None)
         .where(Complaint.id.in_(stale) & (Complaint.state != lifecycle.NEGOTIATING))
         .execute())
    due = [c for c in rows if c.state == lifecycle.NEGOTIATING and c.merchant_due_at is not None
           and c.merchant_due_at <= now]
    if not due:
        return 0
    refund = _auto_refunds(due)
    rating_due = now + dt.timedelta(seconds=current_app.config['RATING_SECONDS'])
    columns, targets = {}, {}
    for c in due:
        columns[c.id] = {'merchant_due_at': None, 'merchant_remind_at': None}
        if c.id in refund:
            targets[c.id] = lifecycle.RESOLVED
            columns[c.id].update(resolved_at=now, rating_due_at=rating_due)
        else:
            targets[c.id] = lifecycle.PENDING_AGENT
    taken = [c for c in due if c.id not in refund]
    events = record_many([(c, None, 'merchant_timeout',
                           {'outcome': 'auto_refund' if c.id in refund else 'platform'}, True, None)
                          for c in due], columns=columns)
    platform_takes_many(taken, now, columns=columns)
    param = database.obj.param
    transition_many(due, 'merchant_timeout', targets, columns,
                    (f'"state" = {param} AND "merchant_due_at" <= {param}', [lifecycle.NEGOTIATING, now]))
    run_listeners(due, events)
    for complaint in due:  # the remedy path is per case (what is left to refund, per order)
        if complaint.id in refund:
            remedies.create(complaint, 'refund', refund[complaint.id], 'auto_refund')
    violations.record_many([(c.merchant_id, 'no_response', c, None)
                            for c in due if c.merchant_answered_at is None], now=clock.now())
    buyers, merchants = buyer_users_many(due), merchant_users_many(due)
    notices = []
    for c in due:
        params = {'ticket': c.ticket_no}
        notices.append(('merchant_timeout_buyer', buyers[c.id], params, c, None, True))
        notices.append(('merchant_timeout_merchant', merchants[c.id], params, c, None, False))
    notify_many(notices)
    publish_many('complaint.state_changed', [({'ticket_no': c.ticket_no, 'state': c.state,
                                               'reason': 'merchant_timeout'}, c, None) for c in due])
    return len(due)


def _auto_refunds(due):
    """{complaint id: amount} of the silent merchants' cases to refund at once (SPEC §4:
    below the admin-set amount; default off)."""
    limit = current_app.config['AUTO_REFUND_MAX_FEN']
    silent = [c for c in due if c.merchant_answered_at is None]
    if not limit or not silent:
        return {}
    orders = {o.id: o for o in Order.select().where(Order.id.in_([c.order_id for c in silent]))}
    refund = {}
    for c in silent:
        order = orders[c.order_id]
        if order.amount_fen <= limit:
            left = remedies.refundable(order)
            if left > 0:
                refund[c.id] = left
    return refund


def _buyer_due(complaint_id, now):
    """The buyer did not answer the proposal within 72 hours: it counts as accepted."""
    complaint = Complaint.get_by_id(complaint_id)
    if complaint.state != lifecycle.AWAITING_BUYER or complaint.buyer_due_at is None or complaint.buyer_due_at > now:
        return
    proposal = _pending_proposal(complaint)
    _accept(complaint, proposal, None, now, by_timeout=True)


# --- actions ------------------------------------------------------------------------------

def _pending_proposal(complaint):
    return (Proposal
            .select()
            .where((Proposal.complaint == complaint.id) & (Proposal.state == 'pending'))
            .order_by(Proposal.seq.desc())
            .first())


def propose(actor, complaint, data):
    """The merchant's answer: a refund (full or partial), reissue, compensation or a rejection."""
    now = clock.now()
    check(complaint, actor, 'propose', now)
    data = data or {}
    kind = data.get('type')
    if kind not in PROPOSAL_KINDS:
        raise Invalid(_('Choose what you propose.'), fields={'type': _('one of %(c)s', c=', '.join(PROPOSAL_KINDS))})
    message = required_text(data, 'message', REASON_MAX, missing=_('Give a reason.'))
    order = complaint.order
    amount = None
    left = remedies.refundable(order)
    if kind == 'refund':
        amount = parse_yuan(data['amount'], 'amount', allow_zero=False) if data.get('amount') not in (None, '') else left
        if amount <= 0 or amount > left:  # nothing left: no refund of 0.00 to accept later
            raise Invalid(_('A refund can be at most %(left)s, what is left to refund on this order.',
                            left=to_yuan(left)), fields={'amount': _('at most %(left)s', left=to_yuan(left))})
    elif kind == 'compensation':
        amount = parse_yuan(data.get('amount'), 'amount', allow_zero=False)
        if amount > order.amount_fen:
            raise Invalid(_('Compensation cannot exceed the order amount.'),
                          fields={'amount': _('at most %(a)s', a=to_yuan(order.amount_fen))})
    with atomic():
        due = now + dt.timedelta(seconds=current_app.config['BUYER_RESPONSE_SECONDS'])
        transition(complaint, 'propose', lifecycle.AWAITING_BUYER, merchant_due_at=None,
                   merchant_remind_at=None, buyer_due_at=due, proposal_count=complaint.proposal_count + 1,
                   merchant_answered_at=complaint.merchant_answered_at or now)
        proposal = Proposal.create(complaint=complaint.id, seq=complaint.proposal_count, kind=kind,
                                   amount_fen=amount, message=message, created_by=actor.id, created_at=now)
        deadlines.schedule('buyer_due', complaint.id, due)
        record(complaint, actor, 'proposed', {'proposal': proposal.seq, 'type': kind, 'amount_fen': amount,
                                              'message': message})
        notify('proposal_received', buyer_users(complaint),
               {'ticket': complaint.ticket_no, 'due': format_local(due)}, complaint,
               link=f'/buyer/complaints/{complaint.ticket_no}', sms=True)
        publish('proposal.created', {'ticket_no': complaint.ticket_no, 'type': kind,
                                     'amount': to_yuan(amount) if amount is not None else None}, complaint)
    return proposal


def _accept(complaint, proposal, actor, now, by_timeout=False):
    transition(complaint, 'buyer_timeout' if by_timeout else 'accept', lifecycle.RESOLVED,
               resolved_at=now, buyer_due_at=None, rating_due_at=now + dt.timedelta(seconds=current_app.config['RATING_SECONDS']))
    Proposal.update(state='accepted', answered_at=now, accepted_by_timeout=by_timeout).where(
        Proposal.id == proposal.id).execute()
    record(complaint, actor, 'buyer_timeout' if by_timeout else 'accepted',
           {'proposal': proposal.seq, 'type': proposal.kind}, actor_role='system' if by_timeout else 'buyer')
    if proposal.kind in ('refund', 'reissue', 'compensation'):
        remedies.create(complaint, proposal.kind, proposal.amount_fen,
                        'timeout' if by_timeout else 'agreement', actor)
    notify('proposal_accepted', merchant_users(complaint), {'ticket': complaint.ticket_no}, complaint)
    publish('complaint.state_changed', {'ticket_no': complaint.ticket_no, 'state': complaint.state,
                                        'reason': 'buyer_timeout' if by_timeout else 'accepted'}, complaint)


def accept(actor, complaint, data=None):
    now = clock.now()
    check(complaint, actor, 'accept', now)
    proposal = _pending_proposal(complaint)
    if proposal is None:
        raise Conflict(_('There is no proposal to accept.'))
    with atomic():
        _accept(complaint, proposal, actor, now)
    return complaint


def reject(actor, complaint, data):
    """The buyer rejects; the merchant may propose again, up to three proposals in all."""
    now = clock.now()
    check(complaint, actor, 'reject', now)
    reason = required_text(data, 'reason', REASON_MAX, missing=_('Give a reason.'))
    proposal = _pending_proposal(complaint)
    with atomic():
        Proposal.update(state='rejected', answered_at=now, buyer_reason=reason).where(
            Proposal.id == proposal.id).execute()
        if complaint.proposal_count >= MAX_PROPOSALS:
            transition(complaint, 'reject', lifecycle.PENDING_AGENT, buyer_due_at=None)
            platform_takes(complaint, now)
        else:
            transition(complaint, 'reject', lifecycle.NEGOTIATING, buyer_due_at=None)
            start_merchant_window(complaint, now)
        record(complaint, actor, 'rejected', {'proposal': proposal.seq, 'reason': reason}, actor_role='buyer')
        notify('proposal_rejected', merchant_users(complaint),
               {'ticket': complaint.ticket_no, 'reason': reason}, complaint)
    return complaint


def escalate(actor, complaint, data):
    """Either party asks the platform to step in (after the merchant answered)."""
    now = clock.now()
    check(complaint, actor, 'escalate', now)
    reason = required_text(data, 'reason', REASON_MAX, missing=_('Give a reason.'))
    # Past the deadline before the timer was applied: the merchant was silent all the same.
    silent = complaint.state == lifecycle.NEGOTIATING and complaint.merchant_answered_at is None
    with atomic():
        pending = _pending_proposal(complaint)
        if pending is not None:
            Proposal.update(state='superseded', answered_at=now).where(Proposal.id == pending.id).execute()
        transition(complaint, 'escalate', lifecycle.PENDING_AGENT, merchant_due_at=None,
                   merchant_remind_at=None, buyer_due_at=None)
        platform_takes(complaint, now)
        record(complaint, actor, 'escalated', {'reason': reason})
        if silent:
            violations.record_violation(complaint.merchant_id, 'no_response', complaint)
        notify('complaint_escalated_party', buyer_users(complaint) + merchant_users(complaint),
               {'ticket': complaint.ticket_no}, complaint)
        publish('complaint.escalated', {'ticket_no': complaint.ticket_no, 'reason': reason}, complaint)
    return complaint


def urge(actor, complaint, data=None):
    """The buyer urges (催办): at most once every 4 hours; counted for the merchant."""
    now = clock.now()
    check(complaint, actor, 'urge', now)
    with atomic():
        transition(complaint, 'urge', urge_count=complaint.urge_count + 1, last_urged_at=now)
        record(complaint, actor, 'urged', {'count': complaint.urge_count}, actor_role='buyer')
        recipients = merchant_users(complaint) if complaint.state == lifecycle.NEGOTIATING else [complaint.owner_id]
        notify('complaint_urged', recipients, {'ticket': complaint.ticket_no}, complaint)
    return complaint


def init_app(app):
    transitions.GUARDS.update({'merchant_window': _guard_merchant_window, 'after_answer': _guard_after_answer,
                               'urge_cooldown': _guard_urge_cooldown})
    transitions.ACTIONS.update({'propose': propose, 'accept': accept, 'reject': reject, 'escalate': escalate,
                                'urge': urge})
    complaints.on_negotiation(start_merchant_window)
    deadlines.register('merchant_due', Complaint, Complaint.merchant_due_at, _merchant_due_many, batch=True)
    deadlines.register('merchant_remind', Complaint, Complaint.merchant_remind_at, _merchant_remind)
    deadlines.register('buyer_due', Complaint, Complaint.buyer_due_at, _buyer_due)
