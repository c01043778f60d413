"""Fill a database with N realistic complaints over its existing orders (bench/generate.py).

    python bench/complaints.py --complaints 1000000 --database-url postgresql://postgres@127.0.0.1/bench

At most one complaint per order (orders that already have one are skipped), so the partial
unique index on open complaints per order always holds. Stories follow the lifecycle
(`bench/complaint_plan.py`): most cases closed or resolved, some negotiating or waiting
for the buyer, and about 2 % of N per department (cs, ops, tech) in the agent queues —
waiting, in progress or in arbitration, some overdue — with running SLA clocks, owners
among generated agents, and deadlines consistent with the state. Every complaint gets its
hash-chained timeline (`desk.cases.timeline._digest`, so `desk verify-audit` passes) and its
timeline head; negotiated cases their proposals, decided ones their remedies, merchant
silence its no_response violation; ticket numbers continue each day's `TicketCounter`.

Rows are built lazily and written `--batch` complaints per transaction (peewee
`insert_many`), so memory stays flat. Run it on a database nobody else writes to: ids are
reserved from the sequence and ticket numbers counted in this process.
"""
import argparse
import collections
import datetime as dt
import io
import itertools
import json
import os
import random
import sys
import time

from peewee import SQL, fn

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from complaint_plan import COMPLAINT_COLUMNS, SCENARIOS, Agent, OrderRow, Planner, RemedyRef, Settings  # noqa: E402
from generate import peak_rss_mb  # noqa: E402

from app import create_app  # noqa: E402
from arbitration.penalties.models import Violation  # noqa: E402
from desk.agent_desk.business_calendar import Calendar  # noqa: E402
from desk.agent_desk.models import SlaClock, SlaEvent, SlaPolicy  # noqa: E402
from desk.agent_desk.sla import DEFAULT_POLICIES  # noqa: E402
from desk.cases.models import Category, Complaint, Event, Proposal, Remedy, RuleClause, TicketCounter  # noqa: E402
from desk.cases.timeline import GENESIS, _digest, verify_chain  # noqa: E402
from desk.core import clock  # noqa: E402
from desk.core.db import database, is_sqlite  # noqa: E402
from desk.core.migrate import migrate  # noqa: E402
from desk.core.times import zone  # noqa: E402
from desk.orders.models import Order  # noqa: E402
from desk.parties import accounts
from desk.parties.models import DEPARTMENTS, User

#: Parameters per INSERT statement: under SQLite's limit of 32766.
PARAMS_PER_STATEMENT = 30000
AGENT_PASSWORD = 'bench-pass-2026'
#: Agents per department and the share of senior agents among them.
AGENT_SPLIT = {'cs': (0.5, 0.2), 'ops': (0.3, 0.3), 'tech': (0.2, 0.6)}
SUPERVISORS = 10
AGENT_CAPACITY = 300  # the generated queues are long: claiming must stay possible
SURNAMES = '王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗'
GIVEN = ['伟', '芳', '娜', '敏', '静', '磊', '洋', '艳', '勇', '军', '杰', '娟', '涛', '明', '超', '霞', '平', '刚']
DEPARTMENT_ZH = {'cs': '客服部', 'ops': '运营部', 'tech': '技术部'}
DEFERRED_LOOKAHEAD = 8

COMPLAINT_FIELDS = ([Complaint.id, Complaint.ticket_no] + [getattr(Complaint, c) for c in COMPLAINT_COLUMNS]
                    + [Complaint.timeline_length, Complaint.timeline_head])
EVENT_FIELDS = [Event.complaint, Event.seq, Event.at, Event.actor, Event.actor_role, Event.kind,
                Event.public, Event.data, Event.prev_hash, Event.hash]
CLOCK_FIELDS = [SlaClock.complaint, SlaClock.target, SlaClock.state, SlaClock.started_at, SlaClock.due_at,
                SlaClock.paused_at, SlaClock.paused_seconds, SlaClock.warned, SlaClock.finished_at]
