"""Backoffice pages of SPEC §6: the supervisors' review queue, the leaderboard (sortable,
period and department filters, CSV), the per-agent page with server-rendered SVG trend charts
(pygal; readable without JavaScript) and the agent's rated cases, "my performance" (an agent
sees only their own), the composite score's weights (admin), and the merchant console's
satisfaction on agreement-resolved cases. Every figure is read from the rollup
(`desk.satisfaction.metrics`), never aggregated from the raw tables here.
"""
import csv
import datetime as dt
import io
import json
import re

import pygal
from flask import Response, abort, flash, redirect, request, url_for
from flask_admin import BaseView, expose
from flask_admin.contrib.peewee import ModelView
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup

from desk.cases.access import AGENT_ROLES
from desk.cases.models import Complaint
from desk.cases.transitions import take_action
from desk.core import clock
from desk.core.errors import DomainError, Invalid
from desk.core.labels import finding_label, review_action_label, review_state_label
from desk.parties.models import DEPARTMENTS, User
from desk.satisfaction import metrics
from desk.satisfaction.models import FINDINGS, REVIEW_ACTIONS, REVIEW_STATES, MetricWeights, Rating, Review
from desk.satisfaction.ratings import agent_record
from web.consoles.access import AdminOnly, MerchantOnly, RoleAccess
from web.consoles.agent_desk import flash_error
from web.consoles.base import tab_of

SORTS = ('score', 'handled', 'csat_avg', 'csat_pct', 'dissatisfied_pct', 'fcr', 'first_response_sla',
         'resolution_sla', 'median_handle_seconds', 'reopen_rate', 'overturn_rate', 'username')
PERIODS = ('day', 'week', 'month', '90d', 'custom')
PAGE_SIZE = 50  # leaderboard rows per page (sorted over all agents; the CSV has them all)
SUPERVISORS = ('supervisor', 'admin')


def _day(raw, field):
    try:
        return dt.date.fromisoformat(raw)
    except (TypeError, ValueError):
        raise Invalid(_('Dates look like 2026-11-24.'), fields={field: _('a date like 2026-11-24')}) from None


def parse_period(args):
    """(name, start, end) from ?period=&from=&to= (from/to given: custom)."""
    name = args.get('period') or '90d'
    if args.get('from') or args.get('to'):
        name = 'custom'
    if name not in PERIODS:
        raise Invalid(_('Unknown period.'), fields={'period': _('one of %(c)s', c=', '.join(PERIODS))})
    if name == 'custom':
        start, end = _day(args.get('from'), 'from'), _day(args.get('to'), 'to')
        if end < start:
            raise Invalid(_('The period ends before it starts.'), fields={'to': _('on or after from')})
        if (end - start).days > 3660:
            raise Invalid(_('At most ten years at once.'), fields={'from': _('too far back')})
        return name, start, end
    start, end = metrics.period(name)
    return name, start, end


def pct(value):
    return '—' if value is None else f'{100 * value:.1f} %'


