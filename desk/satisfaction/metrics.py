"""Agent metrics (SPEC §6; formulas in docs/metrics.md), kept in rollup tables.

Each complaint contributes counters to `MetricDay` rows (subject, department, local day):
the case itself to the agent who first resolved it (handled, first-contact resolution,
reopened, appealed, overturned, handle time), each of its ratings to the agent (or merchant)
snapshotted on the rating, each SLA target to the owner recorded on its deciding SLA event.
`contribution(complaint_id)` computes that from the raw tables for one complaint
(`contributions` for many at once); the last
one applied is kept in `CaseMetric`, so a change is applied as a delta (new − old) within
the transaction that made it (timeline and SLA listeners). `rebuild()` recomputes every
complaint from scratch; the two always agree (tests/desk/satisfaction/test_metrics.py proves it on a random
history). Pages read only `MetricDay` (one indexed range scan per page).
"""
import datetime as dt
import json
import math
import operator
from collections import Counter, defaultdict
from functools import reduce

from peewee import EXCLUDED, fn

from desk.agent_desk import sla
from desk.agent_desk.models import SlaEvent
from desk.cases import timeline
from desk.cases.access import AGENT_ROLES
from desk.cases.models import Appeal, Complaint, Event, Ruling
from desk.core import clock
from desk.core.db import MAX_PARAMS, among, atomic
from desk.core.times import to_local
from desk.parties.models import User
from desk.satisfaction.models import HANDLE_BUCKETS, CaseMetric, MetricDay, MetricWeights, Rating

COUNTERS = ('handled', 'fcr', 'reopened', 'appealed', 'overturned', 'handle_seconds', 'rated', 'stars',
            'satisfied', 'dissatisfied', 'excluded', 'fr_met', 'fr_total', 'res_met', 'res_total')
BUCKETS = tuple(f'h{n:02d}' for n in range(HANDLE_BUCKETS))
FIELDS = COUNTERS + BUCKETS
BUCKET_RATIO = 1.25  # bucket n holds handle times of [1.25^n − 1, 1.25^(n+1) − 1) minutes
#: First resolution of a case by an agent (a ruling or a platform resolution); the other
#: resolutions (agreement, timeouts) have no agent and count only through their ratings.
AGENT_RESOLUTIONS = ('ruled', 'resolved')
#: Timeline events after which a complaint's contribution may have changed.
METRIC_KINDS = ('ruled', 'resolved', 'accepted', 'buyer_timeout', 'merchant_timeout', 'appeal_ruled',
                'appealed', 'reopened', 'rated', 'reviewed', 'claimed', 'assigned', 'reassigned')
DEFAULT_WEIGHTS = {'csat': 40.0, 'fcr': 25.0, 'sla': 20.0, 'not_overturned': 15.0}


def bucket_of(seconds):
    minutes = max(0.0, seconds / 60.0)
    return min(HANDLE_BUCKETS - 1, int(math.log(minutes + 1, BUCKET_RATIO)))


def bucket_middle(n):
    """The representative handle time (seconds) of bucket n: its geometric middle."""
    low, high = BUCKET_RATIO ** n - 1, BUCKET_RATIO ** (n + 1) - 1
    return 60 * (math.sqrt((low + 1) * (high + 1)) - 1)


def local_day(at):
    return to_local(at).date().isoformat()


def _key(kind, subject, department, at):
    return f'{kind}|{subject}|{department or "-"}|{local_day(at)}'


# --- one complaint's contribution ---------------------------------------------------------------

def contribution(complaint_id):
    """{key: {counter: n}} of one complaint, from the raw tables (no zero counters)."""
    return contributions([complaint_id]).get(complaint_id, {})


