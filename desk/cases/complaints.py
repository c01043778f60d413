"""Complaint intake and the actions built so far: file, edit, withdraw, message,
mark_external, helped / not_helped.

Every function takes the acting user, checks permission against the lifecycle table and the
case (per object), validates, applies the change with a compare-and-set on the complaint's
version, and writes the timeline event and the outbox row — all in one transaction.
"""
import datetime as dt
import json

from flask import current_app
from flask_babel import gettext as _
from peewee import IntegrityError

from desk.agent_desk import sla
from desk.cases import lifecycle, transitions
from desk.cases.access import AGENT_ROLES, buyer_users, merchant_users, relations
from desk.cases.models import CHANNELS, DEMAND_TYPES, EXTERNAL, Category, Complaint, RuleClause, TicketCounter
from desk.cases.timeline import record
from desk.cases.transitions import check, save, transition
from desk.core import clock
from desk.core.db import atomic
from desk.core.errors import Conflict, Forbidden, Invalid, NotFound
from desk.core.money import parse_yuan
from desk.core.tasks import enqueue, enqueue_many
from desk.core.text_input import clean_text, required_text
from desk.core.times import format_local, parse_datetime, to_iso, to_local
from desk.credit import ledger as credit
from desk.messaging.notifications import notify
from desk.messaging.webhooks import publish
from desk.orders.models import Order
from desk.parties.models import Buyer, User

FACTS_MAX = 5000
MESSAGE_MAX = 2000
REASON_MAX = 500            # a staff override of the window, a withdrawal
STAFF_FILERS = ('agent', 'senior_agent', 'supervisor')
DEDICATED_AFTER = 2          # the 3rd complaint within the window gets the dedicated owner
DEDICATED_WINDOW_DAYS = 30
LARGE_AMOUNT_FEN = 500000    # >= 5000.00: tier L1
PROOF_AMOUNT_FEN = 50000     # >= 500.00: payment proof needed before a ruling
EXTERNAL_PRIORITY = 10
#: Called as hook(complaint, now) when a case starts merchant negotiation; the dispute side
#: (`arbitration.negotiation`) adds the merchant's 24-hour window here (`on_negotiation`).
NEGOTIATION_STARTS = []
#: What checks and stores evidence given with a filing: the dispute side's
#: `arbitration.filing_evidence`, set by `arbitration.init_app` (`use_filing_evidence`).
FILING_EVIDENCE = []


def on_negotiation(hook):
    """Run `hook(complaint, now)` whenever a case starts merchant negotiation."""
    if hook not in NEGOTIATION_STARTS:
        NEGOTIATION_STARTS.append(hook)


def use_filing_evidence(handler):
    """Filing takes its evidence through `handler` (parse, staged, store; see file_complaint)."""
    FILING_EVIDENCE[:] = [handler]


def _filing_evidence():
    if not FILING_EVIDENCE:
        raise RuntimeError('no filing evidence handler: arbitration.init_app was not called')
    return FILING_EVIDENCE[0]


# --- lifecycle checks -------------------------------------------------------------------

def _guard_edit_window(complaint, user, now):
    if complaint.edit_until is None or now > complaint.edit_until:
        return _('Facts and demand could be edited until %(t)s; you can still add evidence.',
                 t=format_local(complaint.edit_until))
    return None


# --- validation ---------------------------------------------------------------------------

def _scenario(category, raw, fields):
    """The category's scenario fields, each present and well-formed."""
    required = json.loads(category.scenario_fields or '[]')
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        fields['scenario'] = _('must be an object with the category\'s fields')
        return {}
    clean = {}
    for name in required:
        value = raw.get(name)
        key = f'scenario.{name}'
        if value is None or (isinstance(value, str) and not value.strip()):
            fields[key] = _('is required for this category')
            continue
        if name == 'minutes_late':
            try:
                number = int(str(value).strip())
            except ValueError:
                fields[key] = _('must be a whole number of minutes')
                continue
            if number < 0 or number > 10 ** 6:
                fields[key] = _('must be between 0 and 1000000')
                continue
            clean[name] = number
        elif name.endswith('_at'):
            try:
                clean[name] = to_iso(parse_datetime(str(value), key))
            except Invalid as err:
                fields.update(err.fields)
        else:
            text = clean_text(str(value), key, 500, fields)
            if text is not None:
                clean[name] = text
    return clean