SLA_EVENT_FIELDS = [SlaEvent.complaint, SlaEvent.target, SlaEvent.kind, SlaEvent.at, SlaEvent.owner,
                    SlaEvent.department, SlaEvent.due_at]
PROPOSAL_FIELDS = [Proposal.complaint, Proposal.seq, Proposal.kind, Proposal.amount_fen, Proposal.message,
                   Proposal.state, Proposal.created_by, Proposal.created_at, Proposal.answered_at,
                   Proposal.buyer_reason, Proposal.accepted_by_timeout]
REMEDY_FIELDS = [Remedy.id, Remedy.complaint, Remedy.order, Remedy.kind, Remedy.amount_fen, Remedy.source,
                 Remedy.state, Remedy.idempotency_key, Remedy.created_at, Remedy.confirmed_at, Remedy.confirm_due_at]
VIOLATION_FIELDS = [Violation.merchant, Violation.complaint, Violation.code, Violation.points, Violation.fine_fen,
                    Violation.at, Violation.expires_at, Violation.state, Violation.reason]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--complaints', type=int, default=1_000_000, help='how many (default 1,000,000)')
    parser.add_argument('--database-url', help='peewee URL (default: DESK_DATABASE_URL or the app default)')
    parser.add_argument('--batch', type=int, default=2000, help='complaints per transaction (default 2000)')
    parser.add_argument('--seed', type=int, default=None, help='random seed for reproducible values')
    parser.add_argument('--queue-per-department', type=int, default=None,
                        help='open cases in each department\'s queue (default 2 %% of N)')
    parser.add_argument('--agents', type=int, default=500, help='agents across cs/ops/tech (default 500)')
    parser.add_argument('--verify-sample', type=int, default=1000,
                        help='timelines to re-verify with desk.cases.timeline.verify_chain at the end')
    return parser.parse_args(argv)


# --- staff ----------------------------------------------------------------------------------

def ensure_staff(total_agents, rng):
    """Create the bench agents and supervisors that do not exist yet; returns the pools."""
    existing = {u.username for u in User.select(User.username).where(User.username.startswith('bench-'))}
    password_hash = None
    rows = []
    for department, (share, senior_share) in AGENT_SPLIT.items():
        count = max(2, round(total_agents * share))
        for n in range(1, count + 1):
            username = f'bench-{department}-{n:03d}'
            if username in existing:
                continue
            password_hash = password_hash or accounts.hash_password(AGENT_PASSWORD)
            senior = n <= max(1, round(count * senior_share))
            rows.append((username, password_hash,
                         f'{rng.choice(SURNAMES)}{rng.choice(GIVEN)}({DEPARTMENT_ZH[department]})',
                         'senior_agent' if senior else 'agent', department,
                         rng.choices(['online', 'away', 'offline'], [6, 1, 3])[0], AGENT_CAPACITY))
    for n in range(1, SUPERVISORS + 1):
        username = f'bench-supervisor-{n:02d}'
        if username not in existing:
            password_hash = password_hash or accounts.hash_password(AGENT_PASSWORD)
            rows.append((username, password_hash, f'{rng.choice(SURNAMES)}主管', 'supervisor', None, 'offline', 10))
    if rows:
        with database.atomic():
            User.insert_many(rows, fields=[User.username, User.password_hash, User.display_name, User.role,
                                           User.department, User.status, User.capacity]).execute()
    pools = {d: {'any': [], 'senior': []} for d in DEPARTMENTS}
    for u in (User.select(User.id, User.username, User.display_name, User.role, User.department)
              .where(User.username.startswith('bench-') & User.role.in_(('agent', 'senior_agent')))
              .order_by(User.id)):
        agent = Agent(u.id, u.username, u.display_name, u.role)
        pools[u.department]['any'].append(agent)
        if u.role == 'senior_agent':
            pools[u.department]['senior'].append(agent)
    return pools


