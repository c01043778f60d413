"""Merchant health (SPEC §7, issue 8 item 6): the figures of each merchant over a rolling
window (60 days by default, `MerchantHealthPolicy.window_days`), computed set-based for every
merchant by a daily job (and on demand, for all or for one merchant), stored one row per
merchant (`MerchantHealth`) plus a daily snapshot (`MerchantHealthDay`) for the trends.

The window is (now − window, now]. Definitions (docs/penalties.md says the same in prose):

- orders: orders of the merchant paid in the window (`Order.paid_at`);
- complaints / complaint rate: valid complaints (`spike.valid_complaints`: merchant path, not
  withdrawn, not ruled with responsibility `buyer`) filed in the window, per 100 orders;
- answered in time: merchant-path complaints filed in the window that the merchant had to
  answer — answered (a first proposal, `merchant_answered_at`), or with their response window
  (`MERCHANT_RESPONSE_SECONDS`, 24 h) over by now and not withdrawn before it ran out — and the
  share of them whose first proposal came within the response window;
- median response time: median of (first proposal − filing) over the answered ones;
- arbitration loss rate: active rulings (an appeal's ruling replaces the first) made in the
  window on the merchant's complaints; the share with responsibility `merchant`;
- defect rate: complaints with a defect in the window — a `no_response` or a lost-case
  violation (`arbitration_lost`, `not_as_described`, `fake_delivery`), not revoked, recorded
  in the window — divided by the orders; a complaint with both a no_response and a lost case
  is one defective order (as Amazon's order defect rate counts orders, never above 100 %);
- healthy: defect rate below `healthy_defect_pct` (1 %); None without orders;
- trusted: at least `trusted_min_orders` orders, defect rate below `trusted_defect_pct`
  (0.5 %), and no more than `trusted_max_points` (0) active points.

Rates are stored as shares (0..1) and the complaint rate per 100 orders; a rate whose
denominator is zero is None (never a division by zero).
"""
import datetime as dt
import statistics
from collections import Counter, defaultdict
from decimal import Decimal

from flask import current_app, has_app_context
from flask_babel import gettext as _
from peewee import Tuple, fn

from arbitration.health.models import MerchantHealth, MerchantHealthDay, MerchantHealthPolicy
from arbitration.penalties import spike, standing
from arbitration.penalties.models import MerchantStanding, Violation
from desk.cases import lifecycle
from desk.cases.models import Complaint, Ruling
from desk.core import clock
from desk.core.db import among, atomic, database, update_each
from desk.core.errors import NotFound
from desk.core.times import to_iso, to_local
from desk.orders.models import Order
from desk.parties.models import STAFF_ROLES, Merchant

#: Violations that make a defect: the merchant let the 24 h pass, or lost the case.
DEFECT_CODES = ('no_response', 'arbitration_lost', 'not_as_described', 'fake_delivery')
DEFAULT_RESPONSE_SECONDS = 86400
TREND_DAYS = 90
#: Daily snapshots older than this are dropped by the full run (the charts show 90 days).
KEEP_DAYS = 400

_ROW_FIELDS = ('computed_at', 'window_days', 'orders', 'complaints', 'complaint_rate', 'answerable',
               'answered_in_time', 'answered_rate', 'median_response_seconds', 'rulings', 'rulings_lost',
               'loss_rate', 'defects', 'defect_rate', 'healthy', 'trusted', 'level', 'active_points')
_DAY_FIELDS = ('orders', 'complaints', 'complaint_rate', 'answered_rate', 'median_response_seconds',
               'loss_rate', 'defect_rate')


def _response_seconds():
    if has_app_context():
        return current_app.config.get('MERCHANT_RESPONSE_SECONDS', DEFAULT_RESPONSE_SECONDS)
    return DEFAULT_RESPONSE_SECONDS


def _ratio(part, whole):
    return part / whole if whole else None


