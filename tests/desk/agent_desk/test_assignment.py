"""Who handles a platform case (SPEC §3 routing): per-department modes (manual claim,
round-robin, least-loaded among online agents under capacity), seniors for L1 and senior-only
categories, waiting cases handed out when an agent comes online or capacity frees, the first
owner staying owner, and reassignment by supervisors only, with a reason.
"""
import threading

import pytest

from desk import jobs
from desk.agent_desk import assignment
from desk.agent_desk.assignment import open_load
from desk.cases import complaints
from desk.cases.models import Category, Complaint, Event
from desk.core import clock
from desk.parties.models import User
from tests import builders as b
from tests.support import error


def owner_of(complaint):
    return b.reload(complaint).owner_id


def claim_url(complaint):
    return f'/api/v1/complaints/{complaint.ticket_no}/actions/claim'


# --- modes ---------------------------------------------------------------------------------

def test_in_manual_mode_nothing_is_assigned(app, users, frozen):
    b.set_mode('cs', 'manual')
    b.agent(users, 'ann')
    complaint = b.case('O-1')
    assert (complaint.owner_id, complaint.state, complaint.in_queue) == (None, 'pending_agent', True)
    assert jobs.assign_waiting() == 0
    assert owner_of(complaint) is None


def test_round_robin_spreads_a_shift_evenly_among_online_agents(app, users, frozen):
    b.set_mode('cs', 'round_robin')
    online = [b.agent(users, f'rr{i}', capacity=10) for i in range(4)]
    away = b.agent(users, 'away', status='away')
    offline = b.agent(users, 'gone', status='offline')
    elsewhere = b.agent(users, 'opsy', department='ops')
    cases = []
    for i in range(30):
        clock.advance(minutes=7)
        cases.append(b.case(f'O-{i}'))
    loads = [open_load(a.id) for a in online]
    assert sum(loads) == 30
    assert max(loads) - min(loads) <= 1, loads
    assert [owner_of(c) for c in cases[:4]] == [a.id for a in online], 'in turn'
    for idle in (away, offline, elsewhere):
        assert open_load(idle.id) == 0
    assert all(b.reload(c).state == 'in_progress' for c in cases)
    assigned = Event.get((Event.complaint == cases[0].id) & (Event.kind == 'assigned'))
    assert assigned.actor_id is None and assigned.actor_role == 'system'
    assert b.notices(online[0], cases[0]) == ['complaint_assigned']


def test_round_robin_skips_agents_at_capacity(app, users, frozen):
    b.set_mode('cs', 'round_robin')
    full = b.agent(users, 'full', capacity=1)
    free = b.agent(users, 'free', capacity=10)
    owners = [owner_of(b.case(f'O-{i}')) for i in range(4)]
    assert owners == [full.id, free.id, free.id, free.id]


def test_least_loaded_picks_the_lightest_agent(app, users, frozen):
    ann, bob, cid = (b.agent(users, name) for name in ('ann', 'bob', 'cid'))
    for agent, held in ((ann, 3), (bob, 1), (cid, 2)):
        for i in range(held):
            assignment.claim(agent, b.case(f'{agent.username}-{i}'))
    b.set_mode('cs', 'least_loaded')
    first = b.case('N-1')
    assert owner_of(first) == bob.id
    second = b.case('N-2')
    assert owner_of(second) in (bob.id, cid.id)  # both hold 2 now
    assert owner_of(second) == bob.id, 'a tie goes to the earlier agent'
    assert owner_of(b.case('N-3')) == cid.id
    assert [open_load(a.id) for a in (ann, bob, cid)] == [3, 3, 3]


@pytest.mark.parametrize('mode', ['round_robin', 'least_loaded'])
def test_away_and_offline_agents_never_get_cases(app, users, frozen, mode):
    b.set_mode('cs', mode)
    b.agent(users, 'away', status='away')
    b.agent(users, 'gone', status='offline')
    complaint = b.case('O-1')
    assert owner_of(complaint) is None
    assert jobs.assign_waiting() == 0


