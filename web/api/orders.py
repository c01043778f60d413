"""Orders pushed by the marketplace: PUT (idempotent upsert) and GET."""
from flask import jsonify

from desk.orders.orders import get_order, order_to_dict, upsert_order
from web.api import api_user, authenticated, bp, json_body
from web.api.openapi import operation


@bp.route('/orders/<order_no>', methods=['PUT'])
@operation(tag='orders', body='OrderInput',
           responses={200: ('Order', 'Updated (repeating a request changes nothing).'),
                      201: ('Order', 'Created.')},
           errors=(400, 409, 413, 422))
@authenticated('integration', 'admin')
def put_order(order_no):
    """Create or replace an order (idempotent upsert).

    Integration and admin keys only. The buyer and merchant are created on first sight; an
    existing order never moves to another buyer or merchant (409).
    """
    order, created = upsert_order(api_user(), order_no, json_body())
    return jsonify(order_to_dict(order)), 201 if created else 200


@bp.route('/orders/<order_no>', methods=['GET'])
@operation(tag='orders', responses={200: 'Order'})
@authenticated()
def read_order(order_no):
    """Read an order.

    Buyers see their own orders, merchant staff their merchant's, staff and the integration
    all; any other order is 404.
    """
    return jsonify(order_to_dict(get_order(api_user(), order_no)))
