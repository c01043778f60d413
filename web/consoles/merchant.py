"""The merchant console (/merchant/): merchant staff see only their own merchant's data.

The order list and detail queries come from `desk.orders.orders.visible_orders`, the complaint
inbox and case pages from `desk.cases.access.visible_complaints` / `get_visible` — the same
rules the API uses — so a merchant cannot reach another merchant's order or case by editing
an id or a ticket number in the URL (another merchant's case answers 404).

Every action on a case (propose, message, escalate) goes through
`desk.cases.transitions.take_action`; the page offers only what `allowed_actions` says is allowed
now, and shows the service's refusal when it still says no.
"""
import datetime as dt
import json

from flask import flash, redirect, request, url_for
from flask_admin import AdminIndexView, BaseView, expose
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from peewee import fn

from arbitration.negotiation import REASON_MAX
from desk.cases import lifecycle, overview, remedies
from desk.cases.access import get_visible, visible_complaints
from desk.cases.complaints import MESSAGE_MAX
from desk.cases.models import FAR_FUTURE, MAX_PROPOSALS, PROPOSAL_KINDS, Category, Complaint, Proposal, Remedy
from desk.cases.timeline import events_for
from desk.cases.transitions import allowed_actions, take_action
from desk.core import clock
from desk.core.errors import DomainError, Invalid
from desk.core.masking import mask_phone
from desk.core.money import format_money, to_yuan
from desk.core.times import to_iso
from desk.orders.models import Order
from desk.orders.orders import visible_orders
from desk.parties import accounts
from desk.parties.models import ApiKey, Merchant
from web.consoles.access import MerchantOnly
from web.consoles.base import DeskModelView, parse_id, tab_of

#: The inbox tabs and the states each one lists.
TABS = {
    'needs_answer': (lifecycle.NEGOTIATING,),
    'waiting_buyer': (lifecycle.AWAITING_BUYER,),
    'platform': lifecycle.QUEUE,
    'closed': lifecycle.FINISHED,
}
PAGE_SIZE = 50
#: Below this much time left, a merchant's deadline is shown in red.
URGENT = dt.timedelta(hours=2)
CURSOR_TIME = '%Y%m%d%H%M%S'
#: Messages of the shared yuan parser (desk.core.money, English only), shown translated.
AMOUNT_MESSAGES = {
    'is required': _l('is required'),
    'must be more than 0': _l('must be more than 0'),
    'must not be negative': _l('must not be negative'),
    'must have at most two decimals': _l('must have at most two decimals'),
    'must be an amount in yuan like "49.90"': _l('must be an amount in yuan like "49.90"'),
    'must be a string of yuan like "49.90"': _l('must be an amount in yuan like "49.90"'),
}


def _seconds_left(due, now):
    return int((due - now).total_seconds()) if due else None


# --- queries (scoped by case_access.visible_complaints) -------------------------------------

def _tab_query(user, tab):
    return visible_complaints(user).where(Complaint.state.in_(TABS[tab]))


def complaint_counts(user, now=None):
    """The home page's and the inbox tabs' counts: what needs an answer (and how much of it
    within 2 hours), what waits on the buyer, what the platform handles."""
    now = now or clock.now()
    needs = _tab_query(user, 'needs_answer')
    return {
        'needs_answer': needs.count(),
        'urgent': needs.where(Complaint.merchant_due_at < now + URGENT).count(),
        'waiting_buyer': _tab_query(user, 'waiting_buyer').count(),
        'platform': _tab_query(user, 'platform').count(),
    }


def _cursor_id(raw):
    number = parse_id(raw)
    if number is None:
        raise ValueError(raw)
    return number


def _due_key():
    # negotiating cases always have a deadline; COALESCE keeps the keyset total anyway
    return fn.COALESCE(Complaint.merchant_due_at, FAR_FUTURE)


def _parse_cursor(tab, raw):
    """A page cursor: "<id>" (newest first) or, in needs-answer, "<due UTC>-<id>"."""
    if not raw:
        return None
    try:
        if tab == 'needs_answer':
            due, ident = raw.split('-', 1)
            return dt.datetime.strptime(due, CURSOR_TIME), _cursor_id(ident)
        return _cursor_id(raw)
    except ValueError:
        raise Invalid(_('The page link is broken; start from the first page.'),
                      fields={'cursor': _('unknown cursor')}) from None


