"""Console pages of merchant penalties (SPEC §7) other than the standing figures:

Backoffice (/admin/)
- the rule table (`ViolationRule`: points, fine, descriptions, active) and the level table
  (`StandingLevel`: thresholds ascending, durations), admin-editable;
- the violation list (filters: merchant, code, state) with the supervisors' "record a manual
  violation" form;
- the supervisors' queue of penalty appeals with the violation, its rule, the complaint, the
  merchant's reason and evidence, and the uphold/revoke form;
- the partial `admin/merchants/_penalties.html` (violations, ledger statement, top-up form)
  for the merchant page, fed by the `merchant_penalties(merchant)` template global.

Merchant console (/merchant/standing, "我的信誉")
- level and restrictions with their end times, active points, each violation with its rule,
  complaint, expiry and an appeal form (reason + files) or the appeal's state; the deposit
  statement and balance; the health figures' partial.

Views only check the role and call the services (`arbitration.penalties.penalty_appeals`,
`arbitration.penalties.manual_violations`, `arbitration.penalties.deposit`), which check every object.
"""
import uuid

from flask import abort, flash, redirect, request, url_for
from flask_admin import BaseView, expose
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from peewee import JOIN
from wtforms import IntegerField, StringField
from wtforms.validators import NumberRange, Optional

from arbitration.penalties import deposit, penalty_appeals, standing
from arbitration.penalties.manual_violations import record_manual
from arbitration.penalties.models import (
    APPEAL_STATES,
    VIOLATION_STATES,
    AppealEvidence,
    StandingLevel,
    Violation,
    ViolationAppeal,
    ViolationRule,
)
from desk.cases.models import Complaint
from desk.core import clock
from desk.core.errors import DomainError, Invalid
from desk.core.money import parse_yuan, to_yuan
from desk.parties.models import STAFF_ROLES, Merchant
from web.auth import is_safe_next
from web.consoles.access import AdminOnly, MerchantOnly, RoleAccess
from web.consoles.agent_desk import flash_error
from web.consoles.base import DeskModelView, parse_id, tab_of
from web.evidence import send_item
from web.i18n import current_language

PAGE_SIZE = 50
SUPERVISORS = penalty_appeals.SUPERVISORS
RESTRICTION_LABELS = {'search_demotion': _l('Warning and search demotion'),
                      'no_new_listings': _l('No new listings'),
                      'shop_suspended': _l('Shop suspended'),
                      'cleared': _l('Cleared from the marketplace (清退)')}
LEVEL_LABELS = {0: _l('Normal'), 1: _l('Warning'), 2: _l('No new listings'), 3: _l('Suspended'),
                4: _l('Cleared')}
STATE_LABELS = {'active': _l('active'), 'expired': _l('expired'), 'revoked': _l('revoked')}
APPEAL_LABELS = {'open': _l('appeal pending'), 'upheld': _l('appeal not accepted'),
                 'revoked': _l('appeal accepted: revoked')}
KIND_LABELS = {'top_up': _l('Top-up'), 'fine': _l('Fine'), 'fine_refund': _l('Refund of a revoked fine')}


def rule_descriptions():
    """code -> the rule's description in the page's language."""
    field = 'description_en' if current_language() == 'en' else 'description_zh'
    return {r.code: getattr(r, field) for r in ViolationRule.select()}


def penalty_data(merchant_id, limit=200):
    """What the merchant page's partial and "my standing" list: the violations (newest
    first, each with `appeal` and `ticket_no`), the ledger statement and the balance."""
    rows = list(Violation
                .select(Violation, Complaint.ticket_no)
                .join(Complaint, on=(Violation.complaint == Complaint.id), join_type=JOIN.LEFT_OUTER)
                .where(Violation.merchant == merchant_id)
                .order_by(Violation.at.desc(), Violation.id.desc())
                .limit(limit)
                .objects())
    appeals = {a.violation_id: a for a in
               ViolationAppeal.select().where(ViolationAppeal.violation.in_([v.id for v in rows] or [0]))}
    for v in rows:
        v.appeal = appeals.get(v.id)
        v.ticket = getattr(v, 'ticket_no', None)
        v.appeal_due = penalty_appeals.appeal_deadline(v)
    return {'violations': rows, 'entries': deposit.statement(merchant_id),
            'balance': deposit.balance_of(merchant_id), 'rules': rule_descriptions(),
            'state_labels': STATE_LABELS, 'appeal_labels': APPEAL_LABELS, 'kind_labels': KIND_LABELS,
            'now': clock.now()}


