"""The deadline machinery every timer of the product uses.

A deadline is an indexed, nullable datetime column (the source of truth), registered here
with the handler that applies it. `advance_due(now)` finds due rows through the index in
batches. A batch handler (`register(..., batch=True)`, the timers with volume: SLA checks,
merchant deadlines) applies a whole batch of due rows in ONE transaction with set-based SQL
— the rows locked first (`FOR UPDATE SKIP LOCKED` in a sweep), the transition a
compare-and-set on the row's state and deadline — and the exact-time job calls that same
handler with a single id. A row handler applies one row per transaction. Either way handlers
are idempotent and re-check the row (its state, its version) so that a race with a human
action has exactly one winner, and they clear or move the column once applied.

It is driven three ways, all calling the same code: an exact-time RQ job scheduled with
`enqueue_at` whenever a deadline is set (`schedule`), the `rq cron` sweep every minute (the
safety net for lost jobs, a Redis restart or a dead worker), and the development ticker
thread when no Redis is configured.
"""
import logging
from typing import Callable, NamedTuple

from peewee import Field

from desk.core import clock, tasks
from desk.core.db import among, atomic, is_sqlite
from desk.core.errors import Conflict

log = logging.getLogger(__name__)

BATCH = 1000


class Deadline(NamedTuple):
    name: str
    model: type      # a peewee Model
    column: Field    # the indexed datetime column
    handler: Callable  # handler(row_id, now), or handler(ids, now) when `batch`
    batch: bool = False


REGISTRY = {}


def register(name, model, column, handler, batch=False):
    """Register deadline `name`: rows of `model` are due when `column` <= now.

    A row handler (`batch=False`) is `handler(row_id, now)` and runs in a transaction of its
    own per row. A batch handler (`batch=True`) is `handler(ids, now)`: it applies a list of
    due rows, already locked by the machinery, inside ONE transaction with set-based SQL,
    and is the only implementation of its transition: the exact-time job calls it with one
    id, the sweep with up to `BATCH`.
    """
    REGISTRY[name] = Deadline(name, model, column, handler, batch)


def _lock_due(deadline, ids, now, skip_locked):
    """The ids among `ids` still due at `now`, locked for this transaction (PostgreSQL).

    The sweep skips rows another transaction holds (a second sweep, or a human action in
    flight: it commits first and the row drops out, or the next sweep sees it again); the
    exact-time job waits for them and then re-reads the row.
    """
    model, column = deadline.model, deadline.column
    pk = model._meta.primary_key
    query = (model
             .select(pk)
             .where(among(pk, ids) & (column <= now))
             .order_by(pk))
    if not is_sqlite():  # SQLite: BEGIN IMMEDIATE already holds the write lock
        query = query.for_update(skip_locked=skip_locked or None)
    return [row for (row,) in query.tuples()]


def _apply_batch(deadline, ids, now, skip_locked):
    """Lock what is still due among `ids` and run the batch handler on it, in one
    transaction; returns how many rows it applied."""
    with atomic():
        locked = _lock_due(deadline, ids, now, skip_locked)
        if not locked:
            return 0
        deadline.handler(locked, now)
    return len(locked)


def apply_one(name, row_id, now=None):
    """Apply deadline `name` to row `row_id` if it is due; True when a handler ran.

    A `Conflict` (a human action committed first) rolls the attempt back and is not an
    error: the row was already moved on, or the next sweep re-evaluates it.
    """
    deadline = REGISTRY[name]
    now = now or clock.now()
    try:
        if deadline.batch:
            return _apply_batch(deadline, [row_id], now, skip_locked=False) > 0
        with atomic():
            query = deadline.model.select(deadline.column).where(
                (deadline.model._meta.primary_key == row_id) & (deadline.column <= now))
            if not is_sqlite():
                query = query.for_update()
            if query.first() is None:
                return False
            deadline.handler(row_id, now)
    except Conflict as err:
        log.info('deadline %s on %s yielded to a concurrent change: %s', name, row_id, err.message)
        return False
    return True


def apply_many(name, ids, now=None):
    """Apply deadline `name` to those of `ids` that are due (the exact-time job of a group
    of rows due at the same second); returns how many were applied."""
    deadline = REGISTRY[name]
    now = now or clock.now()
    if not deadline.batch:
        return sum(apply_one(name, row_id, now) for row_id in ids)
    return _apply_ids(deadline, list(ids), now, skip_locked=False)


