"""Merchant standing (SPEC §7): active points -> level -> restrictions, kept exact in time.

A merchant's standing follows from its violations (active: state `active` and `expires_at`
> now), the level table (`StandingLevel`, admin-editable: read on every recompute) and its
deposit ledger. `MerchantStanding` stores the result, so reading it is one row, and
`recompute(merchant_ids, now)` is THE one way to bring rows up to date: recording a
violation, revoking one on appeal, a ledger entry, the standing deadline and the platform
rebuild all call it. It runs inside the caller's transaction, set-based (a handful of
statements for 1 or 1,000 merchants), and is idempotent: a recompute that changes nothing
writes nothing and tells no one.

The rules (docs/penalties.md "Standing"):
- **Level**: the highest row of the table whose `min_points` the active points reach (0,
  `normal`, below the first row).
- **Restrictions** at level L: every level <= L whose restriction has no duration applies
  as long as the level holds (`search_demotion` of `warning`). The timed restriction of a
  level (`no_new_listings` 7 days, `shop_suspended` 14 days) starts when the level is
  reached FROM BELOW and runs `duration_seconds` from that moment (`restriction_until`);
  when it ends the level stays and only the untimed restrictions remain. A new violation at
  the same level does not extend it. Reaching a higher level replaces it with that level's;
  dropping to a lower level ends it, and a drop never imposes the lower level's timed
  restriction anew (a drop is relief, not a new penalty).
- **Cleared** (清退) is final: expiry does not lift it. While cleared, the level is judged
  on the points the merchant carried at the moment of clearing (`level_since`), minus the
  violations revoked since (an appeal); only when those fall below the cleared threshold
  is the level computed from the active points again.
- **Deposit hold**: a negative deposit balance (the sum of the ledger's entries) suspends
  the shop (`shop_suspended`, reason `deposit`, no end) until a top-up covers it.
- **`due_at`**: the next moment the standing changes by itself — the earliest expiry of an
  active violation or the end of the timed restriction. It is a deadline of
  `desk.core.deadlines` (`standing_due`): the handler is `recompute`, which also marks the
  violations whose `expires_at` has passed `expired` (`ended_at` = their expiry, exact to
  the second). The exact-time job is scheduled whenever `due_at` is set or moved within
  the next two hours, and by the hourly `schedule_upcoming` for the others (an expiry lies
  up to a year ahead: not a year of jobs in Redis).
- Every change of level, timed restriction or deposit hold is told to the merchant's staff
  (inbox + e-mail) and to the marketplace (webhook `merchant.standing_changed`), through
  the outbox in the same transaction; a change of points alone is stored, not announced.
"""
import datetime as dt

from peewee import JOIN, Case, fn

from arbitration.penalties.models import DepositEntry, MerchantStanding, StandingLevel, Violation
from desk.core import clock, deadlines, tasks
from desk.core.db import among, atomic, is_sqlite, update_each
from desk.core.money import to_yuan
from desk.core.tasks import job
from desk.core.times import format_local, to_iso
from desk.messaging import notifications
from desk.messaging.notifications import notify_many
from desk.messaging.webhooks import publish_many
from desk.parties.models import Merchant, User

NORMAL = 'normal'
#: Merchants per transaction in `recompute_all`.
CHUNK = 5000
#: The exact-time job of a `due_at` is scheduled once it is this close (at recompute, or by
#: the hourly `schedule_upcoming`): most lie a year ahead (a violation's expiry), and a
#: year of jobs per merchant waiting in Redis would be memory for nothing. The minute sweep
#: remains the safety net, and a reader applies a passed `due_at` itself (`standing_of`).
SCHEDULE_AHEAD_SECONDS = 2 * 3600
#: Functions (merchant_ids, now) called in the recompute's transaction with the merchants
#: whose stored standing changed (the health list copies level and points: merchant_health).
LISTENERS = []


def add_listener(listener):
    """Call `listener(merchant_ids, now)` whenever recompute changes stored standings."""
    if listener not in LISTENERS:
        LISTENERS.append(listener)


