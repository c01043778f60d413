"""Who handles a platform case: claiming, automatic assignment, reassignment, agent status.

The first owner stays responsible (首问负责制) until a supervisor reassigns, with a reason
on the record. Each department hands out cases by its own mode: `manual` (agents claim),
`round_robin` (the next online agent under capacity, in turn) or `least_loaded` (the online
agent under capacity holding the fewest open cases). L1 cases and senior-only categories go
to senior agents; offline and away agents are never assigned anything.
"""
from flask_babel import gettext as _

from desk.agent_desk import sla
from desk.agent_desk.models import DepartmentSetting
from desk.cases import lifecycle, transitions
from desk.cases.access import AGENT_ROLES, buyer_users
from desk.cases.models import Category, Complaint
from desk.cases.timeline import record
from desk.cases.transitions import check, transition
from desk.core import clock
from desk.core.db import atomic, is_sqlite
from desk.core.errors import Conflict, Forbidden, Invalid, NotFound
from desk.core.text_input import required_text
from desk.messaging.notifications import notify
from desk.parties.models import AGENT_STATUSES, User

#: Called as hook(complaint, now) when an agent takes a dispute (it goes in_arbitration),
#: inside the claiming transaction; the dispute side opens the evidence period here.
ARBITRATION_STARTS = []
#: Functions (complaint) -> set of user ids who may not take the case (registered by the
#: dispute side: the first arbiter of an appealed case). Claiming refuses them (403) and
#: automatic assignment skips them.
EXCLUDED_FROM = []
#: A reassignment's reason, like every other reason on a case.
REASON_MAX = 2000


def on_arbitration(hook):
    """Run `hook(complaint, now)` when an agent takes a dispute (in the same transaction)."""
    if hook not in ARBITRATION_STARTS:
        ARBITRATION_STARTS.append(hook)


def exclude(hook):
    """Bar the users `hook(complaint)` returns from taking a case."""
    if hook not in EXCLUDED_FROM:
        EXCLUDED_FROM.append(hook)


def excluded(complaint):
    return set().union(*(hook(complaint) for hook in EXCLUDED_FROM)) if EXCLUDED_FROM else set()


def needs_senior(complaint):
    if complaint.tier == 'L1' or complaint.state == lifecycle.APPEALED:
        return True
    category = Category.get_or_none(Category.code == complaint.category)
    return bool(category and category.senior_only)


def open_load(agent_id):
    """How many open cases the agent holds (index: owner, in_queue)."""
    return (Complaint
            .select()
            .where((Complaint.owner == agent_id) & (Complaint.in_queue == True))  # noqa: E712
            .count())


def _guard_capacity(complaint, user, now):
    if needs_senior(complaint) and user.role != 'senior_agent':
        return _('This case needs a senior agent (tier %(t)s or a senior-only category).', t=complaint.tier)
    load = open_load(user.id)
    if load >= user.capacity:
        return _('You already hold %(n)d open cases, your capacity is %(c)d.', n=load, c=user.capacity)
    return None


def _guard_appeal_claim(complaint, user, now):
    """A senior agent takes an appeal nobody holds yet; never the first arbiter (403)."""
    if user.id in excluded(complaint):
        raise Forbidden(_('You made the ruling under appeal: a different senior agent decides it.'))
    if complaint.owner_id is not None and complaint.owner_id != user.id:
        return _('Another senior agent already holds this appeal.')
    if complaint.owner_id == user.id:
        return _('You already hold this appeal.')
    return _guard_capacity(complaint, user, now)


def _take(complaint, agent, now, event_kind, actor, reason=None):
    """Make `agent` the owner of a waiting case (compare-and-set on version and state)."""
    appeal = complaint.state == lifecycle.APPEALED
    state = lifecycle.APPEALED if appeal else lifecycle.worked_state(complaint.path)
    if agent.id in excluded(complaint):
        raise Forbidden(_('You made the ruling under appeal: a different senior agent decides it.'))
    # Lock the agent's row so two claims (or auto-assignments) for one agent queue up and the
    # second sees the first's load: capacity holds under concurrency too.
    if not is_sqlite():
        User.select(User.id).where(User.id == agent.id).for_update().execute()
    load = open_load(agent.id)
    if load >= agent.capacity:
        raise Conflict(_('You already hold %(n)d open cases, your capacity is %(c)d.', n=load, c=agent.capacity))
    changes = dict(owner=agent.id, assigned_at=now)
    if not appeal:
        changes['first_response_at'] = now
    where = Complaint.state == complaint.state
    if appeal:
        where &= Complaint.owner.is_null()
    transition(complaint, 'claim', state, where=where, conflict=Conflict(_('Another agent took this case first.')),
               **changes)
    if not appeal:
        sla.achieve(complaint, 'first_response', now)
    record(complaint, actor, event_kind, {'owner': agent.username, 'agent': agent.display_name,
                                          'state': state, 'reason': reason},
           actor_role=actor.role if actor else 'system')
    notify('complaint_claimed', buyer_users(complaint),
           {'ticket': complaint.ticket_no, 'agent': agent.display_name}, complaint)
    if state == lifecycle.IN_ARBITRATION and not appeal:
        for hook in ARBITRATION_STARTS:
            hook(complaint, now)


def claim(actor, complaint, data=None):
    """An agent takes a waiting case from their queue."""
    now = clock.now()
    check(complaint, actor, 'claim', now)
    with atomic():
        _take(complaint, actor, now, 'claimed', actor)
    return complaint