def _facts(raw, fields):
    return clean_text(raw, 'facts', FACTS_MAX, fields, missing=_('describe what happened'))


def _demand(raw, order, fields):
    if not isinstance(raw, dict) or raw.get('type') not in DEMAND_TYPES:
        fields['demand.type'] = _('one of %(c)s', c=', '.join(DEMAND_TYPES))
        return None, None
    kind, amount = raw['type'], raw.get('amount')
    if kind in ('partial_refund', 'compensation'):
        try:
            fen = parse_yuan(amount, 'demand.amount', allow_zero=False)
        except Invalid as err:
            fields.update(err.fields)
            return kind, None
        if order is not None and fen > order.amount_fen:
            fields['demand.amount'] = _('must not exceed the order amount')
        return kind, fen
    if amount not in (None, ''):
        fields['demand.amount'] = _('only a partial refund or compensation has an amount')
    if kind == 'full_refund' and order is not None:
        return kind, order.amount_fen
    return kind, None


def _window_closes(order):
    base = order.confirmed_at or order.delivered_at or order.paid_at
    return base + dt.timedelta(days=current_app.config['COMPLAINT_WINDOW_DAYS'])


def _next_ticket_no(now):
    """TS<local date>-<6-digit daily sequence>: readable, and sortable as text."""
    day = to_local(now).strftime('%Y%m%d')
    row = (TicketCounter
           .insert(day=day, last=1)
           .on_conflict(conflict_target=[TicketCounter.day],
                        update={TicketCounter.last: TicketCounter.last + 1})
           .returning(TicketCounter.last)
           .execute())
    number = list(row)[0].last if not isinstance(row, int) else TicketCounter.get_by_id(day).last
    return f'TS{day}-{number:06d}'


def _open_complaint(order):
    return (Complaint
            .select(Complaint.ticket_no)
            .where((Complaint.order == order.id) & Complaint.state.not_in(lifecycle.TERMINAL))
            .first())


def _duplicate(existing):
    return Conflict(_('Order already has an open complaint %(t)s.', t=existing.ticket_no),
                    ticket_no=existing.ticket_no)


# --- filing -------------------------------------------------------------------------------

def file_complaint(actor, data, default_channel='api', uploads=()):
    """File a complaint for an order (SPEC §3). Returns the new `Complaint`.

    The buyer files for their own orders; agents and supervisors file for the order's buyer
    (phone channel) and may pass the complaint window with a logged `override_reason`.

    Evidence given at filing — `data['evidence']`, a list of pasted-text items {kind, text,
    description}, and `uploads`, (kind, description, filename, stream) files — is checked like
    any evidence (`arbitration.filing_evidence`) and stored in the filing's transaction. The
    buyer's credit (`desk.credit.ledger`) may require it (422 with the one message the buyer
    understands when there is none) and may send the case to the supervisor pre-screen.
    """
    filing_evidence = _filing_evidence()
    if actor.role != 'buyer' and actor.role not in STAFF_FILERS:
        raise Forbidden(_('Only a buyer, or an agent for a buyer, can file a complaint.'))
    if not isinstance(data, dict):
        raise Invalid(_('The body must be a JSON object.'))
    now = clock.now()
    fields = {}
    order_no = data.get('order_no')
    if not isinstance(order_no, str) or not order_no.strip():
        raise Invalid(_('Name the order the complaint is about.'), fields={'order_no': _('is required')})
    order = Order.get_or_none(Order.order_no == order_no.strip())
    if order is None or (actor.role == 'buyer' and order.buyer_id != actor.buyer_id):
        raise NotFound(_('No order %(no)s.', no=order_no))
    category = Category.get_or_none((Category.code == str(data.get('category') or '')) &
                                    (Category.active == True))  # noqa: E712
    if category is None:
        fields['category'] = _('unknown category')
    facts = _facts(data.get('facts'), fields)
    scenario = _scenario(category, data.get('scenario'), fields) if category else {}
    demand_type, demand_fen = _demand(data.get('demand'), order, fields)
    basis = data.get('basis') or None
    if basis is not None and not RuleClause.select().where(
            (RuleClause.code == str(basis)) & (RuleClause.active == True)).exists():  # noqa: E712
        fields['basis'] = _('unknown rule clause')
    channel = data.get('channel') or ('phone' if actor.role in STAFF_FILERS else default_channel)
    if channel not in CHANNELS:
        fields['channel'] = _('one of %(c)s', c=', '.join(CHANNELS))
    external = data.get('external') or []
    if not isinstance(external, list) or any(e not in EXTERNAL for e in external):
        fields['external'] = _('a list of %(c)s', c=', '.join(EXTERNAL))
        external = []
    override = clean_text(data.get('override_reason'), 'override_reason', REASON_MAX, fields, required=False)
    if override and actor.role not in STAFF_FILERS:
        fields['override_reason'] = _('only staff may open a complaint outside the window')
    items = filing_evidence.parse(data.get('evidence'), uploads, fields)
    if fields:
        raise Invalid(_('The complaint has invalid fields.'), fields=fields)

    closes = _window_closes(order)
    if now > closes and not override:
        raise Invalid(_('The complaint window for this order closed on %(d)s.', d=format_local(closes)),
                      fields={'order_no': _('complaint window closed on %(d)s', d=format_local(closes))},
                      closed_at=to_iso(closes))
    existing = _open_complaint(order)
    if existing:
        raise _duplicate(existing)
    rules = credit.filing_rules(order.buyer_id)
    if rules.evidence_required and not items:
        # what the buyer must do, in their words, and never why (their credit stays unseen)
        message = str(credit.EVIDENCE_REQUIRED)
        raise Invalid(message, fields={'evidence': message})
    with filing_evidence.staged(items) as staged:  # files read, capped and sniffed (413/415) before any row
        try:
            with atomic():
                complaint = _create(actor, order, category, facts, scenario, demand_type, demand_fen,
                                    basis, channel, external, override, now, screening=rules.screening)
                filing_evidence.store(complaint, actor, staged, now)
        except IntegrityError:
            existing = _open_complaint(order)
            if existing:
                raise _duplicate(existing) from None
            raise
    return complaint


