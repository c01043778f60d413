"""The agent desk in the staff backoffice: the department queue, my cases, the case
workspace, the SLA board, filing for a buyer on the phone, and the agent's status.

Views check the role (RoleAccess), parse the input, call the service and render. Which case
a user may see or act on, and whether an action is allowed now, is decided by the services
(`case_access.get_visible`, `transitions.take_action`, `queue.queue_department` …); their
domain errors are flashed, or shown as the error page they name (404 for a case the user
may not see).
"""
import csv
import datetime as dt
import io
import json

from flask import Response, abort, flash, redirect, request, url_for
from flask_admin import BaseView, expose
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import StringField, TextAreaField

from desk.agent_desk import assignment, queue, sla_reports
from desk.cases.access import AGENT_ROLES, can_see, get_visible, is_staff_view
from desk.cases.complaints import FACTS_MAX, MESSAGE_MAX, STAFF_FILERS, file_complaint, post_message
from desk.cases.models import EXTERNAL, FAR_FUTURE, TIERS, Category, RuleClause
from desk.cases.timeline import events_for
from desk.cases.transitions import allowed_actions, take_action
from desk.core import clock
from desk.core.errors import Conflict, DomainError, Invalid, NotFound
from desk.core.labels import agent_status_label, category_label, department_label
from desk.core.masking import mask_phone
from desk.core.times import to_iso
from desk.credit import ledger as credit
from desk.parties.models import DEPARTMENTS, User
from web.auth import is_safe_next
from web.consoles.access import RoleAccess
from web.filing import FilingForm

SUPERVISOR_ROLES = ('supervisor', 'admin')
FILTER_KEYS = ('state', 'tier', 'category', 'merchant', 'owner', 'flag')
PAGE_SIZE = 50
WARN_SECONDS = 15 * 60
#: Actions the workspace has a form for; the service still decides whether each is allowed.
WORKSPACE_ACTIONS = ('claim', 'reassign', 'mark_external', 'screen_accept', 'screen_reject', 'flag_malicious')


class AgentRolesOnly(RoleAccess):
    allowed_roles = AGENT_ROLES


class SupervisorsOnly(RoleAccess):
    allowed_roles = SUPERVISOR_ROLES


class FilersOnly(RoleAccess):
    allowed_roles = STAFF_FILERS


class Hidden:
    """A view reached by links and forms, never from the menu."""

    def is_visible(self):
        return False


def flash_error(err, category='error'):
    """A domain error as one flashed line: the message, then each field's problem."""
    details = '; '.join(f'{k}: {v}' for k, v in err.fields.items())
    flash(f'{err.message} {details}'.strip(), category)


def _back(default):
    """Where a form posted from a page returns to: its `next` when same-site, else `default`."""
    target = request.form.get('next') or request.args.get('next') or ''
    return redirect(target if is_safe_next(target) else default)


def _seconds_left(due, now):
    return int((due - now).total_seconds()) if due else None


# --- queue and my cases -------------------------------------------------------------------

def _filters(args):
    return {key: args.get(key, '').strip() for key in FILTER_KEYS if args.get(key, '').strip()}


def _limit(raw):
    if raw in (None, ''):
        return PAGE_SIZE
    try:
        return int(raw)
    except ValueError:
        raise Invalid(_('The page size is out of range.'), fields={'limit': _('1 to %(n)d', n=queue.PAGE_MAX)}) from None


def _queue_rows(rows, now):
    """What each row of a queue page shows beside the complaint itself."""
    owners = {u.id: u for u in User.select().where(User.id.in_({r.owner_id for r in rows if r.owner_id}))} \
        if any(r.owner_id for r in rows) else {}
    items = []
    for row in rows:
        target, due = queue.next_target(row)
        # every open clock paused: no running target orders the row (see sla.refresh)
        paused = due is not None and row.next_due_at >= FAR_FUTURE
        items.append({'case': row, 'owner': owners.get(row.owner_id), 'target': target, 'due': due,
                      'due_iso': to_iso(due), 'seconds_left': _seconds_left(due, now), 'paused': paused,
                      'overdue': row.queue_rank == 0})
    return items


