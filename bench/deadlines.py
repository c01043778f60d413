"""The deadline machinery under a backlog: `desk.core.deadlines.advance_due` over 100,000 due SLA
checks in one and in two processes, the cost of a sweep with nothing due, and how late
exact-time jobs run on real RQ workers while that backlog drains.

    python bench/deadlines.py --database-url URL setup --count 100000
    python bench/deadlines.py --database-url URL sweep --processes 1
    python bench/deadlines.py --database-url URL sweep --processes 2
    python bench/deadlines.py --database-url URL idle
    python bench/deadlines.py --database-url URL lateness --jobs 200 --spread 60
    python bench/deadlines.py --database-url URL cleanup
    python bench/deadlines.py --database-url URL merchant --count 100000 --processes 1   # then 2

`setup` first applies whatever is due (so only the backlog is), then generates a dedicated
set of claimed cases (bench/complaints.py, scenario `sla_due`) whose resolution clock is
running and whose check is due at that moment — four in five a warning, one in five a
breach no sweep recorded — with their SlaClock rows, and remembers the set and that moment
in bench/out/sla-backlog.json. `sweep` re-arms the set (clocks, queue columns; the SLA
events, outbox and inbox rows an earlier run wrote are removed) and times
`advance_due(now=<that moment>)`, so every run sees the same backlog and nothing else.
With --redis-url (the default) the notifications and next checks are enqueued to that
Redis database as in production (no worker runs during the timing; the database is
emptied afterwards — use one nobody else uses); --inline runs without Redis, delivering
notifications in the same process.
"""
import argparse
import datetime as dt
import json
import multiprocessing
import os
import random
import secrets
import signal
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

STATE = os.path.join(ROOT, 'bench', 'out', 'sla-backlog.json')
DEFAULT_REDIS = 'redis://127.0.0.1:6379/13'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--database-url', default=os.environ.get('DESK_DATABASE_URL'))
    parser.add_argument('--redis-url', default=DEFAULT_REDIS, help=f'a Redis database of its own (default {DEFAULT_REDIS})')
    parser.add_argument('--inline', action='store_true', help='no Redis: notifications delivered in-process')
    sub = parser.add_subparsers(dest='command', required=True)
    setup = sub.add_parser('setup', help='generate the backlog set')
    setup.add_argument('--count', type=int, default=100_000)
    setup.add_argument('--batch', type=int, default=2000)
    setup.add_argument('--seed', type=int, default=None)
    sweep = sub.add_parser('sweep', help='re-arm the backlog and time advance_due')
    sweep.add_argument('--processes', type=int, default=1)
    sweep.add_argument('--profile', action='store_true', help='cProfile the (first) process')
    sweep.add_argument('--sql-timing', action='store_true', help='time the (first) process\'s SQL per statement kind')
    sweep.add_argument('--sweep-batch', type=int, default=None, help='rows per batch transaction (default deadlines.BATCH)')
    idle = sub.add_parser('idle', help='the cost of a sweep with nothing due, and the plan of its query')
    idle.add_argument('--repeat', type=int, default=200)
    late = sub.add_parser('lateness', help='exact-time jobs on RQ workers while the backlog drains')
    late.add_argument('--jobs', type=int, default=200)
    late.add_argument('--spread', type=float, default=60, help='seconds over which the jobs fall due')
    late.add_argument('--workers', type=int, default=2)
    late.add_argument('--timeout', type=float, default=1800, help='give up after this many seconds')
    sub.add_parser('cleanup', help='delete the backlog set')
    merchant = sub.add_parser('merchant', help='N merchant deadlines in one minute: time until all are pending_agent')
    merchant.add_argument('--count', type=int, default=100_000)
    merchant.add_argument('--processes', type=int, default=1)
    merchant.add_argument('--batch', type=int, default=2000)
    merchant.add_argument('--seed', type=int, default=None)
    merchant.add_argument('--profile', action='store_true', help='cProfile the (first) process')
    merchant.add_argument('--sql-timing', action='store_true', help='time the (first) process\'s SQL per statement kind')
    merchant.add_argument('--sweep-batch', type=int, default=None, help='rows per batch transaction (default deadlines.BATCH)')
    return parser.parse_args(argv)


