"""The lifecycle kernel: the checks before an action and the one writer of a complaint's state.

- `check` maps the lifecycle table (`desk.cases.lifecycle`) to 404/403/409 for an actor, with
  the guards the areas registered in `GUARDS`; `allowed_actions` lists what an actor may do now.
- `take_action` dispatches an action by name to the service an area registered in `ACTIONS`
  (filled by `desk.init_app` and `arbitration.init_app`, never at import).
- `transition` (one case) and `transition_many` (a batch of deadlines) are the only functions
  that write `Complaint.state`. The service names the action and the target; the kernel
  refuses a target the table does not list for that action from the case's state (a
  programming error, `LifecycleError`), keeps `in_queue` in step with the state, and writes
  with a compare-and-set on the version the service read, so a concurrent change answers 409.
  `save` is the same compare-and-set for changes that keep the state.
"""
from flask_babel import gettext as _

from desk.cases import lifecycle
from desk.cases.access import relations
from desk.cases.models import Complaint
from desk.core import clock
from desk.core.db import update_each
from desk.core.errors import Conflict, Forbidden, NotFound
from desk.core.labels import action_label, state_label

#: action -> service(actor, complaint, data): what `take_action` calls.
ACTIONS = {}
#: guard name (the table's `guard`) -> check(complaint, user, now): None when the action may
#: go ahead, else the reason it may not now (409); a check may raise a harder error itself.
GUARDS = {}
#: Functions (complaints) -> None that load, for a whole listed page at once, what a guard
#: reads (set as attributes on each complaint), so listing the allowed actions of a page costs
#: one query per guard, not one per row; registered beside the guard.
GUARD_PREFETCH = []


class LifecycleError(RuntimeError):
    """A service asked for a move the lifecycle table does not list: a bug, never user input."""


def check(complaint, user, action, now):
    """Raise the error the lifecycle table gives for `user` taking `action` now.

    404 unknown action, 403 an action this user may never take on this case (timers
    included), 409 not now (state, not yet available, a guard such as a closed window).
    """
    if action not in lifecycle.ACTIONS or action == 'file':
        raise NotFound(_('There is no action %(a)s.', a=action))
    if action in lifecycle.TIMER_ACTIONS:
        raise Forbidden(_('%(a)s happens only when its timer runs out.', a=action_label(action)))
    mine = relations(complaint, user)
    if not mine & lifecycle.actors_of(action):
        raise Forbidden(_('You may not %(a)s this complaint.', a=action_label(action)))
    transition_row = lifecycle.row(complaint.state, action)
    if transition_row is None:
        raise Conflict(_('A complaint that is %(s)s cannot %(a)s.', s=state_label(complaint.state, 'message'),
                         a=action_label(action)))
    if not mine & set(transition_row.actors):
        raise Forbidden(_('You may not %(a)s this complaint now.', a=action_label(action)))
    if not transition_row.built:
        raise Conflict(_('The action %(a)s is not available yet.', a=action_label(action)))
    if transition_row.guard in GUARDS:
        reason = GUARDS[transition_row.guard](complaint, user, now)
        if reason:
            raise Conflict(reason)
    return transition_row


def allowed_actions(complaint, user, now=None):
    """The actions `user` may take on `complaint` now, straight from the lifecycle table."""
    now = now or clock.now()
    mine = relations(complaint, user)
    allowed = []
    for action in lifecycle.ACTIONS:
        if action == 'file' or action in lifecycle.TIMER_ACTIONS:
            continue
        transition_row = lifecycle.row(complaint.state, action)
        if transition_row is None or not transition_row.built or not mine & set(transition_row.actors):
            continue  # check() would refuse: skip it without building its translated message
        try:
            check(complaint, user, action, now)
        except (Conflict, Forbidden, NotFound):
            continue
        allowed.append(action)
    return allowed


def prefetch_guards(complaints):
    """Load what the guards read for a page of complaints (`GUARD_PREFETCH`)."""
    for prefetch in GUARD_PREFETCH:
        prefetch(complaints)


