"""Walk the lifecycle table through the API: every action, from every state, for every
relation a user can have to a case.

The expected answer is worked out from `desk.cases.lifecycle.TABLE` alone (not from
`desk.cases.complaints.check`), so a new row, state or action is covered without touching this
file, and a service that disagrees with the table fails here:

- a user who may not see the case: 404 (existence is never leaked);
- a timer action: 403 for everyone;
- an action none of the user's relations may ever take: 403;
- a state the action does not start from: 409;
- a row whose actors do not include the user: 403;
- a row that is not built yet: 409 "not available yet";
- otherwise the action succeeds (200) with the example body of the OpenAPI document;
- an unknown action (or `file`, which has its own endpoint): 404;
- `allowed_actions` of GET /complaints/<t> is exactly the set of actions that succeed.
"""
import datetime as dt

import pytest

from arbitration.negotiation import propose
from desk.cases import lifecycle
from desk.cases.complaints import file_complaint, self_service_answer, withdraw
from desk.cases.lifecycle import STATES
from desk.cases.lifecycle_doc import COMMAND, PATH, render
from desk.cases.models import EvidenceDeclaration, Ruling
from desk.core import clock
from desk.core.db import database
from desk.orders.orders import upsert_order
from desk.satisfaction.models import Rating, Review
from tests import builders as b
from tests.support import isolated_client
from web.api.openapi import ACTION_BODIES

#: The personas, with the relations (lifecycle actors) the table gives them on the case;
#: None: they may not see it at all.
PERSONAS = {
    'buyer': {'buyer'},                       # the case's buyer, with their own key
    'integration_for_buyer': {'buyer'},       # the integration key with X-On-Behalf-Of
    'other_buyer': None,
    'integration_for_other_buyer': None,     # X-On-Behalf-Of names another buyer
    'merchant': {'merchant'},                 # staff of the case's merchant
    'other_merchant': None,
    'owner': {'owner', 'agent'},              # the owning agent (of the case's department)
    'agent': {'agent'},                       # another agent of the case's department
    'other_department_agent': None,
    'senior': {'agent', 'senior'},            # a senior agent of the case's department
    'supervisor': {'supervisor'},
    'admin': {'admin'},
    'integration': set(),                     # reads everything, acts only for a buyer
}
#: How each persona stands to a complaint not filed yet (the `file` row).
FILING = dict(PERSONAS, owner={'agent'}, other_department_agent={'agent'},
              other_merchant={'merchant'}, other_buyer=None)
#: Guards of built rows the fresh cases of this test satisfy; a new guarded row needs the
#: case prepared for it here (else a built row could never be seen to succeed).
SATISFIED_GUARDS = {'edit_window': 'cases are filed at the frozen now: the 24 h window is open',
                    'complaint_window': 'filing: orders are paid a day before the frozen now',
                    'capacity': 'cases are L2 in categories that are not senior-only, and the '
                                'agents hold one open case at most (used cases are retired)',
                    'merchant_window': 'merchant cases are filed at the frozen now: 24 h to answer',
                    'after_answer': 'negotiating cases have an earlier merchant answer on record; '
                                    'awaiting_buyer cases are reached by a real proposal',
                    'urge_cooldown': 'nobody has urged a fresh case yet',
                    'not_declared': 'in_arbitration cases have an open evidence period and no '
                                    'declarations; appealed cases none for the appeal round',
                    'both_declared': 'walked on a case prepared for it (PREPARED_FOR)',
                    'ruling_ready': 'walked on a case prepared for it (PREPARED_FOR): period over, '
                                    'order below 500.00',
                    'not_first_arbiter': 'appealed cases have no ruling of the walking personas',
                    'appeal_claim': 'walked on an unowned appealed case (PREPARED_FOR); no walking '
                                    'persona made its (absent) first ruling',
                    'appeal_window': 'resolved cases have a ruling an hour old, an open appeal window '
                                     'and new evidence of both parties',
                    'rating_window': 'resolved cases have an open rating window and no rating yet',
                    'open_review': 'walked on a case prepared for it (PREPARED_FOR): a 1-star rating '
                                   'of the owner with its review open',
                    'not_flagged': 'nobody has flagged a fresh case as malicious'}
