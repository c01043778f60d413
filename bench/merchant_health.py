"""Merchant health at scale (PostgreSQL only): fill a database of its own with M merchants and
their orders, complaints, rulings and violations over the last 90 days (plain INSERT … SELECT
from generate_series: this measures the health job and the list, not a loader), then time

- `merchant_health.refresh()` for every merchant (the daily job),
- the backoffice list: the first page and a page deep into the list for each sort, both
  directions (keyset over the (figure, merchant) indexes),
- `figures_for` of one merchant (what the standing API embeds), median of 200 calls.

    createdb -h 127.0.0.1 -U postgres bench_health
    .venv/bin/python bench/merchant_health.py --merchants 100000 \
        --database-url postgresql://postgres@127.0.0.1:5432/bench_health
"""
import argparse
import os
import random
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def fill(database, merchants, orders, complaints, now):
    sql = database.execute_sql
    sql("INSERT INTO buyer (ref, display_name, created_at, credit) SELECT 'hb-' || g, '买家', %s, 100 "
        "FROM generate_series(1, 1000) g", [now])
    sql("INSERT INTO merchant (ref, name, deposit_fen, created_at) SELECT 'hm-' || g, '商家 ' || g, 0, %s "
        "FROM generate_series(1, %s) g", [now, merchants])
    lo = sql("SELECT min(id) FROM merchant WHERE ref LIKE 'hm-%%'").fetchone()[0]
    blo = sql("SELECT min(id) FROM buyer WHERE ref LIKE 'hb-%%'").fetchone()[0]
    # orders: merchant ids skewed (a few big shops), paid over the last 90 days
    sql('INSERT INTO "order" (order_no, buyer_id, merchant_id, product, goods_type, amount_fen, paid_at, '
        'payment_method, created_at, updated_at) '
        "SELECT 'HO-' || g, %s + (g %% 1000), %s + floor(%s * power(random(), 2))::int, '点卡', 'game_card', 4990, "
        "%s - random() * interval '90 days', 'alipay', %s, %s FROM generate_series(1, %s) g",
        [blo, lo, merchants, now, now, now, orders])
    # complaints on the first `complaints` orders: merchant path, a mix of states and answer times
    sql('INSERT INTO complaint (ticket_no, order_id, buyer_id, merchant_id, category, path, tier, department, '
        'state, version, facts, scenario, demand_type, channel, external_12315, external_heimao, priority, '
        'needs_payment_proof, created_at, updated_at, in_queue, queue_rank, next_due_at, proposal_count, '
        'urge_count, timeline_length, merchant_answered_at, closed_at) '
        "SELECT 'THB-' || o.id, o.id, o.buyer_id, o.merchant_id, 'not_as_described', 'merchant', 'L2', 'cs', "
        "(ARRAY['resolved','withdrawn','pending_agent','closed','negotiating'])[1 + (o.id %% 5)], 1, '事实', '{}', "
        "'full_refund', 'api', false, false, 0, false, o.paid_at + interval '1 day', o.paid_at + interval '1 day', "
        "false, 2, '9999-12-31', 0, 0, 0, "
        "CASE WHEN o.id %% 3 = 0 THEN NULL ELSE o.paid_at + interval '1 day' + random() * interval '40 hours' END, "
        "CASE WHEN o.id %% 5 = 1 THEN o.paid_at + interval '1 day 2 hours' END "
        'FROM "order" o WHERE o.order_no LIKE \'HO-%%\' ORDER BY o.id LIMIT %s', [complaints])
    sql("INSERT INTO ruling (complaint_id, round, outcome, responsibility, remedy, refund_fen, coupon_fen, "
        "reasoning, active, overturned, created_at) "
        "SELECT c.id, 1, 'split', (ARRAY['merchant','buyer','platform'])[1 + (c.id %% 3)], 'none', 0, 0, '理由', "
        "true, false, c.created_at + interval '3 days' FROM complaint c WHERE c.ticket_no LIKE 'THB-%%' "
        "AND c.state IN ('resolved', 'closed')")
    sql("INSERT INTO violation (merchant_id, complaint_id, code, points, fine_fen, at, expires_at, state) "
        "SELECT c.merchant_id, c.id, CASE WHEN c.merchant_answered_at IS NULL THEN 'no_response' "
        "ELSE 'arbitration_lost' END, 2, 0, c.created_at + interval '1 day', "
        "c.created_at + interval '366 days', 'active' FROM complaint c WHERE c.ticket_no LIKE 'THB-%%' "
        "AND (c.merchant_answered_at IS NULL OR c.id %% 7 = 0)")
    # one big shop: 20,000 complaints over two years (the spike count's worst case)
    big = sql("INSERT INTO merchant (ref, name, deposit_fen, created_at) VALUES ('hm-big', '大店', 0, %s) "
              "RETURNING id", [now]).fetchone()[0]
    sql('INSERT INTO "order" (order_no, buyer_id, merchant_id, product, goods_type, amount_fen, paid_at, '
        'payment_method, created_at, updated_at) '
        "SELECT 'HOB-' || g, %s + (g %% 1000), %s, '点卡', 'game_card', 4990, "
        "%s - (20000 - g) * interval '52 minutes', 'alipay', %s, %s FROM generate_series(1, 20000) g",
        [blo, big, now, now, now])
    sql('INSERT INTO complaint (ticket_no, order_id, buyer_id, merchant_id, category, path, tier, department, '
        'state, version, facts, scenario, demand_type, channel, external_12315, external_heimao, priority, '
        'needs_payment_proof, created_at, updated_at, in_queue, queue_rank, next_due_at, proposal_count, '
        'urge_count, timeline_length) '
        "SELECT 'THBB-' || o.id, o.id, o.buyer_id, o.merchant_id, 'not_as_described', 'merchant', 'L2', 'cs', "
        "'closed', 1, '事实', '{}', 'full_refund', 'api', false, false, 0, false, o.paid_at + interval '1 hour', "
        "o.paid_at + interval '1 hour', false, 2, '9999-12-31', 0, 0, 0 "
        "FROM \"order\" o WHERE o.merchant_id = %s ORDER BY o.id", [big])
    sql('ANALYZE')