def path_state(category):
    """The state a complaint of `category` starts its handling in."""
    return lifecycle.PATH_STARTS[category.path]


def _create(actor, order, category, facts, scenario, demand_type, demand_fen, basis, channel,
            external, override, now, screening=False):
    tier = category.tier
    if path_state(category) != lifecycle.SELF_SERVICE and order.amount_fen >= LARGE_AMOUNT_FEN:
        tier = 'L1'
    # a complaint waiting for the supervisor pre-screen (desk.credit.screening) runs no timer and
    # tells nobody but its buyer until it is let through
    state = transitions.target('new', 'file', lifecycle.SCREENING if screening else path_state(category))
    owner = _dedicated_owner(order.buyer_id, now)
    complaint = Complaint.create(
        ticket_no=_next_ticket_no(now), order=order.id, buyer=order.buyer_id,
        merchant=order.merchant_id, category=category.code, path=category.path, tier=tier,
        department=category.department, state=state, owner=owner, filed_by=actor.id,
        facts=facts, scenario=json.dumps(scenario, ensure_ascii=False), demand_type=demand_type,
        demand_fen=demand_fen, basis=basis, channel=channel,
        external_12315='12315' in external, external_heimao='heimao' in external,
        priority=EXTERNAL_PRIORITY if external else 0,
        needs_payment_proof=order.amount_fen >= PROOF_AMOUNT_FEN, override_reason=override,
        in_queue=lifecycle.in_queue(state), created_at=now, updated_at=now,
        screening='pending' if screening else None,
        edit_until=now + dt.timedelta(seconds=current_app.config['EDIT_SECONDS']))
    start_path(complaint, now)
    record(complaint, actor, 'filed', {
        'category': category.code, 'tier': tier, 'state': state, 'channel': channel,
        'demand': {'type': demand_type, 'amount_fen': demand_fen},
        'dedicated_owner': owner.username if owner else None,
    }, actor_role=actor.role)
    if override:
        record(complaint, actor, 'window_overridden', {'reason': override}, public=False)
    notify_filed(complaint, order, category, others=not screening)
    if not screening:
        announce_filed(complaint, order, category)
    return complaint


def start_path(complaint, now):
    """Start what the complaint's state runs: the merchant's 24 hours while negotiating,
    the SLA clocks (and auto-assignment) in an agent queue; nothing otherwise."""
    if complaint.state == lifecycle.NEGOTIATING:
        for hook in NEGOTIATION_STARTS:
            hook(complaint, now)
    if complaint.state == lifecycle.PENDING_AGENT:
        platform_takes(complaint, now)


