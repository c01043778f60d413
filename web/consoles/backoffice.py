"""The staff backoffice (/admin/): home page, admin-only reference data, API keys and the
order CSV import."""
import json

from flask import flash, jsonify, redirect, url_for
from flask_admin import AdminIndexView, BaseView, expose
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from desk.cases import lifecycle, overview
from desk.cases.models import PATHS, TIERS, Category, RuleClause
from desk.core.errors import DomainError
from desk.core.masking import mask_phone
from desk.core.money import format_money
from desk.orders import imports
from desk.orders.models import ImportRun, Order
from desk.parties import accounts
from desk.parties.models import DEPARTMENTS, ROLES, ApiKey, Buyer, Merchant, User
from web.consoles import agent_desk, integration
from web.consoles.access import AdminOnly, RoleAccess
from web.consoles.base import DeskModelView


class HomeView(RoleAccess, AdminIndexView):
    @expose('/')
    def index(self):
        return self.render('admin/home.html', counts=overview.staff_overview(current_user),
                           desk_counts=overview.agent_overview(current_user), waiting_state=lifecycle.PENDING_AGENT)


def _money(view, context, model, name):
    return format_money(getattr(model, name))


class ReadOnlyView(DeskModelView):
    can_create = can_edit = can_delete = False
    can_view_details = True
    page_size = 50


class UserView(AdminOnly, DeskModelView):
    can_delete = False
    column_list = ('username', 'display_name', 'role', 'department', 'merchant', 'status',
                   'capacity', 'active', 'created_at')
    column_labels = {'username': _l('Username'), 'display_name': _l('Name'), 'role': _l('Role'),
                     'department': _l('Department'), 'merchant': _l('Merchant'),
                     'status': _l('Status'), 'capacity': _l('Capacity'), 'active': _l('Active'),
                     'created_at': _l('Created')}
    column_searchable_list = ('username', 'display_name')
    column_filters = ('role', 'department', 'active')
    form_columns = ('username', 'display_name', 'role', 'department', 'capacity', 'active')
    form_overrides = {'role': SelectField, 'department': SelectField}
    form_args = {
        'role': {'choices': [(r, r) for r in ROLES]},
        'department': {'choices': [('', '—')] + [(d, d) for d in DEPARTMENTS],
                       'validators': [Optional()]},
    }
    form_extra_fields = {
        'password': PasswordField(_l('Password (new users, or to reset)'), validators=[Optional(), Length(min=8)]),
        'merchant_ref': StringField(_l('Merchant ref (merchant staff)'), validators=[Optional()]),
        'buyer_ref': StringField(_l('Buyer ref (buyer accounts)'), validators=[Optional()]),
    }

    def create_model(self, form):
        try:
            return accounts.create_user(
                form.username.data, form.password.data, form.role.data,
                display_name=form.display_name.data, department=form.department.data or None,
                merchant_ref=form.merchant_ref.data, buyer_ref=form.buyer_ref.data,
                capacity=form.capacity.data or 10)
        except DomainError as err:
            flash(err.message + ' ' + '; '.join(f'{k}: {v}' for k, v in err.fields.items()), 'error')
            return False

    def update_model(self, form, model):
        try:
            accounts.update_user(model, display_name=form.display_name.data,
                                 department=form.department.data or None,
                                 capacity=form.capacity.data, active=form.active.data,
                                 password=form.password.data or None)
        except DomainError as err:
            flash(err.message + ' ' + '; '.join(f'{k}: {v}' for k, v in err.fields.items()), 'error')
            return False
        return True

    def on_form_prefill(self, form, id):
        form.username.render_kw = {'readonly': True}
        form.role.render_kw = {'disabled': True}


class MerchantView(AdminOnly, DeskModelView):
    can_delete = False
    column_list = ('ref', 'name', 'deposit_fen', 'created_at')
    column_labels = {'ref': _l('Ref'), 'name': _l('Name'), 'deposit_fen': _l('Deposit'),
                     'created_at': _l('Created')}
    column_formatters = {'deposit_fen': _money}
    column_searchable_list = ('ref', 'name')
    form_columns = ('ref', 'name')