def load_settings(app, agents, now):
    categories = {c.code: (c.path, c.tier, c.department, json.loads(c.scenario_fields or '[]'))
                  for c in Category.select().where(Category.active == True)}  # noqa: E712
    clauses = collections.defaultdict(list)
    for clause in RuleClause.select().where(RuleClause.active == True):  # noqa: E712
        if clause.category:
            clauses[clause.category].append(clause.code)
    policies = dict(DEFAULT_POLICIES)
    for p in SlaPolicy.select():
        policies[p.tier] = (p.first_response_seconds, p.resolution_seconds)
    config = app.config
    seconds = {'WINDOW': config['COMPLAINT_WINDOW_DAYS'] * 86400, 'EDIT': config['EDIT_SECONDS'],
               'MERCHANT': config['MERCHANT_RESPONSE_SECONDS'], 'BUYER': config['BUYER_RESPONSE_SECONDS'],
               'EVIDENCE': config['EVIDENCE_SECONDS'], 'RATING': config['RATING_SECONDS'],
               'APPEAL': config['APPEAL_SECONDS']}
    return Settings(now=now, zone=zone(), categories=categories, clauses=dict(clauses), policies=policies,
                    calendar=Calendar.load(), seconds=seconds, agents=agents)


# --- orders and scenarios -------------------------------------------------------------------

def _free(query):
    return query.where(~fn.EXISTS(Complaint.select(SQL('1')).where(Complaint.order == Order.id)))


def count_free_orders():
    return _free(Order.select()).count()


def free_orders(page, newest_first=False):
    """Orders without a complaint, `page` at a time by id (keyset: memory stays flat)."""
    last = None
    while True:
        query = _free(Order.select(Order.id, Order.buyer, Order.merchant, Order.product, Order.goods_type,
                                   Order.amount_fen, Order.paid_at, Order.delivered_at, Order.confirmed_at,
                                   Order.receiving_account))
        if last is not None:
            query = query.where(Order.id < last if newest_first else Order.id > last)
        rows = list(query.order_by(Order.id.desc() if newest_first else Order.id).limit(page).tuples())
        if not rows:
            return
        for row in rows:
            yield OrderRow(*row)
        last = rows[-1][0]


class Scenarios:
    """Draws each complaint's scenario; one an order cannot hold waits for a later order."""

    def __init__(self, rng, total, queue_per_department, only=None):
        self.rng = rng
        self.only = only
        queue_share = min(0.9, 3 * queue_per_department / total)
        scale = (1 - queue_share) / sum(SCENARIOS.values())
        pairs = [(name, share * scale) for name, share in SCENARIOS.items()]
        pairs += [(f'queue:{d}', queue_share / 3) for d in DEPARTMENTS]
        self.names, self.weights = zip(*pairs)
        self.cumulative = list(itertools.accumulate(self.weights))
        self.deferred = collections.deque()
        self.counts = collections.Counter()

    def plan(self, planner, order):
        if self.only:
            plan = planner.plan(order, self.only)
            if plan:
                self.counts[self.only] += 1
            return plan
        for i, name in enumerate(itertools.islice(self.deferred, DEFERRED_LOOKAHEAD)):
            plan = planner.plan(order, name)
            if plan:
                del self.deferred[i]
                self.counts[name] += 1
                return plan
        for _ in range(4):
            name = self.rng.choices(self.names, cum_weights=self.cumulative)[0]
            plan = planner.plan(order, name)
            if plan:
                self.counts[name] += 1
                return plan
            self.deferred.append(name)
        plan = planner.plan(order, 'withdrawn')
        if plan:
            self.counts['withdrawn'] += 1
        return plan


def chosen_orders(orders, wanted, available, rng):
    """Selection sampling (Knuth's algorithm S): `wanted` of the `available` orders, evenly."""
    seen = 0
    for order in orders:
        if wanted <= 0:
            return
        if rng.random() * (available - seen) < wanted:
            wanted -= (yield order)
        seen += 1


# --- writing -------------------------------------------------------------------------------