def make_app(args, redis=True):
    from app import create_app
    overrides = {'DATABASE_URL': args.database_url, 'ENV': 'production', 'SECRET_KEY': secrets.token_hex(32)}
    if redis and not args.inline:
        overrides['REDIS_URL'] = args.redis_url
    return create_app(overrides)


def load_state():
    if not os.path.exists(STATE):
        sys.exit(f'no backlog set: run `{sys.argv[0]} setup` first ({STATE} is missing)')
    with open(STATE) as f:
        state = json.load(f)
    state['armed_at'] = dt.datetime.fromisoformat(state['armed_at'])
    return state


def in_set(model_field, state):
    return (model_field >= state['first_id']) & (model_field <= state['last_id'])


# --- setup / re-arm / cleanup -------------------------------------------------------------

def setup(args):
    import complaints as generator

    from desk.core import clock, deadlines
    from desk.core.db import database
    from desk.core.migrate import migrate
    app = make_app(args, redis=False)  # the drain below delivers inline: nothing left in Redis
    with app.app_context():
        migrate()
        with database.connection_context():
            started = time.perf_counter()
            drained = deadlines.advance_due()
            print(f'applied what was already due: {drained:,} in {time.perf_counter() - started:.1f}s', flush=True)
            clock.freeze(clock.now())  # the moment the backlog is due at; plans are built against it
            try:
                progress = generator.generate(app, args.count, args.batch, random.Random(args.seed), 0,
                                              only='sla_due', newest_first=True, sample_size=100)
            finally:
                armed_at = clock.now()
                clock.unfreeze()
            elapsed = time.perf_counter() - progress.started
            print(f'backlog set: {progress.complaints:,} complaints (ids {progress.first_id}..{progress.last_id}), '
                  f'{progress.rows:,} rows in {elapsed:.0f}s; due at {armed_at:%Y-%m-%d %H:%M:%S} UTC')
            save_state({'first_id': progress.first_id, 'last_id': progress.last_id,
                        'count': progress.complaints, 'armed_at': armed_at})
            generator.verify_sample(sorted(progress.sample))
            settle()  # vacuumed and analyzed: every run starts alike, whatever autovacuum does


def rearm(state, move_to=None):
    """Put the backlog set back as `setup` left it: resolution clocks running and unwarned,
    checks due at `armed_at`; what earlier runs recorded about them is removed. With
    `move_to`, the clocks move by (move_to - armed_at) and the set is due at `move_to` from
    then on (saved in the state file)."""
    from desk.agent_desk.models import SlaClock, SlaEvent
    from desk.cases.models import Complaint
    from desk.core.db import database
    from desk.messaging.models import InboxMessage, Outbox
    from desk.satisfaction import metrics
    with database.atomic():
        InboxMessage.delete().where(in_set(InboxMessage.complaint, state)).execute()
        Outbox.delete().where(in_set(Outbox.complaint, state)).execute()
        (SlaEvent.delete()
         .where(in_set(SlaEvent.complaint, state) & (SlaEvent.target == 'resolution') &
                SlaEvent.kind.in_(('warned', 'breached')))
         .execute())
        (SlaClock.update(state='running', warned=False, finished_at=None)
         .where(in_set(SlaClock.complaint, state) & (SlaClock.target == 'resolution'))
         .execute())
        if move_to is not None:
            shift = move_to - state['armed_at']
            (SlaClock.update(started_at=SlaClock.started_at + shift, due_at=SlaClock.due_at + shift)
             .where(in_set(SlaClock.complaint, state) & (SlaClock.target == 'resolution'))
             .execute())
            state['armed_at'] = move_to
            save_state(state)
        database.execute_sql(
            'UPDATE complaint SET sla_check_at = c.due_at - interval \'15 minutes\', next_due_at = c.due_at, '
            'resolution_due_at = c.due_at, '
            'queue_rank = CASE WHEN complaint.priority > 0 OR complaint.tier = %s THEN 1 ELSE 2 END '
            'FROM sla_clock c WHERE c.complaint_id = complaint.id AND c.target = %s '
            'AND complaint.id BETWEEN %s AND %s', ('L1', 'resolution', state['first_id'], state['last_id']))
    # An earlier run's breaches are taken back out of the owners' metric rollups too, so that
    # every run counts them anew as a real sweep does: otherwise a re-run finds each case's
    # contribution unchanged and skips the rollup writes (35 s where the first run took 63 s).
    ids = list(range(state['first_id'], state['last_id'] + 1))
    for start in range(0, len(ids), 1000):
        metrics.refresh_many(ids[start:start + 1000])
    due = Complaint.select().where(in_set(Complaint.id, state) & (Complaint.sla_check_at <= state['armed_at'])).count()
    database.execute_sql('ANALYZE complaint')
    return due