def announce_filed(complaint, order, category):
    """The marketplace's `complaint.filed` webhook (for a pre-screened case: once accepted)."""
    publish('complaint.filed', {'ticket_no': complaint.ticket_no, 'order_no': order.order_no,
                                'category': category.code, 'state': complaint.state,
                                'tier': complaint.tier}, complaint)


def platform_takes(complaint, now):
    """The case enters an agent queue: its SLA clocks start and, in departments that
    assign automatically, an agent is picked once the transaction commits."""
    platform_takes_many([complaint], now)


def platform_takes_many(complaints, now, columns=None):
    """`platform_takes` for cases entering their queues together (a batch of deadlines):
    clocks by `sla.start_many`, the cases without an owner handed to auto-assignment by one
    job per few hundred (`assign_cases`) instead of one job each. `columns`: see
    `sla.refresh_many`."""
    sla.start_many(complaints, now, columns)
    unowned = [c.id for c in complaints if c.owner_id is None]
    if len(unowned) == 1:
        enqueue('desk.jobs.assign_case', unowned[0])
    elif unowned:
        enqueue_many('desk.jobs.assign_cases', [(unowned[i:i + 500],) for i in range(0, len(unowned), 500)])


def _dedicated_owner(buyer_id, now):
    buyer = Buyer.get_by_id(buyer_id)
    if not buyer.dedicated_agent_id:
        return None
    recent = (Complaint
              .select()
              .where((Complaint.buyer == buyer_id) &
                     (Complaint.created_at >= now - dt.timedelta(days=DEDICATED_WINDOW_DAYS)))
              .count())
    if recent < DEDICATED_AFTER:
        return None
    agent = User.get_or_none((User.id == buyer.dedicated_agent_id) & (User.active == True))  # noqa: E712
    return agent if agent is not None and agent.role in AGENT_ROLES else None


def promised_by(complaint):
    """The time the buyer is promised an answer: the merchant's or the platform's."""
    if complaint.state == lifecycle.NEGOTIATING:
        return complaint.merchant_due_at
    if complaint.state in (lifecycle.PENDING_AGENT,) + lifecycle.WORKED:
        return complaint.resolution_due_at
    return None


def notify_filed(complaint, order, category, buyer=True, others=True):
    """Tell the buyer the complaint was received (`buyer`); the merchant (while it
    negotiates) and the owning agent that it is theirs now (`others`)."""
    params = {'ticket': complaint.ticket_no, 'order_no': order.order_no,
              'category': category.name_zh, 'tier': complaint.tier,
              'due': format_local(complaint.merchant_due_at),
              'promise': ''}
    link = f'/buyer/complaints/{complaint.ticket_no}'
    if buyer:
        notify('complaint_filed_buyer', buyer_users(complaint), params, complaint, link=link, sms=True)
    if not others:
        return
    if complaint.state == lifecycle.NEGOTIATING:
        notify('complaint_filed_merchant', merchant_users(complaint), params, complaint)
    if complaint.owner_id:
        notify('complaint_filed_staff', [complaint.owner_id], params, complaint)


# --- actions on a filed complaint ------------------------------------------------------

def edit(actor, complaint, data):
    """The buyer corrects facts and/or demand within the edit window (24 h)."""
    now = clock.now()
    check(complaint, actor, 'edit', now)
    if not isinstance(data, dict) or not ({'facts', 'demand'} & set(data)):
        raise Invalid(_('Send new facts, a new demand, or both.'))
    fields, changes = {}, {}
    order = Order.get_by_id(complaint.order_id)
    if 'facts' in data:
        changes['facts'] = _facts(data.get('facts'), fields)
    if 'demand' in data:
        changes['demand_type'], changes['demand_fen'] = _demand(data.get('demand'), order, fields)
    if fields:
        raise Invalid(_('The changes have invalid fields.'), fields=fields)
    with atomic():
        before = {k: getattr(complaint, k) for k in changes}
        save(complaint, **changes)
        record(complaint, actor, 'edited', {'changed': sorted(changes),
                                            'before': {k: v for k, v in before.items() if k != 'facts'}},
               actor_role='buyer')
        notify('complaint_edited', merchant_users(complaint) + [complaint.owner_id],
               {'ticket': complaint.ticket_no}, complaint)
    return complaint


