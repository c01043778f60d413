"""The buyer portal (/buyer/): a plain, mobile-first blueprint.

Buyers arrive logged in (demo accounts) or through a link the marketplace signs for them
(`/buyer/complain?token=…`). Every page reads through the same services as the API, so a
buyer can only ever reach their own orders and complaints.
"""
import json

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, SelectField, SelectMultipleField, StringField, TextAreaField, widgets
from wtforms.validators import Optional

from arbitration.evidence import KIND_LABELS
from arbitration.negotiation import URGE_COOLDOWN
from desk.cases import lifecycle, overview
from desk.cases.access import get_visible
from desk.cases.complaints import FACTS_MAX, file_complaint, promised_by
from desk.cases.models import EVIDENCE_KINDS, Category, Complaint, Proposal, Remedy, RuleClause
from desk.cases.timeline import events_for
from desk.cases.transitions import allowed_actions, take_action
from desk.core import clock
from desk.core.errors import Conflict, DomainError, Invalid, TooLarge, Unsupported
from desk.core.times import to_iso
from desk.credit import ledger as credit
from desk.orders.orders import get_order
from desk.parties import accounts
from web.auth import roles_required
from web.buyer.links import read_token

bp = Blueprint('portal', __name__, url_prefix='/buyer')

SCENARIO_FIELDS = ('receiving_account', 'minutes_late', 'error_message', 'refund_requested_at', 'occurred_at')
DEMANDS = [('full_refund', _l('Full refund')), ('partial_refund', _l('Partial refund')),
           ('reissue', _l('Reissue the goods')), ('compensation', _l('Compensation')),
           ('fix', _l('Repair / fix')), ('other', _l('Other'))]
#: progress bar stages: 已受理 → 处理中 → 已完成
STAGES = {'screening': 1, 'self_service': 1, 'pending_agent': 1, 'negotiating': 2, 'awaiting_buyer': 2,
          'in_progress': 2, 'in_arbitration': 2, 'appealed': 2, 'resolved': 3, 'closed': 3,
          'withdrawn': 3}


class MultiCheckboxField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class ComplaintForm(FlaskForm):
    category = SelectField(_l('What went wrong'))
    facts = TextAreaField(_l('What happened'))
    receiving_account = StringField(_l('Account that should have received the recharge'))
    minutes_late = StringField(_l('Minutes late'))
    error_message = StringField(_l('Error message shown when using the code'))
    refund_requested_at = StringField(_l('When you asked for the refund'))
    occurred_at = StringField(_l('When the fault happened'))
    demand_type = SelectField(_l('What you ask for'), choices=DEMANDS)
    demand_amount = StringField(_l('Amount (yuan)'), validators=[Optional()])
    basis = SelectField(_l('Platform rule (optional)'), validators=[Optional()])
    external = MultiCheckboxField(_l('Also filed with'), choices=[('12315', '12315'), ('heimao', _l('Heimao complaints (黑猫投诉)'))])
    # evidence given with the complaint (required for some buyers: desk.credit.ledger)
    evidence_kind = SelectField(_l('Kind of evidence'), choices=[(k, KIND_LABELS[k]) for k in EVIDENCE_KINDS],
                                default='order_screenshot')
    evidence_file = FileField(_l('Evidence file (screenshot, recording, PDF)'))
    evidence_text = TextAreaField(_l('Or paste a chat log'))
    evidence_description = StringField(_l('What it shows (optional)'))


class EditForm(FlaskForm):
    facts = TextAreaField(_l('What happened'))
    demand_type = SelectField(_l('What you ask for'), choices=DEMANDS)
    demand_amount = StringField(_l('Amount (yuan)'), validators=[Optional()])


class MessageForm(FlaskForm):
    body = TextAreaField(_l('Message'))


class WithdrawForm(FlaskForm):
    reason = StringField(_l('Why (optional)'))
    confirm = BooleanField(_l('Yes, withdraw this complaint'))