def merchant_penalties(merchant):
    """Template global for admin/merchants/_penalties.html."""
    data = penalty_data(merchant.id)
    data['top_up_key'] = uuid.uuid4().hex
    data['may_top_up'] = current_user.is_authenticated and current_user.role in deposit.TOP_UP_ROLES
    return data


# --- rule and level tables (admins) --------------------------------------------------------------

class ViolationRuleView(AdminOnly, DeskModelView):
    """The rule table: what each automatic code and `manual` cost. Editing a rule changes the
    violations recorded afterwards, never the ones already recorded."""
    can_create = can_delete = False
    column_list = ('code', 'description_zh', 'description_en', 'points', 'fine_fen', 'automatic', 'active',
                   'updated_at')
    column_labels = {'code': _l('Code'), 'description_zh': _l('Chinese description'),
                     'description_en': _l('English description'), 'points': _l('Points'),
                     'fine_fen': _l('Fine'), 'automatic': _l('Automatic'), 'active': _l('Active'),
                     'updated_at': _l('Updated')}
    column_formatters = {'fine_fen': lambda v, c, m, n: '¥' + to_yuan(m.fine_fen)}
    form_columns = ('description_zh', 'description_en', 'points', 'active')
    form_args = {'points': {'validators': [NumberRange(min=0, max=100)]}}
    form_extra_fields = {'fine': StringField(_l('Fine (yuan, e.g. 500.00)'))}

    def on_form_prefill(self, form, id):
        form.fine.data = to_yuan(self.get_one(id).fine_fen)

    def on_model_change(self, form, model, is_created):
        if model.points is None or model.points < 0:
            raise ValueError(_('Points are zero or more.'))
        try:
            model.fine_fen = parse_yuan(form.fine.data or '0', 'fine')
        except Invalid as err:
            raise ValueError(_('The fine: %(m)s', m='; '.join(err.fields.values()) or err.message)) from None
        model.updated_at = clock.now()


class StandingLevelView(AdminOnly, DeskModelView):
    """The level table: the active points at which each level starts (ascending) and how long
    its restriction lasts (empty: as long as the level holds)."""
    can_create = can_delete = False
    column_list = ('level', 'code', 'min_points', 'restriction', 'duration_seconds')
    column_labels = {'level': _l('Level'), 'code': _l('Code'), 'min_points': _l('From points'),
                     'restriction': _l('Restriction'), 'duration_seconds': _l('Duration (days)')}
    column_formatters = {
        'restriction': lambda v, c, m, n: RESTRICTION_LABELS.get(m.restriction, m.restriction),
        'duration_seconds': lambda v, c, m, n: '—' if m.duration_seconds is None else f'{m.duration_seconds / 86400:g}'}
    column_default_sort = 'level'
    form_columns = ('min_points',)
    form_args = {'min_points': {'validators': [NumberRange(min=1, max=10000)]}}
    form_extra_fields = {'duration_days': IntegerField(_l('Duration in days (empty: while the level holds)'),
                                                       validators=[Optional(), NumberRange(min=1, max=3650)])}

    def on_form_prefill(self, form, id):
        seconds = self.get_one(id).duration_seconds
        form.duration_days.data = None if seconds is None else seconds // 86400

    def on_model_change(self, form, model, is_created):
        if model.min_points is None or model.min_points < 1:
            raise ValueError(_('A level starts at 1 point or more.'))
        for other in StandingLevel.select().where(StandingLevel.id != model.id):
            if (other.level < model.level and other.min_points >= model.min_points) or \
                    (other.level > model.level and other.min_points <= model.min_points):
                raise ValueError(_('Thresholds rise with the level: level %(l)s starts at %(p)s points.',
                                   l=other.level, p=other.min_points))
        days = form.duration_days.data
        model.duration_seconds = None if days is None else days * 86400


# --- violations (staff; manual violations by supervisors) ----------------------------------------