def inbox_page(user, tab, cursor=None, limit=None):
    """One page of a tab, keyset-paginated: needs-answer by deadline (soonest first), the
    others newest first. Returns (rows, next_cursor)."""
    limit = limit or PAGE_SIZE
    query = _tab_query(user, tab)
    after = _parse_cursor(tab, cursor)
    if tab == 'needs_answer':
        if after is not None:
            due, ident = after
            query = query.where((_due_key() > due) | ((_due_key() == due) & (Complaint.id > ident)))
        query = query.order_by(_due_key(), Complaint.id)
    else:
        if after is not None:
            query = query.where(Complaint.id < after)
        query = query.order_by(Complaint.id.desc())
    rows = list(query.limit(limit + 1))
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = (f'{(last.merchant_due_at or FAR_FUTURE).strftime(CURSOR_TIME)}-{last.id}'
                       if tab == 'needs_answer' else str(last.id))
    return rows, next_cursor


# --- views --------------------------------------------------------------------------------

class HomeView(MerchantOnly, AdminIndexView):
    @expose('/')
    def index(self):
        merchant = Merchant.get_by_id(current_user.merchant_id)
        return self.render('merchant/home.html', merchant=merchant,
                           counts=overview.merchant_overview(current_user),
                           complaint_counts=complaint_counts(current_user))


class MyOrdersView(MerchantOnly, DeskModelView):
    can_create = can_edit = can_delete = False
    can_view_details = True
    simple_list_pager = True
    page_size = 50
    column_list = ('order_no', 'buyer', 'product', 'goods_type', 'amount_fen', 'paid_at')
    column_labels = {'order_no': _l('Order no.'), 'buyer': _l('Buyer'), 'product': _l('Product'),
                     'goods_type': _l('Goods type'), 'amount_fen': _l('Amount'),
                     'paid_at': _l('Paid at')}
    column_details_list = column_list + ('sku', 'payment_method', 'delivered_at', 'confirmed_at', 'region')
    column_formatters = {
        'amount_fen': lambda v, c, m, n: format_money(m.amount_fen),
        'buyer': lambda v, c, m, n: f'{m.buyer.display_name} ({mask_phone(m.buyer.phone)})',
    }
    column_searchable_list = ('order_no', 'product')
    column_filters = ('goods_type', 'paid_at')
    column_default_sort = ('paid_at', True)

    def get_query(self):
        return visible_orders(current_user)

    def get_one(self, id):
        id = parse_id(id)
        return visible_orders(current_user).where(Order.id == id).first() if id else None


def _field_errors(err):
    """A service's field messages for the form, the yuan parser's translated."""
    errors = {}
    for key, message in err.fields.items():
        name = key.split('.', 1)[-1]
        errors[name] = str(AMOUNT_MESSAGES.get(message, message))
    return errors