class TicketNumbers:
    """TS<local date>-NNNNNN continuing each day's counter, exactly like filing does."""

    def __init__(self, tz):
        self.tz = tz
        self.last = {row.day: row.last for row in TicketCounter.select()}
        self.touched = set()

    def next(self, created):
        day = created.replace(tzinfo=dt.timezone.utc).astimezone(self.tz).strftime('%Y%m%d')
        number = self.last.get(day, 0) + 1
        self.last[day] = number
        self.touched.add(day)
        return f'TS{day}-{number:06d}'

    def save(self):
        if self.touched:
            (TicketCounter
             .insert_many([(d, self.last[d]) for d in sorted(self.touched)], fields=[TicketCounter.day, TicketCounter.last])
             .on_conflict(conflict_target=[TicketCounter.day], preserve=[TicketCounter.last])
             .execute())
            self.touched.clear()


def reserve_ids(model, count):
    """`count` ids for `model`, taken from its table's own sequence (PostgreSQL) or after
    the highest id (SQLite, whose write lock this transaction holds)."""
    if count == 0:
        return []
    if is_sqlite():
        start = (model.select(fn.MAX(model.id)).scalar() or 0) + 1
        return list(range(start, start + count))
    cursor = database.execute_sql('SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)',
                                  (model._meta.table_name, 'id', count))
    return [row[0] for row in cursor.fetchall()]