class ViolationsView(RoleAccess, BaseView):
    allowed_roles = STAFF_ROLES

    @expose('/')
    def index(self):
        args = request.args
        query = (Violation
                 .select(Violation, Merchant, Complaint.ticket_no)
                 .join(Merchant, on=(Violation.merchant == Merchant.id))
                 .switch(Violation)
                 .join(Complaint, on=(Violation.complaint == Complaint.id), join_type=JOIN.LEFT_OUTER))
        merchant_ref = (args.get('merchant') or '').strip()
        code = args.get('code') or ''
        state = args.get('state') or ''
        if merchant_ref:
            query = query.where(Merchant.ref == merchant_ref)
        if code:
            query = query.where(Violation.code == code)
        if state in VIOLATION_STATES:
            query = query.where(Violation.state == state)
        page = max(1, args.get('page', 1, type=int) or 1)
        rows = list(query
                    .order_by(Violation.at.desc(), Violation.id.desc())
                    .offset((page - 1) * PAGE_SIZE)
                    .limit(PAGE_SIZE + 1)
                    .objects())
        return self.render('admin/penalties/violations.html', rows=rows[:PAGE_SIZE], more=len(rows) > PAGE_SIZE,
                           page=page, merchant_ref=merchant_ref, code=code, state=state,
                           codes=[r.code for r in ViolationRule.select().order_by(ViolationRule.code)],
                           states=VIOLATION_STATES, state_labels=STATE_LABELS, rules=rule_descriptions(),
                           may_record=current_user.role in SUPERVISORS, form=request.form)

    @expose('/manual', methods=['POST'])
    def manual(self):
        form = request.form
        merchant = Merchant.get_or_none(Merchant.ref == (form.get('merchant') or '').strip())
        try:
            if merchant is None:
                raise Invalid(_('No merchant %(ref)s.', ref=form.get('merchant') or ''),
                              fields={'merchant': _('unknown merchant')})
            points = _int(form.get('points'), 'points')
            fine = parse_yuan(form.get('fine') or '0', 'fine')
            violation = record_manual(current_user, merchant, points, fine, form.get('reason'),
                                      form.get('ticket_no') or None)
        except DomainError as err:
            flash_error(err)
            return redirect(url_for('.index', merchant=form.get('merchant') or None))
        flash(_('Violation %(id)s was recorded against %(m)s.', id=violation.id, m=merchant.name), 'success')
        return redirect(url_for('.index', merchant=merchant.ref))


def _int(raw, field):
    try:
        return int(str(raw).strip())
    except (TypeError, ValueError):
        raise Invalid(_('%(f)s must be a whole number.', f=field), fields={field: _('must be a whole number')}) from None


# --- appeal queue (supervisors) ------------------------------------------------------------------

class AppealQueueView(RoleAccess, BaseView):
    allowed_roles = SUPERVISORS

    @expose('/')
    def index(self):
        state = tab_of(request.args, APPEAL_STATES)
        appeals = list(ViolationAppeal
                       .select(ViolationAppeal, Violation, Merchant)
                       .join(Violation, on=(ViolationAppeal.violation == Violation.id))
                       .switch(ViolationAppeal)
                       .join(Merchant, on=(ViolationAppeal.merchant == Merchant.id))
                       .where(ViolationAppeal.state == state)
                       .order_by(ViolationAppeal.created_at if state == 'open' else ViolationAppeal.decided_at.desc(),
                                 ViolationAppeal.id)
                       .limit(200))
        ids = [a.id for a in appeals] or [0]
        evidence = {}
        for item in AppealEvidence.select().where(AppealEvidence.appeal.in_(ids)).order_by(AppealEvidence.id):
            evidence.setdefault(item.appeal_id, []).append(item)
        complaints = {c.id: c.ticket_no for c in Complaint.select(Complaint.id, Complaint.ticket_no).where(
            Complaint.id.in_([a.violation.complaint_id for a in appeals if a.violation.complaint_id] or [0]))}
        return self.render('admin/penalties/appeals.html', appeals=appeals, evidence=evidence, complaints=complaints,
                           rules=rule_descriptions(), state=state, states=APPEAL_STATES,
                           appeal_labels=APPEAL_LABELS, deadline=penalty_appeals.appeal_deadline)

    @expose('/<int:appeal_id>', methods=['POST'])
    def decide(self, appeal_id):
        try:
            row = penalty_appeals.decide(current_user, appeal_id, request.form.get('decision'), request.form.get('note'))
        except DomainError as err:
            flash_error(err)
        else:
            flash(_('Appeal %(id)s: %(s)s.', id=row.id, s=APPEAL_LABELS[row.state]), 'success')
        return redirect(url_for('.index'))

    @expose('/evidence/<int:item_id>')
    def evidence(self, item_id):
        return _send_appeal_evidence(item_id, current_user)