class LevelTable(list):
    """The level table's rows, lowest first, with the lookups `decide` needs per merchant
    computed once (a rebuild decides 100,000 merchants against one table)."""

    def __init__(self, rows):
        super().__init__(rows)
        self.by_level = {r.level: r for r in self}
        self.cleared = {r.level for r in self if r.restriction == 'cleared'}


def levels():
    """The level table, lowest first."""
    return LevelTable(StandingLevel.select().order_by(StandingLevel.min_points, StandingLevel.level))


def level_for(points, table):
    """The level number `points` reach in `table` (0: normal)."""
    level = 0
    for row in table:
        if points >= row.min_points:
            level = max(level, row.level)
    return level


def level_code(level, table):
    """The code of level number `level` (`normal` for 0)."""
    for row in table:
        if row.level == level:
            return row.code
    return NORMAL


def _cleared_levels(table):
    if isinstance(table, LevelTable):
        return table.cleared
    return {row.level for row in table if row.restriction == 'cleared'}


# --- facts ----------------------------------------------------------------------------------

def active_points(merchant_ids, now):
    """merchant id -> sum of the points of its active violations at `now` (0 when none)."""
    return {m: f[0] for m, f in _violation_facts(sorted(set(merchant_ids)), now).items()}


def _violation_facts(merchant_ids, now):
    """merchant id -> (active points, earliest expiry after `now` of an active violation or
    None, how many active violations have expired but are not marked yet), in one grouped
    query over the merchants' active violations."""
    live = Violation.expires_at > now
    rows = (Violation
            .select(Violation.merchant,
                    fn.SUM(Case(None, [(live, Violation.points)], 0)),
                    fn.MIN(Case(None, [(live, Violation.expires_at)], None)),
                    fn.SUM(Case(None, [(live, 0)], 1)))
            .where(among(Violation.merchant, merchant_ids) & (Violation.state == 'active'))
            .group_by(Violation.merchant)
            .tuples())
    facts = {m: (0, None, 0) for m in merchant_ids}
    for merchant_id, points, expiry, stale in rows:
        if isinstance(expiry, str):  # SQLite hands back text for an aggregate of datetimes
            expiry = dt.datetime.fromisoformat(expiry)
        facts[merchant_id] = (int(points or 0), expiry, int(stale or 0))
    return facts


def deposit_balances(merchant_ids):
    """merchant id -> deposit balance in fen (the sum of its ledger entries; 0 when none)."""
    rows = (DepositEntry
            .select(DepositEntry.merchant, fn.SUM(DepositEntry.amount_fen))
            .where(among(DepositEntry.merchant, merchant_ids))
            .group_by(DepositEntry.merchant)
            .tuples())
    balances = dict.fromkeys(merchant_ids, 0)
    balances.update({m: int(b or 0) for m, b in rows})
    return balances


def _points_at_clearing(merchant_ids):
    """merchant id -> points of the violations that were active when it was cleared (its
    `level_since`) and have not been revoked since, for the merchants `merchant_ids`."""
    if not merchant_ids:
        return {}
    rows = (Violation
            .select(Violation.merchant, fn.SUM(Violation.points))
            .join(MerchantStanding, on=(MerchantStanding.merchant == Violation.merchant))
            .where(among(Violation.merchant, merchant_ids) & (Violation.state != 'revoked')
                   & (Violation.at <= MerchantStanding.level_since)
                   & (Violation.expires_at > MerchantStanding.level_since))
            .group_by(Violation.merchant)
            .tuples())
    found = dict.fromkeys(merchant_ids, 0)
    found.update({m: int(p or 0) for m, p in rows})
    return found


# --- the decision ---------------------------------------------------------------------------