def reassign(actor, complaint, data):
    """A supervisor moves a case to another agent, with the reason on the record."""
    now = clock.now()
    check(complaint, actor, 'reassign', now)
    data = data or {}
    reason = required_text(data, 'reason', REASON_MAX, missing=_('Say why the case is reassigned.'))
    agent = User.get_or_none((User.username == str(data.get('to') or '')) & (User.active == True))  # noqa: E712
    if agent is None or agent.role not in AGENT_ROLES:
        raise Invalid(_('Reassign to an active agent.'), fields={'to': _('unknown agent')})
    if agent.id == complaint.owner_id:
        raise Conflict(_('%(a)s already owns this case.', a=agent.username))
    if needs_senior(complaint) and agent.role != 'senior_agent':
        raise Invalid(_('This case needs a senior agent.'), fields={'to': _('not a senior agent')})
    with atomic():
        before = complaint.owner_id
        changes = {'owner': agent.id, 'department': agent.department, 'assigned_at': now}
        to = None
        if complaint.state == lifecycle.PENDING_AGENT:
            to = lifecycle.worked_state(complaint.path)
            changes['first_response_at'] = now
        transition(complaint, 'reassign', to, **changes)
        if 'first_response_at' in changes:
            sla.achieve(complaint, 'first_response', now)
            if complaint.state == lifecycle.IN_ARBITRATION:
                for hook in ARBITRATION_STARTS:
                    hook(complaint, now)
        previous = User.get_or_none(User.id == before) if before else None
        record(complaint, actor, 'reassigned', {'from': previous.username if previous else None,
                                                'to': agent.username, 'reason': reason}, public=False)
        notify('complaint_assigned', [agent.id],
               {'ticket': complaint.ticket_no, 'category': complaint.category, 'tier': complaint.tier,
                'reason': reason}, complaint)
    return complaint


def set_status(actor, status):
    """An agent sets their own status; going online may hand them waiting cases."""
    if actor.role not in AGENT_ROLES:
        raise Forbidden(_('Only agents have a status.'))
    if status not in AGENT_STATUSES:
        raise Invalid(_('Status must be one of %(s)s.', s=', '.join(AGENT_STATUSES)),
                      fields={'status': _('one of %(s)s', s=', '.join(AGENT_STATUSES))})
    with atomic():
        User.update(status=status).where(User.id == actor.id).execute()
        actor.status = status
    if status == 'online':
        assign_waiting(actor.department)
    return actor


def candidates(department, senior_only):
    """Online, active agents of `department` under their capacity, lightest load first."""
    roles = ('senior_agent',) if senior_only else AGENT_ROLES
    agents = list(User
                  .select()
                  .where((User.department == department) & User.role.in_(roles) &
                         (User.status == 'online') & (User.active == True))  # noqa: E712
                  .order_by(User.id))
    loads = {a.id: open_load(a.id) for a in agents}
    return [a for a in agents if loads[a.id] < a.capacity], loads


def pick_agent(complaint):
    """The agent the department's mode gives `complaint` to, or None (manual / nobody free)."""
    setting = DepartmentSetting.get_or_none(DepartmentSetting.department == complaint.department)
    mode = setting.mode if setting else 'manual'
    if mode == 'manual':
        return None
    free, loads = candidates(complaint.department, needs_senior(complaint))
    barred = excluded(complaint)
    free = [a for a in free if a.id not in barred]
    if not free:
        return None
    if mode == 'least_loaded':
        return min(free, key=lambda a: (loads[a.id], a.id))
    last = setting.last_assigned_id or 0
    after = [a for a in free if a.id > last]
    return (after or free)[0]


def auto_assign(complaint_id):
    """Give a waiting case to an agent if its department assigns automatically."""
    complaint = Complaint.get_or_none(Complaint.id == complaint_id)
    if complaint is None or complaint.state not in lifecycle.WAITING or (
            complaint.state == lifecycle.APPEALED and complaint.owner_id is not None):
        return None
    agent = pick_agent(complaint)
    if agent is None:
        return None
    now = clock.now()
    try:
        with atomic():
            _take(complaint, agent, now, 'assigned', None)
            (DepartmentSetting
             .update(last_assigned_id=agent.id)
             .where(DepartmentSetting.department == complaint.department)
             .execute())
            notify('complaint_assigned', [agent.id],
                   {'ticket': complaint.ticket_no, 'category': complaint.category,
                    'tier': complaint.tier, 'reason': ''}, complaint)
    except Conflict:
        return None
    return agent


def assign_waiting(department=None, limit=200):
    """Hand out waiting cases in queue order while agents are free (periodic and on-online)."""
    settings = DepartmentSetting.select().where(DepartmentSetting.mode != 'manual')
    if department:
        settings = settings.where(DepartmentSetting.department == department)
    assigned = 0
    for setting in settings:
        waiting = (Complaint
                   .select(Complaint.id)
                   .where((Complaint.department == setting.department) & (Complaint.in_queue == True) &  # noqa: E712
                          ((Complaint.state == lifecycle.PENDING_AGENT) |
                           ((Complaint.state == lifecycle.APPEALED) & Complaint.owner.is_null())))
                   .order_by(Complaint.queue_rank, Complaint.tier, Complaint.next_due_at, Complaint.id)
                   .limit(limit))
        for row in waiting:
            assigned += auto_assign(row.id) is not None
    return assigned


def find_agent(username):
    agent = User.get_or_none(User.username == username)
    if agent is None or agent.role not in AGENT_ROLES:
        raise NotFound(_('No agent %(u)s.', u=username))
    return agent


def init_app(app):
    transitions.GUARDS.update({'capacity': _guard_capacity, 'appeal_claim': _guard_appeal_claim})
    transitions.ACTIONS.update({'claim': claim, 'reassign': reassign})