def _below(count, orders, pct):
    """count / orders < pct %, exactly (integers and decimals, no float rounding)."""
    return Decimal(count) * 100 < Decimal(pct) * orders


def _scoped(query, field, merchant_ids):
    return query if merchant_ids is None else query.where(among(field, merchant_ids))


# --- computing -------------------------------------------------------------------------------

def compute(merchant_ids=None, now=None, rules=None):
    """merchant id -> {column: value} of MerchantHealth at `now`, for `merchant_ids` (None:
    every merchant). A handful of grouped queries over the window, whatever the number of
    merchants; nothing is written."""
    now = now or clock.now()
    rules = rules or MerchantHealthPolicy.current()
    start = now - dt.timedelta(days=rules.window_days)
    if merchant_ids is None:
        ids = [m for (m,) in Merchant.select(Merchant.id).order_by(Merchant.id).tuples()]
    else:
        ids = sorted(set(merchant_ids))
    scope = None if merchant_ids is None else ids
    in_window = lambda column: (column > start) & (column <= now)  # noqa: E731

    orders = dict(_scoped(Order.select(Order.merchant, fn.COUNT(Order.id)), Order.merchant, scope)
                  .where(in_window(Order.paid_at))
                  .group_by(Order.merchant)
                  .tuples())
    complaints = dict(_scoped(spike.valid_complaints().select(Complaint.merchant, fn.COUNT(Complaint.id)),
                              Complaint.merchant, scope)
                      .where(in_window(Complaint.created_at))
                      .group_by(Complaint.merchant)
                      .tuples())

    window = dt.timedelta(seconds=_response_seconds())
    answerable, in_time, waits = Counter(), Counter(), defaultdict(list)
    responses = (_scoped(Complaint.select(Complaint.merchant, Complaint.created_at,
                                          Complaint.merchant_answered_at, Complaint.state,
                                          Complaint.closed_at), Complaint.merchant, scope)
                 .where(Complaint.path.in_(spike.COUNTED_PATHS) & in_window(Complaint.created_at))
                 .tuples())
    for merchant_id, filed, answered, state, closed in responses.iterator():
        due = filed + window
        if answered is not None:
            answerable[merchant_id] += 1
            in_time[merchant_id] += answered <= due
            waits[merchant_id].append((answered - filed).total_seconds())
        elif due <= now and not (state == lifecycle.WITHDRAWN and closed is not None and closed < due):
            answerable[merchant_id] += 1

    rulings, lost = Counter(), Counter()
    rows = (_scoped(Ruling.select(Complaint.merchant, Ruling.responsibility, fn.COUNT(Ruling.id))
                    .join(Complaint, on=(Ruling.complaint == Complaint.id)), Complaint.merchant, scope)
            .where((Ruling.active == True) & in_window(Ruling.created_at))  # noqa: E712
            .group_by(Complaint.merchant, Ruling.responsibility)
            .tuples())
    for merchant_id, responsibility, count in rows:
        rulings[merchant_id] += count
        if responsibility == 'merchant':
            lost[merchant_id] += count

    defective = defaultdict(set)
    rows = (_scoped(Violation.select(Violation.merchant, Violation.complaint, Violation.id),
                    Violation.merchant, scope)
            .where(Violation.code.in_(DEFECT_CODES) & (Violation.state != 'revoked') & in_window(Violation.at))
            .tuples())
    for merchant_id, complaint_id, violation_id in rows.iterator():
        defective[merchant_id].add(complaint_id if complaint_id is not None else ('v', violation_id))

    levels = _standing(ids, scope, now)
    result = {}
    for merchant_id in ids:
        n_orders = orders.get(merchant_id, 0)
        n_complaints = complaints.get(merchant_id, 0)
        n_defects = len(defective.get(merchant_id, ()))
        level, points = levels[merchant_id]
        median = statistics.median(waits[merchant_id]) if waits.get(merchant_id) else None
        result[merchant_id] = {
            'computed_at': now, 'window_days': rules.window_days,
            'orders': n_orders, 'complaints': n_complaints,
            'complaint_rate': 100 * n_complaints / n_orders if n_orders else None,
            'answerable': answerable[merchant_id], 'answered_in_time': in_time[merchant_id],
            'answered_rate': _ratio(in_time[merchant_id], answerable[merchant_id]),
            'median_response_seconds': None if median is None else int(median),
            'rulings': rulings[merchant_id], 'rulings_lost': lost[merchant_id],
            'loss_rate': _ratio(lost[merchant_id], rulings[merchant_id]),
            'defects': n_defects, 'defect_rate': _ratio(n_defects, n_orders),
            'level': level, 'active_points': points,
        }
        result[merchant_id].update(_marks(result[merchant_id], rules))
    return result


