"""Standing under concurrency: two sweeps at once, and two recomputes of the same merchant
at once, each change applied and announced once.

Meant for PostgreSQL (`DESK_TEST_DATABASE_URL=postgresql://…`): the sweeps share the due
rows (`FOR UPDATE SKIP LOCKED`) and a recompute waits for the row lock of another; on SQLite
the transactions simply take turns (BEGIN IMMEDIATE), and the outcome must be the same.
"""
import datetime as dt
import json

import pytest

from arbitration.penalties import standing
from arbitration.penalties.models import MerchantStanding, Violation
from desk.core import clock, deadlines
from desk.messaging import webhooks
from desk.messaging.models import Outbox
from tests import builders as b
from tests.conftest import T0
from tests.support import run_together

YEAR = dt.timedelta(days=365)


def announcements():
    """merchant ref -> the (previous, new) levels announced by webhook."""
    found = {}
    for row in Outbox.select().where(Outbox.topic == 'webhook').order_by(Outbox.id):
        data = json.loads(row.payload)['data']
        found.setdefault(data['merchant'], []).append((data['previous_level'], data['level']))
    return found


@pytest.fixture
def marketplace(app, users):
    webhooks.subscribe(users('integration'), 'http://127.0.0.1:9/hook', ['*'])


def test_two_sweeps_at_once_expire_each_merchant_once(app, marketplace, frozen, monkeypatch):
    """30 merchants at the warning level whose violation expires at the same second;
    batches of 7; two sweeps in threads: every merchant drops to normal once, one
    announcement each, every violation expired."""
    monkeypatch.setattr(deadlines, 'BATCH', 7)
    merchants = [b.merchant(f'm-{i:02d}') for i in range(30)]
    for merchant in merchants:
        Violation.create(merchant=merchant.id, code='fake_delivery', points=12, fine_fen=0, at=T0,
                         expires_at=T0 + YEAR, state='active')
    standing.recompute([m.id for m in merchants])
    clock.freeze(T0 + YEAR)
    handled = []
    real = deadlines.REGISTRY['standing_due']

    def handler(ids, now):
        handled.extend(ids)
        return real.handler(ids, now)

    monkeypatch.setitem(deadlines.REGISTRY, 'standing_due', real._replace(handler=handler))
    results = run_together(deadlines.advance_due, deadlines.advance_due, app=app)
    assert sum(results) >= 30
    assert sorted(handled) == sorted(m.id for m in merchants), 'each merchant handed to a handler once'
    assert {r.level for r in MerchantStanding.select()} == {0}
    assert Violation.select().where(Violation.state == 'expired').count() == 30
    told = announcements()
    assert all(told[m.ref] == [('normal', 'warning'), ('warning', 'normal')] for m in merchants), told


def test_two_recomputes_of_one_merchant_at_once_announce_once(app, marketplace, frozen):
    """A violation arrives; two recomputes run at once (a recording and a sweep, say): the
    second waits for the first's row lock and finds nothing left to change."""
    merchant = b.merchant('m-1')
    standing.recompute([merchant.id])
    Violation.create(merchant=merchant.id, code='manual', points=24, fine_fen=0, at=T0,
                     expires_at=T0 + YEAR, state='active', reason='r')
    run_together(lambda: standing.recompute([merchant.id]), lambda: standing.recompute([merchant.id]), app=app)
    assert announcements() == {'m-1': [('normal', 'no_listing')]}
    row = MerchantStanding.get_by_id(merchant.id)
    assert (row.level, row.version, row.restriction_until) == (2, 1, T0 + dt.timedelta(days=7))


def test_two_first_recomputes_create_the_row_once(app, marketplace, frozen):
    """Neither has a standing row yet: both insert it (one yields to the other)."""
    merchant = b.merchant('m-1')
    Violation.create(merchant=merchant.id, code='manual', points=12, fine_fen=0, at=T0,
                     expires_at=T0 + YEAR, state='active', reason='r')
    run_together(lambda: standing.recompute([merchant.id]), lambda: standing.recompute([merchant.id]), app=app)
    assert MerchantStanding.select().count() == 1
    assert announcements() == {'m-1': [('normal', 'warning')]}
