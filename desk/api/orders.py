"""Orders pushed by the marketplace: PUT (idempotent upsert) and GET."""
from flask import jsonify

from desk.api import api_user, authenticated, bp, json_body
from desk.orders import get_order, order_to_dict, upsert_order


@bp.route('/orders/<order_no>', methods=['PUT'])
@authenticated('integration', 'admin')
def put_order(order_no):
    order, created = upsert_order(api_user(), order_no, json_body())
    return jsonify(order_to_dict(order)), 201 if created else 200


@bp.route('/orders/<order_no>', methods=['GET'])
@authenticated()
def read_order(order_no):
    return jsonify(order_to_dict(get_order(api_user(), order_no)))