def category_label(category):
    from web.i18n import current_language
    return category.name_zh if current_language() == 'zh' else category.name_en


def _show_field_errors(form, err):
    """Put a service's field messages next to the matching form fields."""
    mapping = {'demand.type': 'demand_type', 'demand.amount': 'demand_amount'}
    for key, message in err.fields.items():
        name = mapping.get(key, key.split('.', 1)[-1])
        field = getattr(form, name, None)
        if field is not None:
            field.errors = list(field.errors or []) + [message]
    flash(err.message, 'danger')


#: Where a filing's evidence problems are shown on the form.
EVIDENCE_FIELDS = {'kind': 'evidence_kind', 'text': 'evidence_text', 'file': 'evidence_file',
                   'description': 'evidence_description'}


def evidence_of_form(form):
    """(pasted-text items, uploads) of the form's evidence fields; empty when none given."""
    kind = form.evidence_kind.data
    description = form.evidence_description.data or ''
    items = []
    if (form.evidence_text.data or '').strip():
        items.append({'kind': kind, 'text': form.evidence_text.data, 'description': description})
    upload = form.evidence_file.data
    uploads = [(kind, description, upload.filename, upload.stream)] if upload and upload.filename else []
    return items, uploads


def show_evidence_errors(form, err):
    """A filing's evidence problems next to the evidence fields (`evidence.<n>.<field>`)."""
    for key, message in err.fields.items():
        if key == 'evidence':
            name = 'evidence_file'
        elif key.startswith('evidence.') or key == 'file':
            name = EVIDENCE_FIELDS.get(key.rsplit('.', 1)[-1], 'evidence_file')
        else:
            continue
        field = getattr(form, name)
        field.errors = list(field.errors or []) + [message]


def _demand(form):
    demand = {'type': form.demand_type.data}
    if form.demand_type.data in ('partial_refund', 'compensation'):
        demand['amount'] = (form.demand_amount.data or '').strip()
    return demand


@bp.route('/')
@roles_required('buyer')
def home():
    orders = list(overview.buyer_orders(current_user))
    open_tickets = dict(Complaint
                        .select(Complaint.order, Complaint.ticket_no)
                        .where((Complaint.order.in_([o.id for o in orders])) &
                               Complaint.state.not_in(('closed', 'withdrawn')))
                        .tuples()) if orders else {}
    return render_template('buyer/home.html', orders=orders, open_tickets=open_tickets)


@bp.route('/complain')
def complain_by_link():
    """Entry from the marketplace app: a signed, one-hour link naming the buyer and order."""
    try:
        buyer, order = read_token(request.args.get('token'))
    except Invalid as err:
        return render_template('errors/error.html', status=400, message=err.message), 400
    login_user(accounts.buyer_user_for(buyer))
    return redirect(url_for('portal.new_complaint', order_no=order.order_no))