def withdraw(actor, complaint, data=None):
    """The buyer withdraws before a ruling; every timer of the case stops."""
    now = clock.now()
    check(complaint, actor, 'withdraw', now)
    fields = {}
    reason = clean_text((data or {}).get('reason'), 'reason', REASON_MAX, fields, required=False)
    if fields:
        raise Invalid(_('The complaint has invalid fields.'), fields=fields)
    # the merchant never heard of a complaint withdrawn during the pre-screen
    merchant = merchant_users(complaint) if complaint.state != lifecycle.SCREENING else []
    with atomic():
        transition(complaint, 'withdraw', lifecycle.WITHDRAWN, closed_at=now, merchant_due_at=None,
              buyer_due_at=None, evidence_due_at=None)
        sla.cancel(complaint, now)
        record(complaint, actor, 'withdrawn', {'reason': reason}, actor_role='buyer')
        notify('complaint_withdrawn', merchant + [complaint.owner_id],
               {'ticket': complaint.ticket_no, 'order_no': complaint.order.order_no}, complaint)
    return complaint


def post_message(actor, complaint, data):
    """A public reply, or (staff only) an internal note the parties never see."""
    now = clock.now()
    check(complaint, actor, 'message', now)
    data = data or {}
    body = required_text(data, 'body', MESSAGE_MAX, missing=_('The message is empty.'),
                         too_long=_('The message is too long.'))
    internal = data.get('internal', False)
    if not isinstance(internal, bool):
        raise Invalid(_('internal must be true or false.'), fields={'internal': _('must be true or false')})
    mine = relations(complaint, actor)
    if internal and mine & {'buyer', 'merchant'}:
        raise Forbidden(_('Only staff can write internal notes.'))
    with atomic():
        event = record(complaint, actor, 'internal_note' if internal else 'message',
                       {'body': body, 'author': actor.display_name}, public=not internal)
        if not internal:
            if 'buyer' in mine:
                recipients = merchant_users(complaint) + [complaint.owner_id]
            elif 'merchant' in mine:
                recipients = buyer_users(complaint) + [complaint.owner_id]
            else:
                recipients = buyer_users(complaint) + merchant_users(complaint)
            notify('complaint_message', [r for r in recipients if r != actor.id],
                   {'ticket': complaint.ticket_no, 'author': actor.display_name,
                    'excerpt': body[:80]}, complaint)
        save(complaint)
    return event


def mark_external(actor, complaint, data):
    """Record that the complaint was also filed with 12315 / 黑猫投诉: it gets priority."""
    now = clock.now()
    check(complaint, actor, 'mark_external', now)
    channels = (data or {}).get('external')
    if not isinstance(channels, list) or not channels or any(c not in EXTERNAL for c in channels):
        raise Invalid(_('Name where else it was filed.'), fields={'external': _('a list of %(c)s', c=', '.join(EXTERNAL))})
    with atomic():
        save(complaint,
             external_12315=complaint.external_12315 or '12315' in channels,
              external_heimao=complaint.external_heimao or 'heimao' in channels,
              priority=max(complaint.priority, EXTERNAL_PRIORITY))
        sla.refresh(complaint, now)  # priority moves it up the queue
        record(complaint, actor, 'marked_external', {'external': sorted(channels)})
    return complaint


def self_service_answer(actor, complaint, helped):
    """The buyer says whether the knowledge-base answer helped: close, or go to an agent."""
    now = clock.now()
    action = 'helped' if helped else 'not_helped'
    check(complaint, actor, action, now)
    with atomic():
        if helped:
            transition(complaint, action, lifecycle.CLOSED, closed_at=now, resolved_at=now)
        else:
            transition(complaint, action, lifecycle.PENDING_AGENT, tier='L2', path='platform')
            platform_takes(complaint, now)
        record(complaint, actor, action, {'state': complaint.state}, actor_role='buyer')
    return complaint


#: The generic actions on a filed case (registered in the kernel by `init_app`).
ACTIONS = {
    'edit': edit,
    'withdraw': withdraw,
    'message': post_message,
    'mark_external': mark_external,
    'helped': lambda actor, c, data: self_service_answer(actor, c, True),
    'not_helped': lambda actor, c, data: self_service_answer(actor, c, False),
}


def init_app(app):
    transitions.ACTIONS.update(ACTIONS)
    transitions.GUARDS['edit_window'] = _guard_edit_window
