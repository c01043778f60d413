"""The arbitration workspace in the staff backoffice (/admin/arbitration/<ticket_no>): the
order, the complaint, the negotiation, both parties' evidence side by side, the evidence
requests and declarations, the timeline, precedents of the same merchant and SKU, the rule
clauses, and the forms of the actions the agent may take now (request evidence, close the
period, rule, resolve).

Built to render a case with hundreds of evidence items and thousands of events in a fixed
number of queries (no N+1): every list is one query, the rulings of the precedents come in
one joined query. `bench/workspace.py` measures it.
"""
import json

from flask import abort, current_app, flash, redirect, request, url_for
from flask_admin import BaseView, expose
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from peewee import JOIN

from arbitration.intervention import evidence_open
from arbitration.rulings import payment_proof_missing
from desk.agent_desk import sla_reports
from desk.cases import remedies
from desk.cases.access import AGENT_ROLES, get_visible
from desk.cases.models import (
    RESPONSIBILITIES,
    RULING_OUTCOMES,
    RULING_REMEDIES,
    Appeal,
    Category,
    Complaint,
    Event,
    Evidence,
    EvidenceDeclaration,
    EvidenceRequest,
    Proposal,
    Remedy,
    RuleClause,
    Ruling,
)
from desk.cases.transitions import allowed_actions, check, take_action
from desk.core import clock
from desk.core.errors import DomainError, Invalid
from desk.core.labels import outcome_label, remedy_label, responsibility_label
from desk.core.masking import mask_phone
from desk.core.money import to_yuan
from desk.core.times import to_local
from desk.orders.models import Order
from web.consoles.access import RoleAccess

PRECEDENTS_MAX = 20
TEXT_PREVIEW = 4000
WORKSPACE_ACTIONS = ('request_evidence', 'close_evidence', 'rule', 'resolve')


def evidence_endpoints():
    """Whether the evidence store's download views are registered (built separately)."""
    return 'evidence.download' in current_app.view_functions


_SENTINEL = 987654321


def link_patterns():
    """URL patterns of the evidence store's views ({id} for the item), built once per page
    instead of three url_for calls per item; None without the evidence endpoints."""
    if not evidence_endpoints():
        return None
    views = current_app.view_functions

    def pattern(endpoint, **extra):
        if endpoint not in views:
            return None
        return url_for(endpoint, evidence_id=_SENTINEL, **extra).replace(str(_SENTINEL), '{id}')
    return {'download': pattern('evidence.download'), 'view': pattern('evidence.download', inline=1),
            'thumb': pattern('evidence.thumbnail')}


def evidence_links(item, patterns=False):
    """{'preview': kind of preview, 'thumb': url, 'view': url, 'download': url} for an item;
    without the evidence endpoints, no links (pasted text still shows inline)."""
    patterns = link_patterns() if patterns is False else patterns
    mime = item.mime or ''
    kind = ('text' if item.text is not None else 'image' if mime.startswith('image/') else
            'video' if mime.startswith('video/') else 'pdf' if mime == 'application/pdf' else 'file')
    links = {'preview': kind, 'thumb': None, 'view': None, 'download': None}
    if patterns and item.text is None:
        for name, pattern in patterns.items():
            if pattern and (name != 'thumb' or kind == 'image'):
                links[name] = pattern.replace('{id}', str(item.id))
    return links


def minute(value):
    """Naive UTC -> 'yyyy-MM-dd HH:mm' in the configured zone, like the `localtime` filter
    (digits only, the same in every language) without Babel's per-call pattern work: the
    workspace formats a time for every evidence item and event."""
    return to_local(value).strftime('%Y-%m-%d %H:%M') if value is not None else ''


def _precedents(case, order):
    """Other complaints of the same merchant on the same SKU (or product when no SKU), newest
    first, with their active ruling: one query."""
    same = (Order.sku == order.sku) if order.sku else (Order.product == order.product)
    return list(Complaint
                .select(Complaint.id, Complaint.ticket_no, Complaint.state, Complaint.category,
                        Complaint.created_at, Ruling.outcome, Ruling.responsibility, Ruling.remedy,
                        Ruling.refund_fen, Ruling.round)
                .join(Order, on=(Complaint.order == Order.id))
                .switch(Complaint)
                .join(Ruling, JOIN.LEFT_OUTER,
                      on=((Ruling.complaint == Complaint.id) & (Ruling.active == True)))  # noqa: E712
                .where((Complaint.merchant == case.merchant_id) & same & (Complaint.id != case.id))
                .order_by(Complaint.id.desc())
                .limit(PRECEDENTS_MAX)
                .objects())


def _timeline(case):
    """(time, kind, actor role, public, data excerpt) of every event, oldest first: plain
    tuples formatted here, so the template's loop only writes them out."""
    rows = (Event
            .select(Event.at, Event.kind, Event.actor_role, Event.public, Event.data)
            .where(Event.complaint == case.id)
            .order_by(Event.seq)
            .tuples())
    return [(minute(at), kind, role, public, (data or '')[:300]) for at, kind, role, public, data in rows]


def _why_not(case, action, now):
    """The reason the current user may not take `action` now (shown instead of the form)."""
    try:
        check(case, current_user, action, now)
    except DomainError as err:
        return err.message
    return None


