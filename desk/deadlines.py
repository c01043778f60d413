"""The deadline machinery every timer of the product uses.

A deadline is an indexed, nullable datetime column (the source of truth), registered here
with the handler that applies it. `advance_due(now)` finds due rows through the index in
batches and applies each in its own transaction; handlers are idempotent and re-check the
row (its state, its version) so that a race with a human action has exactly one winner, and
they clear or move the column once applied.

It is driven three ways, all calling the same code: an exact-time RQ job scheduled with
`enqueue_at` whenever a deadline is set (`schedule`), the `rq cron` sweep every minute (the
safety net for lost jobs, a Redis restart or a dead worker), and the development ticker
thread when no Redis is configured.
"""
import calendar
import datetime as dt
import logging
from typing import Callable, NamedTuple

from peewee import Field

from desk import clock
from desk.db import after_commit, atomic, is_sqlite
from desk.errors import Conflict

log = logging.getLogger(__name__)

BATCH = 500


class Deadline(NamedTuple):
    name: str
    model: type      # a peewee Model
    column: Field    # the indexed datetime column
    handler: Callable  # handler(row_id, now); runs inside a transaction


REGISTRY = {}


def register(name, model, column, handler):
    REGISTRY[name] = Deadline(name, model, column, handler)


def apply_one(name, row_id, now=None):
    """Apply deadline `name` to row `row_id` if it is due; True when a handler ran.

    A `Conflict` (a human action committed first) rolls the attempt back and is not an
    error: the row was already moved on, or the next sweep re-evaluates it.
    """
    deadline = REGISTRY[name]
    now = now or clock.now()
    try:
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


def due_ids(deadline, now, after=None, batch=None):
    """Ids of rows whose `deadline` is due, oldest first, after the (due, id) key `after`."""
    batch = batch or BATCH
    model, column = deadline.model, deadline.column
    pk = model._meta.primary_key
    query = model.select(pk, column).where(column <= now)
    if after is not None:
        query = query.where((column > after[0]) | ((column == after[0]) & (pk > after[1])))
    return [(getattr(row, column.name), getattr(row, pk.name))
            for row in query.order_by(column, pk).limit(batch)]


def advance_due(now=None, batch=None):
    """Apply every due deadline once; returns how many handlers ran."""
    now = now or clock.now()
    batch = batch or BATCH  # read at call time, so the batch size can be tuned (and tested)
    applied = 0
    for deadline in REGISTRY.values():
        after = None
        while True:
            rows = due_ids(deadline, now, after, batch)
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
    from flask import current_app

    from desk.tasks import redis_connection
    app = current_app._get_current_object()
    if at is None or redis_connection(app) is None:
        return

    def enqueue():
        from desk.jobs import apply_deadline
        from desk.tasks import queue
        epoch = calendar.timegm(at.timetuple())
        try:
            queue(app).enqueue_at(_aware(at), apply_deadline, name, row_id,
                                  job_id=f'deadline-{name}-{row_id}-{epoch}', result_ttl=600)
        except Exception:
            log.exception('could not schedule deadline %s on %s; the sweep will apply it', name, row_id)
    after_commit(enqueue)


def _aware(naive_utc):
    return naive_utc.replace(tzinfo=dt.timezone.utc)
