"""Concurrent ledger entries for one merchant (top-ups over the API, retries of one
Idempotency-Key, manual fines) keep the ledger exact: every `balance_after_fen` is the running
sum, the cached balance equals the sum of entries, and a retried key credits once.

Meant for PostgreSQL (the merchant row lock serializes the writers there); on SQLite the
database write lock does, and the same assertions hold.
"""
from arbitration.penalties import deposit, manual_violations
from arbitration.penalties.models import DepositEntry
from desk.core.db import connection
from desk.parties.models import Merchant
from tests import builders as b
from tests.support import isolated_client, run_together

WRITERS = 4
EACH = 5


def test_concurrent_top_ups_retries_and_fines_keep_the_chain(app, users, api_key):
    merchant = b.merchant('m-1')
    headers = api_key(users('integration', 'market'))
    boss = users('supervisor', 'boss')
    statuses = []

    def top_ups(w):
        def run():
            client = isolated_client(app)
            for i in range(EACH):
                r = client.post('/api/v1/merchants/m-1/deposit/top-ups', json={'amount': '10.00'},
                                headers=dict(headers, **{'Idempotency-Key': f'w{w}-{i}'}))
                statuses.append(r.status_code)
        return run

    def retries():
        client = isolated_client(app)
        for _ in range(EACH):
            r = client.post('/api/v1/merchants/m-1/deposit/top-ups', json={'amount': '7.00'},
                            headers=dict(headers, **{'Idempotency-Key': 'same-key'}))
            statuses.append(r.status_code)

    def fines():
        with app.app_context(), connection():
            for _ in range(EACH):
                manual_violations.record_manual(boss, Merchant.get_by_id(merchant.id), 1, 300, 'race')

    run_together(*[top_ups(w) for w in range(WRITERS)], retries, retries, fines)
    assert sorted(set(statuses)) in ([200, 201], [201])
    assert statuses.count(201) == WRITERS * EACH + 1
    entries = list(DepositEntry.select().where(DepositEntry.merchant == merchant.id).order_by(DepositEntry.id))
    running = 0
    for entry in entries:
        running += entry.amount_fen
        assert entry.balance_after_fen == running
    expected = WRITERS * EACH * 1000 + 700 - EACH * 300
    assert running == expected == deposit.balance_of(merchant.id) == Merchant.get_by_id(merchant.id).deposit_fen
    assert DepositEntry.select().where(DepositEntry.idempotency_key == 'same-key').count() == 1