def decide(row, points, next_expiry, balance, table, now, points_at_clearing=None):
    """The standing `row` (stored, possibly new at level 0) should have at `now`: a dict of
    its columns (level, level_since, restriction_until, active_points, deposit_hold, due_at).
    Pure: the rules of the module docstring, in one place."""
    by_level = table.by_level if isinstance(table, LevelTable) else {r.level: r for r in table}
    level = level_for(points, table)
    if row.level in _cleared_levels(table) and points_at_clearing is not None:
        if level_for(points_at_clearing, table) >= row.level:
            level = row.level  # cleared is final while the points that cleared it stand
    until = row.restriction_until
    since = row.level_since
    if level > row.level:        # reached from below: the level's timed restriction starts
        since = now
        seconds = by_level[level].duration_seconds
        until = now + dt.timedelta(seconds=seconds) if seconds else None
    elif level < row.level:      # a drop ends the higher level's restriction, imposes none
        since = now
        until = None
    if until is not None and until <= now:
        until = None             # ended by itself: the level stays, untimed ones remain
    candidates = [t for t in (next_expiry, until) if t is not None]
    return {'level': level, 'level_since': since, 'restriction_until': until,
            'active_points': points, 'deposit_hold': balance < 0,
            'due_at': min(candidates) if candidates else None}


def restrictions(level, restriction_until, deposit_hold, table):
    """[(kind, until or None, reason)] in force for a stored standing: untimed restrictions
    of every level up to `level`, the level's timed one while it runs, the deposit hold.
    `cleared` stands alone (it supersedes the others)."""
    found = []
    if level in _cleared_levels(table):
        found.append(('cleared', None, 'standing'))
    else:
        for row in table:
            if row.level <= level and not row.duration_seconds and row.restriction not in [k for k, _u, _r in found]:
                found.append((row.restriction, None, 'standing'))
        if restriction_until is not None:
            own = next((r for r in table if r.level == level), None)
            if own is not None:
                found.append((own.restriction, restriction_until, 'standing'))
    if deposit_hold:
        found.append(('shop_suspended', None, 'deposit'))
    return found


def _announced(values):
    """What a change is announced for: the level, the timed restriction, the deposit hold."""
    return values['level'], values['restriction_until'], values['deposit_hold']


# --- recompute ------------------------------------------------------------------------------

def recompute(merchant_ids, now=None):
    """Bring the standing of `merchant_ids` up to date at `now`; returns merchant id ->
    MerchantStanding. Runs inside the caller's transaction (a savepoint of it).

    Set-based: the rows are locked in id order (the missing ones created first with one
    INSERT; a concurrent recompute of the same merchant waits and then sees this one's
    result, so a change is announced once), expired violations are marked with one UPDATE,
    the facts are read with grouped queries, and the changed rows are written with one
    UPDATE per column set. Notifications and webhooks go out for the rows whose level,
    timed restriction or deposit hold changed, and the exact-time job of every moved
    `due_at` is scheduled after commit."""
    return _recompute(merchant_ids, now or clock.now())[0]


def _recompute(merchant_ids, now):
    """`recompute`; returns (rows, ids of the rows written, ids of the changes announced)."""
    merchant_ids = sorted(set(merchant_ids))
    if not merchant_ids:
        return {}, [], []
    with atomic():
        table = levels()
        stored = _lock(merchant_ids)
        missing = [m for m in merchant_ids if m not in stored]
        if missing:
            _create_rows(missing, now)
            stored.update(_lock(missing))
        facts = _violation_facts(merchant_ids, now)
        _expire([m for m in merchant_ids if facts[m][2]], now)
        balances = deposit_balances(merchant_ids)
        # cleared is final while the points that cleared it stand: worth reading only for a
        # cleared merchant whose active points alone no longer reach the level
        at_clearing = _points_at_clearing([m for m, r in stored.items() if r.level in _cleared_levels(table)
                                           and level_for(facts[m][0], table) < r.level])
        changes, announce, moved = {}, [], []
        for merchant_id in merchant_ids:
            row = stored[merchant_id]
            points, expiry, _stale = facts[merchant_id]
            new = decide(row, points, expiry, balances[merchant_id], table, now,
                         at_clearing.get(merchant_id))
            old = {name: getattr(row, name) for name in new}
            if new == old:
                continue
            if _announced(new) != _announced(old):
                new['version'] = row.version + 1
                announce.append((row, old, new, balances[merchant_id]))
            if new['due_at'] != old['due_at'] and new['due_at'] is not None:
                moved.append((merchant_id, new['due_at']))
            new['updated_at'] = now
            changes[merchant_id] = new
            for name, value in new.items():
                setattr(row, name, value)
        update_each(MerchantStanding, changes)
        for listener in LISTENERS:
            listener(sorted(changes), now)
        _announce(announce, table, now)
        horizon = now + dt.timedelta(seconds=SCHEDULE_AHEAD_SECONDS)
        deadlines.schedule_many('standing_due', [(m, due) for m, due in moved if due <= horizon])
    return stored, sorted(changes), [row.merchant_id for row, _o, _n, _b in announce]