def duration(seconds):
    if seconds is None:
        return '—'
    minutes = int(seconds // 60)
    return f'{minutes // 60} h {minutes % 60:02d} min' if minutes >= 60 else f'{minutes} min'


def _csv_cell(value):
    text = '' if value is None else str(value)
    return "'" + text if text[:1] in ('=', '+', '-', '@') else text


def chart(title, points, keys, percent=True):
    """A pygal line chart as inline SVG (no JavaScript needed to read it)."""
    config = pygal.Config(show_legend=True, legend_at_bottom=True, height=260, width=720, show_dots=False,
                          js=[], disable_xml_declaration=True, explicit_size=True,
                          x_label_rotation=30, include_x_axis=True, style=pygal.style.LightStyle,
                          print_values=False, no_data_text=_('No data in this period'))
    line = pygal.Line(config, title=title)
    line.x_labels = [start.isoformat() for start, _f in points]
    for key, label in keys:
        values = [f[key] for _s, f in points]
        if percent:
            values = [None if v is None else round(100 * v, 1) for v in values]
        line.add(str(label), values)
    svg = re.sub(r'<script\b.*?</script>', '', line.render(is_unicode=True), flags=re.S)  # static: no JS
    return Markup(svg)


class SupervisorsOnly(RoleAccess):
    allowed_roles = SUPERVISORS


class AgentsAndSupervisors(RoleAccess):
    allowed_roles = AGENT_ROLES + SUPERVISORS


# --- review queue ------------------------------------------------------------------------------

class ReviewQueueView(SupervisorsOnly, BaseView):
    """Open reviews of dissatisfied ratings: overdue first, then by due time."""

    @expose('/')
    def index(self):
        state = tab_of(request.args, REVIEW_STATES)
        now = clock.now()
        reviews = list(Review
                       .select(Review, Rating, Complaint)
                       .join(Rating, on=(Review.rating == Rating.id))
                       .switch(Review)
                       .join(Complaint, on=(Review.complaint == Complaint.id))
                       .where(Review.state == state)
                       .order_by(Review.due_at if state == 'open' else Review.reviewed_at.desc(), Review.id)
                       .limit(200))
        agents = {u.id: u for u in User.select().where(User.id.in_([r.agent_id for r in reviews if r.agent_id]))}
        records = {a: agent_record(a, 5) for a in agents}
        return self.render('admin/ratings/reviews.html', reviews=reviews, agents=agents, records=records,
                           state=state, tabs=review_state_label.choices(REVIEW_STATES), now=now,
                           findings=finding_label.choices(FINDINGS),
                           actions=review_action_label.choices(REVIEW_ACTIONS), json=json)

    @expose('/<int:review_id>', methods=['POST'])
    def decide(self, review_id):
        item = Review.get_or_none(Review.id == review_id)
        if item is None:
            abort(404)
        complaint = Complaint.get_by_id(item.complaint_id)
        data = {'finding': request.form.get('finding') or None, 'actions': request.form.getlist('actions'),
                'note': request.form.get('note') or '', 'amount': request.form.get('amount') or None,
                'to': request.form.get('to') or None}
        try:
            take_action(current_user, complaint, 'review', data)
        except DomainError as err:
            flash_error(err)
        else:
            flash(_('The review of %(t)s was recorded.', t=complaint.ticket_no), 'success')
        return redirect(url_for('.index'))


# --- leaderboard and agent pages ------------------------------------------------------------------

def _period_or_default(view_args):
    try:
        return parse_period(view_args), None
    except Invalid as err:
        flash_error(err)
        name = '90d'
        start, end = metrics.period(name)
        return (name, start, end), 422


class LeaderboardView(SupervisorsOnly, BaseView):
    @expose('/')
    def index(self):
        (name, start, end), status = _period_or_default(request.args)
        department = request.args.get('department') or None
        if department not in (None,) + tuple(DEPARTMENTS):
            department, status = None, 422
        sort = request.args.get('sort') if request.args.get('sort') in SORTS else 'score'
        descending = request.args.get('dir', 'desc') != 'asc'
        export = request.args.get('format') == 'csv' and status is None
        board = metrics.leaderboard(start, end, department, sort, descending, medians=export)
        if export:
            return self._csv(board, start, end, department)
        pages = max(1, -(-len(board) // PAGE_SIZE))
        page = min(max(1, request.args.get('page', 1, type=int) or 1), pages)
        shown = board[(page - 1) * PAGE_SIZE:page * PAGE_SIZE]
        if sort != 'median_handle_seconds':
            metrics.add_medians(shown, start, end, department)
        return self.render('admin/ratings/leaderboard.html', board=shown, first_rank=(page - 1) * PAGE_SIZE,
                           page=page, pages=pages, total=len(board), period=name, start=start, end=end,
                           department=department, departments=DEPARTMENTS, sort=sort, descending=descending,
                           periods=PERIODS, pct=pct, duration=duration), status or 200

    def _csv(self, board, start, end, department):
        out = io.StringIO()
        out.write('\ufeff')
        writer = csv.writer(out)
        writer.writerow(['rank', 'username', 'name', 'department', 'handled', 'csat_avg', 'csat_pct',
                         'dissatisfied_pct', 'fcr', 'first_response_sla', 'resolution_sla',
                         'median_handle_seconds', 'reopen_rate', 'overturn_rate', 'score'])
        for rank, r in enumerate(board, 1):
            writer.writerow([rank, _csv_cell(r['username']), _csv_cell(r['name']), r['department'] or '',
                             r['handled']] + ['' if r[k] is None else r[k] for k in (
                                 'csat_avg', 'csat_pct', 'dissatisfied_pct', 'fcr', 'first_response_sla',
                                 'resolution_sla', 'median_handle_seconds', 'reopen_rate',
                                 'overturn_rate', 'score')])
        name = f'leaderboard-{start.isoformat()}-{end.isoformat()}{"-" + department if department else ""}.csv'
        return Response(out.getvalue(), mimetype='text/csv; charset=utf-8',
                        headers={'Content-Disposition': f'attachment; filename="{name}"'})


def render_agent(view, agent, own):
    (name, start, end), status = _period_or_default(request.args)
    step = request.args.get('step') if request.args.get('step') in ('day', 'week', 'month') else 'week'
    figures, points = metrics.agent_page(agent.id, start, end, step)
    charts = [
        chart(_('Score'), points, [('score', _('Score'))], percent=False),
        chart(_('Quality (%)'), points, [('csat_pct', _('CSAT 4–5 stars')),
                                          ('dissatisfied_pct', _('Dissatisfied 1–2 stars')),
                                          ('fcr', _('First-contact resolution')),
                                          ('sla', _('SLA compliance'))]),
    ]
    rated = list(Rating
                 .select(Rating, Complaint.ticket_no)
                 .join(Complaint)
                 .where(Rating.agent == agent.id)
                 .order_by(Rating.rated_at.desc())
                 .limit(50))
    coaching = list(Review
                    .select(Review, Complaint.ticket_no)
                    .join(Complaint, on=(Review.complaint == Complaint.id))
                    .where((Review.agent == agent.id) & Review.coach_note.is_null(False))
                    .order_by(Review.reviewed_at.desc())
                    .limit(20))
    return view.render('admin/ratings/agent.html', agent=agent, own=own, figures=figures, charts=charts,
                       rated=rated, coaching=coaching, period=name, start=start, end=end, step=step,
                       periods=PERIODS, pct=pct, duration=duration, json=json), status or 200


class AgentMetricsView(AgentsAndSupervisors, BaseView):
    """/admin/agent-metrics/<id>: supervisors see anyone, an agent only themself (403)."""

    def is_visible(self):
        return False

    @expose('/')
    def index(self):
        return redirect(url_for('my_performance.index'))

    @expose('/<int:agent_id>')
    def agent(self, agent_id):
        if current_user.role not in SUPERVISORS and current_user.id != agent_id:
            abort(403)
        agent = User.get_or_none((User.id == agent_id) & User.role.in_(AGENT_ROLES))
        if agent is None:
            abort(404)
        return render_agent(self, agent, own=current_user.id == agent_id)


class MyPerformanceView(RoleAccess, BaseView):
    allowed_roles = AGENT_ROLES

    @expose('/')
    def index(self):
        return render_agent(self, current_user._get_current_object(), own=True)


class WeightsView(AdminOnly, ModelView):
    can_delete = False
    column_list = ('csat', 'fcr', 'sla', 'not_overturned', 'updated_at')
    form_columns = ('csat', 'fcr', 'sla', 'not_overturned')
    column_labels = {'csat': _l('CSAT weight'), 'fcr': _l('FCR weight'), 'sla': _l('SLA weight'),
                     'not_overturned': _l('Not-overturned weight')}

    def on_model_change(self, form, model, is_created):
        values = [model.csat, model.fcr, model.sla, model.not_overturned]
        if any(v is None or v < 0 for v in values) or not sum(values):
            raise ValueError(_('Weights are zero or more and not all zero.'))
        model.updated_at = clock.now()


def register(admin):
    admin.add_view(ReviewQueueView(name=_l('Rating reviews'), endpoint='reviews', url='reviews'))
    admin.add_view(LeaderboardView(name=_l('Leaderboard'), endpoint='leaderboard', url='leaderboard'))
    admin.add_view(AgentMetricsView(name=_l('Agent metrics'), endpoint='agent_metrics', url='agent-metrics'))
    admin.add_view(MyPerformanceView(name=_l('My performance'), endpoint='my_performance', url='my-performance'))
    admin.add_view(WeightsView(MetricWeights, name=_l('Score weights'), endpoint='metric_weights',
                               url='metric-weights'))


class MerchantSatisfactionView(MerchantOnly, BaseView):
    """The merchant's satisfaction on cases settled by agreement (no agent)."""

    @expose('/')
    def index(self):
        (name, start, end), status = _period_or_default(request.args)
        figures = metrics.merchant_figures(current_user.merchant_id, start, end)
        rated = list(Rating
                     .select(Rating, Complaint.ticket_no)
                     .join(Complaint)
                     .where((Rating.merchant == current_user.merchant_id) & Rating.agent.is_null())
                     .order_by(Rating.rated_at.desc())
                     .limit(100))
        return self.render('admin/ratings/merchant.html', figures=figures, rated=rated, period=name,
                           start=start, end=end, periods=PERIODS, pct=pct, json=json), status or 200


def register_merchant(admin):
    admin.add_view(MerchantSatisfactionView(name=_l('Satisfaction'), endpoint='merchant_satisfaction',
                                            url='satisfaction'))