class OrderView(AdminOnly, ReadOnlyView):
    """Orders arrive from the marketplace (API or CSV import); staff read them here."""
    simple_list_pager = True  # no COUNT(*) over millions of orders on every page
    column_list = ('order_no', 'buyer', 'merchant', 'product', 'goods_type', 'amount_fen',
                   'payment_method', 'region', 'paid_at')
    column_details_list = ('order_no', 'buyer', 'merchant', 'product', 'sku', 'goods_type',
                           'amount_fen', 'paid_at', 'delivered_at', 'confirmed_at',
                           'payment_method', 'receiving_account', 'region', 'card_last4')
    column_labels = {'order_no': _l('Order no.'), 'buyer': _l('Buyer'), 'merchant': _l('Merchant'),
                     'product': _l('Product'), 'goods_type': _l('Goods type'),
                     'amount_fen': _l('Amount'), 'payment_method': _l('Payment'),
                     'region': _l('Region'), 'paid_at': _l('Paid at'), 'sku': 'SKU',
                     'delivered_at': _l('Delivered at'), 'confirmed_at': _l('Confirmed at'),
                     'receiving_account': _l('Receiving account'), 'card_last4': _l('Card code')}
    column_formatters = {
        'amount_fen': _money,
        'buyer': lambda v, c, m, n: f'{m.buyer.display_name} ({mask_phone(m.buyer.phone)})',
        'merchant': lambda v, c, m, n: m.merchant.name,
        'card_last4': lambda v, c, m, n: ('****' + m.card_last4) if m.card_last4 else '',
    }
    column_searchable_list = ('order_no', 'product')
    column_filters = ('goods_type', 'payment_method', 'region', 'paid_at')
    column_default_sort = ('paid_at', True)


def _optional_int(value):
    return int(value) if value not in (None, '', 'None') else None


def _agent_choices():
    agents = User.select().where(User.role.in_(('agent', 'senior_agent')) & (User.active == True))  # noqa: E712
    return [('', '—')] + [(a.id, f'{a.display_name} ({a.username})') for a in agents.order_by(User.username)]


def _agent_name(user_id):
    user = User.get_or_none(User.id == user_id) if user_id else None
    return user.display_name if user else ''


def json_list(form, field):
    """The scenario fields must be a JSON list of field names."""
    try:
        value = json.loads(field.data or '[]')
    except ValueError:
        raise ValidationError(_('Write a JSON list such as ["receiving_account"].')) from None
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ValidationError(_('Write a JSON list such as ["receiving_account"].'))


class CategoryView(AdminOnly, DeskModelView):
    """Complaint categories: routing, tier and the scenario facts each one requires."""
    can_delete = False  # complaints refer to them; deactivate instead
    column_list = ('code', 'name_zh', 'name_en', 'path', 'tier', 'department', 'scenario_fields',
                   'senior_only', 'active', 'position')
    column_labels = {'code': _l('Code'), 'name_zh': _l('Chinese name'), 'name_en': _l('English name'),
                     'path': _l('Path'), 'tier': _l('Tier'), 'department': _l('Department'),
                     'scenario_fields': _l('Required scenario fields (JSON list)'),
                     'senior_only': _l('Senior agents only'), 'active': _l('Active'),
                     'position': _l('Position')}
    form_overrides = {'path': SelectField, 'tier': SelectField, 'department': SelectField}
    form_args = {
        'path': {'choices': [(p, p) for p in PATHS]},
        'tier': {'choices': [(t, t) for t in TIERS]},
        'department': {'choices': [(d, d) for d in DEPARTMENTS]},
        'scenario_fields': {'validators': [json_list]},
    }


class RuleClauseView(AdminOnly, DeskModelView):
    can_delete = False
    column_list = ('code', 'title_zh', 'title_en', 'category', 'active')
    column_labels = {'code': _l('Code'), 'title_zh': _l('Chinese title'), 'title_en': _l('English title'),
                     'category': _l('Category'), 'active': _l('Active'), 'body_zh': _l('Text')}
    column_searchable_list = ('code', 'title_zh', 'title_en')


class BuyerView(AdminOnly, DeskModelView):
    """Buyers come from the marketplace; staff set a dedicated agent (专属客服) here."""
    can_create = can_delete = False
    simple_list_pager = True
    column_list = ('ref', 'display_name', 'phone', 'dedicated_agent_id', 'credit', 'created_at')
    column_labels = {'ref': _l('Ref'), 'display_name': _l('Name'), 'phone': _l('Phone'),
                     'dedicated_agent_id': _l('Dedicated agent'), 'credit': _l('Buyer credit'),
                     'created_at': _l('Created')}
    column_formatters = {'phone': lambda v, c, m, n: mask_phone(m.phone),
                         'dedicated_agent_id': lambda v, c, m, n: _agent_name(m.dedicated_agent_id)}
    column_searchable_list = ('ref', 'display_name')
    form_columns = ('dedicated_agent_id',)
    form_overrides = {'dedicated_agent_id': SelectField}
    form_args = {'dedicated_agent_id': {'coerce': _optional_int, 'validators': [Optional()]}}

    def on_form_prefill(self, form, id):
        form.dedicated_agent_id.choices = _agent_choices()

    def create_form(self, obj=None):
        form = super().create_form(obj)
        form.dedicated_agent_id.choices = _agent_choices()
        return form

    def edit_form(self, obj=None):
        form = super().edit_form(obj)
        form.dedicated_agent_id.choices = _agent_choices()
        return form