def _marks(row, rules):
    """{'healthy', 'trusted'} of a row of figures under `rules`."""
    orders, defects = row['orders'], row['defects']
    healthy = None if not orders else _below(defects, orders, rules.healthy_defect_pct)
    trusted = bool(orders and orders >= rules.trusted_min_orders
                   and _below(defects, orders, rules.trusted_defect_pct)
                   and row['active_points'] <= rules.trusted_max_points)
    return {'healthy': healthy, 'trusted': trusted}


def _standing(ids, scope, now):
    """merchant id -> (level, active points): the stored standing where there is one, else
    the active points of the violations against the level table (what `standing` computes)."""
    found = {m: (level, points) for m, level, points in
             _scoped(MerchantStanding.select(MerchantStanding.merchant, MerchantStanding.level,
                                             MerchantStanding.active_points),
                     MerchantStanding.merchant, scope).tuples()}
    missing = [m for m in ids if m not in found]
    if missing:
        table = standing.levels()
        points = standing.active_points(missing, now) if scope is not None else _all_points(missing, now)
        for m in missing:
            found[m] = (standing.level_for(points[m], table), points[m])
    return found


def _all_points(ids, now):
    rows = (Violation
            .select(Violation.merchant, fn.SUM(Violation.points))
            .where((Violation.state == 'active') & (Violation.expires_at > now))
            .group_by(Violation.merchant)
            .tuples())
    points = dict.fromkeys(ids, 0)
    points.update({m: int(p or 0) for m, p in rows if m in points})
    return points


def refresh(merchant_ids=None, now=None):
    """Compute and store the figures of `merchant_ids` (None: every merchant) and the day's
    snapshot; returns the number of merchants written. One transaction (readers see the old
    figures or the new ones, never a mix), written as upserts in merchant order, so the daily
    job, a button's run and a first read of one merchant can overlap without a duplicate key;
    running it twice writes the same rows."""
    now = now or clock.now()
    rules = MerchantHealthPolicy.current()
    figures = compute(merchant_ids, now, rules)
    day = to_local(now).date()
    ids = sorted(figures)
    with atomic():
        _upsert(MerchantHealth, [MerchantHealth.merchant], _ROW_FIELDS,
                [[m] + [figures[m][f] for f in _ROW_FIELDS] for m in ids])
        active = [m for m in ids if figures[m]['orders'] or figures[m]['complaints'] or figures[m]['rulings']
                  or figures[m]['answerable']]
        _upsert(MerchantHealthDay, [MerchantHealthDay.merchant, MerchantHealthDay.day], _DAY_FIELDS,
                [[m, day] + [figures[m][f] for f in _DAY_FIELDS] for m in active])
        if merchant_ids is None:
            (MerchantHealthDay
             .delete()
             .where(MerchantHealthDay.day < day - dt.timedelta(days=KEEP_DAYS))
             .execute())
    return len(figures)