def contributions(complaint_ids):
    """`contribution` of many complaints: {complaint id: contribution} (a complaint that does
    not exist is left out), in six queries however many complaints."""
    ids = sorted(set(complaint_ids))
    complaints = {c.id: c for c in Complaint.select(Complaint.id, Complaint.created_at, Complaint.department)
                  .where(among(Complaint.id, ids))}
    events, sla_events, ratings = defaultdict(list), defaultdict(list), defaultdict(list)
    for event in (Event
                  .select(Event.complaint, Event.kind, Event.at, Event.actor, Event.actor_role, Event.seq)
                  .where(among(Event.complaint, ids) & Event.kind.in_(AGENT_RESOLUTIONS + ('reopened',)))
                  .order_by(Event.complaint, Event.seq)):
        events[event.complaint_id].append(event)
    for event in (SlaEvent
                  .select()
                  .where(among(SlaEvent.complaint, ids) & SlaEvent.kind.in_(('achieved', 'breached')))
                  .order_by(SlaEvent.id)):
        sla_events[event.complaint_id].append(event)
    overturned = {c for (c,) in Ruling.select(Ruling.complaint)
                  .where(among(Ruling.complaint, ids) & (Ruling.overturned == True)).tuples()}  # noqa: E712
    appealed = {c for (c,) in Appeal.select(Appeal.complaint).where(among(Appeal.complaint, ids)).tuples()}
    for rating in Rating.select().where(among(Rating.complaint, ids)).order_by(Rating.id):
        ratings[rating.complaint_id].append(rating)
    return {cid: _contribution(complaints[cid], events[cid], sla_events[cid], cid in overturned,
                               cid in appealed, ratings[cid])
            for cid in ids if cid in complaints}


def _contribution(complaint, events, sla_events, overturned, appealed, ratings):
    out = defaultdict(Counter)
    first = next((e for e in events if e.kind in AGENT_RESOLUTIONS and e.actor_role in AGENT_ROLES
                  and e.actor_id), None)
    if first is not None:
        agent = first.actor_id
        responded = next((s for s in sla_events if s.target == 'first_response' and s.kind == 'achieved'), None)
        first_owner = responded.owner_id if responded is not None else agent
        reopened = any(e.kind == 'reopened' and e.seq > first.seq for e in events)
        start = responded.at if responded is not None else complaint.created_at
        seconds = max(0, int((first.at - start).total_seconds()))
        department = responded.department if responded is not None else complaint.department
        c = out[_key('agent', agent, department, first.at)]
        c['handled'] += 1
        c['fcr'] += int(first_owner == agent and not reopened and not overturned)
        c['reopened'] += int(reopened)
        c['appealed'] += int(appealed)
        c['overturned'] += int(overturned)
        c['handle_seconds'] += seconds
        c[BUCKETS[bucket_of(seconds)]] += 1
    for rating in ratings:
        kind, subject = ('agent', rating.agent_id) if rating.agent_id else ('merchant', rating.merchant_id)
        if subject is None:
            continue
        c = out[_key(kind, subject, rating.department, rating.rated_at)]
        if rating.excluded:
            c['excluded'] += 1
            continue
        c['rated'] += 1
        c['stars'] += rating.stars
        c['satisfied'] += int(rating.stars >= 4)
        c['dissatisfied'] += int(rating.stars <= 2)
    for target, prefix in (('first_response', 'fr'), ('resolution', 'res')):
        mine = [s for s in sla_events if s.target == target]
        deciding = next((s for s in mine if s.kind == 'breached'), None) or (mine[0] if mine else None)
        if deciding is None or deciding.owner_id is None:
            continue
        c = out[_key('agent', deciding.owner_id, deciding.department, deciding.at)]
        c[f'{prefix}_total'] += 1
        c[f'{prefix}_met'] += int(deciding.kind == 'achieved')
    return {k: {f: n for f, n in v.items() if n} for k, v in out.items() if any(v.values())}


def _parse_key(key):
    kind, subject, department, day = key.split('|')
    return kind, int(subject), department, dt.date.fromisoformat(day)


