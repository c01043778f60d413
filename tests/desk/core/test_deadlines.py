"""The deadline machinery (SPEC §4, ARCHITECTURE "Deadlines are columns"): `advance_due`
finds due rows through the index in keyset batches and applies each once in its own
transaction; a handler that yields (`Conflict`) is rolled back and re-evaluated by the next
sweep; sweeps racing each other or a last-second human action have exactly one effect.

Most tests register a probe deadline on an otherwise unused indexed column
(`Complaint.rating_due_at`) in place of the real registry, so they test the machinery alone;
the concurrency tests use the real SLA deadline.
"""
import datetime as dt
import random
import time

import pytest

from desk import jobs
from desk.agent_desk.models import SlaEvent
from desk.cases.models import Complaint
from desk.core import clock, deadlines
from desk.core.db import atomic, database, is_sqlite
from desk.core.errors import Conflict
from tests import builders as b
from tests.conftest import T0
from tests.support import run_together

MINUTE = dt.timedelta(minutes=1)
HOUR = dt.timedelta(hours=1)


class Probe:
    """A deadline handler that records its calls and clears the column (idempotent)."""

    def __init__(self):
        self.calls = []
        self.yield_once = set()    # ids whose next call yields to a "human action"
        self.always_yield = False
        self.explode = set()       # ids whose handler fails

    def __call__(self, row_id, now):
        self.calls.append(row_id)
        if row_id in self.explode:
            raise RuntimeError('handler bug')
        if self.always_yield or row_id in self.yield_once:
            self.yield_once.discard(row_id)
            # a write before the conflict, which must be rolled back with it
            Complaint.update(priority=99).where(Complaint.id == row_id).execute()
            raise Conflict('the merchant answered first')
        Complaint.update(rating_due_at=None).where(Complaint.id == row_id).execute()


@pytest.fixture
def probe(app, monkeypatch):
    handler = Probe()
    monkeypatch.setattr(deadlines, 'REGISTRY', {})
    deadlines.register('probe', Complaint, Complaint.rating_due_at, handler)
    return handler


def rows_due_at(*times):
    """One merchant-path complaint per time in `times` (None = no deadline); their ids."""
    ids = []
    for i, at in enumerate(times):
        complaint = b.case(f'D-{i}', category='not_as_described')
        b.force_state(complaint, None, rating_due_at=at)
        ids.append(complaint.id)
    return ids


def still_due():
    return sorted(c.id for c in Complaint.select().where(Complaint.rating_due_at.is_null(False)))


# --- which rows, how often -----------------------------------------------------------------

def test_the_sweep_applies_due_rows_only_oldest_first_each_once(probe, frozen):
    now = T0
    ids = rows_due_at(now - HOUR, now + MINUTE, now, None, now - 2 * HOUR, now + HOUR,
                      now - dt.timedelta(seconds=1))
    assert deadlines.advance_due(now) == 4
    assert probe.calls == [ids[4], ids[0], ids[6], ids[2]], 'due time order, a row due right now included'
    assert still_due() == sorted([ids[1], ids[5]])
    assert deadlines.advance_due(now) == 0
    assert len(probe.calls) == 4
    assert deadlines.advance_due(now + HOUR) == 2


def test_more_due_rows_than_a_batch_are_all_applied_once(probe, frozen, monkeypatch):
    """Batches of 3 over 11 due rows, several sharing a due time: the (due, id) keyset
    neither skips nor repeats a row at a batch boundary."""
    monkeypatch.setattr(deadlines, 'BATCH', 3)
    reads = []
    real_due_ids = deadlines.due_ids

    def counted_due_ids(*args, **kwargs):
        reads.append(args)
        return real_due_ids(*args, **kwargs)

    monkeypatch.setattr(deadlines, 'due_ids', counted_due_ids)
    times = [T0 - HOUR] * 4 + [T0 - MINUTE * i for i in range(1, 6)] + [T0, T0] + [T0 + MINUTE]
    ids = rows_due_at(*times)
    assert jobs.sweep_deadlines() == 11
    assert sorted(probe.calls) == sorted(ids[:11])
    assert len(set(probe.calls)) == 11
    assert len(reads) == 4, 'ceil(11 / 3) batches'
    assert still_due() == [ids[11]]


def test_rows_that_stay_due_are_visited_once_per_sweep(probe, frozen, monkeypatch):
    """A handler that yields leaves its row due; the sweep still moves past it (no endless
    loop over a full batch of stuck rows) and the next sweep tries it again."""
    monkeypatch.setattr(deadlines, 'BATCH', 2)
    probe.always_yield = True
    ids = rows_due_at(*[T0 - MINUTE] * 5)
    assert deadlines.advance_due(T0) == 0
    assert sorted(probe.calls) == sorted(ids)
    assert deadlines.advance_due(T0) == 0
    assert len(probe.calls) == 10


def test_a_conflict_is_rolled_back_and_the_row_re_evaluated_next_sweep(probe, frozen, caplog):
    ids = rows_due_at(T0 - 3 * MINUTE, T0 - 2 * MINUTE, T0 - MINUTE)
    probe.yield_once.add(ids[1])
    with caplog.at_level('ERROR', logger='desk.core.deadlines'):
        assert deadlines.advance_due(T0) == 2
    assert not [r for r in caplog.records if r.levelname == 'ERROR'], 'a yield is not an error'
    assert still_due() == [ids[1]]
    assert Complaint.get_by_id(ids[1]).priority == 0, "the yielding handler's write was rolled back"
    assert deadlines.advance_due(T0) == 1
    assert still_due() == []
    assert probe.calls == [ids[0], ids[1], ids[2], ids[1]]


