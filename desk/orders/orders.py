"""Orders pushed by the marketplace: validation, idempotent upsert, visibility and the
representation the API returns.

An order is a copy of the marketplace's record, so an upsert replaces the fields it carries;
the buyer and merchant it names are created on first sight. An existing order never moves to
another buyer or merchant (complaints hang on that link).
"""
import re

from flask_babel import gettext as _
from peewee import IntegrityError

from desk.core import clock
from desk.core.db import atomic
from desk.core.errors import Conflict, Forbidden, Invalid, NotFound
from desk.core.masking import card_digest
from desk.core.money import parse_yuan
from desk.core.text_input import clean_text
from desk.core.times import parse_datetime
from desk.orders.models import GOODS_TYPES, PAYMENT_METHODS, Order
from desk.parties.models import Buyer, Merchant

ORDER_NO = re.compile(r'^[A-Za-z0-9_-]{1,64}$')
REF = re.compile(r'^[A-Za-z0-9_.:-]{1,64}$')
PHONE = re.compile(r'^\+?[0-9 -]{5,20}$')
WRITERS = ('integration', 'admin')


def _text(data, field, fields, max_len, required=True):
    """Order fields are single-line text (no control characters or line breaks)."""
    return clean_text(data.get(field), field, max_len, fields, required=required, single_line=True)


def _party(data, field, fields, with_phone):
    party = data.get(field)
    if not isinstance(party, dict):
        fields[field] = _('must be an object with ref and name')
        return None
    sub = {}
    ref = _text(party, 'ref', sub, 64)
    if ref and not REF.fullmatch(ref):
        sub['ref'] = _('letters, digits and _ . : - only')
    name = _text(party, 'name', sub, 200)
    phone = _text(party, 'phone', sub, 20, required=False) if with_phone else None
    if phone and not PHONE.fullmatch(phone):
        sub['phone'] = _('must be a phone number')
    for key, msg in sub.items():
        fields[f'{field}.{key}'] = msg
    return {'ref': ref, 'name': name, 'phone': phone}


def _choice(data, field, fields, choices):
    value = data.get(field)
    if value not in choices:
        fields[field] = _('must be one of %(c)s', c=', '.join(choices))
        return None
    return value


def _when(data, field, fields, required=True):
    raw = data.get(field)
    if raw in (None, ''):
        if required:
            fields[field] = _('is required')
        return None
    try:
        return parse_datetime(raw, field)
    except Invalid as err:
        fields.update(err.fields)
        return None


def validate_order(order_no, data):
    """Check an order body (SPEC §9a); returns clean values or raises `Invalid` with every
    bad field named at once."""
    if not isinstance(data, dict):
        raise Invalid(_('The body must be a JSON object.'))
    fields = {}
    if not isinstance(order_no, str) or not ORDER_NO.fullmatch(order_no):
        fields['order_no'] = _('1 to 64 letters, digits, _ or -')
    clean = {
        'buyer': _party(data, 'buyer', fields, with_phone=True),
        'merchant': _party(data, 'merchant', fields, with_phone=False),
        'product': _text(data, 'product', fields, 200),
        'sku': _text(data, 'sku', fields, 64, required=False),
        'goods_type': _choice(data, 'goods_type', fields, GOODS_TYPES),
        'payment_method': _choice(data, 'payment_method', fields, PAYMENT_METHODS),
        'receiving_account': _text(data, 'receiving_account', fields, 100, required=False),
        'region': _text(data, 'region', fields, 32, required=False),
        'card_code': _text(data, 'card_code', fields, 200, required=False),
        'paid_at': _when(data, 'paid_at', fields),
        'delivered_at': _when(data, 'delivered_at', fields, required=False),
        'confirmed_at': _when(data, 'confirmed_at', fields, required=False),
    }
    try:
        clean['amount_fen'] = parse_yuan(data.get('amount'), 'amount', allow_zero=False)
    except Invalid as err:
        fields.update(err.fields)
    paid = clean['paid_at']
    for later in ('delivered_at', 'confirmed_at'):
        if paid and clean[later] and clean[later] < paid:
            fields[later] = _('must not be before paid_at')
    if fields:
        raise Invalid(_('The order has invalid fields.'), fields=fields)
    return clean


def _get_or_create(model, ref, defaults):
    """Find a buyer/merchant by ref or create it; safe when two requests race to create."""
    found = model.get_or_none(model.ref == ref)
    if found is not None:
        return found, False
    try:
        with atomic():
            return model.create(ref=ref, **defaults), True
    except IntegrityError:
        return model.get(model.ref == ref), False


def upsert_order(actor, order_no, data):
    """Create or replace the order `order_no`; returns (order, created).

    Repeating the same request changes nothing (idempotent). Concurrent first inserts of the
    same order resolve to one row: the loser retries as an update.
    """
    if actor.role not in WRITERS:
        raise Forbidden(_('Only the marketplace integration may push orders.'))
    clean = validate_order(order_no, data)
    for attempt in range(2):
        try:
            with atomic():
                return _apply_upsert(order_no, clean)
        except IntegrityError:
            if attempt:
                raise
    raise AssertionError('unreachable')


def _apply_upsert(order_no, clean):
    b, m = clean['buyer'], clean['merchant']
    buyer, _created = _get_or_create(Buyer, b['ref'], {'display_name': b['name'], 'phone': b['phone']})
    if (buyer.display_name, buyer.phone) != (b['name'], b['phone'] or buyer.phone):
        buyer.display_name, buyer.phone = b['name'], b['phone'] or buyer.phone
        buyer.save()
    merchant, _created = _get_or_create(Merchant, m['ref'], {'name': m['name']})
    if merchant.name != m['name']:
        merchant.name = m['name']
        merchant.save()
    values = {key: clean[key] for key in (
        'product', 'sku', 'goods_type', 'amount_fen', 'paid_at', 'delivered_at',
        'confirmed_at', 'payment_method', 'receiving_account', 'region')}
    if clean['card_code']:
        values['card_last4'], values['card_hash'] = card_digest(clean['card_code'])
    order = Order.get_or_none(Order.order_no == order_no)
    if order is None:
        order = Order.create(order_no=order_no, buyer=buyer, merchant=merchant, **values)
        return order, True
    if order.buyer_id != buyer.id or order.merchant_id != merchant.id:
        raise Conflict(_('Order %(no)s belongs to another buyer or merchant; it cannot be moved.',
                         no=order_no))
    changed = {k: v for k, v in values.items() if getattr(order, k) != v}
    if changed:
        changed['updated_at'] = clock.now()
        Order.update(**changed).where(Order.id == order.id).execute()
        order = Order.get_by_id(order.id)
    return order, False


def visible_orders(actor):
    """The orders query `actor` may see: their own as a buyer or merchant, all as staff."""
    query = Order.select(Order, Buyer, Merchant).join(Buyer).switch(Order).join(Merchant)
    if actor.role == 'buyer':
        return query.where(Order.buyer == actor.buyer_id)
    if actor.role == 'merchant_staff':
        return query.where(Order.merchant == actor.merchant_id)
    if actor.role in ('integration', 'agent', 'senior_agent', 'supervisor', 'admin'):
        return query
    return query.where(False)


def get_order(actor, order_no):
    order = None
    if isinstance(order_no, str) and ORDER_NO.fullmatch(order_no):  # else no such order
        order = visible_orders(actor).where(Order.order_no == order_no).first()
    if order is None:
        raise NotFound(_('No order %(no)s.', no=order_no))
    return order
