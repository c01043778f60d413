"""Fill a database with N realistic orders to see how the desk behaves at scale.

    python bench/generate.py --orders 1000000 --database-url postgresql://postgres@127.0.0.1/bench

Rows are generated lazily and written `--batch` at a time (one transaction each, a few
multi-row INSERTs inside), so memory stays flat whatever N is. Every run uses its own
prefix for order numbers and buyer/merchant refs, so running it twice adds data instead of
colliding. Values follow the demo marketplace (`web.demo`): Chinese product names, goods
types, payment methods and provinces; card codes are kept only as last four + keyed hash,
exactly as `desk.core.masking.card_digest` stores them.
"""
import argparse
import datetime as dt
import itertools
import os
import random
import resource
import secrets
import sys
import time

from peewee import fn

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from app import create_app  # noqa: E402
from desk.core import clock  # noqa: E402
from desk.core.db import database  # noqa: E402
from desk.core.masking import card_digest  # noqa: E402
from desk.core.migrate import migrate  # noqa: E402
from desk.core.money import parse_yuan  # noqa: E402
from desk.orders.models import Order  # noqa: E402
from desk.parties.models import Buyer, Merchant
from web.demo import GIVEN, MERCHANTS, PAYMENTS, PRODUCTS, PROVINCES, SURNAMES  # noqa: E402

#: Rows per INSERT statement: keeps SQLite under its 32766-parameter limit.
ROWS_PER_STATEMENT = 1000
CARD_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789'
CATALOGUE = [(goods_type, name, sku, parse_yuan(price))
             for goods_type, items in PRODUCTS.items() for name, sku, price in items]
ORDER_FIELDS = [Order.order_no, Order.buyer, Order.merchant, Order.product, Order.sku,
                Order.goods_type, Order.amount_fen, Order.paid_at, Order.delivered_at,
                Order.confirmed_at, Order.payment_method, Order.receiving_account, Order.region,
                Order.card_last4, Order.card_hash, Order.created_at, Order.updated_at]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--orders', type=int, required=True, help='how many orders to create')
    parser.add_argument('--database-url', help='peewee URL (default: DESK_DATABASE_URL or the app default)')
    parser.add_argument('--batch', type=int, default=5000, help='rows per transaction (default 5000)')
    parser.add_argument('--seed', type=int, default=None, help='random seed for reproducible values')
    return parser.parse_args(argv)


def phone(rng):
    return '1' + rng.choice('3578') + str(rng.randrange(10 ** 9)).zfill(9)


def merchant_rows(prefix, count, now):
    for i in range(count):
        _ref, name = MERCHANTS[i % len(MERCHANTS)]
        yield (f'{prefix}-m{i}', f'{name} {i + 1}号店', now)


def buyer_rows(prefix, count, now, rng):
    for i in range(count):
        yield (f'{prefix}-b{i}', rng.choice(SURNAMES) + rng.choice(GIVEN), phone(rng), now, 100)


def order_rows(prefix, count, buyers, merchants, now, rng):
    """Yield `count` order tuples in ORDER_FIELDS order; `buyers`/`merchants` are id ranges."""
    for i in range(count):
        goods_type, product, sku, amount_fen = rng.choice(CATALOGUE)
        paid = now - dt.timedelta(seconds=rng.randrange(30 * 86400))
        delivered = paid + dt.timedelta(seconds=rng.randrange(5, 1800))
        confirmed = delivered + dt.timedelta(hours=rng.randrange(1, 72))
        last4 = card_hash = None
        if goods_type in ('game_card', 'gift_card'):
            last4, card_hash = card_digest(''.join(rng.choices(CARD_ALPHABET, k=16)))
        yield (f'{prefix}{i:09d}', rng.choice(buyers), rng.choice(merchants), product, sku,
               goods_type, amount_fen, paid, delivered,
               confirmed if confirmed < now and rng.random() < 0.8 else None,
               rng.choice(PAYMENTS),
               phone(rng) if goods_type == 'phone_recharge' else None,
               rng.choice(PROVINCES), last4, card_hash, delivered, delivered)


def insert_batched(model, fields, rows, batch, report=None):
    """Insert `rows` (an iterator) `batch` rows per transaction; returns the count."""
    done = 0
    while True:
        chunk = list(itertools.islice(rows, batch))
        if not chunk:
            return done
        with database.atomic():
            for start in range(0, len(chunk), ROWS_PER_STATEMENT):
                model.insert_many(chunk[start:start + ROWS_PER_STATEMENT], fields=fields).execute()
        done += len(chunk)
        if report:
            report(done)


def id_range(model, prefix):
    """Ids of the rows this run inserted; contiguous because only this process writes."""
    low, high, count = (model
                        .select(fn.MIN(model.id), fn.MAX(model.id), fn.COUNT(model.id))
                        .where(model.ref.startswith(prefix + '-'))
                        .scalar(as_tuple=True))
    if high - low + 1 != count:
        sys.exit(f'{model.__name__} ids of this run are not contiguous: another writer? '
                 'Run the generator on a database nobody else writes to.')
    return range(low, high + 1)


def generate(total, batch, rng):
    prefix = 'BN' + time.strftime('%y%m%d%H%M%S') + secrets.token_hex(2).upper()
    now = clock.now()
    n_merchants, n_buyers = max(1, total // 2000), max(1, total // 20)
    started = time.perf_counter()
    insert_batched(Merchant, [Merchant.ref, Merchant.name, Merchant.created_at],
                   merchant_rows(prefix, n_merchants, now), batch)
    insert_batched(Buyer, [Buyer.ref, Buyer.display_name, Buyer.phone, Buyer.created_at, Buyer.credit],
                   buyer_rows(prefix, n_buyers, now, rng), batch)
    print(f'run {prefix}: {n_merchants} merchants, {n_buyers} buyers in '
          f'{time.perf_counter() - started:.1f}s', flush=True)
    step = max(batch, total // 10)

    def report(done):
        if done % step < batch or done == total:
            elapsed = time.perf_counter() - started
            print(f'  {done:>10,} orders  {elapsed:7.1f}s  peak RSS {peak_rss_mb():.0f} MB', flush=True)

    orders = order_rows(prefix, total, id_range(Buyer, prefix), id_range(Merchant, prefix), now, rng)
    insert_batched(Order, ORDER_FIELDS, orders, batch, report)
    elapsed = time.perf_counter() - started
    rows = total + n_buyers + n_merchants
    print(f'done: {total:,} orders ({rows:,} rows) in {elapsed:.1f}s = {total / elapsed:,.0f} orders/s, '
          f'{rows / elapsed:,.0f} rows/s; peak RSS {peak_rss_mb():.0f} MB')


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def main(argv=None):
    args = parse_args(argv)
    if args.orders < 1 or args.batch < 1:
        sys.exit('--orders and --batch must be at least 1')
    app = create_app({'DATABASE_URL': args.database_url} if args.database_url else None)
    with app.app_context():
        migrate()
        print(f'database: {database.obj.__class__.__name__} {database.obj.database}; '
              f'{args.orders:,} orders, {args.batch} per transaction', flush=True)
        with database.connection_context():
            generate(args.orders, args.batch, random.Random(args.seed))


if __name__ == '__main__':
    main()