@pytest.mark.parametrize('mode', ['round_robin', 'least_loaded'])
def test_l1_and_senior_only_cases_go_to_senior_agents_only(app, users, frozen, mode):
    b.set_mode('cs', mode)
    b.set_mode('ops', mode)
    juniors = [b.agent(users, f'jr{i}') for i in range(2)] + [b.agent(users, 'ops-jr', department='ops')]
    senior = b.agent(users, 'sr', role='senior_agent')
    ops_senior = b.agent(users, 'ops-sr', role='senior_agent', department='ops')
    large = [b.case(f'BIG-{i}', amount_fen=600000) for i in range(2)]   # L1 by amount
    l1_ops = b.case('SEC-1', category='account_security')                 # L1 by category
    Category.update(senior_only=True).where(Category.code == 'service_attitude').execute()
    senior_only = [b.case(f'SO-{i}') for i in range(2)]                   # L2, senior-only category
    assert {b.reload(c).tier for c in senior_only} == {'L2'}
    assert [owner_of(c) for c in large + senior_only] == [senior.id] * 4
    assert owner_of(l1_ops) == ops_senior.id
    for junior in juniors:
        assert open_load(junior.id) == 0
    # with no senior free, the case waits rather than going to a junior
    User.update(status='away').where(User.id == senior.id).execute()
    waiting = b.case('BIG-9', amount_fen=600000)
    assert owner_of(waiting) is None
    assignment.set_status(User.get_by_id(senior.id), 'online')
    assert owner_of(waiting) == senior.id


def test_a_case_waits_at_capacity_and_is_assigned_when_an_agent_comes_online(app, users, frozen):
    b.set_mode('cs', 'round_robin')
    ann = b.agent(users, 'ann', capacity=2)
    bob = b.agent(users, 'bob', status='offline')
    first, second, third = (b.case(f'O-{i}') for i in range(3))
    assert [owner_of(c) for c in (first, second, third)] == [ann.id, ann.id, None]
    assert b.reload(third).state == 'pending_agent'
    assignment.set_status(bob, 'online')
    assert owner_of(third) == bob.id


def test_a_waiting_case_is_assigned_when_capacity_frees(app, users, frozen):
    b.set_mode('cs', 'least_loaded')
    ann = b.agent(users, 'ann', capacity=1)
    held = b.case('O-1', buyer_ref='b-1')
    waiting = b.case('O-2', buyer_ref='b-2')
    assert (owner_of(held), owner_of(waiting)) == (ann.id, None)
    assert jobs.assign_waiting() == 0, 'nobody is free yet'
    complaints.withdraw(b.buyer_login('b-1'), b.reload(held))  # ann's case leaves her desk
    assert jobs.assign_waiting() == 1
    assert owner_of(waiting) == ann.id


def test_waiting_cases_are_handed_out_in_queue_order(app, users, frozen):
    """Overdue first: when one agent comes free, the case that breached gets it."""
    from desk.core import deadlines
    b.set_mode('cs', 'round_robin')
    ann = b.agent(users, 'ann', capacity=1, status='offline')
    calm = b.case('O-1', buyer_ref='b-1')
    clock.advance(minutes=1)
    late = b.case('O-2', buyer_ref='b-2', amount_fen=600000)  # L1 …
    User.update(role='senior_agent').where(User.id == ann.id).execute()
    clock.advance(minutes=40)
    deadlines.advance_due()  # … and now overdue
    assert b.reload(late).queue_rank == 0
    assignment.set_status(User.get_by_id(ann.id), 'online')
    assert (owner_of(late), owner_of(calm)) == (ann.id, None)


# --- claiming ------------------------------------------------------------------------------

def test_claim_above_capacity_is_409_with_the_reason(app, en_client, users, api_key, frozen):
    ann = b.agent(users, 'ann', capacity=1)
    headers = api_key(ann)
    first, second = b.case('O-1'), b.case('O-2')
    assert en_client.post(claim_url(first), headers=headers).status_code == 200
    response = en_client.post(claim_url(second), headers=headers)
    assert response.status_code == 409
    assert 'capacity is 1' in error(response)['message']
    assert owner_of(second) is None


