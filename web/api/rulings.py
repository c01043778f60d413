"""Rulings over the API: a complaint's rulings and its appeal, and the ruling's
representation (also the `ruling` of every complaint, `web.api.complaints`)."""
from flask import Blueprint, jsonify

from desk.cases.access import get_visible
from desk.cases.models import Appeal, Ruling
from desk.core.money import to_yuan
from desk.core.times import to_iso
from web.api.base import api_user, authenticated
from web.api.openapi import MONEY, TEXT, TIME, nullable, object_of, operation

bp = Blueprint('rulings', __name__)

SCHEMAS = {
    'Ruling': object_of({
        'round': {'type': 'integer', 'enum': [1, 2], 'description': '2 = on appeal'},
        'outcome': {'type': 'string', 'enum': ['buyer_full', 'buyer_partial', 'merchant', 'split']},
        'responsibility': {'type': 'string', 'enum': ['merchant', 'buyer', 'platform', 'third_party']},
        'remedy': object_of({'type': {'type': 'string', 'enum': ['refund', 'reissue', 'compensation', 'none']},
                             'amount': nullable(MONEY)}, ('type', 'amount')),
        'clause': nullable(TEXT), 'reasoning': TEXT,
        'active': {'type': 'boolean'}, 'overturned': {'type': 'boolean'},
        'agent': nullable(TEXT), 'created_at': TIME,
    }, ('round', 'outcome', 'responsibility', 'remedy', 'clause', 'reasoning', 'active', 'overturned',
        'agent', 'created_at')),
    'RulingList': object_of({
        'items': {'type': 'array', 'items': 'Ruling'},
        'appeal': nullable(object_of({'party': {'type': 'string', 'enum': ['buyer', 'merchant']},
                                      'reason': TEXT, 'created_at': TIME,
                                      'decided_at': nullable(TIME),
                                      'changed': nullable({'type': 'boolean'})},
                                     ('party', 'reason', 'created_at', 'decided_at', 'changed'))),
    }, ('items', 'appeal')),
}


def ruling_to_dict(ruling):
    return {'round': ruling.round, 'outcome': ruling.outcome, 'responsibility': ruling.responsibility,
            'remedy': {'type': ruling.remedy,
                       'amount': (to_yuan(ruling.refund_fen) if ruling.remedy == 'refund' else
                                  to_yuan(ruling.coupon_fen) if ruling.remedy == 'compensation' else None)},
            'clause': ruling.clause.code if ruling.clause_id else None,
            'reasoning': ruling.reasoning, 'active': ruling.active, 'overturned': ruling.overturned,
            'agent': ruling.agent.display_name if ruling.agent_id else None,
            'created_at': to_iso(ruling.created_at)}


def appeal_to_dict(appeal):
    return {'party': appeal.party, 'reason': appeal.reason, 'created_at': to_iso(appeal.created_at),
            'decided_at': to_iso(appeal.decided_at), 'changed': appeal.changed}


@bp.route('/complaints/<ticket_no>/rulings', methods=['GET'])
@operation(tag='complaints', responses={200: 'RulingList'})
@authenticated()
def complaint_rulings(ticket_no):
    """Every ruling of a complaint, first round first, and its appeal (both parties and staff
    see them all: the reasoning is shown to both parties)."""
    complaint = get_visible(api_user(), ticket_no)
    items = [ruling_to_dict(r) for r in Ruling.select().where(Ruling.complaint == complaint.id).order_by(Ruling.round)]
    appeal = Appeal.get_or_none(Appeal.complaint == complaint.id)
    return jsonify(items=items, appeal=None if appeal is None else appeal_to_dict(appeal))
