"""Merchant health in the consoles: the backoffice merchant list sorted by any health figure
(keyset pages over an index per figure, filters by level, trusted and healthy), the merchant
page (standing, health figures with pygal trend charts, the penalty panel of
`templates/admin/merchants/_penalties.html` when present), the policy (admin), and the
`health_panel(merchant)` template global behind `templates/merchant/_health.html`, which the
merchant console's standing page includes with only `merchant` in its context.

Views parse input and call `arbitration.health.merchant_health`; the merchant a user may read is
decided there (`visible_merchant`: merchant staff only their own, 404 otherwise).
"""
import json
import re

import pygal
from flask import flash, redirect, request, url_for
from flask_admin import BaseView, expose
from flask_admin.contrib.peewee import ModelView
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup

from arbitration.health import merchant_health
from arbitration.health.models import SORT_COLUMNS, MerchantHealthPolicy
from arbitration.penalties import spike, standing
from arbitration.penalties.models import Violation
from desk.core import clock
from desk.core.errors import Invalid, NotFound
from desk.core.labels import standing_level_label
from desk.core.tasks import enqueue
from desk.parties.models import Merchant
from web.consoles.access import AdminOnly, RoleAccess
from web.consoles.ratings import duration

SUPERVISORS = ('supervisor', 'admin')
HEALTHY_FILTERS = ('yes', 'no', 'unknown')


class SupervisorsOnly(RoleAccess):
    allowed_roles = SUPERVISORS


def pct(value, digits=1):
    return '—' if value is None else f'{100 * value:.{digits}f} %'


def level_labels():
    """Level number -> its name (the level table's codes, SPEC §7)."""
    return {0: standing_level_label('normal')} | {row.level: standing_level_label(row.code)
                                                  for row in standing.levels()}


def sort_labels():
    return {'complaint_rate': _('Complaints per 100 orders'), 'answered_rate': _('Answered within 24 h'),
            'median_response_seconds': _('Median response time'), 'loss_rate': _('Arbitration loss rate'),
            'defect_rate': _('Defect rate'), 'level': _('Level'), 'active_points': _('Active points'),
            'trusted': _('Trusted'), 'orders': _('Orders')}


def figure_lines(row):
    """(key, label, shown value, explanation) for each figure of a MerchantHealth row."""
    rate = '—' if row.complaint_rate is None else f'{row.complaint_rate:.2f}'
    return [
        ('orders', _('Orders'), str(row.orders), ''),
        ('complaint_rate', _('Complaints per 100 orders'), rate,
         _('%(n)s valid complaints', n=row.complaints)),
        ('answered_rate', _('Answered within 24 h'), pct(row.answered_rate),
         _('%(n)s of %(m)s', n=row.answered_in_time, m=row.answerable)),
        ('median_response_seconds', _('Median response time'), duration(row.median_response_seconds), ''),
        ('loss_rate', _('Arbitration loss rate'), pct(row.loss_rate),
         _('%(n)s of %(m)s rulings', n=row.rulings_lost, m=row.rulings)),
        ('defect_rate', _('Defect rate'), pct(row.defect_rate, 2),
         _('%(n)s defects', n=row.defects)),
    ]


def line_chart(title, points, key, label, percent=True):
    """A pygal line of one daily figure as inline SVG (no JavaScript), a date label a week."""
    config = pygal.Config(show_legend=False, height=240, width=720, show_dots=False, js=[],
                          disable_xml_declaration=True, explicit_size=True, x_label_rotation=30,
                          include_x_axis=True, style=pygal.style.LightStyle, show_minor_x_labels=False,
                          x_labels_major_every=7, truncate_label=-1,
                          no_data_text=_('No data in this period'))
    line = pygal.Line(config, title=title)
    line.x_labels = [day.isoformat() for day, _f in points]
    values = [f[key] for _d, f in points]
    if percent:
        values = [None if v is None else round(100 * v, 2) for v in values]
    line.add(str(label), values)
    svg = re.sub(r'<script\b.*?</script>', '', line.render(is_unicode=True), flags=re.S)
    return Markup(svg)