def _apply_all(deltas):
    """Add each {key: {field: n}} of `deltas` to its MetricDay row: ONE multi-row upsert
    (created when missing, added to under the row lock otherwise; chunked only at the
    parameter limit), then the rows whose counters all came to zero deleted — two statements
    for a whole batch of breaches, not three per rollup row (bench/README.md, session 5). Rows go in key order, one lock order for every transaction; a
    concurrent insert of the same key is decided by the unique index (the loser adds to
    the winner's row once it commits)."""
    rows = []
    for key in sorted(deltas):
        kind, subject, department, day = _parse_key(key)
        rows.append(dict({f: deltas[key].get(f, 0) for f in FIELDS},
                         subject_kind=kind, subject=subject, department=department, day=day))
    if not rows:
        return
    add = {getattr(MetricDay, f): getattr(MetricDay, f) + getattr(EXCLUDED, f) for f in FIELDS}
    touched = []
    per = max(1, MAX_PARAMS // (len(FIELDS) + 4))
    for start in range(0, len(rows), per):
        touched.extend(row_id for (row_id,) in (
            MetricDay
            .insert_many(rows[start:start + per])
            .on_conflict(conflict_target=[MetricDay.subject_kind, MetricDay.subject, MetricDay.department,
                                          MetricDay.day], update=add)
            .returning(MetricDay.id)
            .tuples()
            .execute()))
    all_zero = [getattr(MetricDay, f) == 0 for f in FIELDS]
    MetricDay.delete().where(among(MetricDay.id, touched) & reduce(operator.and_, all_zero)).execute()


def refresh(complaint_id):
    """Recompute one complaint and apply the difference to the rollup (inside a transaction)."""
    refresh_many([complaint_id])


def refresh_many(complaint_ids):
    """`refresh` for many complaints at once (an SLA batch's breaches): their contributions
    read in one pass, the differences summed per rollup row and each row changed once, the
    stored contributions written with one upsert."""
    ids = sorted(set(complaint_ids))
    if not ids:
        return
    with atomic():
        stored = {m.complaint_id: json.loads(m.contrib)
                  for m in CaseMetric.select().where(among(CaseMetric.complaint, ids))}
        fresh = contributions(ids)
        totals, changed = defaultdict(Counter), []
        for complaint_id in ids:
            old, new = stored.get(complaint_id, {}), fresh.get(complaint_id, {})
            if old == new:
                continue
            for key in set(old) | set(new):
                before, after = old.get(key, {}), new.get(key, {})
                for field in set(before) | set(after):
                    totals[key][field] += after.get(field, 0) - before.get(field, 0)
            changed.append({'complaint': complaint_id, 'contrib': json.dumps(new, sort_keys=True),
                            'updated_at': clock.now()})
        _apply_all({key: delta for key, delta in totals.items() if any(delta.values())})
        if changed:
            (CaseMetric
             .insert_many(changed)
             .on_conflict(conflict_target=[CaseMetric.complaint],
                          preserve=[CaseMetric.contrib, CaseMetric.updated_at])
             .execute())


def _on_event(complaint, event):
    if event.kind not in METRIC_KINDS:
        return
    if event.kind == 'merchant_timeout' and json.loads(event.data or '{}').get('outcome') == 'platform':
        return  # the platform takes the case: nothing is resolved, no contribution moves
    refresh(complaint.id)


def _on_sla_events(events):
    """A breach decides an SLA target's count: the breached cases are refreshed together."""
    refresh_many([e.complaint_id for e in events if e.kind == 'breached'])


def init_app(app):
    timeline.add_listener(_on_event)
    sla.add_listener(_on_sla_events)


def rebuild(batch=1000):
    """Recompute every complaint's contribution and the whole rollup from scratch."""
    totals = defaultdict(Counter)
    cases = []
    with atomic():
        MetricDay.delete().execute()
        CaseMetric.delete().execute()
        last = 0
        while True:
            ids = [c.id for c in Complaint.select(Complaint.id).where(Complaint.id > last)
                   .order_by(Complaint.id).limit(batch)]
            if not ids:
                break
            last = ids[-1]
            batch_contributions = contributions(ids)
            for complaint_id in ids:
                contrib = batch_contributions.get(complaint_id)
                if contrib:
                    cases.append({'complaint': complaint_id, 'contrib': json.dumps(contrib, sort_keys=True),
                                  'updated_at': clock.now()})
                    for key, counters in contrib.items():
                        totals[key].update(counters)
            for start in range(0, len(cases), 500):
                CaseMetric.insert_many(cases[start:start + 500]).execute()
            cases = []
        rows = []
        for key, counters in totals.items():
            kind, subject, department, day = _parse_key(key)
            rows.append(dict({f: counters.get(f, 0) for f in FIELDS}, subject_kind=kind, subject=subject,
                             department=department, day=day))
        for start in range(0, len(rows), 200):
            MetricDay.insert_many(rows[start:start + 200]).execute()
    return len(rows)


# --- reading the rollup ------------------------------------------------------------------------

def weights():
    row = MetricWeights.select().order_by(MetricWeights.id).first()
    if row is None:
        return dict(DEFAULT_WEIGHTS)
    return {'csat': row.csat, 'fcr': row.fcr, 'sla': row.sla, 'not_overturned': row.not_overturned}


def _ratio(part, whole):
    return part / whole if whole else None


def median_from_hist(hist):
    total = sum(hist)
    if not total:
        return None
    half, seen = total / 2, 0
    for n, count in enumerate(hist):
        seen += count
        if seen >= half:
            return round(bucket_middle(n))
    return None


def figures(sums, w=None):
    """The metrics of one subject and period from the summed counters (docs/metrics.md)."""
    w = w or weights()
    s = {f: int(sums.get(f) or 0) for f in COUNTERS}
    hist = [int(sums.get(b) or 0) for b in BUCKETS] if BUCKETS[0] in sums else []
    out = {
        'handled': s['handled'],
        'rated': s['rated'],
        'excluded': s['excluded'],
        'csat_avg': round(s['stars'] / s['rated'], 2) if s['rated'] else None,
        'csat_pct': _ratio(s['satisfied'], s['rated']),
        'dissatisfied_pct': _ratio(s['dissatisfied'], s['rated']),
        'fcr': _ratio(s['fcr'], s['handled']),
        'first_response_sla': _ratio(s['fr_met'], s['fr_total']),
        'resolution_sla': _ratio(s['res_met'], s['res_total']),
        'sla': _ratio(s['fr_met'] + s['res_met'], s['fr_total'] + s['res_total']),
        'median_handle_seconds': median_from_hist(hist),
        'reopen_rate': _ratio(s['reopened'], s['handled']),
        'overturn_rate': _ratio(s['overturned'], s['appealed']),
        'not_overturned': 1 - s['overturned'] / s['handled'] if s['handled'] else None,
    }
    parts = [(w['csat'], out['csat_pct']), (w['fcr'], out['fcr']), (w['sla'], out['sla']),
             (w['not_overturned'], out['not_overturned'])]
    known = [(weight, value) for weight, value in parts if value is not None and weight > 0]
    total = sum(weight for weight, _v in known)
    out['score'] = round(100 * sum(weight * value for weight, value in known) / total, 1) if total else None
    for key in ('csat_pct', 'dissatisfied_pct', 'fcr', 'first_response_sla', 'resolution_sla', 'sla',
                'reopen_rate', 'overturn_rate', 'not_overturned'):
        if out[key] is not None:
            out[key] = round(out[key], 4)
    return out


def _sums(fields=FIELDS):
    return [fn.SUM(getattr(MetricDay, f)).alias(f) for f in fields]


def period_query(start, end, subject_kind='agent', department=None, subject=None, fields=FIELDS):
    """Summed counters per subject over local days start..end (inclusive): one range scan."""
    query = (MetricDay
             .select(MetricDay.subject, *_sums(fields))
             .where((MetricDay.subject_kind == subject_kind) & (MetricDay.day >= start) & (MetricDay.day <= end)))
    if department:
        query = query.where(MetricDay.department == department)
    if subject is not None:
        query = query.where(MetricDay.subject == subject)
    return query.group_by(MetricDay.subject).dicts()


def leaderboard(start, end, department=None, sort='score', descending=True, medians=True):
    """[{agent, username, name, department, ...figures}] for every agent with data in the period.

    `medians=False` leaves out the handle-time histogram (48 of the 63 sums; the median is
    then None): a page sums it afterwards for the rows it shows (`add_medians`)."""
    w = weights()
    medians = medians or sort == 'median_handle_seconds'
    rows = list(period_query(start, end, 'agent', department, fields=FIELDS if medians else COUNTERS))
    people = {u[0]: u for u in User.select(User.id, User.username, User.display_name, User.department)
              .where(User.id.in_([r['subject'] for r in rows])).tuples()} if rows else {}
    board = []
    for r in rows:
        _id, username, name, dept = people.get(r['subject']) or (None, None, None, None)
        board.append(dict(figures(r, w), agent=r['subject'], username=username, name=name, department=dept))
    def key(item):
        value = item.get(sort)
        return (value is not None, value if value is not None else 0)
    board.sort(key=lambda i: i.get('username') or '')
    board.sort(key=key, reverse=descending)
    return board


def add_medians(board, start, end, department=None):
    """Fill `median_handle_seconds` of the given leaderboard rows (one query for all of them)."""
    ids = [r['agent'] for r in board]
    if not ids:
        return board
    query = (MetricDay
             .select(MetricDay.subject, *_sums(BUCKETS))
             .where((MetricDay.subject_kind == 'agent') & (MetricDay.day >= start) & (MetricDay.day <= end) &
                    MetricDay.subject.in_(ids)))
    if department:
        query = query.where(MetricDay.department == department)
    hists = {r['subject']: [int(r[b] or 0) for b in BUCKETS] for r in query.group_by(MetricDay.subject).dicts()}
    for row in board:
        row['median_handle_seconds'] = median_from_hist(hists.get(row['agent'], []))
    return board


def agent_figures(agent_id, start, end):
    row = next(iter(period_query(start, end, 'agent', subject=agent_id)), {})
    return figures(row)


def merchant_figures(merchant_id, start, end):
    row = next(iter(period_query(start, end, 'merchant', subject=merchant_id)), {})
    return figures(row)


def agent_page(agent_id, start, end, step='week'):
    """(figures of the whole period, trend points) from one query over the agent's day rows."""
    w = weights()
    points, total = trend(agent_id, start, end, step, w, with_total=True)
    return figures(total, w), points


def trend(agent_id, start, end, step='week', w=None, with_total=False):
    """[(period start, figures)] by day, week or month for the agent's charts."""
    rows = list(MetricDay
                .select(MetricDay.day, *_sums())
                .where((MetricDay.subject_kind == 'agent') & (MetricDay.subject == agent_id) &
                       (MetricDay.day >= start) & (MetricDay.day <= end))
                .group_by(MetricDay.day)
                .order_by(MetricDay.day)
                .dicts())
    grouped = defaultdict(Counter)
    for r in rows:
        day = r['day'] if isinstance(r['day'], dt.date) else dt.date.fromisoformat(str(r['day']))
        if step == 'month':
            bucket = day.replace(day=1)
        elif step == 'week':
            bucket = day - dt.timedelta(days=day.weekday())
        else:
            bucket = day
        grouped[bucket].update({f: int(r[f] or 0) for f in FIELDS})
    w = w or weights()
    points = [(b, figures(grouped[b], w)) for b in sorted(grouped)]
    if not with_total:
        return points
    total = Counter()
    for counters in grouped.values():
        total.update(counters)
    return points, dict({f: 0 for f in FIELDS}, **total)


def period(name, today=None, start=None, end=None):
    """(start, end) local dates of a named period: day, week, month, 90d, or custom."""
    today = today or to_local(clock.now()).date()
    if name == 'day':
        return today, today
    if name == 'week':
        return today - dt.timedelta(days=today.weekday()), today
    if name == 'month':
        return today.replace(day=1), today
    if name == 'custom' and start and end:
        return start, end
    return today - dt.timedelta(days=89), today


def snapshot():
    """Every MetricDay row as comparable tuples (tests: rebuild == incremental)."""
    return sorted((r.subject_kind, r.subject, r.department, str(r.day)) + tuple(getattr(r, f) for f in FIELDS)
                  for r in MetricDay.select())
