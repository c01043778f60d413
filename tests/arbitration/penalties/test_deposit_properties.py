"""Property (issue 8): whatever sequence of top-ups (some refused), fines (automatic
violations and manual ones), revokes (through appeals) and repeated refunds happens to a
merchant's deposit, the ledger stays exact and a fine is never silent:

- the balance is the sum of the entries, every `balance_after_fen` is the running sum, and
  `Merchant.deposit_fen` (the cached copy) equals it;
- the balance is exactly what a simple model says: the top-ups minus the fines of the
  violations that were not revoked (no fine cut to what the deposit covers, none skipped,
  none charged or refunded twice);
- a negative balance is always visible as such (`deposit.on_hold`), and only a fine ever
  takes the balance below zero.

Each example works on a fresh merchant; its violations are its own.
"""
import datetime as dt
import itertools

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from arbitration.penalties import deposit, manual_violations, penalty_appeals, violations
from arbitration.penalties.models import DepositEntry, Violation
from desk.core import clock
from desk.core.errors import DomainError
from desk.parties.models import Merchant, User
from tests import builders as b

_numbers = itertools.count(1)

STEP = st.one_of(
    st.tuples(st.just('top_up'), st.integers(min_value=-1000, max_value=80000)),
    st.tuples(st.just('top_up'), st.integers(min_value=1, max_value=80000)),
    st.tuples(st.just('violation'), st.sampled_from(['fake_delivery', 'fake_delivery', 'no_response'])),
    st.tuples(st.just('manual'), st.integers(min_value=0, max_value=6), st.integers(min_value=-10, max_value=90000)),
    st.tuples(st.just('revoke'), st.integers(min_value=0, max_value=20)),
    st.tuples(st.just('uphold'), st.integers(min_value=0, max_value=20)),
    st.tuples(st.just('refund_again'), st.integers(min_value=0, max_value=20)),
    st.tuples(st.just('retry_top_up'),),
)


def _actors(users):
    found = {u.username: u for u in User.select().where(User.username.in_(['dp-boss', 'dp-admin']))}
    return {'boss': found.get('dp-boss') or users('supervisor', 'dp-boss'),
            'admin': found.get('dp-admin') or users('admin', 'dp-admin')}


def _pick(merchant, index):
    rows = list(Violation.select().where(Violation.merchant == merchant.id).order_by(Violation.id))
    return rows[index % len(rows)] if rows else None


def _play(step, merchant, staff, actors, model, keys):
    kind = step[0]
    clock.advance(minutes=5)
    try:
        if kind == 'top_up':
            key = f'dp-{merchant.id}-{len(keys)}'
            entry, created = deposit.top_up(actors['admin'], merchant, step[1], 'top-up', idempotency_key=key)
            assert created and step[1] > 0
            keys.append((key, step[1]))
            model['top_ups'] += step[1]
        elif kind == 'retry_top_up' and keys:
            key, amount = keys[-1]
            _entry, created = deposit.top_up(actors['admin'], merchant, amount, 'top-up', idempotency_key=key)
            assert not created
        elif kind == 'violation':
            violations.record_many([(merchant.id, step[1], None, 'property test')])
        elif kind == 'manual':
            manual_violations.record_manual(actors['boss'], merchant, step[1], step[2], 'property test')
        elif kind in ('revoke', 'uphold'):
            violation = _pick(merchant, step[1])
            if violation is not None:
                appeal = penalty_appeals.appeal(staff, violation.id, 'please')
                penalty_appeals.decide(actors['boss'], appeal.id, kind, 'decided')
        elif kind == 'refund_again':
            violation = _pick(merchant, step[1])
            if violation is not None and violation.state == 'revoked':
                assert deposit.refund_fine(violation, actors['boss']) is None
    except DomainError:
        pass  # refused (a top-up of 0 or less, a second appeal, …): part of the game


def _check(merchant, model):
    entries = list(DepositEntry.select().where(DepositEntry.merchant == merchant.id).order_by(DepositEntry.id))
    running = 0
    for entry in entries:
        before = running
        running += entry.amount_fen
        assert entry.balance_after_fen == running, f'entry {entry.id} breaks the chain'
        if running < 0 <= before:
            assert entry.kind == 'fine', f'{entry.kind} {entry.id} took the balance below zero'
        assert (entry.kind == 'top_up') == (entry.amount_fen > 0 and entry.violation_id is None)
    balance = deposit.balance_of(merchant.id)
    assert balance == running == Merchant.get_by_id(merchant.id).deposit_fen
    fines = sum(v.fine_fen for v in Violation.select().where((Violation.merchant == merchant.id)
                                                             & (Violation.state != 'revoked')))
    assert balance == model['top_ups'] - fines, 'a fine was cut, skipped or booked twice'
    assert deposit.on_hold(merchant.id) == (balance < 0)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@example(steps=[('top_up', 10000), ('violation', 'fake_delivery'), ('top_up', 0), ('top_up', 40000),
                ('revoke', 0), ('refund_again', 0), ('retry_top_up',)])
@example(steps=[('manual', 1, 90000), ('manual', 0, -10), ('uphold', 0), ('revoke', 0), ('top_up', 1)])
@given(steps=st.lists(STEP, min_size=1, max_size=14))
def test_the_ledger_is_exact_and_no_fine_is_silent(app, users, frozen, steps):
    actors = _actors(users)
    n = next(_numbers)
    clock.freeze(dt.datetime(2026, 11, 24, 2, 0, 0) + dt.timedelta(days=n))
    staff = b.merchant_login(f'dp-{n}')
    merchant = Merchant.get(Merchant.ref == f'dp-{n}')
    model = {'top_ups': 0}
    keys = []
    for step in steps:
        _play(step, merchant, staff, actors, model, keys)
        _check(merchant, model)