def _send_appeal_evidence(item_id, user):
    item = AppealEvidence.get_or_none(AppealEvidence.id == item_id) if parse_id(item_id) else None
    if item is None:
        abort(404)
    try:
        penalty_appeals.get_appeal(user, item.appeal_id)  # merchant staff: their own only (404)
    except DomainError:
        abort(404)
    item.sha256 = item.blob_id
    return send_item(item, user, inline=request.args.get('inline') == '1')


# --- deposit top-up from the merchant page (admins, supervisors) ------------------------------------

class DepositView(RoleAccess, BaseView):
    allowed_roles = deposit.TOP_UP_ROLES

    def is_visible(self):
        return False

    @expose('/')
    def index(self):
        return redirect(url_for('violations.index'))

    @expose('/<int:merchant_id>/top-up', methods=['POST'])
    def top_up(self, merchant_id):
        merchant = Merchant.get_or_none(Merchant.id == merchant_id) if parse_id(merchant_id) else None
        if merchant is None:
            abort(404)
        try:
            amount = parse_yuan(request.form.get('amount'), 'amount', allow_zero=False)
            entry, created = deposit.top_up(current_user, merchant, amount, request.form.get('note'),
                                            request.form.get('key') or None)
        except DomainError as err:
            flash_error(err)
        else:
            if created:
                flash(_('%(a)s credited to the deposit of %(m)s; balance %(b)s.', a='¥' + to_yuan(entry.amount_fen),
                        m=merchant.name, b=deposit.signed_yuan(entry.balance_after_fen)), 'success')
            else:
                flash(_('This top-up was already recorded (entry %(id)s).', id=entry.id), 'info')
        target = request.form.get('next') or ''
        return redirect(target if target and is_safe_next(target) else url_for('violations.index', merchant=merchant.ref))


def register(admin):
    rules = _l('Rules')
    penalties = _l('Penalties')
    admin.add_view(ViolationRuleView(ViolationRule, name=_l('Violation rules'), endpoint='violation_rules',
                                     url='violation-rules', category=rules))
    admin.add_view(StandingLevelView(StandingLevel, name=_l('Standing levels'), endpoint='standing_levels',
                                     url='standing-levels', category=rules))
    admin.add_view(ViolationsView(name=_l('Violations'), endpoint='violations', url='violations',
                                  category=penalties))
    admin.add_view(AppealQueueView(name=_l('Penalty appeals'), endpoint='violation_appeals',
                                   url='violation-appeals', category=penalties))
    admin.add_view(DepositView(name=_l('Deposit'), endpoint='deposit', url='deposit'))


# --- merchant console: my standing ------------------------------------------------------------------

class MyStandingView(MerchantOnly, BaseView):
    """/merchant/standing: the merchant's own standing, violations, appeals and deposit."""

    @expose('/')
    def index(self):
        merchant_id = current_user.merchant_id
        row = standing.standing_of(merchant_id)
        level = StandingLevel.get_or_none(StandingLevel.level == row.level) if row.level else None
        data = penalty_data(merchant_id)
        return self.render('merchant/standing.html', standing=row, level=level, merchant=Merchant.get_by_id(merchant_id),
                           level_labels=LEVEL_LABELS, restriction_labels=RESTRICTION_LABELS,
                           max_files=penalty_appeals.MAX_FILES, **data)

    @expose('/appeal/<int:violation_id>', methods=['POST'])
    def appeal(self, violation_id):
        files = [(f.filename, f.stream) for f in request.files.getlist('files') if f and f.filename]
        try:
            penalty_appeals.appeal(current_user, violation_id, request.form.get('reason'), files)
        except DomainError as err:
            if err.status == 404:
                abort(404)
            flash_error(err)
        else:
            flash(_('Your appeal of violation %(id)s was sent; a supervisor will decide it.', id=violation_id),
                  'success')
        return redirect(url_for('.index'))

    @expose('/evidence/<int:item_id>')
    def evidence(self, item_id):
        return _send_appeal_evidence(item_id, current_user)


def register_merchant(admin):
    admin.add_view(MyStandingView(name=_l('My standing'), endpoint='merchant_standing', url='standing'))


def init_app(app):
    app.jinja_env.globals['merchant_penalties'] = merchant_penalties