def save_state(state):
    os.makedirs(os.path.dirname(STATE), exist_ok=True)
    with open(STATE, 'w') as f:
        json.dump(dict(state, armed_at=state['armed_at'].isoformat()), f)


def cleanup(args):
    from desk.cases.models import Complaint
    from desk.core.db import database
    from desk.messaging.models import InboxMessage, Outbox
    state = load_state()
    app = make_app(args, redis=False)
    with app.app_context(), database.connection_context():
        started = time.perf_counter()
        with database.atomic():
            InboxMessage.delete().where(in_set(InboxMessage.complaint, state)).execute()
            Outbox.delete().where(in_set(Outbox.complaint, state)).execute()
            deleted = Complaint.delete().where(in_set(Complaint.id, state)).execute()
        print(f'deleted {deleted:,} backlog complaints (with their events, clocks and SLA events) '
              f'in {time.perf_counter() - started:.0f}s')
    os.remove(STATE)


def empty_redis(url):
    from redis import Redis
    Redis.from_url(url).flushdb()


def check_redis_unused(url):
    from redis import Redis
    keys = Redis.from_url(url).dbsize()
    if keys:
        sys.exit(f'{url} holds {keys} keys: choose a Redis database nobody else uses (--redis-url)')


# --- sweep timings -------------------------------------------------------------------------

def _sweep_worker(args, armed_at, go, results, profile):
    from statements import Statements

    from desk.core import deadlines
    from desk.core.db import connection
    app = make_app(args)
    with app.app_context(), connection():
        if getattr(args, "sweep_batch", None):
            deadlines.BATCH = args.sweep_batch
        timing = Statements() if profile and getattr(args, 'sql_timing', False) else None
        go.wait()
        started = time.perf_counter()
        if timing:
            with timing:
                applied = deadlines.advance_due(armed_at)
            timing.report(time.perf_counter() - started)
        elif profile:
            import cProfile
            import pstats
            profiler = cProfile.Profile()
            applied = profiler.runcall(deadlines.advance_due, armed_at)
            pstats.Stats(profiler).sort_stats(os.environ.get('BENCH_SORT', 'tottime')).print_stats(os.environ.get('BENCH_FILTER', ''), 25)
        else:
            applied = deadlines.advance_due(armed_at)
        results.put((os.getpid(), applied, time.perf_counter() - started))


def sweep(args):
    from peewee import fn

    from desk.agent_desk.models import SlaEvent
    from desk.cases.models import Complaint
    from desk.core.db import database
    state = load_state()
    if not args.inline:
        check_redis_unused(args.redis_url)
    app = make_app(args, redis=False)
    with app.app_context(), database.connection_context():
        due = rearm(state)
    print(f'backlog re-armed: {due:,} complaints due at {state["armed_at"]:%H:%M:%S}; '
          f'{args.processes} process(es), {"inline delivery" if args.inline else "Redis " + args.redis_url}', flush=True)
    go = multiprocessing.Event()
    results = multiprocessing.Queue()
    workers = [multiprocessing.Process(target=_sweep_worker,
                                       args=(args, state['armed_at'], go, results, (args.profile or args.sql_timing) and n == 0))
               for n in range(args.processes)]
    for w in workers:
        w.start()
    time.sleep(3)  # each builds its app first
    started = time.perf_counter()
    go.set()
    reports = [results.get() for _ in workers]
    wall = time.perf_counter() - started
    for w in workers:
        w.join()
    for pid, applied, seconds in reports:
        print(f'  process {pid}: {applied:,} handlers applied in {seconds:.1f}s')
    applied = sum(r[1] for r in reports)
    with app.app_context(), database.connection_context():
        left = Complaint.select().where(in_set(Complaint.id, state) & (Complaint.sla_check_at <= state['armed_at'])).count()
        kinds = dict(SlaEvent.select(SlaEvent.kind, fn.COUNT(SlaEvent.id)).where(
            in_set(SlaEvent.complaint, state) & (SlaEvent.target == 'resolution') &
            SlaEvent.kind.in_(('warned', 'breached'))).group_by(SlaEvent.kind).tuples())
    print(f'advance_due, {args.processes} process(es): {applied:,} applied in {wall:.1f}s wall = '
          f'{applied / wall:,.0f}/s; still due afterwards: {left}; SLA events written: {kinds}')
    if not args.inline:
        from redis import Redis
        print(f'Redis after the run: {Redis.from_url(args.redis_url).dbsize():,} keys (jobs for the workers); emptied')
        empty_redis(args.redis_url)


