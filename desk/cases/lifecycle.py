"""The complaint lifecycle as data: one table of (state, action) -> (next states, who, guard).

This module is the one place that names a state. Services take the state they move a case to
from here (`RESOLVED`, `lifecycle.worked_state(path)`), decide with the named groups and
predicates below (`QUEUE`, `is_terminal`, …), and hand every move to the kernel
(`desk.cases.transitions.transition`), which refuses a target this table does not list for the
action. `allowed_actions` is read from the table, the API maps it to 404/403/409,
`docs/lifecycle.md` is rendered from it, and a test walks every row. Adding a state or an action
is a change to this table (plus the service that performs it).

Who may act is named by the actor's relation to the case, not by role alone:
`buyer` (the case's buyer), `merchant` (staff of the case's merchant), `owner` (the agent
who owns it), `agent` (an agent or senior agent of its department), `senior` (a senior agent
of its department), `supervisor`, `admin`, and `system` (timers; never callable from outside).
"""
from typing import NamedTuple, Optional

# --- the states (API values) -------------------------------------------------------------
SELF_SERVICE = 'self_service'
NEGOTIATING = 'negotiating'
AWAITING_BUYER = 'awaiting_buyer'
PENDING_AGENT = 'pending_agent'
IN_PROGRESS = 'in_progress'        # a platform case owned by an agent
IN_ARBITRATION = 'in_arbitration'  # a buyer-merchant dispute owned by an agent
RESOLVED = 'resolved'
APPEALED = 'appealed'
CLOSED = 'closed'
WITHDRAWN = 'withdrawn'
SCREENING = 'screening'            # waiting for the supervisors' pre-screen (buyer credit < 30)
#: Every state, in the order the API documents them.
STATES = (SELF_SERVICE, NEGOTIATING, AWAITING_BUYER, PENDING_AGENT, IN_PROGRESS, IN_ARBITRATION,
          RESOLVED, APPEALED, CLOSED, WITHDRAWN, SCREENING)

# --- named groups of states ----------------------------------------------------------------
OPEN_BEFORE_RULING = (SELF_SERVICE, NEGOTIATING, AWAITING_BUYER, PENDING_AGENT, IN_PROGRESS,
                      IN_ARBITRATION)
OPEN = OPEN_BEFORE_RULING + (RESOLVED, APPEALED)
#: Final: nothing happens to the case any more (one open complaint per order counts the rest).
TERMINAL = (CLOSED, WITHDRAWN)
#: The states a case sits in an agent queue (`Complaint.in_queue`).
QUEUE = (PENDING_AGENT, IN_PROGRESS, IN_ARBITRATION, APPEALED)
#: The states a case waits in for an owner: new platform cases, and appeals (a senior agent).
WAITING = (PENDING_AGENT, APPEALED)
#: The states an agent works a case in (owned, before its ruling).
WORKED = (IN_PROGRESS, IN_ARBITRATION)
#: Under arbitration: the first round, or the appeal a senior agent decides.
ARBITRATION = (IN_ARBITRATION, APPEALED)
#: The states whose case page links the arbitration workspace: worked, appealed, or ruled.
WORKSPACE = WORKED + (APPEALED, RESOLVED, CLOSED)
#: The buyer's progress bar: received (not yet handled by anyone), then handled, then finished.
RECEIVED = (SCREENING, SELF_SERVICE, PENDING_AGENT)
FINISHED = (RESOLVED,) + TERMINAL
#: Where a category's path starts the handling (Category.path -> state).
PATH_STARTS = {'self_service': SELF_SERVICE, 'merchant': NEGOTIATING, 'platform': PENDING_AGENT}


def worked_state(path):
    """The state an owned case is worked in: platform cases in progress, disputes in arbitration."""
    return IN_PROGRESS if path == 'platform' else IN_ARBITRATION


def is_terminal(state):
    return state in TERMINAL


def in_queue(state):
    return state in QUEUE


class Transition(NamedTuple):
    action: str
    sources: tuple          # states the action may start from ('new' for filing)
    targets: tuple          # possible next states (the first is the usual one)
    actors: tuple           # relations that may take it
    guard: Optional[str]    # name of a check in the service layer, or None
    note: str               # what the row means, for the docs
    built: bool = True      # False until the issue that implements it lands