@bp.route('/orders/<order_no>/complain', methods=['GET', 'POST'])
@roles_required('buyer')
def new_complaint(order_no):
    order = get_order(current_user, order_no)
    categories = list(Category.select().where(Category.active == True).order_by(Category.position))  # noqa: E712
    form = ComplaintForm()
    form.category.choices = [(c.code, category_label(c)) for c in categories]
    clauses = RuleClause.select().where(RuleClause.active == True).order_by(RuleClause.code)  # noqa: E712
    form.basis.choices = [('', '—')] + [(c.code, f'{c.code} {c.title_zh}') for c in clauses]
    if request.method == 'GET' and order.receiving_account:
        form.receiving_account.data = order.receiving_account
    status = None
    if form.validate_on_submit():
        data = {'order_no': order.order_no, 'category': form.category.data, 'facts': form.facts.data,
                'scenario': {name: getattr(form, name).data for name in SCENARIO_FIELDS
                             if getattr(form, name).data},
                'demand': _demand(form), 'basis': form.basis.data or None,
                'external': form.external.data or [], 'channel': 'web'}
        data['evidence'], uploads = evidence_of_form(form)
        try:
            complaint = file_complaint(current_user, data, default_channel='web', uploads=uploads)
        except Conflict as err:
            flash(err.message, 'warning')
            if err.extra.get('ticket_no'):
                return redirect(url_for('portal.complaint', ticket_no=err.extra['ticket_no']))
        except (Invalid, TooLarge, Unsupported) as err:
            show_evidence_errors(form, err)
            _show_field_errors(form, err)
            status = err.status
        else:
            flash(_('Complaint %(t)s received.', t=complaint.ticket_no), 'success')
            return redirect(url_for('portal.complaint', ticket_no=complaint.ticket_no, new=1))
    scenario_map = {c.code: json.loads(c.scenario_fields or '[]') for c in categories}
    # what the buyer must do, never why (their credit is not shown): see desk/credit/ledger.py
    evidence_required = credit.filing_rules(order.buyer_id).evidence_required
    return render_template('buyer/complain.html', form=form, order=order, scenario_map=scenario_map,
                           scenario_fields=SCENARIO_FIELDS, facts_max=FACTS_MAX,
                           evidence_required=evidence_required,
                           evidence_required_message=credit.EVIDENCE_REQUIRED), status or (200 if not form.errors else 422)


@bp.route('/complaints')
@roles_required('buyer')
def complaints():
    rows = (Complaint
            .select()
            .where(Complaint.buyer == current_user.buyer_id)
            .order_by(Complaint.id.desc())
            .limit(100))
    names = {c.code: category_label(c) for c in Category.select()}
    return render_template('buyer/complaints.html', complaints=rows, stages=STAGES, names=names)


@bp.route('/complaints/<ticket_no>')
@roles_required('buyer')
def complaint(ticket_no):
    return _render_case(get_visible(current_user, ticket_no))


def _render_case(case, status=200, errors=None, values=None, open_form=None):
    """The case page; `errors`/`values` put a refused form's messages and input back."""
    now = clock.now()
    category = Category.get_or_none(Category.code == case.category)
    actions = allowed_actions(case, current_user, now)
    proposals = list(Proposal.select().where(Proposal.complaint == case.id).order_by(Proposal.seq.desc()))
    current = next((p for p in proposals if p.state == 'pending'), None) if case.state == 'awaiting_buyer' else None
    # The merchant's deadline while they owe an answer, the buyer's while a proposal waits.
    due = {'negotiating': case.merchant_due_at, 'awaiting_buyer': case.buyer_due_at}.get(case.state)
    urge_opens = None
    if 'urge' not in actions and case.last_urged_at and lifecycle.row(case.state, 'urge'):
        opens = case.last_urged_at + URGE_COOLDOWN
        urge_opens = opens if opens > now else None
    return render_template(
        'buyer/complaint.html', case=case, category=category_label(category) if category else case.category,
        events=list(events_for(case, include_internal=False)), actions=actions,
        promised=promised_by(case), stage=STAGES[case.state], message_form=MessageForm(),
        withdraw_form=WithdrawForm(), scenario=json.loads(case.scenario or '{}'),
        is_new=bool(request.args.get('new')), proposals=proposals, current=current,
        remedies=list(Remedy.select().where(Remedy.complaint == case.id).order_by(Remedy.id)),
        due=due, due_iso=to_iso(due), seconds_left=int((due - now).total_seconds()) if due else None,
        now_iso=to_iso(now), urge_opens=urge_opens, errors=errors or {}, values=values or {},
        open_form=open_form), status