def idle(args):
    from desk.core import deadlines
    from desk.core.db import database
    state = load_state()
    app = make_app(args, redis=False)
    with app.app_context(), database.connection_context():
        now = state['armed_at']
        left = deadlines.advance_due(now)
        samples = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            applied = deadlines.advance_due(now)
            samples.append((time.perf_counter() - started) * 1000)
            assert applied == 0
        samples.sort()
        print(f'sweep with nothing due ({len(deadlines.REGISTRY)} registered deadline(s): '
              f'{", ".join(deadlines.REGISTRY)}; {left} were still due first): '
              f'median {statistics.median(samples):.2f} ms, p95 {samples[int(0.95 * (len(samples) - 1))]:.2f} ms '
              f'over {args.repeat} sweeps')
        for name, deadline in deadlines.REGISTRY.items():
            model, column = deadline.model, deadline.column
            query = model.select(model._meta.primary_key, column).where(column <= now).order_by(
                column, model._meta.primary_key).limit(deadlines.BATCH)
            sql, params = query.sql()
            plan = database.execute_sql('EXPLAIN (ANALYZE, BUFFERS) ' + sql, params).fetchall()
            print(f'\n-- {name}: {database.obj.cursor().mogrify(sql, params).decode()}')
            print('\n'.join(r[0] for r in plan))


# --- exact-time lateness on real workers ----------------------------------------------------