def _render_queue(view, base, department=None, mine=False):
    """One page of `base` in queue order with the filters of the request."""
    now = clock.now()
    filters = _filters(request.args)
    cursor = request.args.get('cursor') or None
    status, rows, next_cursor, matching = 200, [], None, None
    try:
        rows, next_cursor = queue.page(base, filters, cursor, _limit(request.args.get('limit')))
        if filters:
            matching = queue.counts(queue.filtered(base, filters))['all']
    except Invalid as err:
        flash_error(err)
        status = 422
    categories = Category.select().order_by(Category.position)
    if department:
        categories = categories.where(Category.department == department)
    args = {k: v for k, v in request.args.items() if k not in ('cursor',)}
    return view.render('admin/desk/queue.html', mine=mine, department=department, filters=filters,
                       rows=_queue_rows(rows, now), next_cursor=next_cursor, cursor=cursor,
                       counts=queue.counts(base), matching=matching, args=args,
                       categories=[(c.code, category_label(c)) for c in categories],
                       category_names=Category.names(),
                       states=queue.QUEUE_FILTER_STATES, tiers=TIERS, flags=queue.FLAGS,
                       departments=DEPARTMENTS, now_iso=to_iso(now), warn_seconds=WARN_SECONDS,
                       can_pick_department=current_user.role not in AGENT_ROLES), status


class QueueView(RoleAccess, BaseView):
    """The department queue: agents their own department, supervisors and admins any."""

    @expose('/')
    def index(self):
        default = current_user.department if current_user.department in DEPARTMENTS else DEPARTMENTS[0]
        wanted = request.args.get('department') or (None if current_user.role in AGENT_ROLES else default)
        department = queue.queue_department(current_user, wanted)
        return _render_queue(self, queue.base_query(department), department=department)

    @expose('/claim/<ticket_no>', methods=['POST'])
    def claim(self, ticket_no):
        case = get_visible(current_user, ticket_no)
        try:
            take_action(current_user, case, 'claim', {})
        except DomainError as err:
            flash_error(err)
        else:
            flash(_('You now own %(t)s.', t=case.ticket_no), 'success')
        return _back(url_for('.index'))


class MyCasesView(AgentRolesOnly, BaseView):
    """The open cases the agent owns, in queue order."""

    @expose('/')
    def index(self):
        return _render_queue(self, queue.base_query(owner=current_user), mine=True)


# --- the case workspace ---------------------------------------------------------------------

def _reassign_choices(case):
    agents = (User
              .select()
              .where(User.role.in_(AGENT_ROLES) & (User.active == True))  # noqa: E712
              .order_by(User.department, User.username))
    senior = _('senior')
    return [(a.username, f'{a.display_name} ({a.username}) · {department_label(a.department)}'
             + (f' · {senior}' if a.role == 'senior_agent' else ''))
            for a in agents if a.id != case.owner_id]


def _action_data(action, form):
    """The service payload of a workspace action form."""
    if action == 'reassign':
        return {'to': form.get('to', ''), 'reason': form.get('reason', '')}
    if action == 'mark_external':
        return {'external': form.getlist('external')}
    if action in ('screen_reject', 'flag_malicious'):
        return {'reason': form.get('reason', '')}
    return {}