def _create_rows(merchant_ids, now):
    """A level-0 standing row for each of `merchant_ids` (one that appeared meanwhile is
    left alone)."""
    (MerchantStanding
     .insert_many([{'merchant': m, 'active_points': 0, 'level': 0, 'deposit_hold': False,
                    'version': 0, 'updated_at': now} for m in merchant_ids])
     .on_conflict_ignore()
     .execute())


def _lock(merchant_ids):
    """The stored standings of `merchant_ids`, locked for this transaction in id order
    (PostgreSQL; SQLite's BEGIN IMMEDIATE already holds the write lock)."""
    query = (MerchantStanding
             .select()
             .where(among(MerchantStanding.merchant, merchant_ids))
             .order_by(MerchantStanding.merchant))
    if not is_sqlite():
        query = query.for_update()
    return {row.merchant_id: row for row in query}


def _expire(merchant_ids, now):
    """Mark the active violations of `merchant_ids` whose time is up `expired`; they ended
    at their expiry (exact, whenever the sweep gets to them)."""
    if not merchant_ids:
        return 0
    return (Violation
            .update(state='expired', ended_at=Violation.expires_at)
            .where(among(Violation.merchant, merchant_ids) & (Violation.state == 'active')
                   & (Violation.expires_at <= now))
            .execute())


def _standing_due(merchant_ids, now):
    """The `standing_due` deadline's batch handler (rows locked by `desk.core.deadlines`): a
    violation expired or a timed restriction ended — recompute."""
    recompute(merchant_ids, now)
    return len(merchant_ids)


def schedule_upcoming(now=None):
    """Schedule the exact-time jobs of the standings due within `SCHEDULE_AHEAD_SECONDS`
    (hourly, so every `due_at` is scheduled at least an hour ahead; scheduling one twice is
    harmless: the job id is the row and the second). Returns how many were scheduled."""
    if tasks.redis_connection() is None:
        return 0  # nothing to schedule into: the ticker's sweep applies them
    now = now or clock.now()
    rows = list(MerchantStanding
                .select(MerchantStanding.merchant, MerchantStanding.due_at)
                .where((MerchantStanding.due_at > now)
                       & (MerchantStanding.due_at <= now + dt.timedelta(seconds=SCHEDULE_AHEAD_SECONDS)))
                .tuples())
    deadlines.schedule_many('standing_due', rows)
    return len(rows)


@job
def schedule_upcoming_job():
    """Periodic (hourly): the exact-time jobs of the standings due in the next two hours."""
    return schedule_upcoming()


def recompute_all(now=None, chunk=None):
    """Recompute every merchant's standing (`flask desk rebuild-standing`): a standing row
    for every merchant first (one INSERT … SELECT), then `recompute` over the merchants in
    id order, `chunk` at a time, each chunk its own transaction (so the rebuild never holds
    the whole platform's rows at once). Only merchants whose stored level, restriction or
    deposit hold differ are announced. Returns (merchants, rows changed, changes announced)."""
    now = now or clock.now()
    chunk = chunk or CHUNK
    with atomic():
        missing = (Merchant
                   .select(Merchant.id, 0, 0, False, 0, now)
                   .join(MerchantStanding, JOIN.LEFT_OUTER, on=(MerchantStanding.merchant == Merchant.id))
                   .where(MerchantStanding.merchant.is_null()))
        (MerchantStanding
         .insert_from(missing, [MerchantStanding.merchant, MerchantStanding.active_points,
                                MerchantStanding.level, MerchantStanding.deposit_hold,
                                MerchantStanding.version, MerchantStanding.updated_at])
         .on_conflict_ignore()
         .execute())
    merchants = changed = announced = 0
    after = 0
    while True:
        ids = [m for (m,) in (MerchantStanding
                              .select(MerchantStanding.merchant)
                              .where(MerchantStanding.merchant > after)
                              .order_by(MerchantStanding.merchant)
                              .limit(chunk)
                              .tuples())]
        if not ids:
            break
        _rows, written, told = _recompute(ids, now)
        merchants, changed, announced = merchants + len(ids), changed + len(written), announced + len(told)
        after = ids[-1]
    return merchants, changed, announced