def lateness(args):
    from rq.job import Job

    from desk.agent_desk.models import SlaClock, SlaEvent
    from desk.cases.models import Complaint
    from desk.core import clock, deadlines
    from desk.core.db import database
    state = load_state()
    check_redis_unused(args.redis_url)
    app = make_app(args)
    env = dict(os.environ, DESK_DATABASE_URL=args.database_url, DESK_REDIS_URL=args.redis_url,
               DESK_ENV='production', DESK_SECRET_KEY=secrets.token_hex(32))
    processes = []
    with app.app_context(), database.connection_context():
        due = rearm(state, move_to=clock.now())  # the backlog as a sweep outage leaves it now
        # The last `jobs` cases of the set become the exact-time ones: their check falls due
        # at T_i spread over the next `spread` seconds (a warning: the target is T_i + 15 min).
        exact_first = state['last_id'] - args.jobs + 1
        start = clock.now() + dt.timedelta(seconds=10)
        moments = {exact_first + i: start + dt.timedelta(seconds=int(i * args.spread / args.jobs))
                   for i in range(args.jobs)}
        with database.atomic():
            for complaint_id, at in moments.items():
                target = at + dt.timedelta(minutes=15)
                (SlaClock.update(due_at=target)
                 .where((SlaClock.complaint == complaint_id) & (SlaClock.target == 'resolution')).execute())
                Complaint.update(sla_check_at=at, next_due_at=target, resolution_due_at=target).where(
                    Complaint.id == complaint_id).execute()
        for complaint_id, at in moments.items():
            deadlines.schedule('sla', complaint_id, at)  # outside a transaction: enqueued at once
        backlog = due - sum(1 for _ in moments)
        print(f'backlog: {backlog:,} due checks; {args.jobs} exact-time jobs from {start:%H:%M:%S} '
              f'over {args.spread:.0f}s; {args.workers} worker(s) with the scheduler + rq cron', flush=True)
        rq = os.path.join(ROOT, '.venv', 'bin', 'rq')
        logs = open(os.path.join(ROOT, 'bench', 'out', 'lateness-workers.log'), 'w')
        for _ in range(args.workers):
            processes.append(subprocess.Popen(
                [rq, 'worker', '--with-scheduler', '-w', 'web.worker.DeskWorker', '--url', args.redis_url, 'desk'],
                cwd=ROOT, env=env, stdout=logs, stderr=subprocess.STDOUT))
        processes.append(subprocess.Popen([rq, 'cron', '--url', args.redis_url, 'web/cron.py'],
                                          cwd=ROOT, env=env, stdout=logs, stderr=subprocess.STDOUT))
        launched = time.monotonic()
        drained_after = None
        try:
            while time.monotonic() - launched < args.timeout:
                time.sleep(5)
                left = Complaint.select().where(
                    (Complaint.id >= state['first_id']) & (Complaint.id < exact_first) &
                    (Complaint.sla_check_at <= state['armed_at'])).count()
                done = SlaEvent.select().where(
                    (SlaEvent.complaint >= exact_first) & (SlaEvent.complaint <= state['last_id']) &
                    (SlaEvent.target == 'resolution') & (SlaEvent.kind == 'warned')).count()
                if left == 0 and drained_after is None:
                    drained_after = time.monotonic() - launched
                print(f'  {time.monotonic() - launched:6.0f}s: backlog left {left:>7,}, exact-time applied {done}/{args.jobs}',
                      flush=True)
                if drained_after is not None and done >= args.jobs:
                    break
        finally:
            for p in processes:
                p.send_signal(signal.SIGTERM)
            for p in processes:
                try:
                    p.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    p.kill()
        applied_late, job_late, by_sweep = [], [], 0
        redis = app.extensions['desk_redis']
        for complaint_id, at in moments.items():
            event = (SlaEvent.select(SlaEvent.at)
                     .where((SlaEvent.complaint == complaint_id) & (SlaEvent.target == 'resolution') &
                            (SlaEvent.kind == 'warned')).first())
            if event is not None:
                applied_late.append((event.at - at).total_seconds())
            epoch = int(at.replace(tzinfo=dt.timezone.utc).timestamp())
            try:
                job = Job.fetch(f'deadline-sla-{complaint_id}-{epoch}', connection=redis)
            except Exception:
                continue
            if job.started_at is not None:
                started = job.started_at
                if started.tzinfo is not None:
                    started = started.astimezone(dt.timezone.utc).replace(tzinfo=None)
                job_late.append((started - at).total_seconds())
                if job.return_value() is False:
                    by_sweep += 1
    print(f'backlog drained after {drained_after:.0f}s' if drained_after else 'backlog NOT drained in time')
    for label, values in (('deadline applied (SlaEvent.at - due, 1 s resolution)', applied_late),
                          ('exact-time job started (RQ started_at - due)', job_late)):
        if values:
            values.sort()
            print(f'{label}: n={len(values)}, p50 {statistics.median(values):.1f}s, '
                  f'p99 {values[min(len(values) - 1, int(0.99 * len(values)))]:.1f}s, max {values[-1]:.1f}s')
    print(f'exact-time jobs that found the check already applied by a sweep: {by_sweep}')
    empty_redis(args.redis_url)


# --- merchant deadlines ---------------------------------------------------------------------

#: The tables a merchant-deadline run writes (and deletes from when it is done).
TOUCHED = ('complaint', 'event', 'sla_clock', 'sla_event', 'violation', 'violation_complaint', 'outbox',
           'inbox_message', 'merchant_standing', 'deposit_entry')


def settle():
    """Vacuum and analyze what a run touched once its set is deleted, so that the next run
    starts alike: no dead index entries of this run's set (autovacuum may be off, as on the
    machines these figures come from, or behind). Not right before a timing: the pages a
    vacuum dirties are written back by the kernel during the run. (No CHECKPOINT either:
    forcing one makes every page a run touches pay a full-page image in the WAL.)"""
    from desk.core.db import database, is_sqlite
    if is_sqlite():
        return
    conn = database.connection()
    autocommit = conn.autocommit
    conn.autocommit = True
    try:
        with conn.cursor() as cursor:
            cursor.execute('VACUUM (ANALYZE) ' + ', '.join(TOUCHED))
    finally:
        conn.autocommit = autocommit