#: Personas who may not see a case in a state: the merchant never sees a complaint held by
#: the supervisor pre-screen (desk.credit.screening).
HIDDEN_IN = {'screening': ('merchant',)}
#: (state, action) rows whose guard contradicts another row's on the same case (ruling needs
#: the evidence period over, declaring done needs it open): such an action is walked on a case
#: prepared for it, and `allowed_actions` of that case is checked for it alone.
PREPARED_FOR = {('appealed', 'claim'): 'unowned',
                ('in_arbitration', 'rule'): 'period_over',
                ('in_arbitration', 'close_evidence'): 'both_declared',
                ('resolved', 'review'): 'open_review',
                ('closed', 'review'): 'open_review'}
#: Bodies that name something of this world; every other action posts the example body
#: of its schema in the OpenAPI document (so the documented examples are proven valid).
WORLD_BODIES = {'reassign': lambda world: {'to': world.users['senior'].username,  # appeals need one
                                           'reason': 'Wang is on leave.'}}
#: The category filed to reach each state (platform path for platform states, else merchant).
CATEGORY_FOR = {'self_service': 'inquiry', 'closed': 'inquiry', 'pending_agent': 'service_attitude',
                'in_progress': 'service_attitude'}
MERCHANT_CATEGORY = 'not_as_described'
UNKNOWN_ACTION = 'teleport'


def expected(state, action, relations):
    """(status, why) the lifecycle table gives for `relations` taking `action` in `state`."""
    if relations is None:
        return 404, 'cannot see the case'
    if action in lifecycle.TIMER_ACTIONS:
        return 403, 'timer'
    rows = [t for t in lifecycle.TABLE if t.action == action]
    if not relations & {a for t in rows for a in t.actors}:
        return 403, 'never theirs'
    here = [t for t in rows if state in t.sources]
    if not here:
        return 409, 'wrong state'
    if not relations & set(here[0].actors):
        return 403, 'not theirs from this state'
    if not here[0].built:
        return 409, 'not built'
    return 200, 'allowed'