# --- telling the merchant and the marketplace ---------------------------------------------

def _announce(items, table, now):
    """Inbox + e-mail to the staff of each merchant in `items` [(row, old values, new values,
    balance)] and one `merchant.standing_changed` webhook each, through the outbox."""
    if not items:
        return
    ids = sorted(row.merchant_id for row, _o, _n, _b in items)
    refs = dict(Merchant.select(Merchant.id, Merchant.ref).where(among(Merchant.id, ids)).tuples())
    staff = {}
    for user_id, merchant_id in (User
                                 .select(User.id, User.merchant)
                                 .where(among(User.merchant, ids) & (User.role == 'merchant_staff'))
                                 .order_by(User.id)
                                 .tuples()):
        staff.setdefault(merchant_id, []).append(user_id)
    by_level = {r.level: r for r in table}
    notices, hooks = [], []
    for row, old, new, balance in items:
        recipients = staff.get(row.merchant_id, [])
        params = {'points': new['active_points'], 'level': level_code(new['level'], table),
                  'until': format_local(new['restriction_until']),
                  'min_points': by_level[new['level']].min_points if new['level'] in by_level else 0,
                  'balance': to_yuan(balance)}
        if new['level'] != old['level'] or new['restriction_until'] != old['restriction_until']:
            notices.append((_template(old, new, table, notifications.TEMPLATES), recipients, params, None, None, False))
        if new['deposit_hold'] != old['deposit_hold']:
            template = 'standing_deposit_hold' if new['deposit_hold'] else 'standing_deposit_released'
            notices.append((template, recipients, params, None, None, False))
        hooks.append((standing_payload(refs[row.merchant_id], old['level'], new, table, now),
                      None, f'standing-{row.merchant_id}-{new["version"]}'))
    notify_many(notices)
    publish_many('merchant.standing_changed', hooks)


def _template(old, new, table, templates):
    if new['level'] > old['level']:
        name = f'standing_{level_code(new["level"], table)}'
        timed = any(r.level == new['level'] and r.duration_seconds for r in table)
        if name in templates and (new['restriction_until'] is not None or not timed):
            return name
        return 'standing_lowered'
    if new['level'] < old['level']:
        return 'standing_normal' if new['level'] == 0 else 'standing_improved'
    return 'standing_restriction_ended'


def standing_payload(merchant_ref, previous_level, values, table, now):
    """The `merchant.standing_changed` webhook's data."""
    return {'merchant': merchant_ref,
            'previous_level': level_code(previous_level, table),
            'level': level_code(values['level'], table),
            'active_points': values['active_points'],
            'restrictions': [{'kind': kind, 'until': to_iso(until), 'reason': reason}
                             for kind, until, reason in restrictions(values['level'], values['restriction_until'],
                                                                     values['deposit_hold'], table)],
            'changed_at': to_iso(now)}


# --- reading --------------------------------------------------------------------------------

def standing_of(merchant_id, now=None):
    """The merchant's standing row as of `now`: computed on first read, and brought up to
    date first when its `due_at` has passed and the deadline has not been applied yet (the
    same transition the deadline job makes, so a reader never sees a stale level)."""
    now = now or clock.now()
    row = MerchantStanding.get_or_none(MerchantStanding.merchant == merchant_id)
    if row is None:
        return recompute([merchant_id], now)[merchant_id]
    if row.due_at is not None and row.due_at <= now:
        deadlines.apply_one('standing_due', merchant_id, now)
        row = MerchantStanding.get_by_id(merchant_id)
    return row


def init_app(app):
    deadlines.register('standing_due', MerchantStanding, MerchantStanding.due_at, _standing_due, batch=True)