def test_a_failing_handler_is_logged_and_the_sweep_goes_on(probe, frozen, caplog):
    ids = rows_due_at(T0 - 2 * MINUTE, T0 - MINUTE)
    probe.explode.add(ids[0])
    with caplog.at_level('ERROR', logger='desk.core.deadlines'):
        assert deadlines.advance_due(T0) == 1
    assert still_due() == [ids[0]]
    assert any('handler bug' in str(r.exc_info[1]) for r in caplog.records if r.exc_info)


def test_the_exact_time_job_applies_one_row_once_and_never_early(probe, frozen):
    early, due = rows_due_at(T0 + MINUTE, T0)
    assert jobs.apply_deadline('probe', early) is False, 'a job arriving early changes nothing'
    assert jobs.apply_deadline('probe', due) is True
    assert jobs.apply_deadline('probe', due) is False, 'running the job twice is running it once'
    assert jobs.apply_deadline('probe', 10 ** 6) is False
    assert probe.calls == [due]


# --- the cost of an idle sweep -------------------------------------------------------------

def test_an_idle_sweep_is_one_indexed_query_per_registered_deadline(app, frozen, monkeypatch):
    assert deadlines.REGISTRY, 'no deadline registered'
    b.case('O-1')  # a case whose deadlines lie ahead
    db = database.obj
    statements = []
    real_execute_sql = db.execute_sql

    def counting(sql, params=None, *args, **kwargs):
        statements.append((sql, params))
        return real_execute_sql(sql, params, *args, **kwargs)

    monkeypatch.setattr(db, 'execute_sql', counting)
    assert jobs.sweep_deadlines() == 0
    monkeypatch.undo()
    assert len(statements) == len(deadlines.REGISTRY), statements

    for deadline, (sql, params) in zip(deadlines.REGISTRY.values(), statements):
        table, column = deadline.model._meta.table_name, deadline.column.column_name
        index = next((i.name for i in database.get_indexes(table) if i.columns[:1] == [column]), None)
        assert index, f'{table}.{column} has no index'
        assert index in query_plan(sql, params), f'the sweep of {deadline.name} does not use {index}'


def query_plan(sql, params):
    if is_sqlite():
        rows = database.execute_sql('EXPLAIN QUERY PLAN ' + sql, params).fetchall()
        return '\n'.join(str(row[-1]) for row in rows)
    with atomic():  # tiny test tables: tell the planner a sequential scan is not an option
        database.execute_sql('SET LOCAL enable_seqscan = off')
        return '\n'.join(row[0] for row in database.execute_sql('EXPLAIN ' + sql, params).fetchall())


# --- races ---------------------------------------------------------------------------------

def test_two_sweeps_at_once_breach_each_clock_once(app, frozen, users):
    supervisor = users('supervisor')
    cases = [b.case(f'S-{i}') for i in range(40)]
    clock.freeze(T0 + 2 * HOUR)
    applied = run_together(lambda: deadlines.advance_due(), lambda: deadlines.advance_due(), app=app)
    assert all(isinstance(n, int) for n in applied), applied
    assert sum(applied) == 40, f'each due row applied by exactly one sweep: {applied}'
    breaches = (SlaEvent
                .select(SlaEvent.complaint, SlaEvent.target)
                .where(SlaEvent.kind == 'breached')
                .tuples())
    assert sorted(breaches) == sorted((c.id, 'first_response') for c in cases)
    assert b.notices(supervisor).count('sla_breached_first_response') == 40
    assert deadlines.advance_due() == 0


def test_a_claim_in_the_second_its_target_falls_due_has_one_outcome(app, users, api_key):
    """100 times: an agent claims at the very second the first response falls due while the
    sweep runs. Either the claim wins (achieved, no breach) or the sweep does (breached, then
    achieved late); never two breaches, never a lost claim, never a 500."""
    agent = b.agent(users, 'ann', capacity=1000)
    headers = api_key(agent)
    rounds = 100
    clock.freeze(T0 - HOUR)
    warm_up = b.case('R-warm-up')
    started = time.monotonic()
    assert app.test_client().post(f'/api/v1/complaints/{warm_up.ticket_no}/actions/claim',
                                  headers=headers).status_code == 200
    claim_takes = time.monotonic() - started  # the sweep starts somewhere inside that span
    cases = []
    for i in range(rounds):
        clock.freeze(T0 + dt.timedelta(seconds=10 * i))
        cases.append(b.case(f'R-{i}'))
    breaches = 0  # how many rounds the sweep won; either outcome is right, both usually occur
    for i, complaint in enumerate(cases):
        due = T0 + dt.timedelta(seconds=10 * i) + 2 * HOUR
        clock.freeze(due)
        jitter = random.Random(i).random() * claim_takes

        def claim():
            return app.test_client().post(f'/api/v1/complaints/{complaint.ticket_no}/actions/claim',
                                          headers=headers).status_code

        def sweep():
            time.sleep(jitter)  # vary who gets the row first
            return deadlines.advance_due()

        status, swept = run_together(claim, sweep, app=app)
        assert status == 200, f'round {i}: claim answered {status}'
        events = b.sla_events(complaint, 'first_response')
        assert events.count('warned') <= 1, f'round {i}: {events}'  # by an earlier round's sweep
        kinds = [k for k in events if k != 'warned']
        assert kinds in (['started', 'achieved'], ['started', 'breached', 'achieved']), f'round {i}: {events}'
        state = b.clock_of(complaint, 'first_response')
        assert state.state == ('breached' if 'breached' in kinds else 'achieved')
        assert state.finished_at == due
        claimed = b.reload(complaint)
        assert (claimed.owner_id, claimed.state, claimed.queue_rank) == (agent.id, 'in_progress', 2)
        breaches += 'breached' in kinds
    assert SlaEvent.select().where(SlaEvent.kind == 'breached').count() == breaches