class World:
    """One buyer and merchant with their cases, and a user (and key) per persona."""

    def __init__(self, app, users, api_key):
        self.app = app
        self.client = isolated_client(app, language='en')
        self.integration = users('integration')
        self.orders = 0
        for buyer, merchant in (('B1', 'M1'), ('B2', 'M2')):
            self.order(buyer, merchant)
        made = {
            'buyer': users('buyer', buyer_ref='B1'),
            'other_buyer': users('buyer', buyer_ref='B2'),
            'merchant': users('merchant_staff', merchant_ref='M1'),
            'other_merchant': users('merchant_staff', merchant_ref='M2'),
            'owner': users('agent', department='cs'),
            'agent': users('agent', department='cs'),
            'other_department_agent': users('agent', department='ops'),
            'senior': users('senior_agent', department='cs'),
            'supervisor': users('supervisor'),
            'admin': users('admin'),
            'integration': self.integration,
        }
        self.users = made
        self.headers = {name: api_key(user) for name, user in made.items()}
        for persona, ref in (('integration_for_buyer', 'B1'), ('integration_for_other_buyer', 'B2')):
            self.headers[persona] = dict(self.headers['integration'], **{'X-On-Behalf-Of': ref})
        assert set(self.headers) == set(PERSONAS)

    def order(self, buyer='B1', merchant='M1'):
        self.orders += 1
        order_no = f'O{self.orders:05d}'
        paid = clock.now() - dt.timedelta(days=1)
        with self.app.test_request_context('/api/v1/'):
            upsert_order(self.integration, order_no, {
                'buyer': {'ref': buyer, 'name': f'Buyer {buyer}', 'phone': '13812341234'},
                'merchant': {'ref': merchant, 'name': f'Shop {merchant}'},
                'product': 'Game card 100', 'goods_type': 'game_card', 'amount': '100.00',
                'paid_at': paid.isoformat() + '+00:00', 'payment_method': 'alipay'})
        return order_no

    def case(self, state, owned=True, prepared=None):
        """A fresh complaint of B1 against M1 in `state`, owned by the `owner` persona
        unless `owned` is false.

        Filed through the service; the state (when no service reaches it here) and the
        columns that go with it are forced (`builders.force_state`).
        """
        buyer = self.users['buyer']
        with self.app.test_request_context('/api/v1/'):
            complaint = file_complaint(buyer, {
                'order_no': self.order(), 'category': CATEGORY_FOR.get(state, MERCHANT_CATEGORY),
                'facts': 'The card code was already used.', 'demand': {'type': 'full_refund'}})
            if state == 'closed':
                self_service_answer(buyer, complaint, helped=True)
            elif state == 'awaiting_buyer':
                propose(self.users['merchant'], complaint,
                        {'type': 'refund', 'amount': '10.00', 'message': 'We refund part.'})
            elif state == 'withdrawn':
                withdraw(buyer, complaint, {'reason': 'test'})
        changes = {'owner': self.users['owner'].id if owned and prepared != 'unowned' else None}
        if state == 'negotiating':  # as after a rejected proposal: the merchant has answered
            changes['merchant_answered_at'] = clock.now()
        if state == 'screening':
            changes['screening'] = 'pending'
        now = clock.now()
        if state == 'in_arbitration':  # claimed at the frozen now: the evidence period is open
            changes['evidence_due_at'] = None if prepared == 'period_over' else now + dt.timedelta(days=2)
        if state == 'resolved':  # ruled an hour ago; both parties have added evidence since
            changes.update(appeal_due_at=now + dt.timedelta(days=7), rating_due_at=now + dt.timedelta(days=7),
                           resolved_at=now - dt.timedelta(hours=1))
            Ruling.create(complaint=complaint.id, round=1, agent=self.users['agent'].id,
                          outcome='buyer_partial', responsibility='merchant', remedy='none',
                          reasoning='Partly right.', created_at=now - dt.timedelta(hours=1))
            for party in ('buyer', 'merchant'):
                b.forced_evidence(complaint, party, 'chat_log', at=now)
        if prepared == 'open_review':  # a 1-star rating of the owner, its review open
            rating = Rating.create(complaint=complaint.id, resolved_at=now - dt.timedelta(hours=1), stars=1,
                                   agent=self.users['owner'].id, department='cs', rated_at=now)
            Review.create(rating=rating.id, complaint=complaint.id, opened_at=now,
                          due_at=now + dt.timedelta(days=1), agent=self.users['owner'].id)
        if prepared == 'both_declared':
            for party in ('buyer', 'merchant'):
                EvidenceDeclaration.create(complaint=complaint.id, party=party, round=1, at=now)
        forced = b.force_state(complaint, state if complaint.state != state else None, **changes)
        assert forced.state == state
        return complaint.ticket_no

    def retire(self, ticket_no):
        """Take a used case off everybody's desk, so that agents' loads stay as they were."""
        b.force_state(ticket_no, None, owner=None)

    def act(self, persona, ticket_no, action):
        body = (WORLD_BODIES[action](self) if action in WORLD_BODIES
                else ACTION_BODIES.get(action, (None, {}))[1])
        return self.client.post(f'/api/v1/complaints/{ticket_no}/actions/{action}',
                                json=body, headers=self.headers[persona])

    def allowed(self, persona, ticket_no):
        response = self.client.get(f'/api/v1/complaints/{ticket_no}', headers=self.headers[persona])
        if response.status_code == 404:
            return None
        assert response.status_code == 200, response.get_json()
        return set(response.get_json()['allowed_actions'])


@pytest.fixture
def world(app, users, api_key, frozen):
    """The world, inside one transaction rolled back at the end.

    Only for speed: the app closes its connection after each request unless a transaction
    is open, and the walk makes thousands of requests (a new PostgreSQL connection each
    would dominate). Each service's own transaction becomes a savepoint.
    """
    with database.atomic() as transaction:
        yield World(app, users, api_key)
        transaction.rollback()


def _check_answer(response, status, why):
    """A mismatch described in words, or None."""
    body = response.get_json(silent=True) or {}
    if response.status_code != status:
        return f'expected {status} ({why}), got {response.status_code}: {body}'
    if status == 200:
        return None if 'ticket_no' in body else f'200 without a complaint: {body}'
    error = body.get('error') or {}
    code = {403: 'forbidden', 404: 'not_found', 409: 'conflict'}[status]
    if error.get('code') != code:
        return f'expected error code {code}, got {body}'
    not_yet = 'not available yet' in error.get('message', '')
    if status == 409 and not_yet != (why == 'not built'):
        return f'409 for "{why}" with the message {error.get("message")!r}'
    return None


#: Every state with an owner on the case; and, without one, the states a case is filed into.
WALKS = ([pytest.param(state, True, id=state) for state in STATES] +
         [pytest.param(state, False, id=f'{state}-unowned')
          for state in lifecycle.rows_for('file')[0].targets])