def charts(merchant_id, days=merchant_health.TREND_DAYS):
    points = merchant_health.trend(merchant_id, days)
    return [
        line_chart(_('Defect rate (%%), last %(n)s days', n=days), points, 'defect_rate', _('Defect rate')),
        line_chart(_('Complaints per 100 orders, last %(n)s days', n=days), points, 'complaint_rate',
                   _('Complaints per 100 orders'), percent=False),
        line_chart(_('Answered within 24 h (%%), last %(n)s days', n=days), points, 'answered_rate',
                   _('Answered within 24 h')),
    ]


def health_panel(merchant):
    """What `templates/merchant/_health.html` shows for `merchant` (a Merchant or its id):
    the figures and trend charts — only to the merchant's own staff and to staff (404 else)."""
    merchant_id = merchant if isinstance(merchant, int) else merchant.id
    merchant_health.visible_merchant(current_user, merchant_id)
    row = merchant_health.health_row(merchant_id)
    rules = MerchantHealthPolicy.current()
    return {'row': row, 'lines': figure_lines(row), 'charts': charts(merchant_id),
            'healthy_below': f'{rules.healthy_defect_pct.normalize()} %',
            'trusted_below': f'{rules.trusted_defect_pct.normalize()} %',
            'trusted_max_points': rules.trusted_max_points}


def _parse_list_args(args):
    sort = args.get('sort') or 'defect_rate'
    if sort not in SORT_COLUMNS:
        raise Invalid(_('Unknown sort.'), fields={'sort': _('one of %(c)s', c=', '.join(SORT_COLUMNS))})
    descending = args.get('dir', 'desc') != 'asc'
    filters = {}
    if args.get('level'):
        try:
            filters['level'] = int(args['level'])
        except ValueError:
            raise Invalid(_('The level is a number.'), fields={'level': _('a number')}) from None
    if args.get('trusted') in ('1', '0'):
        filters['trusted'] = args['trusted'] == '1'
    if args.get('healthy'):
        if args['healthy'] not in HEALTHY_FILTERS:
            raise Invalid(_('Unknown filter.'), fields={'healthy': ', '.join(HEALTHY_FILTERS)})
        filters['healthy'] = args['healthy']
    if args.get('q'):
        filters['search'] = args['q'].strip()[:100]
    after = None
    if args.get('after'):
        after = _parse_cursor(args['after'], sort)
    return sort, descending, filters, after


def _parse_cursor(raw, sort):
    try:
        phase, value, merchant_id = json.loads(raw)
        phase, merchant_id = int(phase), int(merchant_id)
        if phase not in (0, 1) or (phase == 0 and value is None) or not 0 < merchant_id < 2 ** 31:
            raise ValueError
        if value is not None:
            value = float(value) if sort in ('complaint_rate', 'answered_rate', 'loss_rate', 'defect_rate') \
                else int(value)
            if sort == 'trusted':
                value = bool(value)
    except (TypeError, ValueError):
        raise Invalid(_('That page link is broken; start from the first page.'),
                      fields={'after': _('not a page cursor')}) from None
    return phase, value, merchant_id