@pytest.mark.parametrize('amount_fen, senior_only', [(600000, False), (4990, True)])
def test_l1_and_senior_only_cases_are_refused_to_a_junior_with_the_reason(
        app, en_client, users, api_key, frozen, amount_fen, senior_only):
    Category.update(senior_only=senior_only).where(Category.code == 'service_attitude').execute()
    complaint = b.case('O-1', amount_fen=amount_fen)
    response = en_client.post(claim_url(complaint), headers=api_key(b.agent(users, 'ann')))
    assert response.status_code == 409
    assert 'senior agent' in error(response)['message']
    senior = api_key(b.agent(users, 'sr', role='senior_agent'))
    assert en_client.post(claim_url(complaint), headers=senior).status_code == 200


def test_the_first_owner_stays_owner(app, en_client, users, api_key, frozen):
    ann, bob = b.agent(users, 'ann'), b.agent(users, 'bob')
    complaint = b.case('O-1')
    claimed = en_client.post(claim_url(complaint), headers=api_key(ann))
    assert claimed.status_code == 200
    assert claimed.get_json()['state'] == 'in_progress'
    again = en_client.post(claim_url(complaint), headers=api_key(bob))
    assert again.status_code == 409
    assert owner_of(complaint) == ann.id
    assert en_client.post(claim_url(complaint), headers=api_key(ann)).status_code == 409


def test_an_agent_of_another_department_cannot_claim(app, en_client, users, api_key, frozen):
    complaint = b.case('O-1')  # cs
    response = en_client.post(claim_url(complaint), headers=api_key(b.agent(users, 'opsy', department='ops')))
    assert response.status_code == 404, 'another department\'s case is not even visible'
    assert owner_of(complaint) is None