def insert_rows(model, fields, rows):
    """INSERT on SQLite; COPY on PostgreSQL, where building multi-row INSERTs in peewee was
    three quarters of the run (this is the data set, not the write path: filing through the
    application is measured by api_load.py)."""
    if not is_sqlite():
        return copy_rows(model, fields, rows)
    per_statement = max(1, min(1000, PARAMS_PER_STATEMENT // len(fields)))
    for start in range(0, len(rows), per_statement):
        model.insert_many(rows[start:start + per_statement], fields=fields).execute()


def _copy_text(value):
    if value is None:
        return '\\N'
    if isinstance(value, bool):
        return 't' if value else 'f'
    return (str(value).replace('\\', '\\\\').replace('\t', '\\t')
            .replace('\n', '\\n').replace('\r', '\\r'))


def copy_rows(model, fields, rows):
    """`COPY table (columns) FROM STDIN` of rows, each value through its field's db_value."""
    if not rows:
        return
    converters = [f.db_value for f in fields]
    lines = ('\t'.join(_copy_text(convert(v)) for convert, v in zip(converters, row)) for row in rows)
    buffer = io.StringIO('\n'.join(lines) + '\n')
    columns = ', '.join(f'"{f.column_name}"' for f in fields)
    database.cursor().copy_expert(f'COPY "{model._meta.table_name}" ({columns}) FROM STDIN', buffer)


def chain(complaint_id, events, remedy_ids):
    """Event rows hash-chained exactly as `desk.cases.timeline.record` writes them; and the head."""
    rows, prev = [], GENESIS
    for seq, (at, actor_id, role, kind, public, data) in enumerate(events, start=1):
        data = {k: remedy_ids[v.index] if isinstance(v, RemedyRef) else v for k, v in data.items()}
        digest = _digest(complaint_id, seq, at, actor_id, role, kind, public, data, prev)
        rows.append((complaint_id, seq, at, actor_id, role, kind, public,
                     json.dumps(data, ensure_ascii=False, sort_keys=True), prev, digest))
        prev = digest
    return rows, prev


def write_batch(plans, tickets):
    """Insert one batch of planned complaints with their timelines, clocks, proposals,
    remedies and violations; returns (complaint ids, rows written, events written)."""
    with database.atomic():
        ids = reserve_ids(Complaint, len(plans))
        remedy_ids = iter(reserve_ids(Remedy, sum(len(p.remedies) for p in plans)))
        complaints, events, clocks, sla_events, proposals, remedies, violations = [], [], [], [], [], [], []
        for complaint_id, plan in zip(ids, plans):
            row = plan.complaint
            mine = [next(remedy_ids) for _ in plan.remedies]
            chained, head = chain(complaint_id, plan.events, mine)
            events.extend(chained)
            complaints.append((complaint_id, tickets.next(row['created_at']))
                              + tuple(row[c] for c in COMPLAINT_COLUMNS) + (len(chained), head))
            clocks.extend((complaint_id,) + tuple(c[f.name] for f in CLOCK_FIELDS[1:]) for c in plan.clocks)
            sla_events.extend((complaint_id,) + tuple(e[f.name] for f in SLA_EVENT_FIELDS[1:])
                              for e in plan.sla_events)
            proposals.extend((complaint_id,) + tuple(p[f.name] for f in PROPOSAL_FIELDS[1:]) for p in plan.proposals)
            remedies.extend((remedy_id, complaint_id) + tuple(r[f.name] for f in REMEDY_FIELDS[2:])
                            for remedy_id, r in zip(mine, plan.remedies))
            violations.extend((row['merchant'], complaint_id) + tuple(v[f.name] for f in VIOLATION_FIELDS[2:])
                              for v in plan.violations)
        tables = ((Complaint, COMPLAINT_FIELDS, complaints), (Event, EVENT_FIELDS, events),
                  (SlaClock, CLOCK_FIELDS, clocks), (SlaEvent, SLA_EVENT_FIELDS, sla_events),
                  (Proposal, PROPOSAL_FIELDS, proposals), (Remedy, REMEDY_FIELDS, remedies),
                  (Violation, VIOLATION_FIELDS, violations))
        for model, fields, rows in tables:
            insert_rows(model, fields, rows)
        tickets.save()
    return ids, sum(len(rows) for _m, _f, rows in tables), len(events)


class Progress:
    def __init__(self, total, label='complaints'):
        self.total, self.label = total, label
        self.started = time.perf_counter()
        self.step = max(1, total // 10)
        self.next_report = self.step
        self.complaints = self.rows = self.events = 0
        self.plan_seconds = self.write_seconds = 0.0
        self.first_id = self.last_id = None
        self.sample = []

    def add(self, complaints, rows, events):
        self.complaints += complaints
        self.rows += rows
        self.events += events
        if self.complaints >= self.next_report or self.complaints >= self.total:
            self.next_report += self.step
            elapsed = time.perf_counter() - self.started
            print(f'  {self.complaints:>10,} {self.label}  {self.rows:>11,} rows  {elapsed:7.1f}s  '
                  f'{self.rows / elapsed:8,.0f} rows/s  peak RSS {peak_rss_mb():.0f} MB', flush=True)


def generate(app, total, batch, rng, queue_per_department, agents=500, only=None, newest_first=False,
             sample_size=1000):
    """Write `total` complaints; returns Progress (with this run's id range and a sample of
    its ids)."""
    now = clock.now()
    pools = ensure_staff(agents, rng)
    settings = load_settings(app, pools, now)
    planner = Planner(settings, rng)
    scenarios = Scenarios(rng, total, queue_per_department, only)
    tickets = TicketNumbers(settings.zone)
    available = count_free_orders()
    print(f'{available:,} orders without a complaint; writing {total:,} complaints '
          f'({batch} per transaction), now = {now:%Y-%m-%d %H:%M:%S} UTC', flush=True)
    progress = Progress(total)
    sample = Reservoir(rng, sample_size)
    picker = chosen_orders(free_orders(5000, newest_first), total, available, rng) if not only else \
        _all(free_orders(5000, newest_first), total)
    plans = []
    t0 = time.perf_counter()
    order = next(picker, None)
    while order is not None:
        plan = scenarios.plan(planner, order)
        if plan:
            plans.append(plan)
        try:
            order = picker.send(1 if plan else 0)
        except StopIteration:
            order = None
        if len(plans) >= batch or (order is None and plans):
            t1 = time.perf_counter()
            progress.plan_seconds += t1 - t0
            ids, rows, events = write_batch(plans, tickets)
            t0 = time.perf_counter()
            progress.write_seconds += t0 - t1
            sample.extend(ids)
            progress.first_id = min(progress.first_id or ids[0], ids[0])
            progress.last_id = ids[-1]
            progress.add(len(ids), rows, events)
            plans = []
    progress.scenarios = scenarios.counts
    progress.deferred = len(scenarios.deferred)
    progress.sample = sample.items
    return progress


def _all(orders, wanted):
    """Every order in turn until `wanted` were used (`send` says whether one was)."""
    for order in orders:
        if wanted <= 0:
            return
        wanted -= (yield order)


class Reservoir:
    """A uniform sample of bounded size from a stream of ids."""

    def __init__(self, rng, size):
        self.rng, self.size, self.items, self.seen = rng, size, [], 0

    def extend(self, ids):
        for value in ids:
            self.seen += 1
            if len(self.items) < self.size:
                self.items.append(value)
            else:
                slot = self.rng.randrange(self.seen)
                if slot < self.size:
                    self.items[slot] = value


def analyze():
    if not is_sqlite():
        for table in ('complaint', 'event', 'sla_clock', 'sla_event', 'ticket_counter', 'proposal', 'remedy',
                      'violation'):
            database.execute_sql(f'ANALYZE {table}')


def summary(first_id, last_id):
    in_run = (Complaint.id >= first_id) & (Complaint.id <= last_id)
    states = dict(Complaint.select(Complaint.state, fn.COUNT(Complaint.id)).where(in_run)
                  .group_by(Complaint.state).tuples())
    queues = list(Complaint.select(Complaint.department, Complaint.state, Complaint.queue_rank, fn.COUNT(Complaint.id))
                  .where(in_run & (Complaint.in_queue == True))  # noqa: E712
                  .group_by(Complaint.department, Complaint.state, Complaint.queue_rank)
                  .order_by(Complaint.department, Complaint.state, Complaint.queue_rank).tuples())
    print('states: ' + ', '.join(f'{k} {v:,}' for k, v in sorted(states.items(), key=lambda kv: -kv[1])))
    by_department = collections.Counter()
    for department, state, rank, n in queues:
        by_department[department] += n
        print(f'  queue {department:<4} {state:<15} {"overdue" if rank == 0 else "on time":<8} {n:>8,}')
    print('queue per department: ' + ', '.join(f'{d} {n:,}' for d, n in sorted(by_department.items())))


def verify_sample(ids):
    broken = [(i, problem) for i in ids if (problem := verify_chain(i))]
    print(f'timeline check (desk.cases.timeline.verify_chain) on {len(ids):,} sampled complaints: '
          f'{len(ids) - len(broken):,} intact' + (f', BROKEN: {broken[:5]}' if broken else ''))
    return not broken


def main(argv=None):
    args = parse_args(argv)
    if args.complaints < 1 or args.batch < 1:
        sys.exit('--complaints and --batch must be at least 1')
    queue_per_department = (args.queue_per_department if args.queue_per_department is not None
                            else round(args.complaints * 0.02))
    app = create_app({'DATABASE_URL': args.database_url} if args.database_url else None)
    rng = random.Random(args.seed)
    with app.app_context():
        migrate()
        print(f'database: {database.obj.__class__.__name__} {database.obj.database}; '
              f'{args.complaints:,} complaints, {queue_per_department:,} per department queue', flush=True)
        with database.connection_context():
            progress = generate(app, args.complaints, args.batch, rng, queue_per_department, args.agents,
                                sample_size=args.verify_sample)
            elapsed = time.perf_counter() - progress.started
            print(f'done: {progress.complaints:,} complaints, {progress.events:,} events '
                  f'({progress.events / max(1, progress.complaints):.2f} per complaint), {progress.rows:,} rows '
                  f'in {elapsed:.1f}s = {progress.complaints / elapsed:,.0f} complaints/s, '
                  f'{progress.rows / elapsed:,.0f} rows/s; peak RSS {peak_rss_mb():.0f} MB; '
                  f'building {progress.plan_seconds:.0f}s, writing {progress.write_seconds:.0f}s', flush=True)
            print('scenarios: ' + ', '.join(f'{k} {v:,}' for k, v in progress.scenarios.most_common())
                  + f'; still deferred at the end: {progress.deferred}')
            if progress.complaints < args.complaints:
                print(f'note: only {progress.complaints:,} orders could take a complaint')
            if progress.complaints:
                analyze()
                summary(progress.first_id, progress.last_id)
                if not verify_sample(sorted(progress.sample)):
                    sys.exit(1)


if __name__ == '__main__':
    main()