class MerchantHealthView(SupervisorsOnly, BaseView):
    """The merchant list by health figure, and each merchant's page."""

    @expose('/', methods=['GET', 'POST'])
    def index(self):
        if request.method == 'POST':
            enqueue('arbitration.jobs.refresh_merchant_health')
            flash(_('The health figures of every merchant are being recomputed.'), 'success')
            return redirect(url_for('.index'))
        sort, descending, filters, after = _parse_list_args(request.args)
        rows, cursor = merchant_health.list_page(sort, descending, after, **filters)
        args = {k: v for k, v in request.args.items() if k != 'after'}
        return self.render('admin/merchants/health_list.html', rows=rows, sort=sort, descending=descending,
                           args=args, next_after=json.dumps(list(cursor)) if cursor else None,
                           labels=sort_labels(), pct=pct, duration=duration,
                           healthy_filters=HEALTHY_FILTERS, levels=level_labels())

    @expose('/<ref>', methods=['GET', 'POST'])
    def merchant(self, ref):
        merchant = Merchant.get_or_none(Merchant.ref == ref)
        if merchant is None:
            raise NotFound(_('No merchant %(ref)s.', ref=ref))
        if request.method == 'POST':
            merchant_health.refresh([merchant.id])
            flash(_('The health figures were recomputed.'), 'success')
            return redirect(url_for('.merchant', ref=ref))
        spikes = list(Violation
                      .select()
                      .where((Violation.merchant == merchant.id) & (Violation.code == spike.CODE))
                      .order_by(Violation.at.desc())
                      .limit(20))
        return self.render('admin/merchants/page.html', merchant=merchant,
                           standing=standing.standing_of(merchant.id), levels=level_labels(),
                           panel=health_panel(merchant),
                           spikes=[(v, spike.linked_complaints(v.id)) for v in spikes], now=clock.now())


class HealthPolicyView(AdminOnly, ModelView):
    """The thresholds of health, trusted badge and complaint spike (one row)."""
    can_create = can_delete = False
    column_list = ('window_days', 'healthy_defect_pct', 'trusted_defect_pct', 'trusted_max_points',
                   'trusted_min_orders', 'spike_complaints', 'spike_window_days', 'updated_at')
    form_columns = column_list[:-1]
    column_labels = {'window_days': _l('Health window (days)'),
                     'healthy_defect_pct': _l('Healthy below defect rate (%)'),
                     'trusted_defect_pct': _l('Trusted below defect rate (%)'),
                     'trusted_max_points': _l('Trusted: at most active points'),
                     'trusted_min_orders': _l('Trusted: at least orders in the window'),
                     'spike_complaints': _l('Complaint spike: valid complaints'),
                     'spike_window_days': _l('Complaint spike: within days'),
                     'updated_at': _l('Updated')}

    def on_model_change(self, form, model, is_created):
        validate_policy(model)
        model.updated_at = clock.now()

    def after_model_change(self, form, model, is_created):
        enqueue('arbitration.jobs.refresh_merchant_health')


def validate_policy(model):
    """Refuse thresholds that make no sense (Flask-Admin shows the message)."""
    checks = [
        (model.window_days is not None and 1 <= model.window_days <= 365, _('The window is 1 to 365 days.')),
        (model.healthy_defect_pct is not None and 0 < model.healthy_defect_pct <= 100,
         _('Percentages are above 0 and at most 100.')),
        (model.trusted_defect_pct is not None and 0 < model.trusted_defect_pct <= 100,
         _('Percentages are above 0 and at most 100.')),
        (model.trusted_max_points is not None and model.trusted_max_points >= 0, _('Points are 0 or more.')),
        (model.trusted_min_orders is not None and model.trusted_min_orders >= 1, _('At least one order.')),
        (model.spike_complaints is not None and model.spike_complaints >= 2,
         _('A spike is at least 2 complaints.')),
        (model.spike_window_days is not None and 1 <= model.spike_window_days <= 365,
         _('The window is 1 to 365 days.')),
    ]
    for ok, message in checks:
        if not ok:
            raise ValueError(message)


def register(admin):
    people = _l('People')
    admin.add_view(MerchantHealthView(name=_l('Merchant health'), endpoint='merchant_health',
                                      url='merchant-health', category=people))
    admin.add_view(HealthPolicyView(MerchantHealthPolicy, name=_l('Merchant health policy'),
                                    endpoint='health_policy', url='health-policy', category=_l('Rules')))
    admin.app.jinja_env.globals['health_panel'] = health_panel
