"""The last-second answer against the merchant timer (SPEC §4: "exactly one of 'merchant
answered' and 'time ran out' wins").

The merchant proposes at the last second of the window (its request sees 23:59:59 of the
24 hours) while the timer is applied for the deadline itself — by the exact-time job
(`apply_one`) or the minute sweep (`advance_due`) — at the same instant, in two threads,
each with its own application context and database connection. Exactly one outcome may
survive: the proposal (awaiting_buyer, no violation, the timer a no-op) or the timeout
(pending_agent with one no_response violation, the proposal refused with 409) — never both,
never neither, never a 500. Repeated 100 times, with a random head start for the request so that the rounds cover
the timer winning outright, the answer winning outright and everything in between.

Meant for PostgreSQL (row locks, truly parallel transactions); on SQLite the writers'
transactions are serialised by the database lock, so the race is milder but the same
assertions hold and the test runs there too.
"""
import datetime as dt
import random
import time

import pytest

from arbitration.penalties.models import Violation
from desk.agent_desk.models import SlaEvent
from desk.cases.complaints import file_complaint
from desk.cases.models import Complaint, Proposal
from desk.core import clock, deadlines
from desk.core.db import connection
from tests import builders as b
from tests.conftest import T0
from tests.support import isolated_client, run_together

ROUNDS = 100
DUE = T0 + dt.timedelta(hours=24)
HEAD_START = 0.08  # seconds

pytestmark = pytest.mark.usefixtures('no_complaint_spike', 'no_leftover_clock')


def test_a_last_second_proposal_and_the_timer_have_exactly_one_winner(app, users, api_key, frozen):
    buyer = b.buyer_user(users, 'b-1')
    staff = b.staff_user(users, 'm-1')
    headers = api_key(staff)
    outcomes = {'answered': 0, 'timed_out': 0}
    rng = random.Random(24)

    for n in range(ROUNDS):
        clock.freeze(T0)
        b.order(f'R-{n}')
        complaint = file_complaint(buyer, b.body(order_no=f'R-{n}'))
        assert complaint.merchant_due_at == DUE
        clock.freeze(DUE - dt.timedelta(seconds=1))    # the merchant's last second
        result = {}

        def answer():
            client = isolated_client(app)
            result['response'] = client.post(
                f'/api/v1/complaints/{complaint.ticket_no}/actions/propose', headers=headers,
                json={'type': 'refund', 'amount': '10.00', 'message': '同意部分退款'})

        # The HTTP request has more to do (authentication, loading the case) than the timer:
        # a random head start for the request spreads the rounds over every interleaving.
        def timer(sweep=n % 2 == 1, delay=rng.uniform(0, HEAD_START)):
            time.sleep(delay)
            with app.app_context(), connection():
                if sweep:
                    deadlines.advance_due(DUE)
                else:
                    result['applied'] = deadlines.apply_one('merchant_due', complaint.id, DUE)

        run_together(answer, timer)  # each in its own context: a request, and the timer's own
        response = result['response']
        assert response.status_code in (200, 409), (n, response.status_code, response.get_data(as_text=True))

        row = Complaint.get_by_id(complaint.id)
        proposals = list(Proposal.select().where(Proposal.complaint == complaint.id))
        violations = list(Violation.select().where(Violation.complaint == complaint.id))
        started = SlaEvent.select().where((SlaEvent.complaint == complaint.id) & (SlaEvent.kind == 'started'))
        if response.status_code == 200:
            outcomes['answered'] += 1
            assert row.state == 'awaiting_buyer', n
            assert [(p.seq, p.state, p.amount_fen) for p in proposals] == [(1, 'pending', 1000)], n
            assert violations == [], n
            assert started.count() == 0, n
            assert row.merchant_due_at is None and row.merchant_answered_at is not None
            assert result.get('applied') in (None, False), n
        else:
            outcomes['timed_out'] += 1
            assert response.get_json()['error']['code'] == 'conflict'
            assert row.state == 'pending_agent', n
            assert proposals == [], n
            assert [v.code for v in violations] == ['no_response'], n
            assert started.count() == 2, n
            assert row.merchant_answered_at is None and row.proposal_count == 0
            assert result.get('applied') in (None, True), n

        # applying the timer again afterwards changes nothing
        with app.app_context():
            deadlines.apply_one('merchant_due', complaint.id, DUE + dt.timedelta(minutes=1))
        assert Violation.select().where(Violation.complaint == complaint.id).count() == len(violations)
        assert Complaint.get_by_id(complaint.id).state == row.state

    assert sum(outcomes.values()) == ROUNDS
    print(f'\nlast-second proposal vs timer over {ROUNDS} rounds: {outcomes}')


def test_two_proposals_at_once_make_one(app, users, api_key, frozen):
    """Two staff of the merchant answer at the same moment: one proposal, the other 409."""
    buyer = b.buyer_user(users, 'b-1')
    staff = [api_key(b.staff_user(users, 'm-1')), api_key(b.staff_user(users, 'm-1'))]
    for n in range(20):
        clock.freeze(T0)
        b.order(f'D-{n}')
        complaint = file_complaint(buyer, b.body(order_no=f'D-{n}'))
        statuses = []

        def answer(headers):
            def run():
                response = isolated_client(app).post(
                    f'/api/v1/complaints/{complaint.ticket_no}/actions/propose', headers=headers,
                    json={'type': 'reissue', 'message': '补发'})
                statuses.append(response.status_code)
            return run

        run_together(answer(staff[0]), answer(staff[1]))
        assert sorted(statuses) == [200, 409], (n, statuses)
        assert Proposal.select().where(Proposal.complaint == complaint.id).count() == 1

