"""Two agents ruling at once (issue 6): exactly one ruling, the other gets 409, never a 500.

Two senior agents decide the same appeal in two threads, each with its own application
context and database connection; and the owner's ruling sent twice at the same moment (a
double click). Meant for PostgreSQL (row locks, parallel transactions); on SQLite the
writers are serialised by the database lock and the same assertions hold.
"""
import pytest

from desk.cases.models import Remedy, Ruling
from desk.core import clock
from tests import builders as b
from tests.arbitration.test_rulings import HOUR, RULE, desk, past_evidence_period  # noqa: F401 (desk: a fixture)
from tests.conftest import T0
from tests.support import isolated_client, run_together

ROUNDS = 10

pytestmark = pytest.mark.usefixtures('no_leftover_clock')


def _post(app, headers, ticket_no, action, body):
    return isolated_client(app).post(f'/api/v1/complaints/{ticket_no}/actions/{action}',
                                     headers=headers, json=body)


def _race(app, ticket_no, headers_list, body):
    statuses = []

    def rule(headers):
        def run():
            statuses.append(_post(app, headers, ticket_no, 'rule', body).status_code)
        return run

    run_together(*[rule(h) for h in headers_list])
    return sorted(statuses)


def test_two_seniors_deciding_one_appeal_make_one_ruling(app, desk, users, api_key):  # noqa: F811
    third = api_key(b.agent(users, 'senior3', role='senior_agent'))
    for n in range(ROUNDS):
        clock.freeze(T0)
        complaint = b.dispute(f'R-{n}', desk['users']['first'])
        past_evidence_period()
        assert _post(app, desk['first'], complaint.ticket_no, 'rule', RULE).status_code == 200
        b.forced_evidence(complaint, 'buyer', 'chat_log', at=clock.now() + HOUR)
        clock.advance(hours=2)
        assert _post(app, desk['buyer'], complaint.ticket_no, 'appeal', {'reason': '不服'}).status_code == 200
        body = dict(RULE, outcome='buyer_full', remedy={'type': 'refund', 'amount': '100.00'})
        assert _race(app, complaint.ticket_no, [desk['second'], third], body) == [200, 409], n
        rulings = list(Ruling.select().where(Ruling.complaint == complaint.id).order_by(Ruling.round))
        assert [(r.round, r.active) for r in rulings] == [(1, False), (2, True)], n
        assert [r.amount_fen for r in Remedy.select().where(Remedy.complaint == complaint.id)
                .order_by(Remedy.id)] == [3000, 7000], n


def test_the_owner_ruling_twice_at_once_makes_one_ruling(app, desk):  # noqa: F811
    for n in range(ROUNDS):
        clock.freeze(T0)
        complaint = b.dispute(f'D-{n}', desk['users']['first'])
        past_evidence_period()
        assert _race(app, complaint.ticket_no, [desk['first'], desk['first']], RULE) == [200, 409], n
        assert Ruling.select().where(Ruling.complaint == complaint.id).count() == 1
        assert Remedy.select().where(Remedy.complaint == complaint.id).count() == 1