def timed(func, *args, **kwargs):
    started = time.perf_counter()
    result = func(*args, **kwargs)
    return result, time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--merchants', type=int, default=100000)
    parser.add_argument('--orders', type=int, default=1000000)
    parser.add_argument('--complaints', type=int, default=100000)
    parser.add_argument('--database-url', required=True)
    parser.add_argument('--skip-fill', action='store_true')
    args = parser.parse_args()
    os.environ['DESK_DATABASE_URL'] = args.database_url
    os.environ.setdefault('DESK_SECRET_KEY', 'bench')
    from app import create_app
    from desk.core import clock
    from desk.core.db import database
    from desk.core.migrate import migrate
    app = create_app({'DATABASE_URL': args.database_url})
    with app.app_context():
        migrate()
        now = clock.now()
        from arbitration.health import merchant_health
        from arbitration.health.models import SORT_COLUMNS
        if not args.skip_fill:
            with database.atomic():
                _, seconds = timed(fill, database, args.merchants, args.orders, args.complaints, now)
            print(f'fill: {seconds:.1f} s')
        n, seconds = timed(merchant_health.refresh)
        print(f'refresh every merchant ({n}): {seconds:.1f} s')
        database.execute_sql('ANALYZE')
        for sort in SORT_COLUMNS:
            for descending in (True, False):
                rows, first = timed(merchant_health.list_page, sort, descending)
                _, cursor = merchant_health.list_page(sort, descending)
                after = cursor
                for _ in range(200):  # 200 pages on: 10,000 merchants in
                    _, after = merchant_health.list_page(sort, descending, after)
                    if after is None:
                        break
                deep = timed(merchant_health.list_page, sort, descending, after)[1] if after else float('nan')
                print(f'list {sort:<24} {"desc" if descending else "asc "}: first page {1000 * first:6.1f} ms, '
                      f'page 201 {1000 * deep:6.1f} ms')
        ids = [m for (m,) in database.execute_sql("SELECT id FROM merchant WHERE ref LIKE 'hm-%%'").fetchall()]
        sample = random.Random(8).sample(ids, 200)
        times = [timed(merchant_health.figures_for, m)[1] for m in sample]
        print(f'figures_for: median {1000 * statistics.median(times):.2f} ms')
        _, seconds = timed(merchant_health.refresh, [sample[0]])
        print(f'refresh one merchant: {1000 * seconds:.1f} ms')
        from arbitration.penalties import spike
        biggest = database.execute_sql("SELECT id FROM merchant WHERE ref = 'hm-big'").fetchone()[0]
        times = [timed(spike.counted, biggest, now, 30)[1] for _ in range(50)]
        print(f'spike count at filing, a shop with 20,000 complaints: median {1000 * statistics.median(times):.2f} ms')
        _, seconds = timed(merchant_health.refresh, [biggest])
        print(f'refresh that shop: {1000 * seconds:.1f} ms')


if __name__ == '__main__':
    main()
