"""Orders pushed by the marketplace: PUT (idempotent upsert) and GET, and the order's
representation."""
from flask import Blueprint, jsonify

from desk.core.masking import mask_card, mask_phone
from desk.core.money import to_yuan
from desk.core.times import to_iso
from desk.orders.models import GOODS_TYPES, PAYMENT_METHODS
from desk.orders.orders import get_order, upsert_order
from web.api.base import api_user, authenticated, json_body
from web.api.openapi import MONEY, TEXT, TIME, TIME_INPUT, nullable, object_of, operation

bp = Blueprint('orders', __name__)

PARTY = object_of({'ref': TEXT, 'name': TEXT}, ('ref', 'name'))
SCHEMAS = {
    'Order': object_of({
        'order_no': TEXT,
        'buyer': object_of({'ref': TEXT, 'name': TEXT,
                            'phone': dict(TEXT, description='masked, e.g. 138****1234; empty when unknown')},
                           ('ref', 'name', 'phone')),
        'merchant': PARTY,
        'product': TEXT,
        'sku': nullable(TEXT),
        'goods_type': {'type': 'string', 'enum': list(GOODS_TYPES)},
        'amount': MONEY,
        'paid_at': TIME,
        'delivered_at': nullable(TIME),
        'confirmed_at': nullable(TIME),
        'payment_method': {'type': 'string', 'enum': list(PAYMENT_METHODS)},
        'receiving_account': nullable(TEXT),
        'region': nullable(TEXT),
        'card_code': dict(TEXT, description='masked: ****1234, empty when none was sent'),
        'created_at': TIME,
        'updated_at': TIME,
    }, ('order_no', 'buyer', 'merchant', 'product', 'sku', 'goods_type', 'amount', 'paid_at',
        'delivered_at', 'confirmed_at', 'payment_method', 'receiving_account', 'region',
        'card_code', 'created_at', 'updated_at')),
    'OrderInput': object_of({
        'buyer': object_of({'ref': TEXT, 'name': TEXT, 'phone': TEXT}, ('ref', 'name')),
        'merchant': PARTY,
        'product': TEXT,
        'sku': TEXT,
        'goods_type': {'type': 'string', 'enum': list(GOODS_TYPES)},
        'amount': MONEY,
        'paid_at': TIME_INPUT,
        'delivered_at': TIME_INPUT,
        'confirmed_at': TIME_INPUT,
        'payment_method': {'type': 'string', 'enum': list(PAYMENT_METHODS)},
        'receiving_account': TEXT,
        'region': dict(TEXT, description='province'),
        'card_code': dict(TEXT, description='kept only as its last 4 characters and a hash'),
    }, ('buyer', 'merchant', 'product', 'goods_type', 'amount', 'paid_at', 'payment_method')),
}


def order_to_dict(order):
    return {
        'order_no': order.order_no,
        'buyer': {'ref': order.buyer.ref, 'name': order.buyer.display_name,
                  'phone': mask_phone(order.buyer.phone)},
        'merchant': {'ref': order.merchant.ref, 'name': order.merchant.name},
        'product': order.product,
        'sku': order.sku,
        'goods_type': order.goods_type,
        'amount': to_yuan(order.amount_fen),
        'paid_at': to_iso(order.paid_at),
        'delivered_at': to_iso(order.delivered_at),
        'confirmed_at': to_iso(order.confirmed_at),
        'payment_method': order.payment_method,
        'receiving_account': order.receiving_account,
        'region': order.region,
        'card_code': mask_card(order.card_last4),
        'created_at': to_iso(order.created_at),
        'updated_at': to_iso(order.updated_at),
    }


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
