"""Recording merchant violations (SPEC §7). Points count for 365 days; `arbitration.penalties.standing`
builds levels and restrictions on them, the deposit ledger their fines. Recording recomputes
the standing of the merchants concerned at once (one set-based recompute per call).

The points and fine come from the editable rule table (`ViolationRule`) at the moment of
recording and are copied onto the violation: editing a rule never changes what a merchant
already carries. `DEFAULT_RULES` is the fallback for a code with no row (and the SPEC table the
migration seeds)."""
import datetime as dt
import functools

from arbitration.penalties import deposit, standing
from arbitration.penalties.models import Violation, ViolationRule
from desk.core import clock
from desk.core.db import among, before_commit, insert_rows

#: code -> (points, fine in fen): the defaults of SPEC §7.
DEFAULT_RULES = {
    'no_response': (2, 0),
    'arbitration_lost': (3, 0),
    'not_as_described': (4, 0),
    'fake_delivery': (12, 50000),
    'complaint_spike': (6, 0),
}
VALID_DAYS = 365


def record_violation(merchant_id, code, complaint=None, reason=None, now=None):
    """Record a violation once per (complaint, code); returns the row."""
    return record_many([(merchant_id, code, complaint, reason)], now)[0]


def record_many(items, now=None):
    """`record_violation` for many (merchant_id, code, complaint or None, reason) items: the
    existing (complaint, code) rows are read in one query and the new ones written with one
    INSERT. Returns the rows (existing or new) in order; None for an item whose rule is
    switched off."""
    now = now or clock.now()
    keyed = [(_cid(complaint), code) for _m, code, complaint, _r in items]
    wanted = {key for key in keyed if key[0] is not None}
    existing = {}
    if wanted:
        rows = (Violation
                .select()
                .where(among(Violation.complaint, sorted({cid for cid, _code in wanted}))
                       & Violation.code.in_(sorted({code for _cid, code in wanted})))
                .order_by(Violation.id))
        for row in rows:
            existing.setdefault((row.complaint_id, row.code), row)
    rules = rule_values({code for _m, code, _c, _r in items})
    result, new = [], []
    for (merchant_id, code, complaint, reason), key in zip(items, keyed):
        if key[0] is not None and key in existing:
            result.append(existing[key])
            continue
        if rules[code] is None:  # the rule is switched off: nothing is recorded
            result.append(None)
            continue
        points, fine = rules[code]
        row = Violation(merchant=merchant_id, complaint=key[0], code=code, points=points,
                        fine_fen=fine, at=now, reason=reason, state='active',
                        expires_at=now + dt.timedelta(days=VALID_DAYS))
        if key[0] is not None:
            existing[key] = row  # the same (complaint, code) twice in one call: once
        result.append(row)
        new.append(row)
    if new:
        fields = [Violation.merchant, Violation.complaint, Violation.code, Violation.points,
                  Violation.fine_fen, Violation.at, Violation.reason, Violation.state,
                  Violation.expires_at]
        inserted = insert_rows(Violation, fields, [[v.merchant_id, v.complaint_id, v.code, v.points, v.fine_fen,
                                                    v.at, v.reason, v.state, v.expires_at] for v in new],
                               returning=True)
        for row, violation_id in zip(new, inserted):
            row.id = violation_id
        deposit.charge_fines(new, now)  # fines into the deposit ledger first: a fine the deposit
        # cannot cover is part of the standing the recompute derives
        # the standing locks each merchant's row: recomputed as the transaction's last work,
        # so two merchant-timeout batches sharing merchants do not wait on each other's rest
        before_commit(functools.partial(standing.recompute, sorted({v.merchant_id for v in new}), now))
    return result


def _cid(complaint):
    if complaint is None or isinstance(complaint, int):
        return complaint
    return complaint.id


def rule_values(codes):
    """code -> (points, fine in fen) from the rule table, the SPEC defaults where a code has
    no row; None for a rule an admin switched off (`active` False: it records nothing)."""
    rows = {r.code: r for r in ViolationRule.select().where(ViolationRule.code.in_(sorted(codes)))}
    return {code: ((rows[code].points, rows[code].fine_fen) if rows[code].active else None)
            if code in rows else DEFAULT_RULES[code] for code in codes}