class CaseView(Hidden, RoleAccess, BaseView):
    """One case as staff see it: order, complaint, full timeline, SLA clocks, actions."""

    @expose('/')
    def index(self):
        ticket_no = (request.args.get('ticket_no') or '').strip()
        if ticket_no:
            return redirect(url_for('.case', ticket_no=ticket_no))
        return redirect(url_for('queue.index'))

    @expose('/<ticket_no>')
    def case(self, ticket_no):
        case = get_visible(current_user, ticket_no)
        now = clock.now()
        order = case.order
        clause = RuleClause.get_or_none(RuleClause.code == case.basis) if case.basis else None
        actions = allowed_actions(case, current_user, now)
        clocks = [{'clock': c, 'due_iso': to_iso(c.due_at), 'seconds_left': _seconds_left(c.due_at, now)}
                  for c in sla_reports.case_clocks(case)]
        owner = User.get_or_none(User.id == case.owner_id) if case.owner_id else None
        return self.render(
            'admin/desk/case.html', case=case, order=order, buyer=order.buyer,
            buyer_phone=mask_phone(order.buyer.phone), merchant=order.merchant, owner=owner,
            category=Category.name_of(case.category), clause=clause, scenario=json.loads(case.scenario or '{}'),
            events=list(events_for(case, include_internal=is_staff_view(current_user))),
            actions=actions, clocks=clocks, now_iso=to_iso(now), warn_seconds=WARN_SECONDS,
            reassign_choices=_reassign_choices(case) if 'reassign' in actions else [],
            external=EXTERNAL, message_max=MESSAGE_MAX, buyer_credit=credit.staff_panel(current_user, case))

    @expose('/<ticket_no>/message', methods=['POST'])
    def message(self, ticket_no):
        case = get_visible(current_user, ticket_no)
        internal = request.form.get('internal') == '1'
        try:
            post_message(current_user, case, {'body': request.form.get('body', ''), 'internal': internal})
        except DomainError as err:
            flash_error(err)
        else:
            flash(_('Internal note saved.') if internal else _('Reply sent to the buyer and the merchant.'),
                  'success')
        return redirect(url_for('.case', ticket_no=case.ticket_no))

    @expose('/<ticket_no>/act/<action>', methods=['POST'])
    def act(self, ticket_no, action):
        case = get_visible(current_user, ticket_no)
        if action not in WORKSPACE_ACTIONS:
            abort(404)
        try:
            take_action(current_user, case, action, _action_data(action, request.form))
        except DomainError as err:
            flash_error(err)
        else:
            flash({'claim': _('You now own %(t)s.', t=case.ticket_no),
                   'reassign': _('%(t)s was reassigned.', t=case.ticket_no),
                   'mark_external': _('Marked as also filed externally; the case gets priority.'),
                   'screen_accept': _('%(t)s was accepted and takes its normal path.', t=case.ticket_no),
                   'screen_reject': _('%(t)s was not accepted; the buyer has been told why.', t=case.ticket_no),
                   'flag_malicious': _('%(t)s was flagged as malicious.', t=case.ticket_no),
                   }[action], 'success')
        return _back(url_for('.case', ticket_no=case.ticket_no))


# --- the SLA board -----------------------------------------------------------------------------

def _parse_day(raw, field):
    try:
        return dt.date.fromisoformat(raw)
    except (TypeError, ValueError):
        raise Invalid(_('Dates look like 2026-11-24.'), fields={field: _('a date like 2026-11-24')}) from None


def _csv_cell(value):
    """No cell may start a spreadsheet formula."""
    text = '' if value is None else str(value)
    return "'" + text if text[:1] in ('=', '+', '-', '@') else text


class SlaBoardView(SupervisorsOnly, BaseView):
    """Breaches and warnings now, and per-agent SLA compliance over a period (CSV too)."""

    @expose('/')
    def index(self):
        department = request.args.get('department') or None
        first, last = sla_reports.default_period()
        status = 200
        try:
            if request.args.get('from'):
                first = _parse_day(request.args['from'], 'from')
            if request.args.get('to'):
                last = _parse_day(request.args['to'], 'to')
            rows = sla_reports.compliance(first, last, department)
            alerts = sla_reports.alerts_now(department)
        except Invalid as err:
            flash_error(err)
            department, status = None, 422
            first, last = sla_reports.default_period()
            rows = sla_reports.compliance(first, last)
            alerts = sla_reports.alerts_now()
        if request.args.get('format') == 'csv' and status == 200:
            return self._csv(rows, first, last, department)
        now = clock.now()
        for item in alerts['items']:
            item.update(due_iso=to_iso(item['due_at']), seconds_left=_seconds_left(item['due_at'], now))
        return self.render('admin/desk/sla.html', alerts=alerts, rows=rows, total=sla_reports.totals(rows),
                           first=first, last=last, department=department, departments=DEPARTMENTS,
                           now_iso=to_iso(now), warn_seconds=WARN_SECONDS), status

    def _csv(self, rows, first, last, department):
        out = io.StringIO()
        out.write('\ufeff')  # Excel opens UTF-8 with a BOM as UTF-8 (Chinese names)
        writer = csv.writer(out)
        writer.writerow([_('Agent'), _('Username'), _('Department'),
                         _('First response on time'), _('First response breached'),
                         _('Resolution on time'), _('Resolution breached'),
                         _('On time'), _('Breached'), _('Compliance %')])
        for r in rows:
            writer.writerow([_csv_cell(r['name'] or _('Unassigned')), _csv_cell(r['username'] or ''),
                             r['department'] or '', r['first_response_on_time'], r['first_response_breached'],
                             r['resolution_on_time'], r['resolution_breached'], r['on_time'], r['breached'],
                             '' if r['rate'] is None else f'{r["rate"]:.1f}'])
        name = f'sla-compliance-{first.isoformat()}-{last.isoformat()}{"-" + department if department else ""}.csv'
        return Response(out.getvalue(), mimetype='text/csv; charset=utf-8',
                        headers={'Content-Disposition': f'attachment; filename="{name}"'})


