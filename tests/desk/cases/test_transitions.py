"""The lifecycle kernel (`desk.cases.transitions`): the one writer of a complaint's state.

A service names the action and the target; a target the table does not list for that action
from the case's state is a programming error (`LifecycleError`), never a write.
"""
import pytest

from desk.cases import lifecycle, transitions
from desk.cases.models import Complaint
from desk.cases.transitions import LifecycleError, save, target, transition
from desk.core.errors import Conflict
from tests import builders as b


@pytest.fixture
def case(app):
    return b.case('K-1', category='service_attitude')  # a platform case: pending_agent


def test_a_listed_move_is_written_with_the_queue_flag_and_a_new_version(case):
    version = case.version
    transition(case, 'withdraw', lifecycle.WITHDRAWN)
    stored = Complaint.get_by_id(case.id)
    assert (stored.state, stored.in_queue, stored.version) == (lifecycle.WITHDRAWN, False, version + 1)


def test_a_target_the_table_does_not_list_is_refused_and_nothing_is_written(case):
    before = Complaint.get_by_id(case.id)
    with pytest.raises(LifecycleError):
        transition(case, 'withdraw', lifecycle.RESOLVED)      # withdraw leads to withdrawn only
    with pytest.raises(LifecycleError):
        transition(case, 'rule', lifecycle.RESOLVED)          # no rule from pending_agent
    with pytest.raises(LifecycleError):
        transition(case, 'claim')                             # claim always moves the case
    after = Complaint.get_by_id(case.id)
    assert (after.state, after.version) == (before.state, before.version)


def test_target_reads_the_table():
    assert target(lifecycle.PENDING_AGENT, 'claim', lifecycle.IN_ARBITRATION) == lifecycle.IN_ARBITRATION
    assert target(lifecycle.RESOLVED, 'rate') == lifecycle.RESOLVED
    with pytest.raises(LifecycleError):
        target(lifecycle.CLOSED, 'appeal', lifecycle.APPEALED)


def test_save_never_changes_a_state(case):
    with pytest.raises(LifecycleError):
        save(case, state=lifecycle.CLOSED)


def test_a_lost_compare_and_set_is_a_conflict(case):
    stale = Complaint.get_by_id(case.id)
    save(case, priority=5)
    with pytest.raises(Conflict):
        transition(stale, 'withdraw', lifecycle.WITHDRAWN)
    assert Complaint.get_by_id(case.id).state == lifecycle.PENDING_AGENT


def test_a_batch_names_its_targets_and_never_a_state_column(case):
    with pytest.raises(LifecycleError):
        transitions.transition_many([case], 'withdraw', {}, {case.id: {'state': lifecycle.CLOSED}},
                                    ('1 = 1', []))