def test_two_agents_claiming_at_once_get_one_owner_and_one_409(app, users, api_key, frozen,
                                                             monkeypatch):
    """Both claims pass the lifecycle check before either writes (a barrier holds them
    there); the compare-and-set on the complaint's version decides."""
    ann, bob = b.agent(users, 'ann'), b.agent(users, 'bob')
    complaint = b.case('O-1')
    barrier = threading.Barrier(2, timeout=20)
    real_check = assignment.check

    def racing_check(*args):
        transition = real_check(*args)
        barrier.wait()
        return transition

    monkeypatch.setattr(assignment, 'check', racing_check)
    results = {}

    headers = {a.username: api_key(a) for a in (ann, bob)}

    def post(agent):
        response = app.test_client().post(claim_url(complaint), headers=headers[agent.username])
        results[agent.username] = (response.status_code, response.get_json())

    threads = [threading.Thread(target=post, args=(a,)) for a in (ann, bob)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    statuses = sorted(status for status, _ in results.values())
    assert statuses == [200, 409], results
    winner = next(name for name, (status, _) in results.items() if status == 200)
    assert b.reload(complaint).owner.username == winner
    assert Event.select().where((Event.complaint == complaint.id) & (Event.kind == 'claimed')).count() == 1
    assert b.sla_events(complaint, 'first_response') == ['started', 'achieved']


# --- reassignment --------------------------------------------------------------------------

def reassign_url(complaint):
    return f'/api/v1/complaints/{complaint.ticket_no}/actions/reassign'


@pytest.fixture
def owned(users, frozen):
    ann, bob = b.agent(users, 'ann'), b.agent(users, 'bob')
    complaint = b.case('O-1')
    assignment.claim(ann, complaint)
    return b.reload(complaint), ann, bob


def test_reassign_by_an_agent_is_403(app, en_client, api_key, owned):
    complaint, ann, bob = owned
    for agent in (ann, bob):  # neither the owner nor a colleague
        response = en_client.post(reassign_url(complaint), headers=api_key(agent),
                               json={'to': 'bob', 'reason': '忙不过来'})
        assert response.status_code == 403
    assert owner_of(complaint) == ann.id


def test_reassign_without_a_reason_is_422(app, en_client, users, api_key, owned):
    complaint, ann, bob = owned
    headers = api_key(users('supervisor'))
    for body in ({'to': 'bob'}, {'to': 'bob', 'reason': '   '}):
        response = en_client.post(reassign_url(complaint), headers=headers, json=body)
        assert response.status_code == 422
        assert 'reason' in error(response)['fields']
    unknown = en_client.post(reassign_url(complaint), headers=headers, json={'to': 'nobody', 'reason': 'x'})
    assert unknown.status_code == 422 and 'to' in error(unknown)['fields']
    assert owner_of(complaint) == ann.id


def test_a_supervisor_reassigns_with_the_reason_on_the_record(app, en_client, users, api_key, owned):
    complaint, ann, bob = owned
    response = en_client.post(reassign_url(complaint), headers=api_key(users('supervisor')),
                           json={'to': 'bob', 'reason': 'ann 请假'})
    assert response.status_code == 200
    assert owner_of(complaint) == bob.id
    logged = Event.get((Event.complaint == complaint.id) & (Event.kind == 'reassigned'))
    assert not logged.public
    assert '"from": "ann"' in logged.data and '"to": "bob"' in logged.data and 'ann 请假' in logged.data
    assert b.notices(bob, complaint) == ['complaint_assigned']
    again = en_client.post(reassign_url(complaint), headers=api_key(users('supervisor')),
                        json={'to': 'bob', 'reason': 'twice'})
    assert again.status_code == 409


def test_an_l1_case_is_not_reassigned_to_a_junior(app, en_client, users, api_key, frozen):
    senior = b.agent(users, 'sr', role='senior_agent')
    b.agent(users, 'jr')
    complaint = b.case('O-1', amount_fen=600000)
    assignment.claim(senior, complaint)
    response = en_client.post(reassign_url(complaint), headers=api_key(users('supervisor')),
                           json={'to': 'jr', 'reason': 'load'})
    assert response.status_code == 422
    assert owner_of(complaint) == senior.id


def test_complaint_in_queue_and_load_follow_the_case(app, users, frozen):
    """The load the capacity rule counts is the open cases an agent holds."""
    ann = b.agent(users, 'ann')
    complaint = b.case('O-1')
    assignment.claim(ann, complaint)
    assert open_load(ann.id) == 1
    complaints.withdraw(b.buyer_login(), b.reload(complaint))
    assert b.reload(complaint).in_queue is False
    assert open_load(ann.id) == 0
    assert Complaint.select().where(Complaint.in_queue == True).count() == 0  # noqa: E712


def test_one_agent_claiming_two_cases_at_once_stays_within_capacity(app, users, api_key, frozen,
                                                                    monkeypatch):
    """Both claims pass the capacity guard before either writes; the agent's row lock in the
    transaction makes the second see the first's load."""
    ann = b.agent(users, 'ann', capacity=1)
    first, second = b.case('O-1'), b.case('O-2')
    barrier = threading.Barrier(2, timeout=20)
    real_check = assignment.check

    def racing_check(*args):
        transition = real_check(*args)
        barrier.wait()
        return transition

    monkeypatch.setattr(assignment, 'check', racing_check)
    headers = api_key(ann)
    results = []

    def post(case):
        response = app.test_client().post(claim_url(case), headers=headers)
        results.append(response.status_code)

    threads = [threading.Thread(target=post, args=(c,)) for c in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results) == [200, 409], results
    assert assignment.open_load(ann.id) == 1


def test_a_nul_in_the_reassign_reason_is_422_from_the_service_itself(users, owned):
    """The API refuses NUL in any JSON body; the console form reaches `reassign` directly."""
    from desk.core.errors import Invalid
    complaint, ann, bob = owned
    with pytest.raises(Invalid) as err:
        assignment.reassign(users('supervisor'), complaint, {'to': 'bob', 'reason': '忙不过来\x00'})
    assert err.value.status == 422 and set(err.value.fields) == {'reason'}
    assert owner_of(complaint) == ann.id