class ApiKeyView(AdminOnly, ReadOnlyView):
    """Keys are listed and revoked here; a new key is shown exactly once on the issue page."""
    can_view_details = False
    column_list = ('user', 'name', 'prefix', 'created_at', 'last_used_at', 'revoked_at')
    column_labels = {'user': _l('User'), 'name': _l('Name'), 'prefix': _l('Prefix'),
                     'created_at': _l('Created'), 'last_used_at': _l('Last used'),
                     'revoked_at': _l('Revoked')}
    list_template = 'admin/api_key_list.html'

    @expose('/issue/', methods=['GET', 'POST'])
    def issue(self):
        form = IssueKeyForm()
        form.user.choices = [(str(u.id), f'{u.username} ({u.role})') for u in
                             User.select().where(User.active == True).order_by(User.username)]  # noqa: E712
        secret = None
        if form.validate_on_submit():
            user = User.get_by_id(int(form.user.data))
            try:
                _key, secret = accounts.create_api_key(user, form.name.data)
            except DomainError as err:
                flash(err.message, 'error')
        return self.render('admin/api_key_issue.html', form=form, secret=secret)

    @expose('/revoke/<int:key_id>', methods=['POST'])
    def revoke(self, key_id):
        accounts.revoke_api_key(current_user, key_id)
        flash(_('The key was revoked.'), 'success')
        return redirect(url_for('.index_view'))


class IssueKeyForm(FlaskForm):
    user = SelectField(_l('User'), validators=[DataRequired()])
    name = StringField(_l('Name'), validators=[DataRequired(), Length(max=100)])


class ImportForm(FlaskForm):
    file = FileField(_l('CSV file'), validators=[FileRequired()])


class ImportView(AdminOnly, BaseView):
    """Order CSV import: upload, then a progress page that polls until the job is done."""

    @expose('/', methods=['GET', 'POST'])
    def index(self):
        form = ImportForm()
        if form.validate_on_submit():
            upload = form.file.data
            try:
                run = imports.start_import(current_user, upload.filename, upload.read(),
                                           self.admin.app.config['MAX_UPLOAD_BYTES'])
            except DomainError as err:
                flash(err.message, 'error')
            else:
                return redirect(url_for('.run', run_id=run.id))
        runs = ImportRun.select().order_by(ImportRun.id.desc()).limit(20)
        return self.render('admin/import.html', form=form, runs=runs, columns=imports.COLUMNS)

    @expose('/<int(max=2147483647):run_id>')
    def run(self, run_id):
        run = imports.get_import(current_user, run_id)
        return self.render('admin/import_run.html', run=run, errors=imports.import_errors(run))

    @expose('/<int(max=2147483647):run_id>/progress')
    def progress(self, run_id):
        run = imports.get_import(current_user, run_id)
        return jsonify(state=run.state, total=run.total_rows, processed=run.processed_rows,
                       ok=run.ok_rows, errors=run.error_rows)


def register(admin):
    agent_desk.register(admin)
    people = _l('People')
    admin.add_view(UserView(User, name=_l('Users'), endpoint='users', category=people))
    admin.add_view(MerchantView(Merchant, name=_l('Merchants'), endpoint='merchants', category=people))
    admin.add_view(OrderView(Order, name=_l('Orders'), endpoint='orders', category=_l('Orders')))
    admin.add_view(ImportView(name=_l('Import orders (CSV)'), endpoint='order_import',
                              category=_l('Orders')))
    admin.add_view(BuyerView(Buyer, name=_l('Buyers'), endpoint='buyers', category=people))
    rules = _l('Rules')
    admin.add_view(CategoryView(Category, name=_l('Complaint categories'), endpoint='categories', category=rules))
    admin.add_view(RuleClauseView(RuleClause, name=_l('Rule clauses'), endpoint='clauses', category=rules))
    admin.add_view(ApiKeyView(ApiKey, name=_l('API keys'), endpoint='api_keys', category=_l('Settings')))
    integration.register(admin)