@pytest.mark.parametrize('state, owned', WALKS)
def test_every_action_for_every_relation(world, state, owned):
    problems = []
    ticket_no = world.case(state, owned)
    personas = dict(PERSONAS) if owned else dict(PERSONAS, owner={'agent'})
    personas.update({persona: None for persona in HIDDEN_IN.get(state, ())})
    prepared_actions = {a for (s, a) in PREPARED_FOR if s == state}
    for persona, relations in personas.items():
        allowed = world.allowed(persona, ticket_no)
        succeeded = set()
        for action in lifecycle.ACTIONS + (UNKNOWN_ACTION,):
            if action in ('file', UNKNOWN_ACTION):
                status, why = 404, 'not an action of a filed complaint'
            else:
                status, why = expected(state, action, relations)
            if action in prepared_actions:
                prepared = world.case(state, owned, prepared=PREPARED_FOR[state, action])
                shown = world.allowed(persona, prepared)
                response = world.act(persona, prepared, action)
                problem = _check_answer(response, status, why)
                if problem:
                    problems.append(f'{state} / {action} (prepared) / {persona}: {problem}')
                if shown is not None and (action in shown) != (response.status_code == 200):
                    problems.append(f'{state} / {action} (prepared) / {persona}: allowed_actions '
                                    f'disagrees with the answer {response.status_code}')
                world.retire(prepared)
                continue
            response = world.act(persona, ticket_no, action)
            problem = _check_answer(response, status, why)
            if problem:
                problems.append(f'{state} / {action} / {persona}: {problem}')
            if 200 <= response.status_code < 300:
                succeeded.add(action)
                world.retire(ticket_no)
                ticket_no = world.case(state, owned)  # the next request gets an untouched case
        if relations is None:
            if allowed is not None:
                problems.append(f'{state} / {persona}: can read a case they may not see')
        elif allowed - prepared_actions != succeeded:
            problems.append(f'{state} / {persona}: allowed_actions {sorted(allowed)} but '
                            f'{sorted(succeeded)} succeed')
    assert not problems, '\n'.join(problems)


def test_filing_follows_the_file_row(world):
    (row,) = lifecycle.rows_for('file')
    for persona, relations in FILING.items():
        order_no = world.order()
        response = world.client.post('/api/v1/complaints', headers=world.headers[persona], json={
            'order_no': order_no, 'category': MERCHANT_CATEGORY, 'facts': 'Wrong card.',
            'demand': {'type': 'full_refund'}})
        if relations is None:
            assert response.status_code == 404, (persona, response.get_json())
        elif relations & set(row.actors):
            assert response.status_code == 201, (persona, response.get_json())
            assert response.get_json()['state'] in row.targets
        else:
            assert response.status_code == 403, (persona, response.get_json())


def test_built_rows_have_their_guards_met_by_the_walk():
    unmet = {t.guard for t in lifecycle.TABLE if t.built and t.guard} - set(SATISFIED_GUARDS)
    assert not unmet, (f'built rows with guards {sorted(unmet)}: prepare World.case so the guard '
                       'passes and add it to SATISFIED_GUARDS, or the walk cannot see them succeed')


def test_built_actions_have_a_valid_example_body():
    missing = ({t.action for t in lifecycle.TABLE if t.built and t.action != 'file'}
               - set(ACTION_BODIES) - set(lifecycle.TIMER_ACTIONS))
    assert not missing, f'add request bodies for {sorted(missing)} to ACTION_BODIES in web/api/openapi.py'


def test_a_closed_edit_window_answers_409(world):
    ticket_no = world.case('negotiating')
    clock.advance(days=1, seconds=1)
    response = world.act('buyer', ticket_no, 'edit')
    assert response.status_code == 409, response.get_json()
    assert 'edit' not in world.allowed('buyer', ticket_no)
    assert 'message' in world.allowed('buyer', ticket_no)


def test_the_walk_covers_every_row():
    """Every row has a source state the walk visits and an actor among the personas."""
    walked = set(STATES)
    relations = set().union(*(r for r in PERSONAS.values() if r))
    for t in lifecycle.TABLE:
        if t.action == 'file':
            continue
        assert set(t.sources) <= walked, t
        assert set(t.actors) <= relations | {'system'}, f'no persona stands as {t.actors} ({t})'


def test_docs_lifecycle_md_is_rendered_from_the_table():
    with open(PATH, encoding='utf-8') as handle:
        committed = handle.read()
    assert committed == render(), f'docs/lifecycle.md is out of date: run `{COMMAND}`'