TABLE = (
    Transition('file', ('new',), ('self_service', 'negotiating', 'pending_agent', 'screening'),
               ('buyer', 'agent', 'senior', 'supervisor'), 'complaint_window',
               'a buyer (or the integration for a buyer, or an agent on the phone) files; '
               'the category decides self-service, merchant negotiation or platform; a buyer '
               'with credit below 60 must give evidence, below 30 the case waits in screening'),
    Transition('screen_accept', ('screening',), ('negotiating', 'pending_agent', 'self_service'),
               ('supervisor',), None,
               'the supervisor pre-screen lets the complaint through: it takes the path its '
               'category gives (the merchant is told and its 24 h start, or the SLA clocks start)'),
    Transition('screen_reject', ('screening',), ('closed',), ('supervisor',), None,
               'the supervisor pre-screen refuses the complaint with a reason the buyer is told; '
               'the merchant never hears of it'),
    Transition('helped', ('self_service',), ('closed',), ('buyer',), None,
               'the knowledge-base answer solved it'),
    Transition('not_helped', ('self_service',), ('pending_agent',), ('buyer',), None,
               'the answer did not help: the case goes to an agent (L2)'),
    Transition('propose', ('negotiating',), ('awaiting_buyer',), ('merchant',), 'merchant_window',
               'the merchant answers with a refund, reissue, compensation or a reasoned rejection'),
    Transition('merchant_timeout', ('negotiating',), ('pending_agent', 'resolved'), ('system',), None,
               'no proposal by merchant_due: the platform steps in (or auto-refund when configured)'),
    Transition('accept', ('awaiting_buyer',), ('resolved',), ('buyer',), None,
               'the buyer accepts the proposal'),
    Transition('reject', ('awaiting_buyer',), ('negotiating', 'pending_agent'), ('buyer',), None,
               'the buyer rejects; after the third rejected proposal the platform steps in'),
    Transition('buyer_timeout', ('awaiting_buyer',), ('resolved',), ('system',), None,
               'no answer by buyer_due: the proposal counts as accepted'),
    Transition('escalate', ('negotiating', 'awaiting_buyer'), ('pending_agent',), ('buyer', 'merchant'),
               'after_answer', 'either party asks the platform to step in once the merchant answered '
               'or the time ran out'),
    Transition('claim', ('pending_agent',), ('in_progress', 'in_arbitration'), ('agent', 'senior'),
               'capacity', 'an agent takes the case (or is assigned it): platform cases go in_progress, '
               'disputes in_arbitration'),
    Transition('claim', ('appealed',), ('appealed',), ('senior',), 'appeal_claim',
               'a senior agent takes an appeal nobody holds (or is assigned it); never the first '
               'arbiter (403)'),
    Transition('resolve', ('in_progress',), ('resolved',), ('owner',), None,
               'the owner resolves a platform case with a remedy and a note'),
    Transition('request_evidence', ('in_arbitration',), ('in_arbitration',), ('owner',), None,
               'the owner asks one party for specific evidence with its own deadline'),
    Transition('evidence_done', ('in_arbitration', 'appealed'), ('in_arbitration', 'appealed'),
               ('buyer', 'merchant'), 'not_declared',
               'a party declares that it has submitted all its evidence (once per round)'),
    Transition('close_evidence', ('in_arbitration',), ('in_arbitration',), ('owner',), 'both_declared',
               'the owner closes the evidence period early when both parties are done'),
    Transition('rule', ('in_arbitration',), ('resolved',), ('owner',), 'ruling_ready',
               'the owner rules once the evidence period is over: outcome, responsibility, remedy, '
               'clause, reasoning (payment proof needed from 500.00)'),
    Transition('rate', ('resolved',), ('resolved',), ('buyer',), 'rating_window',
               '1–5 stars; a 1–2 rating opens a supervisor review'),
    Transition('appeal', ('resolved',), ('appealed',), ('buyer', 'merchant'), 'appeal_window',
               'once per case, within 7 days of the ruling, with new evidence'),
    Transition('rule', ('appealed',), ('resolved',), ('senior',), 'not_first_arbiter',
               'a different senior agent decides the appeal (the first arbiter: 403)'),
    Transition('review', ('resolved', 'closed'), ('resolved', 'closed'), ('supervisor',), 'open_review',
               'the supervisor records a finding on a dissatisfied rating'),
    Transition('reopen', ('resolved',), ('in_arbitration', 'in_progress'), ('supervisor',), None,
               'from a supervisor review: back to work with a senior owner'),
    Transition('close_timeout', ('resolved',), ('closed',), ('system',), None,
               'rating and appeal windows are over'),
    Transition('withdraw', OPEN_BEFORE_RULING, ('withdrawn',), ('buyer',), None,
               'the buyer withdraws before a ruling'),
    Transition('withdraw', ('screening',), ('withdrawn',), ('buyer',), None,
               'the buyer withdraws while the complaint waits for the pre-screen'),
    Transition('edit', OPEN_BEFORE_RULING, OPEN_BEFORE_RULING, ('buyer',), 'edit_window',
               'the buyer corrects facts and demand within 24 hours of filing'),
    Transition('message', OPEN, OPEN, ('buyer', 'merchant', 'owner', 'agent', 'senior', 'supervisor', 'admin'),
               None, 'a public reply, or a staff-only internal note'),
    Transition('mark_external', OPEN, OPEN, ('buyer', 'owner', 'agent', 'senior', 'supervisor'), None,
               'the complaint was also filed with 12315 or 黑猫投诉: it gets priority'),
    Transition('urge', ('negotiating', 'pending_agent', 'in_progress', 'in_arbitration'), STATES[:6],
               ('buyer',), 'urge_cooldown', 'the buyer urges (催办), at most once every 4 hours'),
    Transition('reassign', ('pending_agent', 'in_progress', 'in_arbitration', 'appealed'),
               ('in_progress', 'in_arbitration', 'appealed'), ('supervisor',), None,
               'a supervisor moves the case to another agent, with a reason'),
    Transition('flag_malicious', STATES, STATES, ('supervisor',), 'not_flagged',
               'a supervisor flags the complaint as malicious, with a reason: its buyer loses 30 '
               'credit (once per complaint)'),
)

ACTIONS = tuple(dict.fromkeys(t.action for t in TABLE))
TIMER_ACTIONS = tuple(t.action for t in TABLE if t.actors == ('system',))


def rows_for(action):
    return [t for t in TABLE if t.action == action]


_BY_STATE = {}
for _t in TABLE:
    for _source in _t.sources:
        _BY_STATE.setdefault((_source, _t.action), _t)  # the first row wins, as listed


def row(state, action):
    """The transition for `action` from `state`, or None (read for every action of every
    listed complaint, hence the index)."""
    return _BY_STATE.get((state, action))


def actors_of(action):
    return {a for t in rows_for(action) for a in t.actors}