def workspace_context(case, user, now):
    order = (Order
             .select(Order)
             .where(Order.id == case.order_id)
             .get())
    items = list(Evidence
                 .select(Evidence.id, Evidence.party, Evidence.kind, Evidence.description, Evidence.text,
                         Evidence.filename, Evidence.mime, Evidence.size, Evidence.sha256,
                         Evidence.created_at, Evidence.supersedes)
                 .where(Evidence.complaint == case.id)
                 .order_by(Evidence.created_at, Evidence.id)
                 .namedtuples())
    superseded = {i.supersedes for i in items if i.supersedes}
    patterns = link_patterns()
    available = patterns is not None
    sides = {'buyer': [], 'merchant': [], 'staff': []}
    for item in items:
        sides.setdefault(item.party, []).append({'item': item, 'links': evidence_links(item, patterns),
                                                 'superseded': item.id in superseded,
                                                 'at': minute(item.created_at)})
    clauses = list(RuleClause.select().where(RuleClause.active == True).order_by(RuleClause.code))  # noqa: E712
    rulings = list(Ruling.select().where(Ruling.complaint == case.id).order_by(Ruling.round))
    clause_codes = {c.id: c for c in clauses}
    actions = allowed_actions(case, user, now)
    rule_blocked = None
    if case.being_arbitrated and 'rule' not in actions:
        rule_blocked = _why_not(case, 'rule', now)
    return dict(
        case=case, order=order, buyer=order.buyer, merchant=order.merchant,
        buyer_phone=mask_phone(order.buyer.phone),
        category=Category.name_of(case.category),
        basis=RuleClause.get_or_none(RuleClause.code == case.basis) if case.basis else None,
        scenario=json.loads(case.scenario or '{}'),
        proposals=list(Proposal.select().where(Proposal.complaint == case.id).order_by(Proposal.seq)),
        remedies=list(Remedy.select().where(Remedy.complaint == case.id).order_by(Remedy.id)),
        sides=sides, evidence_count=len(items), evidence_links_available=available,
        requests=list(EvidenceRequest.select().where(EvidenceRequest.complaint == case.id)
                      .order_by(EvidenceRequest.id)),
        declarations=list(EvidenceDeclaration.select().where(EvidenceDeclaration.complaint == case.id)
                          .order_by(EvidenceDeclaration.round, EvidenceDeclaration.party)),
        events=_timeline(case),
        minute=minute,
        precedents=_precedents(case, order), clauses=clauses, clause_codes=clause_codes,
        rulings=rulings, appeal=Appeal.get_or_none(Appeal.complaint == case.id),
        actions=actions, rule_blocked=rule_blocked, evidence_open=evidence_open(case, now),
        proof_missing=payment_proof_missing(case) if case.being_arbitrated else False,
        refundable=remedies.refundable(order), clocks=sla_reports.case_clocks(case),
        outcomes=outcome_label.choices(RULING_OUTCOMES),
        responsibilities=responsibility_label.choices(RESPONSIBILITIES),
        remedy_kinds=remedy_label.choices(RULING_REMEDIES), text_preview=TEXT_PREVIEW, to_yuan=to_yuan)


def _form_data(action, form):
    if action == 'request_evidence':
        return {'party': form.get('party', ''), 'note': form.get('note', ''),
                'due_in_hours': form.get('due_in_hours') or None}
    if action in ('rule', 'resolve'):
        remedy = {'type': form.get('remedy_type', '')}
        if form.get('remedy_amount', '').strip():
            remedy['amount'] = form.get('remedy_amount', '').strip()
        data = {'remedy': remedy}
        if action == 'rule':
            data.update(outcome=form.get('outcome', ''), responsibility=form.get('responsibility', ''),
                        clause=form.get('clause') or None, reasoning=form.get('reasoning', ''))
        else:
            data['note'] = form.get('note', '')
        return data
    return {}


class ArbitrationView(RoleAccess, BaseView):
    """The arbitration workspace of one case (reached from the case page)."""
    allowed_roles = AGENT_ROLES + ('supervisor', 'admin')

    def is_visible(self):
        return False

    @expose('/')
    def index(self):
        return redirect(url_for('queue.index'))

    @expose('/<ticket_no>')
    def case(self, ticket_no, status=200, errors=None, values=None):
        case = get_visible(current_user, ticket_no)
        context = workspace_context(case, current_user, clock.now())
        return self.render('admin/arbitration/workspace.html', errors=errors or {}, values=values or {},
                           **context), status

    @expose('/<ticket_no>/act/<action>', methods=['POST'])
    def act(self, ticket_no, action):
        case = get_visible(current_user, ticket_no)
        if action not in WORKSPACE_ACTIONS:
            abort(404)
        data = _form_data(action, request.form)
        try:
            take_action(current_user, case, action, data)
        except Invalid as err:
            flash(err.message, 'error')
            return self.case(ticket_no, status=422, errors={action: dict(err.fields)},
                             values={action: request.form})
        except DomainError as err:
            flash(err.message, 'error')
        else:
            flash({'request_evidence': _('The evidence request was sent.'),
                   'close_evidence': _('The evidence period is closed; you may rule now.'),
                   'rule': _('The ruling was recorded and both parties were told.'),
                   'resolve': _('The case is resolved.')}[action], 'success')
        return redirect(url_for('.case', ticket_no=case.ticket_no))


def register(admin):
    admin.add_view(ArbitrationView(name=_l('Arbitration'), endpoint='arbitration', url='arbitration'))