def merchant(args):
    """Generate `count` negotiating cases whose merchant deadline passed within the last
    minute, time `advance_due` in `processes` processes until every one is pending_agent
    with its no_response violation, then delete the set (each run starts from scratch)."""
    import complaints as generator
    from peewee import fn

    from arbitration.penalties.models import Violation
    from desk.cases.models import Complaint
    from desk.core import clock, deadlines
    from desk.core.db import database, is_sqlite
    from desk.messaging.models import InboxMessage, Outbox
    if not args.inline:
        check_redis_unused(args.redis_url)
    app = make_app(args, redis=False)
    with app.app_context(), database.connection_context():
        started = time.perf_counter()
        drained = deadlines.advance_due()
        print(f'applied what was already due: {drained:,} in {time.perf_counter() - started:.1f}s', flush=True)
        clock.freeze(clock.now())
        try:
            progress = generator.generate(app, args.count, args.batch, random.Random(args.seed), 0,
                                          only='merchant_due', newest_first=True, sample_size=0)
        finally:
            armed_at = clock.now()
            clock.unfreeze()
        generator.analyze()
        state = {'first_id': progress.first_id, 'last_id': progress.last_id}
        due = Complaint.select().where(in_set(Complaint.id, state) & (Complaint.merchant_due_at <= armed_at)).count()
        spread = Complaint.select(fn.MIN(Complaint.merchant_due_at), fn.MAX(Complaint.merchant_due_at)).where(
            in_set(Complaint.id, state)).tuples().get()
    print(f'{due:,} negotiating cases due between {spread[0]:%H:%M:%S} and {spread[1]:%H:%M:%S}; '
          f'{args.processes} process(es), {"inline delivery" if args.inline else "Redis " + args.redis_url}',
          flush=True)
    with app.app_context(), database.connection_context():
        wal_before = database.execute_sql('SELECT pg_current_wal_lsn()').fetchone()[0] if not is_sqlite() else None
    go = multiprocessing.Event()
    results = multiprocessing.Queue()
    workers = [multiprocessing.Process(target=_sweep_worker, args=(args, armed_at, go, results, (args.profile or args.sql_timing) and n == 0))
               for n in range(args.processes)]
    for w in workers:
        w.start()
    time.sleep(3)
    started = time.perf_counter()
    go.set()
    reports = [results.get() for _ in workers]
    wall = time.perf_counter() - started
    for w in workers:
        w.join()
    with app.app_context(), database.connection_context():
        states = dict(Complaint.select(Complaint.state, fn.COUNT(Complaint.id)).where(in_set(Complaint.id, state))
                      .group_by(Complaint.state).tuples())
        violations = Violation.select().where(in_set(Violation.complaint, state) & (Violation.code == 'no_response')).count()
        for pid, applied, seconds in reports:
            print(f'  process {pid}: {applied:,} handlers applied in {seconds:.1f}s')
        if wal_before is not None:
            wal = database.execute_sql('SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s)', (wal_before,)).fetchone()[0]
            print(f'  WAL written: {wal / 2**20:,.0f} MiB ({wal / due / 1024:.1f} KiB a case)')
        print(f'merchant deadlines, {args.processes} process(es): {due:,} due, all applied in {wall:.1f}s wall = '
              f'{due / wall:,.0f}/s; states after: {states}; no_response violations: {violations:,}', flush=True)
        with database.atomic():
            Violation.delete().where(in_set(Violation.complaint, state)).execute()
            InboxMessage.delete().where(in_set(InboxMessage.complaint, state)).execute()
            Outbox.delete().where(in_set(Outbox.complaint, state)).execute()
            Complaint.delete().where(in_set(Complaint.id, state)).execute()
        settle()
        print('the set is deleted', flush=True)
    if not args.inline:
        empty_redis(args.redis_url)


def main(argv=None):
    args = parse_args(argv)
    if not args.database_url:
        sys.exit('--database-url (or DESK_DATABASE_URL) is required')
    {'setup': setup, 'sweep': sweep, 'idle': idle, 'lateness': lateness, 'cleanup': cleanup,
     'merchant': merchant}[args.command](args)


if __name__ == '__main__':
    main()