def add_guard_prefetch(prefetch):
    if prefetch not in GUARD_PREFETCH:
        GUARD_PREFETCH.append(prefetch)


def take_action(actor, complaint, action, data):
    """Dispatch a lifecycle action by name (the API's POST …/actions/<action>)."""
    handler = ACTIONS.get(action)
    if handler is None:
        check(complaint, actor, action, clock.now())  # raises 404/403/409 as the table says
        raise Conflict(_('The action %(a)s is not available yet.', a=action_label(action)))
    return handler(actor, complaint, data)


def changed_meanwhile():
    """The 409 of a compare-and-set that lost: someone changed the complaint meanwhile."""
    return Conflict(_('The complaint was changed by someone else meanwhile; reload and try again.'))


def ensure_unchanged(complaint):
    """Raise `changed_meanwhile` when the complaint's version moved since it was read."""
    if Complaint.select(Complaint.version).where(Complaint.id == complaint.id).scalar() != complaint.version:
        raise changed_meanwhile()


def target(state, action, to=None):
    """The state `action` moves a case in `state` to: `to`, or (None) the state it is in.
    Raises `LifecycleError` when the table lists no such move."""
    transition_row = lifecycle.row(state, action)
    goal = state if to is None else to
    if transition_row is None or goal not in transition_row.targets:
        raise LifecycleError(f'the lifecycle table has no {action!r} from {state!r} to {goal!r}')
    return goal


def transition(complaint, action, to=None, *, where=None, conflict=None, **changes):
    """Apply `action` to `complaint`: move it to `to` (None: it stays where it is) and write
    `changes`, with a compare-and-set on the version read (and on `where`, extra conditions
    the caller read, e.g. "still without an owner"). A lost race raises `conflict` (default:
    `changed_meanwhile()`)."""
    goal = target(complaint.state, action, to)
    if goal != complaint.state:
        changes['state'] = goal
    _write(complaint, changes, where, conflict)


def save(complaint, **changes):
    """The compare-and-set of changes that keep the state (an edit, a deadline moved)."""
    if 'state' in changes:
        raise LifecycleError('a state is changed by transition(), never by save()')
    _write(complaint, changes, None, None)


def _write(complaint, changes, where, conflict):
    expected = complaint.version
    changes['version'] = expected + 1
    changes['updated_at'] = clock.now()
    if 'state' in changes:
        changes['in_queue'] = lifecycle.in_queue(changes['state'])
    condition = (Complaint.id == complaint.id) & (Complaint.version == expected)
    if where is not None:
        condition &= where
    if not Complaint.update(**changes).where(condition).execute():
        raise conflict if conflict is not None else changed_meanwhile()
    for key, value in changes.items():
        setattr(complaint, key, value)


def transition_many(complaints, action, targets, columns, condition):
    """The compare-and-set of a batch of deadlines: ONE UPDATE applies `action` to every row
    of `complaints`, moving each to `targets[id]` (None or absent: it stays) and writing
    `columns` ({complaint id: {column: value}}, what the transition and the building blocks it
    called decided), with a new version, where `condition` — (SQL, params), the state and
    deadline the batch read — still holds.

    The caller holds the rows' locks (`desk.core.deadlines` takes them), so a row a human
    changed first never got here and every row matches; should one not, `Conflict` rolls the
    whole batch back and the machinery applies its rows one by one. A human action waiting on
    the lock then finds the version moved and answers 409, as with `transition`.
    """
    stamp = clock.now()
    for complaint in complaints:
        changes = columns.setdefault(complaint.id, {})
        if 'state' in changes:
            raise LifecycleError('a batch names its targets; its columns never hold a state')
        goal = target(complaint.state, action, targets.get(complaint.id))
        if goal != complaint.state:
            changes['state'] = goal
            changes['in_queue'] = lifecycle.in_queue(goal)
        changes['updated_at'] = stamp
    if update_each(Complaint, columns, condition=condition, increment='version') != len(columns):
        raise changed_meanwhile()
    for complaint in complaints:
        complaint.version += 1
        for key, value in columns[complaint.id].items():
            setattr(complaint, key, value)
