"""`GET /api/v1/merchants/<ref>/standing` (SPEC §9a): a merchant's level, active points with
each violation, restrictions with their end times, deposit balance and health figures — for
the marketplace, staff, and the merchant's own staff. Permissions are checked in
`arbitration.health.standing_report.standing_for`."""
from flask import Blueprint, jsonify

from arbitration.health.standing_report import standing_for
from arbitration.penalties.models import RESTRICTIONS, VIOLATION_STATES
from web.api.base import api_user, authenticated
from web.api.openapi import MONEY, TEXT, TIME, nullable, object_of, operation

bp = Blueprint('standing', __name__)

SCHEMAS = {
    'StandingViolation': object_of({
        'id': {'type': 'integer'},
        'code': dict(TEXT, description='the rule that produced it, e.g. fake_delivery'),
        'points': {'type': 'integer'}, 'fine': MONEY,
        'ticket_no': nullable(dict(TEXT, description='the complaint it rests on (none for a manual one)')),
        'at': TIME, 'expires_at': TIME,
        'state': {'type': 'string', 'enum': list(VIOLATION_STATES)},
        'ended_at': nullable(dict(TIME, description='when it expired or was revoked')),
    }, ('id', 'code', 'points', 'fine', 'ticket_no', 'at', 'expires_at', 'state', 'ended_at')),
    'Restriction': object_of({
        'kind': {'type': 'string', 'enum': list(RESTRICTIONS)},
        'until': nullable(dict(TIME, description='null: as long as the level (or the deposit '
                                                 'shortfall) lasts; for `cleared`, for good')),
        'reason': {'type': 'string', 'enum': ['standing', 'deposit']},
    }, ('kind', 'until', 'reason')),
    'Standing': object_of({
        'merchant': dict(TEXT, description='merchant ref'),
        'level': dict(TEXT, description='normal, or the code of a level of the standing table '
                                        '(warning, no_listing, suspended, cleared)'),
        'level_since': nullable(TIME),
        'active_points': {'type': 'integer'},
        'violations': {'type': 'array', 'items': 'StandingViolation',
                       'description': 'active violations, and those that ended in the last 30 days; '
                                      'newest first'},
        'restrictions': {'type': 'array', 'items': 'Restriction'},
        'next_change_at': nullable(dict(TIME, description='when the standing next changes by '
                                                          'itself (a violation expiring, a '
                                                          'restriction ending)')),
        'deposit': object_of({'balance': dict(MONEY, pattern=r'^-?\d+\.\d{2}$',
                                              description='yuan; negative: the shop is suspended '
                                                          'until it is topped up')}, ('balance',)),
        'health': {'type': 'object', 'additionalProperties': True,
                   'description': 'health figures (complaint rate, defect rate, …)'},
    }, ('merchant', 'level', 'level_since', 'active_points', 'violations', 'restrictions',
        'next_change_at', 'deposit', 'health')),
}


@bp.route('/merchants/<ref>/standing')
@operation(tag='merchants', responses={200: 'Standing'})
@authenticated()
def merchant_standing(ref):
    """A merchant's standing: level, active points, violations, restrictions, deposit.

    Staff and integration keys read any merchant; merchant staff only their own merchant
    (another merchant, like an unknown one, is 404); buyers 404.
    """
    return jsonify(standing_for(api_user(), ref))