def _upsert(model, keys, names, rows, per=1000):
    """INSERT … ON CONFLICT (keys) DO UPDATE of `rows` (key values, then `names` values),
    plain SQL a thousand rows a statement (PostgreSQL and SQLite ≥ 3.24 speak the same)."""
    if not rows:
        return
    fields = list(keys) + [getattr(model, name) for name in names]
    param = database.obj.param
    converters = [f.db_value for f in fields]
    quote = lambda name: '"%s"' % name  # noqa: E731
    head = 'INSERT INTO %s (%s) VALUES ' % (quote(model._meta.table_name),
                                            ', '.join(quote(f.column_name) for f in fields))
    tail = ' ON CONFLICT (%s) DO UPDATE SET %s' % (
        ', '.join(quote(k.column_name) for k in keys),
        ', '.join('%s = excluded.%s' % (quote(f.column_name), quote(f.column_name)) for f in fields[len(keys):]))
    one = '(' + ', '.join([param] * len(fields)) + ')'
    for start in range(0, len(rows), per):
        part = rows[start:start + per]
        params = [convert(value) for row in part for convert, value in zip(converters, row)]
        database.execute_sql(head + ', '.join([one] * len(part)) + tail, params)


def sync_standing(merchant_ids, now=None):
    """Copy the current level and active points of `merchant_ids` into their health rows and
    re-mark `trusted` (it needs no active points). Meant to be called where the standing is
    recomputed, so the list's level/points columns never wait for the daily job."""
    now = now or clock.now()
    ids = sorted(set(merchant_ids))
    rows = {h.merchant_id: h for h in MerchantHealth
            .select(MerchantHealth.merchant, MerchantHealth.orders, MerchantHealth.defects, MerchantHealth.level,
                    MerchantHealth.active_points, MerchantHealth.trusted)  # not the wide row: every recompute calls this
            .where(among(MerchantHealth.merchant, ids))}
    if not rows:
        return 0
    rules = MerchantHealthPolicy.current()
    levels = _standing(sorted(rows), sorted(rows), now)
    changes = {}
    for merchant_id, row in rows.items():
        level, points = levels[merchant_id]
        trusted = _marks({'orders': row.orders, 'defects': row.defects, 'active_points': points}, rules)['trusted']
        if (row.level, row.active_points, row.trusted) != (level, points, trusted):
            changes[merchant_id] = {'level': level, 'active_points': points, 'trusted': trusted}
    update_each(MerchantHealth, changes)  # one statement however many merchants changed
    return len(rows)




# --- reading -----------------------------------------------------------------------------------

def health_row(merchant_id, now=None):
    """The merchant's stored figures, computed on first read."""
    row = MerchantHealth.get_or_none(MerchantHealth.merchant == merchant_id)
    if row is None:
        refresh([merchant_id], now)
        row = MerchantHealth.get(MerchantHealth.merchant == merchant_id)
    return row


def figures_for(merchant_id, now=None):
    """The merchant's health as a JSON-ready dict (the standing API embeds it as `health`)."""
    return as_dict(health_row(merchant_id, now), MerchantHealthPolicy.current())


def _round(value, digits=4):
    return None if value is None else round(value, digits)


def as_dict(row, rules):
    return {
        'window_days': row.window_days,
        'computed_at': to_iso(row.computed_at),
        'orders': row.orders,
        'complaints': row.complaints,
        'complaint_rate_per_100_orders': _round(row.complaint_rate, 2),
        'answered_within_24h': row.answered_in_time,
        'answer_due': row.answerable,
        'answered_within_24h_rate': _round(row.answered_rate),
        'median_response_seconds': row.median_response_seconds,
        'rulings': row.rulings,
        'rulings_lost': row.rulings_lost,
        'arbitration_loss_rate': _round(row.loss_rate),
        'defects': row.defects,
        'defect_rate': _round(row.defect_rate, 6),
        'healthy': row.healthy,
        'healthy_below': float(Decimal(rules.healthy_defect_pct) / 100),
        'trusted': bool(row.trusted),
    }


