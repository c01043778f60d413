"""Builders shared by the complaint tests: orders, people and a valid filing body.

Fixtures stay in conftest.py; these are plain functions the complaint test modules import.
"""
import datetime as dt

from desk.core import clock
from desk.orders.models import Order
from desk.parties.models import Buyer, Merchant

#: A complete scenario for every default category that needs one (SPEC §3).
SCENARIOS = {
    'recharge_not_arrived': {'receiving_account': '13800001234', 'minutes_late': 90},
    'card_invalid': {'error_message': '卡密已被使用'},
    'refund_delay': {'refund_requested_at': '2026-11-20T10:00:00+08:00'},
    'system_fault': {'occurred_at': '2026-11-23T21:15:00+08:00'},
}


def buyer(ref='b-1', name=None, dedicated_agent=None):
    found = Buyer.get_or_none(Buyer.ref == ref)
    if found is None:
        found = Buyer.create(ref=ref, display_name=name or f'买家 {ref}', phone='13800001234',
                             dedicated_agent_id=dedicated_agent.id if dedicated_agent else None)
    return found


def merchant(ref='m-1', name=None):
    found = Merchant.get_or_none(Merchant.ref == ref)
    if found is None:
        found = Merchant.create(ref=ref, name=name or f'商家 {ref}')
    return found


def order(order_no='O-1', buyer_ref='b-1', merchant_ref='m-1', amount_fen=4990,
          paid_at=None, delivered_at=None, confirmed_at=None):
    """An order paid a day before now (well inside the complaint window) unless told."""
    return Order.create(order_no=order_no, buyer=buyer(buyer_ref), merchant=merchant(merchant_ref),
                        product='腾讯Q币 100元', goods_type='game_card', amount_fen=amount_fen,
                        paid_at=paid_at or clock.now() - dt.timedelta(days=1), delivered_at=delivered_at,
                        confirmed_at=confirmed_at, payment_method='alipay')


def body(order_no='O-1', category='not_as_described', **overrides):
    """A valid POST /api/v1/complaints body for `category`."""
    data = {'order_no': order_no, 'category': category,
            'facts': '面值与商品页描述不一致,到账 50 元而非 100 元。',
            'scenario': dict(SCENARIOS.get(category, {}) if isinstance(category, str) else {}),
            'demand': {'type': 'full_refund'}}
    data.update(overrides)
    return data


def buyer_user(users, ref='b-1', **kwargs):
    """A buyer login for buyer `ref` (created if missing)."""
    buyer(ref)
    return users('buyer', buyer_ref=ref, **kwargs)


def staff_user(users, ref='m-1', **kwargs):
    """A merchant staff login for merchant `ref` (created if missing)."""
    merchant(ref)
    return users('merchant_staff', merchant_ref=ref, **kwargs)


def file(client, headers, **kwargs):
    """POST a complaint; returns the response."""
    return client.post('/api/v1/complaints', json=body(**kwargs), headers=headers)


def file_ok(client, headers, **kwargs):
    response = file(client, headers, **kwargs)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def act(client, headers, ticket_no, action, data=None):
    return client.post(f'/api/v1/complaints/{ticket_no}/actions/{action}', json=data or {},
                       headers=headers)
