"""Evidence upload throughput through the app against writing the same bytes to the same disk.

    python bench/uploads.py --files 20 --size-mb 5 [--database-url postgresql://…] [--data-dir DIR]

Builds the app (DESK_ENV=testing, no Redis) on its own database (a temporary SQLite file
unless --database-url names one) with DESK_DATA_DIR on the disk under test, files one
complaint, and then, in the same run, alternates two phases three times:

- **disk**: each file written to a temporary file in DATA_DIR, fsynced and renamed into
  place: what the store itself does to a file, and nothing else;
- **app**: each file POSTed to /api/v1/complaints/<ticket>/evidence as multipart through
  Flask's test client (in process, no network): werkzeug's multipart parser (which spools
  the part to a temporary file), the API key check, the service (size cap while reading,
  SHA-256, type sniffing, the staged write with fsync and rename), and the transaction with
  the blob, item, timeline event and outbox row. The multipart bodies are encoded before the
  clock starts, so client-side encoding is not counted.

Files are distinct (random bytes behind a PDF header, so the type check passes and nothing is
deduplicated). Prints MB/s of each phase (median of the rounds) and app : disk.
"""
import argparse
import io
import os
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

MB = 1024 * 1024


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--files', type=int, default=20, help='files per round (default 20)')
    parser.add_argument('--size-mb', type=float, default=5, help='size of each file (default 5)')
    parser.add_argument('--rounds', type=int, default=3, help='disk/app rounds (default 3)')
    parser.add_argument('--database-url', default=None,
                        help='default: a temporary SQLite file next to the data directory')
    parser.add_argument('--data-dir', default=None,
                        help='DESK_DATA_DIR on the disk under test (default: a temporary directory '
                             'in ./instance)')
    return parser.parse_args(argv)


def make_files(count, size):
    header = b'%PDF-1.4\n'
    return [header + os.urandom(size - len(header)) for _ in range(count)]


def disk_phase(data_dir, files):
    """Temp file + write + fsync + rename per file, as LocalStorage does; seconds."""
    target = os.path.join(data_dir, 'baseline')
    os.makedirs(target, exist_ok=True)
    started = time.perf_counter()
    for n, data in enumerate(files):
        fd, tmp = tempfile.mkstemp(dir=target, prefix='up-')
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, os.path.join(target, f'file-{n}'))
    dir_fd = os.open(target, os.O_RDONLY)
    os.fsync(dir_fd)
    os.close(dir_fd)
    elapsed = time.perf_counter() - started
    for name in os.listdir(target):
        os.unlink(os.path.join(target, name))
    return elapsed


def app_phase(client, url, headers, bodies):
    """POST every pre-encoded multipart body; seconds."""
    started = time.perf_counter()
    for boundary, body in bodies:
        response = client.post(url, data=body, headers=headers,
                               content_type=f'multipart/form-data; boundary={boundary}')
        if response.status_code != 201:
            raise SystemExit(f'upload failed: {response.status_code} {response.get_data(as_text=True)[:300]}')
    return time.perf_counter() - started


def setup(database_url, data_dir):
    from app import create_app
    from desk.cases import complaints
    from desk.core import clock
    from desk.core.migrate import migrate
    from desk.orders.models import Order
    from desk.parties import accounts
    from desk.parties.models import Buyer, Merchant
    app = create_app({'ENV': 'testing', 'SECRET_KEY': 'bench-secret-key-bench-secret-key',
                      'DATABASE_URL': database_url, 'DATA_DIR': data_dir, 'REDIS_URL': None})
    context = app.app_context()
    context.push()
    migrate()
    suffix = os.urandom(4).hex()
    buyer = Buyer.create(ref=f'bench-b-{suffix}', display_name='买家', phone='13800001234')
    merchant = Merchant.create(ref=f'bench-m-{suffix}', name='商家')
    order = Order.create(order_no=f'BU{suffix}', buyer=buyer, merchant=merchant, product='Q币',
                         goods_type='game_card', amount_fen=4990, paid_at=clock.now(),
                         payment_method='alipay')
    user = accounts.create_user(f'bench-buyer-{suffix}', 'bench-password-1', 'buyer', buyer_ref=buyer.ref)
    complaint = complaints.file_complaint(user, {
        'order_no': order.order_no, 'category': 'not_as_described', 'facts': 'bench',
        'demand': {'type': 'full_refund'}})
    _key, secret = accounts.create_api_key(user, 'bench')
    return app, complaint.ticket_no, {'Authorization': f'Bearer {secret}'}


def main(argv=None):
    args = parse_args(argv)
    size = int(args.size_mb * MB)
    os.makedirs(os.path.join(ROOT, 'instance'), exist_ok=True)
    work = tempfile.mkdtemp(prefix='bench-uploads-', dir=args.data_dir or os.path.join(ROOT, 'instance'))
    data_dir = os.path.join(work, 'evidence')
    database_url = args.database_url or 'sqlite:///' + os.path.join(work, 'bench.sqlite3')
    app, ticket_no, headers = setup(database_url, data_dir)
    from werkzeug.datastructures import FileStorage
    from werkzeug.test import encode_multipart

    from tests.support import isolated_client
    client = isolated_client(app)
    url = f'/api/v1/complaints/{ticket_no}/evidence'
    print(f'{args.files} files of {size / MB:.1f} MB per phase, {args.rounds} rounds; '
          f'DATA_DIR={data_dir}; database={database_url.split("@")[-1]}')
    disk_rates, app_rates = [], []
    total = args.files * size / MB
    for round_no in range(1, args.rounds + 1):
        files = make_files(args.files, size)
        bodies = [encode_multipart({'kind': 'delivery_log', 'description': 'bench',
                                    'file': FileStorage(io.BytesIO(data), f'log-{n}.pdf',
                                                        content_type='application/octet-stream')})
                  for n, data in enumerate(files)]
        disk_seconds = disk_phase(data_dir, files)
        app_seconds = app_phase(client, url, headers, bodies)
        disk_rates.append(total / disk_seconds)
        app_rates.append(total / app_seconds)
        print(f'round {round_no}: disk {disk_rates[-1]:7.1f} MB/s   app {app_rates[-1]:7.1f} MB/s   '
              f'app : disk = {app_rates[-1] / disk_rates[-1]:.2f}   '
              f'({app_seconds / args.files * 1000:.0f} ms per upload)')
    disk, upload = statistics.median(disk_rates), statistics.median(app_rates)
    print(f'median: disk {disk:.1f} MB/s, app {upload:.1f} MB/s, app : disk = {upload / disk:.2f}')
    print(f'(work directory {work}: remove it when done)')


if __name__ == '__main__':
    main()