@bp.route('/complaints/<ticket_no>/edit', methods=['GET', 'POST'])
@roles_required('buyer')
def edit_complaint(ticket_no):
    case = get_visible(current_user, ticket_no)
    form = EditForm(obj=None)
    if request.method == 'GET':
        form.facts.data, form.demand_type.data = case.facts, case.demand_type
        if case.demand_type in ('partial_refund', 'compensation') and case.demand_fen:
            from desk.core.money import to_yuan
            form.demand_amount.data = to_yuan(case.demand_fen)
    if form.validate_on_submit():
        try:
            take_action(current_user, case, 'edit', {'facts': form.facts.data, 'demand': _demand(form)})
        except Invalid as err:
            _show_field_errors(form, err)
        except DomainError as err:
            flash(err.message, 'danger')
            return redirect(url_for('portal.complaint', ticket_no=ticket_no))
        else:
            flash(_('Your changes were saved.'), 'success')
            return redirect(url_for('portal.complaint', ticket_no=ticket_no))
    return render_template('buyer/edit.html', case=case, form=form, facts_max=FACTS_MAX)


def _act(ticket_no, action, data, done_message):
    case = get_visible(current_user, ticket_no)
    try:
        take_action(current_user, case, action, data)
    except DomainError as err:
        flash(err.message, 'danger')
    else:
        flash(done_message, 'success')
    return redirect(url_for('portal.complaint', ticket_no=ticket_no))


@bp.route('/complaints/<ticket_no>/withdraw', methods=['POST'])
@roles_required('buyer')
def withdraw_complaint(ticket_no):
    form = WithdrawForm()
    if not form.confirm.data:
        flash(_('Tick the box to confirm that you want to withdraw the complaint.'), 'warning')
        return redirect(url_for('portal.complaint', ticket_no=ticket_no))
    return _act(ticket_no, 'withdraw', {'reason': form.reason.data}, _('The complaint was withdrawn.'))


@bp.route('/complaints/<ticket_no>/message', methods=['POST'])
@roles_required('buyer')
def message_complaint(ticket_no):
    form = MessageForm()
    return _act(ticket_no, 'message', {'body': form.body.data or ''}, _('Message sent.'))


@bp.route('/complaints/<ticket_no>/answer', methods=['POST'])
@roles_required('buyer')
def answer_self_service(ticket_no):
    helped = request.form.get('helped') == 'yes'
    return _act(ticket_no, 'helped' if helped else 'not_helped', {},
                _('Glad it helped.') if helped else _('An agent will take over your case.'))


def _negotiate(ticket_no, action, data, done_message, form_name):
    """A negotiation answer from the case page; a refused form comes back with its message
    next to the field (422), any other refusal is flashed."""
    case = get_visible(current_user, ticket_no)
    try:
        take_action(current_user, case, action, data)
    except Invalid as err:
        flash(err.message, 'danger')
        return _render_case(get_visible(current_user, ticket_no), status=err.status,
                            errors={form_name: dict(err.fields)}, values={form_name: data},
                            open_form=form_name)
    except DomainError as err:
        flash(err.message, 'danger')
    else:
        flash(done_message, 'success')
    return redirect(url_for('portal.complaint', ticket_no=case.ticket_no))


@bp.route('/complaints/<ticket_no>/accept', methods=['POST'])
@roles_required('buyer')
def accept_proposal(ticket_no):
    return _negotiate(ticket_no, 'accept', {}, _('You accepted the proposal; the complaint is resolved.'), 'accept')


@bp.route('/complaints/<ticket_no>/reject', methods=['POST'])
@roles_required('buyer')
def reject_proposal(ticket_no):
    return _negotiate(ticket_no, 'reject', {'reason': request.form.get('reason', '')},
                      _('You rejected the proposal; the merchant has been told why.'), 'reject')


@bp.route('/complaints/<ticket_no>/urge', methods=['POST'])
@roles_required('buyer')
def urge_complaint(ticket_no):
    return _negotiate(ticket_no, 'urge', {}, _('We sent a reminder.'), 'urge')


@bp.route('/complaints/<ticket_no>/escalate', methods=['POST'])
@roles_required('buyer')
def escalate_complaint(ticket_no):
    return _negotiate(ticket_no, 'escalate', {'reason': request.form.get('reason', '')},
                      _('You asked the platform to step in; an agent will take your case.'), 'escalate')
