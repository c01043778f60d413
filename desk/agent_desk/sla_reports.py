"""What the supervisors' SLA board reads: the breaches and warnings open now, each case's
clocks, and per-agent SLA compliance over a period.

Compliance comes from the recorded `SlaEvent`s, not from due dates: a target counts as met
on time when its `achieved` event belongs to a clock that was never breached, and as missed
when a `breached` event was recorded. Both are attributed to the owner recorded on the event
(the owner at that moment), so a later reassignment does not move past results.
"""
import datetime as dt

from flask_babel import gettext as _
from peewee import fn

from desk.agent_desk.models import TARGETS, SlaClock, SlaEvent
from desk.agent_desk.sla import WARN_BEFORE
from desk.cases.models import Complaint
from desk.core import clock
from desk.core.errors import Invalid
from desk.core.times import to_local, zone
from desk.parties.models import DEPARTMENTS, User

MAX_PERIOD_DAYS = 366
DEFAULT_PERIOD_DAYS = 7
ALERTS_LIMIT = 500


# --- the period ---------------------------------------------------------------------------

def default_period(now=None):
    """(first day, last day) of the last seven local calendar days, today included."""
    today = to_local(now or clock.now()).date()
    return today - dt.timedelta(days=DEFAULT_PERIOD_DAYS - 1), today


def period_bounds(first_day, last_day):
    """Local calendar days [first_day, last_day] -> naive UTC [start, end)."""
    if last_day < first_day:
        raise Invalid(_('The period ends before it starts.'), fields={'to': _('must not be before from')})
    if (last_day - first_day).days >= MAX_PERIOD_DAYS:
        raise Invalid(_('Choose a period of at most %(n)d days.', n=MAX_PERIOD_DAYS),
                      fields={'from': _('at most %(n)d days before to', n=MAX_PERIOD_DAYS)})

    def utc(day):
        local = dt.datetime.combine(day, dt.time(), tzinfo=zone())
        return local.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return utc(first_day), utc(last_day + dt.timedelta(days=1))


def _check_department(department):
    if department and department not in DEPARTMENTS:
        raise Invalid(_('Choose a department.'),
                      fields={'department': _('one of %(d)s', d=', '.join(DEPARTMENTS))})


# --- compliance ---------------------------------------------------------------------------

def compliance(first_day, last_day, department=None):
    """Per-agent SLA results for events in the local days [first_day, last_day].

    One row per owner (None = nobody owned the case when the event happened), sorted by
    department and name: counts per target of targets met on time and breached, totals,
    and `rate` = on time / (on time + breached) in percent (None without any result).
    """
    _check_department(department)
    start, end = period_bounds(first_day, last_day)
    breach = SlaEvent.alias()
    # An `achieved` event after a breach of the same clock run (same complaint, target and
    # due time: a breached clock's due time never moves) is a late result, not a success.
    breached_before = (breach
                       .select(breach.id)
                       .where((breach.complaint == SlaEvent.complaint) &
                              (breach.target == SlaEvent.target) &
                              (breach.kind == 'breached') &
                              (breach.due_at == SlaEvent.due_at)))
    query = (SlaEvent
             .select(SlaEvent.owner, SlaEvent.target, SlaEvent.kind, fn.COUNT(SlaEvent.id).alias('n'))
             .where(SlaEvent.kind.in_(('achieved', 'breached')) &
                    (SlaEvent.at >= start) & (SlaEvent.at < end))
             .where((SlaEvent.kind == 'breached') | ~fn.EXISTS(breached_before))
             .group_by(SlaEvent.owner, SlaEvent.target, SlaEvent.kind))
    if department:
        query = query.where(SlaEvent.department == department)

    rows = {}
    for item in query.dicts():
        owner_id = item['owner']
        row = rows.setdefault(owner_id, _empty_row(owner_id))
        outcome = 'on_time' if item['kind'] == 'achieved' else 'breached'
        row[f'{item["target"]}_{outcome}'] = row.get(f'{item["target"]}_{outcome}', 0) + item['n']
        row[outcome] += item['n']
    owners = {u.id: u for u in User.select().where(User.id.in_([k for k in rows if k is not None]))} if rows else {}
    for owner_id, row in rows.items():
        user = owners.get(owner_id)
        if user is not None:
            row.update(username=user.username, name=user.display_name, department=user.department)
        row['total'] = row['on_time'] + row['breached']
        row['rate'] = round(100.0 * row['on_time'] / row['total'], 1) if row['total'] else None
    return sorted(rows.values(), key=lambda r: (r['owner_id'] is None, r['department'] or '', r['name'] or ''))