def _apply_ids(deadline, ids, now, skip_locked):
    """One batch transaction; should it fail, each row on its own so that one bad row
    neither blocks the others nor hides which one it was."""
    try:
        return _apply_batch(deadline, ids, now, skip_locked)
    except Exception as err:
        if len(ids) == 1:
            if isinstance(err, Conflict):
                log.info('deadline %s on %s yielded to a concurrent change: %s',
                         deadline.name, ids[0], err.message)
                return 0
            raise
        log.warning('deadline %s: a batch of %d failed (%s); applying its rows one by one',
                    deadline.name, len(ids), err)
    applied = 0
    for row_id in ids:
        try:
            applied += _apply_ids(deadline, [row_id], now, skip_locked)
        except Exception:
            log.exception('deadline %s on %s failed', deadline.name, row_id)
    return applied


def due_ids(deadline, now, after=None, batch=None):
    """Ids of rows whose `deadline` is due, oldest first, after the (due, id) key `after`."""
    batch = batch or BATCH
    model, column = deadline.model, deadline.column
    pk = model._meta.primary_key
    query = model.select(column, pk).where(column <= now)
    if after is not None:
        # `column >= after` on its own as well: the index scan then starts at the key instead
        # of walking every entry before it (the rows a batch just applied stay in the index
        # as dead entries until vacuum, so each batch would re-walk all earlier batches)
        query = query.where((column >= after[0]) &
                            ((column > after[0]) | ((column == after[0]) & (pk > after[1]))))
    # as tuples: a primary key that is a foreign key (`MerchantStanding.merchant`) would
    # otherwise come back as the related object, not its id
    return [tuple(row) for row in query.order_by(column, pk).limit(batch).tuples()]


def advance_due(now=None, batch=None):
    """Apply every due deadline once; returns how many rows were applied.

    Due rows are read through the index in batches; a batch deadline applies each batch in
    one transaction (rows another sweep holds are skipped: two sweeps share the work), a
    row deadline each row in its own.
    """
    now = now or clock.now()
    batch = batch or BATCH  # read at call time, so the batch size can be tuned (and tested)
    applied = 0
    for deadline in REGISTRY.values():
        after = None
        while True:
            rows = due_ids(deadline, now, after, batch)
            if deadline.batch and rows:
                applied += _apply_ids(deadline, [row_id for _due, row_id in rows], now, skip_locked=True)
            else:
                for _due, row_id in rows:
                    try:
                        applied += apply_one(deadline.name, row_id, now)
                    except Exception:
                        log.exception('deadline %s on %s failed', deadline.name, row_id)
            if len(rows) < batch:
                break
            after = rows[-1]
    return applied


def schedule(name, row_id, at):
    """Ask for an exact-time run of deadline `name` on `row_id` at `at` (after commit).

    Without Redis nothing is scheduled: the ticker's sweep applies it within a few seconds.
    A lost or duplicate job is harmless: the sweep is the safety net and handlers are
    idempotent.
    """
    schedule_many(name, [(row_id, at)])


def schedule_many(name, rows):
    """`schedule` for many (row_id, at) pairs: rows due at the same second share one job
    (`apply_deadline_batch`, up to `BATCH` ids), a row alone gets the usual `apply_deadline`
    job (id `deadline-<name>-<row>-<epoch>`), and all of them go to Redis through one
    pipeline after commit — no round trip per row."""
    groups = {}
    for row_id, at in rows:
        if at is not None:
            groups.setdefault(at, []).append(row_id)
    jobs = []
    for at, ids in groups.items():
        stamp = tasks.epoch(at)
        for start in range(0, len(ids), BATCH):
            chunk = ids[start:start + BATCH]
            if len(chunk) == 1:
                jobs.append(('desk.jobs.apply_deadline', (name, chunk[0]),
                             f'deadline-{name}-{chunk[0]}-{stamp}', at))
            else:
                jobs.append(('desk.jobs.apply_deadline_batch', (name, chunk),
                             f'deadline-{name}-b{chunk[0]}-{len(chunk)}-{stamp}', at))
    tasks.schedule_many(jobs)