# --- filing for a buyer on the phone -------------------------------------------------------------

class PhoneFilingForm(FilingForm):
    """An agent files for a buyer on the phone: the shared fields, the order, and the reason to
    open the complaint after its window."""
    order_no = StringField(_l('Order number'))
    override_reason = TextAreaField(_l('Reason to open it after the complaint window closed (optional)'))


class FileForBuyerView(FilersOnly, BaseView):
    """An agent files a complaint for a buyer on the phone (channel `phone`)."""

    @expose('/', methods=['GET', 'POST'])
    def index(self):
        form = PhoneFilingForm()
        form.offer_choices()
        status = 200
        if form.validate_on_submit():
            data = form.filing_data('phone') | {'order_no': form.order_no.data or '',
                                                'override_reason': form.override_reason.data or None}
            data['evidence'], uploads = form.evidence_given()
            try:
                complaint = file_complaint(current_user, data, default_channel='phone', uploads=uploads)
            except Conflict as err:
                flash_error(err)
                if _visible(err.extra.get('ticket_no')):
                    return redirect(url_for('case.case', ticket_no=err.extra['ticket_no']))
                status = 409
            except (Invalid, NotFound) as err:
                if isinstance(err, NotFound):
                    form.order_no.errors = list(form.order_no.errors or []) + [err.message]
                form.put_errors(err)
                flash(err.message, 'error')
                status = err.status
            except DomainError as err:
                flash_error(err)
                status = err.status
            else:
                flash(_('Complaint %(t)s filed for the buyer (phone).', t=complaint.ticket_no), 'success')
                if can_see(complaint, current_user):
                    return redirect(url_for('case.case', ticket_no=complaint.ticket_no))
                flash(_('It went to the queue of %(d)s.', d=department_label(complaint.department)), 'info')
                return redirect(url_for('.index'))
        return self.render('admin/desk/file_for_buyer.html', form=form, facts_max=FACTS_MAX), status


def _visible(ticket_no):
    """Whether the current user may open the workspace of `ticket_no`."""
    if not ticket_no:
        return False
    try:
        get_visible(current_user, ticket_no)
    except NotFound:
        return False
    return True


# --- the agent's status (header) ------------------------------------------------------------------

class AgentStatusView(Hidden, AgentRolesOnly, BaseView):
    """The header's online / away / offline select posts here."""

    @expose('/', methods=['GET', 'POST'])
    def index(self):
        if request.method == 'POST':
            try:
                assignment.set_status(current_user, request.form.get('status'))
            except DomainError as err:
                flash_error(err)
            else:
                flash(_('Your status is now: %(s)s.', s=agent_status_label(current_user.status, 'message')),
                      'success')
        return _back(url_for('queue.index'))


def register(admin):
    admin.add_view(QueueView(name=_l('Queue'), endpoint='queue', url='queue'))
    admin.add_view(MyCasesView(name=_l('My cases'), endpoint='my_cases', url='my-cases'))
    admin.add_view(FileForBuyerView(name=_l('File for a buyer'), endpoint='file_for_buyer', url='file-for-buyer'))
    admin.add_view(SlaBoardView(name=_l('SLA board'), endpoint='sla', url='sla'))
    admin.add_view(CaseView(name=_l('Case'), endpoint='case', url='case'))
    admin.add_view(AgentStatusView(name=_l('My status'), endpoint='agent_status', url='agent-status'))