class ComplaintsView(MerchantOnly, BaseView):
    """The complaint inbox (four tabs) and the case page where the merchant answers."""

    @expose('/')
    def index(self):
        tab = tab_of(request.args, tuple(TABS), name='tab')
        now = clock.now()
        status = 200
        try:
            rows, next_cursor = inbox_page(current_user, tab, request.args.get('cursor') or None)
        except Invalid as err:
            flash(err.message, 'error')
            rows, next_cursor, status = [], None, 422
        names = Category.names()
        orders = {o.id: o for o in Order.select().where(Order.id.in_([r.order_id for r in rows]))} if rows else {}
        items = [{'case': r, 'order': orders.get(r.order_id), 'due': r.negotiation_due_at} for r in rows]
        for item in items:
            item['due_iso'] = to_iso(item['due'])
            item['seconds_left'] = _seconds_left(item['due'], now)
        return self.render('merchant/complaints.html', tab=tab, tabs=list(TABS), items=items,
                           names=names, counts=complaint_counts(current_user, now),
                           next_cursor=next_cursor, cursor=request.args.get('cursor'),
                           now_iso=to_iso(now), urgent_seconds=int(URGENT.total_seconds()),
                           max_proposals=MAX_PROPOSALS), status

    # --- the case page ---------------------------------------------------------------

    def _render_case(self, case, status=200, errors=None, values=None, open_form=None):
        now = clock.now()
        order = case.order
        proposals = list(Proposal.select().where(Proposal.complaint == case.id).order_by(Proposal.seq))
        decided = list(Remedy.select().where(Remedy.complaint == case.id).order_by(Remedy.id))
        due = case.negotiation_due_at
        refundable = remedies.refundable(order)
        return self.render(
            'merchant/case.html', case=case, order=order, buyer=order.buyer,
            buyer_phone=mask_phone(order.buyer.phone),
            category=Category.name_of(case.category),
            scenario=json.loads(case.scenario or '{}'),
            events=list(events_for(case, include_internal=False)),
            proposals=proposals, remedies=decided, actions=allowed_actions(case, current_user, now),
            due=due, due_iso=to_iso(due), seconds_left=_seconds_left(due, now), now_iso=to_iso(now),
            urgent_seconds=int(URGENT.total_seconds()),
            refundable_fen=refundable, refundable_yuan=to_yuan(refundable),
            compensation_max_yuan=to_yuan(order.amount_fen),
            proposals_left=max(0, MAX_PROPOSALS - case.proposal_count), max_proposals=MAX_PROPOSALS,
            kinds=PROPOSAL_KINDS, errors=errors or {}, values=values or {}, open_form=open_form,
            message_max=MESSAGE_MAX, reason_max=REASON_MAX), status

    @expose('/<ticket_no>')
    def case(self, ticket_no):
        return self._render_case(get_visible(current_user, ticket_no))

    def _act(self, ticket_no, action, data, done, form_name):
        case = get_visible(current_user, ticket_no)  # 404 for another merchant's case
        try:
            take_action(current_user, case, action, data)
        except Invalid as err:
            # the shared yuan parser speaks English only: say it in the page's language
            untranslated = any(m in AMOUNT_MESSAGES for m in err.fields.values())
            flash(_('Check the amount.') if untranslated else err.message, 'error')
            return self._render_case(get_visible(current_user, ticket_no), status=err.status,
                                     errors={form_name: _field_errors(err)},
                                     values={form_name: data}, open_form=form_name)
        except DomainError as err:
            flash(err.message, 'error')
        else:
            flash(done, 'success')
        return redirect(url_for('.case', ticket_no=case.ticket_no))

    @expose('/<ticket_no>/propose', methods=['POST'])
    def propose(self, ticket_no):
        form = request.form
        data = {'type': form.get('type', ''), 'message': form.get('message', '')}
        if data['type'] in ('refund', 'compensation'):
            data['amount'] = (form.get('amount') or '').strip()
        return self._act(ticket_no, 'propose', data, _('Your proposal was sent to the buyer.'), 'propose')

    @expose('/<ticket_no>/message', methods=['POST'])
    def message(self, ticket_no):
        return self._act(ticket_no, 'message', {'body': request.form.get('body', '')},
                         _('Message sent.'), 'message')

    @expose('/<ticket_no>/escalate', methods=['POST'])
    def escalate(self, ticket_no):
        return self._act(ticket_no, 'escalate', {'reason': request.form.get('reason', '')},
                         _('You asked the platform to step in; an agent will take the case.'), 'escalate')


class ApiKeysView(MerchantOnly, BaseView):
    """The staff member's own API keys for the merchant's systems: list, create (the secret
    is shown once), revoke."""

    def _render(self, secret=None, errors=None, name='', status=200):
        keys = ApiKey.select().where(ApiKey.user == current_user.id).order_by(ApiKey.id.desc())
        return self.render('merchant/api_keys.html', keys=keys, secret=secret, errors=errors or {},
                           name=name), status

    @expose('/')
    def index(self):
        return self._render()

    @expose('/create', methods=['POST'])
    def create(self):
        name = (request.form.get('name') or '').strip()
        if not name or len(name) > 100:
            return self._render(errors={'name': _('1 to 100 characters')}, name=name[:100], status=422)
        try:
            _key, secret = accounts.create_api_key(current_user, name)
        except DomainError as err:
            flash(err.message, 'error')
            return self._render(name=name, status=err.status)
        flash(_('The key was created. Copy it now: it is shown only this once.'), 'success')
        return self._render(secret=secret)

    @expose('/<int(max=2147483647):key_id>/revoke', methods=['POST'])
    def revoke(self, key_id):
        accounts.revoke_api_key(current_user, key_id)  # 404 for anyone else's key
        flash(_('The key was revoked.'), 'success')
        return redirect(url_for('.index'))


def register(admin):
    admin.add_view(ComplaintsView(name=_l('Complaints'), endpoint='merchant_complaints', url='complaints'))
    admin.add_view(MyOrdersView(Order, name=_l('My orders'), endpoint='merchant_orders'))
    admin.add_view(ApiKeysView(name=_l('API keys'), endpoint='merchant_keys', url='api-keys'))
