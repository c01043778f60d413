"""Merchant standing: active points of the violations against the level table (SPEC §7)."""

import pytest

from arbitration import standing, violations
from arbitration.penalty_models import MerchantStanding
from desk import clock
from tests import complaint_helpers as h


@pytest.mark.parametrize('points, level', [(11, 0), (12, 1), (23, 1), (24, 2), (35, 2), (36, 3),
                                           (47, 3), (48, 4)])
def test_level_thresholds(app, frozen, points, level):
    merchant = h.merchant('m-1')
    for _ in range(points):
        violations.record_violation(merchant.id, 'manual', reason='test')
    from arbitration.models import Violation
    Violation.update(points=1).execute()
    row = standing.recompute([merchant.id])[merchant.id]
    assert (row.active_points, row.level) == (points, level)
    assert MerchantStanding.get_by_id(merchant.id).level == level


def test_expired_violation_counts_no_more(app, frozen):
    merchant = h.merchant('m-1')
    violations.record_violation(merchant.id, 'fake_delivery')
    assert standing.recompute([merchant.id])[merchant.id].active_points == 12
    clock.advance(days=365, seconds=-1)
    assert standing.recompute([merchant.id])[merchant.id].level == 1
    clock.advance(1)
    assert standing.recompute([merchant.id])[merchant.id].level == 0