def visible_merchant(user, merchant_id):
    """The merchant `user` may read the health of: staff any, merchant staff only their own
    (another merchant's answers 404, as if it did not exist)."""
    merchant = Merchant.get_or_none(Merchant.id == merchant_id)
    if merchant is not None and (user.role in STAFF_ROLES
                                 or (user.role == 'merchant_staff' and user.merchant_id == merchant.id)):
        return merchant
    raise NotFound(_('No such merchant.'))


def trend(merchant_id, days=TREND_DAYS, now=None):
    """[(day, {figure: value or None})] for the last `days` local days, oldest first; a day
    without a snapshot has None everywhere (a gap in the chart)."""
    now = now or clock.now()
    last = to_local(now).date()
    first = last - dt.timedelta(days=days - 1)
    stored = {r.day: r for r in (MerchantHealthDay
                                 .select()
                                 .where((MerchantHealthDay.merchant == merchant_id)
                                        & (MerchantHealthDay.day >= first) & (MerchantHealthDay.day <= last)))}
    points = []
    for n in range(days):
        day = first + dt.timedelta(days=n)
        row = stored.get(day)
        points.append((day, {f: getattr(row, f) if row else None for f in _DAY_FIELDS}))
    return points


# --- the backoffice list: keyset pages over an index per figure ----------------------------------

PAGE_SIZE = 50


def list_page(sort='defect_rate', descending=True, after=None, level=None, trusted=None, healthy=None,
              search=None, limit=PAGE_SIZE):
    """One page of (MerchantHealth with .merchant) sorted by `sort`, then merchant id, and the
    cursor of the next page (None on the last). Rows whose figure is NULL (nothing to measure)
    come after the others in both directions. `after` is the cursor a previous page returned:
    (phase, value, merchant id), phase 0 while on non-NULL values, 1 among the NULLs.

    Each phase is a range scan of the (figure, merchant) index, so a page costs the same at
    the first page and the thousandth."""
    column = getattr(MerchantHealth, sort)
    base = (MerchantHealth
            .select(MerchantHealth, Merchant)
            .join(Merchant, on=(MerchantHealth.merchant == Merchant.id)))
    if level is not None:
        base = base.where(MerchantHealth.level == level)
    if trusted is not None:
        base = base.where(MerchantHealth.trusted == trusted)
    if healthy == 'yes':
        base = base.where(MerchantHealth.healthy == True)  # noqa: E712
    elif healthy == 'no':
        base = base.where(MerchantHealth.healthy == False)  # noqa: E712
    elif healthy == 'unknown':
        base = base.where(MerchantHealth.healthy.is_null())
    if search:
        base = base.where((Merchant.ref == search) | Merchant.name.contains(search))
    key = Tuple(column, MerchantHealth.merchant)
    order = ((column.desc(), MerchantHealth.merchant.desc()) if descending
             else (column.asc(), MerchantHealth.merchant.asc()))
    rows = []
    phase = after[0] if after else 0
    if phase == 0:
        query = base.where(column.is_null(False))
        if after:
            bound = Tuple(after[1], after[2])
            query = query.where(key < bound if descending else key > bound)
        rows = list(query.order_by(*order).limit(limit + 1))
    if len(rows) <= limit and column.null:
        query = base.where(column.is_null())
        if after and phase == 1:
            query = query.where(MerchantHealth.merchant < after[2] if descending
                                else MerchantHealth.merchant > after[2])
        nulls = list(query.order_by(order[1]).limit(limit + 1 - len(rows)))
        rows += nulls
    more = len(rows) > limit
    rows = rows[:limit]
    cursor = None
    if more and rows:
        last = rows[-1]
        value = getattr(last, sort)
        cursor = (1, None, last.merchant_id) if value is None else (0, value, last.merchant_id)
    return rows, cursor


def init_app(app):
    standing.add_listener(sync_standing)