def _empty_row(owner_id):
    row = {'owner_id': owner_id, 'username': None, 'name': None, 'department': None,
           'on_time': 0, 'breached': 0}
    for target in TARGETS:
        row[f'{target}_on_time'] = row[f'{target}_breached'] = 0
    return row


def totals(rows):
    """The sum of `compliance` rows, with the overall rate."""
    total = _empty_row(None)
    for row in rows:
        for key in total:
            if key.endswith('on_time') or key.endswith('breached'):
                total[key] += row[key]
    total['total'] = total['on_time'] + total['breached']
    total['rate'] = round(100.0 * total['on_time'] / total['total'], 1) if total['total'] else None
    return total


# --- now ------------------------------------------------------------------------------------

def alerts_now(department=None, now=None):
    """Open SLA clocks that are breached or warned (due within 15 minutes), now.

    Returns {'items': [...], 'by_department': {dept: {'breached', 'warned'}},
    'by_agent': [{'owner', 'breached', 'warned', 'items'}]}; items are most urgent first.
    Read through the complaint's indexed queue columns: overdue cases have `queue_rank` 0,
    warned ones an `sla_check_at` (their due time) within the warning window.
    """
    _check_department(department)
    now = now or clock.now()
    candidates = (Complaint
                  .select(Complaint.id)
                  .where((Complaint.in_queue == True) &  # noqa: E712
                         ((Complaint.queue_rank == 0) | (Complaint.sla_check_at <= now + WARN_BEFORE))))
    if department:
        candidates = candidates.where(Complaint.department == department)
    clocks = (SlaClock
              .select(SlaClock, Complaint)
              .join(Complaint)
              .where(SlaClock.complaint.in_(candidates) &
                     (((SlaClock.state == 'breached') & SlaClock.finished_at.is_null()) |
                      ((SlaClock.state == 'running') & (SlaClock.warned == True))))  # noqa: E712
              .order_by(SlaClock.due_at, SlaClock.id)
              .limit(ALERTS_LIMIT))
    items = []
    for c in clocks:
        case = c.complaint
        items.append({'ticket_no': case.ticket_no, 'department': case.department, 'tier': case.tier,
                      'state': case.state, 'owner_id': case.owner_id, 'target': c.target,
                      'alert': 'breached' if c.state == 'breached' else 'warned', 'due_at': c.due_at})
    owners = {u.id: u for u in User.select().where(User.id.in_({i['owner_id'] for i in items if i['owner_id']}))} \
        if any(i['owner_id'] for i in items) else {}
    by_department = {d: {'breached': 0, 'warned': 0} for d in ([department] if department else DEPARTMENTS)}
    by_agent = {}
    for item in items:
        item['owner'] = owners.get(item['owner_id'])
        by_department.setdefault(item['department'], {'breached': 0, 'warned': 0})[item['alert']] += 1
        agent = by_agent.setdefault(item['owner_id'], {'owner': item['owner'], 'breached': 0, 'warned': 0, 'items': []})
        agent[item['alert']] += 1
        agent['items'].append(item)
    agents = sorted(by_agent.values(), key=lambda a: (a['owner'] is None, -a['breached'], -a['warned'],
                                                      a['owner'].username if a['owner'] else ''))
    return {'items': items, 'by_department': by_department, 'by_agent': agents}


def case_clocks(complaint):
    """The SLA clocks of one case, first response first."""
    clocks = list(SlaClock.select().where(SlaClock.complaint == complaint.id))
    return sorted(clocks, key=lambda c: TARGETS.index(c.target) if c.target in TARGETS else len(TARGETS))
