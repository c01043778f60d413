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
from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.validators import Optional

from arbitration.negotiation import URGE_COOLDOWN
from desk.cases import lifecycle, overview
from desk.cases.access import get_visible
from desk.cases.complaints import FACTS_MAX, file_complaint, promised_by
from desk.cases.models import DEMAND_TYPES, Category, Complaint, Proposal, Remedy
from desk.cases.timeline import events_for
from desk.cases.transitions import allowed_actions, take_action
from desk.core import clock
from desk.core.errors import Conflict, DomainError, Invalid, TooLarge, Unsupported
from desk.core.labels import DEMANDS, scenario_label
from desk.core.money import to_yuan
from desk.core.times import to_iso
from desk.credit import ledger as credit
from desk.orders.orders import get_order
from desk.parties import accounts
from web.auth import roles_required
from web.buyer.links import read_token
from web.filing import AMOUNT_DEMANDS, FilingForm, demand_of, put_field_errors

bp = Blueprint('portal', __name__, url_prefix='/buyer')


class ComplaintForm(FilingForm):
    """The buyer's filing: the shared fields, a few worded for the buyer."""
    category = SelectField(_l('What went wrong'))
    facts = TextAreaField(_l('What happened'))
    refund_requested_at = StringField(scenario_label('refund_requested_at', 'buyer'))
    demand_type = SelectField(_l('What you ask for'), choices=DEMANDS.choices(DEMAND_TYPES))


class EditForm(FlaskForm):
    facts = ComplaintForm.facts
    demand_type = ComplaintForm.demand_type
    demand_amount = StringField(_l('Amount (yuan)'), validators=[Optional()])


class MessageForm(FlaskForm):
    body = TextAreaField(_l('Message'))


class WithdrawForm(FlaskForm):
    reason = StringField(_l('Why (optional)'))
    confirm = BooleanField(_l('Yes, withdraw this complaint'))


@bp.route('/')
@roles_required('buyer')
def home():
    orders = list(overview.buyer_orders(current_user))
    open_tickets = dict(Complaint
                        .select(Complaint.order, Complaint.ticket_no)
                        .where((Complaint.order.in_([o.id for o in orders])) &
                               Complaint.state.not_in(lifecycle.TERMINAL))
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
    form = ComplaintForm()
    form.offer_choices()
    if request.method == 'GET' and order.receiving_account:
        form.receiving_account.data = order.receiving_account
    status = None
    if form.validate_on_submit():
        data = form.filing_data('web') | {'order_no': order.order_no}
        data['evidence'], uploads = form.evidence_given()
        try:
            complaint = file_complaint(current_user, data, default_channel='web', uploads=uploads)
        except Conflict as err:
            flash(err.message, 'warning')
            if err.extra.get('ticket_no'):
                return redirect(url_for('portal.complaint', ticket_no=err.extra['ticket_no']))
        except (Invalid, TooLarge, Unsupported) as err:
            form.put_errors(err)
            flash(err.message, 'danger')
            status = err.status
        else:
            flash(_('Complaint %(t)s received.', t=complaint.ticket_no), 'success')
            return redirect(url_for('portal.complaint', ticket_no=complaint.ticket_no, new=1))
    # what the buyer must do, never why (their credit is not shown): see desk/credit/ledger.py
    evidence_required = credit.filing_rules(order.buyer_id).evidence_required
    return render_template('buyer/complain.html', form=form, order=order, facts_max=FACTS_MAX,
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
    return render_template('buyer/complaints.html', complaints=rows, names=Category.names())


@bp.route('/complaints/<ticket_no>')
@roles_required('buyer')
def complaint(ticket_no):
    return _render_case(get_visible(current_user, ticket_no))


def _render_case(case, status=200, errors=None, values=None, open_form=None):
    """The case page; `errors`/`values` put a refused form's messages and input back."""
    now = clock.now()
    actions = allowed_actions(case, current_user, now)
    proposals = list(Proposal.select().where(Proposal.complaint == case.id).order_by(Proposal.seq.desc()))
    current = next((p for p in proposals if p.state == 'pending'), None) if case.awaits_buyer else None
    due = case.negotiation_due_at
    urge_opens = None
    if 'urge' not in actions and case.last_urged_at and lifecycle.row(case.state, 'urge'):
        opens = case.last_urged_at + URGE_COOLDOWN
        urge_opens = opens if opens > now else None
    return render_template(
        'buyer/complaint.html', case=case, category=Category.name_of(case.category),
        events=list(events_for(case, include_internal=False)), actions=actions,
        promised=promised_by(case), message_form=MessageForm(),
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
        if case.demand_type in AMOUNT_DEMANDS and case.demand_fen:
            form.demand_amount.data = to_yuan(case.demand_fen)
    if form.validate_on_submit():
        try:
            take_action(current_user, case, 'edit', {'facts': form.facts.data, 'demand': demand_of(form)})
        except Invalid as err:
            put_field_errors(form, err)
            flash(err.message, 'danger')
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
