"""Merchant standing (SPEC §7): active points -> level -> restrictions.

A merchant's standing is a pure function of its violations (active: state `active` and
`expires_at` > now) and the level table; `MerchantStanding` stores the result so that reading
it is one row. `recompute(merchant_ids, now)` is the one way to bring rows up to date.

(Skeleton: the level thresholds are applied; restrictions with their end times, the
self-applying deadline, notifications and webhooks on level change build on `recompute`.)
"""
from peewee import fn

from desk import clock
from desk.db import among

from arbitration.models import Violation
from arbitration.penalty_models import MerchantStanding, StandingLevel


def levels():
    """The level table, lowest first."""
    return list(StandingLevel.select().order_by(StandingLevel.min_points))


def level_for(points, table):
    """The level number `points` reach in `table` (0: normal)."""
    level = 0
    for row in table:
        if points >= row.min_points:
            level = row.level
    return level


def active_points(merchant_ids, now):
    """merchant id -> sum of the points of its active violations at `now` (0 when none)."""
    rows = (Violation
            .select(Violation.merchant, fn.SUM(Violation.points))
            .where(among(Violation.merchant, merchant_ids) & (Violation.state == 'active')
                   & (Violation.expires_at > now))
            .group_by(Violation.merchant)
            .tuples())
    points = dict.fromkeys(merchant_ids, 0)
    points.update({m: int(p or 0) for m, p in rows})
    return points


def recompute(merchant_ids, now=None):
    """Bring the standing of `merchant_ids` up to date at `now`; returns merchant id ->
    MerchantStanding. Runs inside the caller's transaction."""
    now = now or clock.now()
    merchant_ids = sorted(set(merchant_ids))
    table = levels()
    points = active_points(merchant_ids, now)
    existing = {s.merchant_id: s for s in
                MerchantStanding.select().where(among(MerchantStanding.merchant, merchant_ids))}
    result = {}
    for merchant_id in merchant_ids:
        level = level_for(points[merchant_id], table)
        row = existing.get(merchant_id)
        if row is None:
            row = MerchantStanding(merchant=merchant_id, level=0)
            row._new = True
        if row.level != level:
            row.level_since = now
        row.level = level
        row.active_points = points[merchant_id]
        row.updated_at = now
        row.save(force_insert=getattr(row, '_new', False))
        result[merchant_id] = row
    return result


def standing_of(merchant_id, now=None):
    """The merchant's standing row, computed on first read."""
    row = MerchantStanding.get_or_none(MerchantStanding.merchant == merchant_id)
    return row or recompute([merchant_id], now)[merchant_id]
