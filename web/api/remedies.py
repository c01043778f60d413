"""Remedies over the API: the marketplace confirms it executed one.

A remedy's representation is its webhook payload, `desk.cases.remedies.remedy_payload` (the
wire format of the `remedy.created` and `remedy.confirmed` events): the API sends the same
body, here and in every complaint's `remedies` (`web.api.complaints`).
"""
from flask import Blueprint, jsonify

from desk.cases import remedies
from web.api.base import api_user, authenticated
from web.api.openapi import TEXT, TIME, nullable, object_of, operation

bp = Blueprint('remedies', __name__)

SCHEMAS = {
    'Remedy': object_of({
        'id': {'type': 'integer'}, 'ticket_no': TEXT, 'order_no': TEXT,
        'kind': {'type': 'string', 'enum': ['refund', 'reissue', 'compensation']},
        'amount': nullable(dict(TEXT, example='49.90')),
        'source': {'type': 'string', 'enum': ['agreement', 'timeout', 'auto_refund', 'ruling', 'resolution',
                                              'review']},
        'state': {'type': 'string', 'enum': ['pending', 'confirmed']},
        'idempotency_key': TEXT, 'created_at': TIME, 'confirmed_at': nullable(TIME),
    }, ('id', 'ticket_no', 'order_no', 'kind', 'amount', 'source', 'state', 'idempotency_key',
        'created_at', 'confirmed_at')),
}


@bp.route('/remedies/<int:remedy_id>/confirm', methods=['POST'])
@operation(tag='remedies', responses={200: 'Remedy'})
@authenticated('integration', 'admin')
def confirm_remedy(remedy_id):
    """The marketplace executed the remedy; confirming again changes nothing."""
    remedy = remedies.confirm(api_user(), remedy_id)
    return jsonify(remedies.remedy_payload(remedy))
