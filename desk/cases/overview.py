"""The counts each console's home page shows its role.

Kept to indexed, bounded queries so a home page stays fast on a large database.
"""
import datetime as dt

from desk.cases import lifecycle
from desk.cases.access import AGENT_ROLES
from desk.cases.models import Complaint
from desk.core import clock
from desk.orders.models import Order
from desk.parties.models import Buyer, Merchant, User


def staff_overview(user):
    now = clock.now()
    day_ago, week_ago = now - dt.timedelta(days=1), now - dt.timedelta(days=7)
    counts = {
        'orders_24h': Order.select().where(Order.paid_at >= day_ago).count(),
        'orders_7d': Order.select().where(Order.paid_at >= week_ago).count(),
        'merchants': Merchant.select().count(),
        'agents_online': (User.select()
                          .where(User.role.in_(('agent', 'senior_agent')) & (User.status == 'online')
                                 & (User.active == True))  # noqa: E712
                          .count()),
    }
    if user.role == 'admin':
        counts['buyers'] = Buyer.select().count()
    return counts


def merchant_overview(user):
    now = clock.now()
    orders = Order.select().where(Order.merchant == user.merchant_id)
    month = orders.where(Order.paid_at >= now - dt.timedelta(days=30))
    return {
        'orders_30d': month.count(),
        'orders_total': orders.count(),
        'staff': User.select().where((User.merchant == user.merchant_id) & (User.active == True)).count(),  # noqa: E712
    }


def buyer_orders(user, limit=50):
    """The buyer's latest orders, newest first (the portal's "my orders")."""
    return (Order
            .select(Order, Merchant)
            .join(Merchant)
            .where(Order.buyer == user.buyer_id)
            .order_by(Order.paid_at.desc(), Order.id.desc())
            .limit(limit))


def agent_overview(user):
    """The agent desk's counts on the backoffice home: for agents their department's waiting
    cases and their own open ones, for supervisors and admins what waits and what is overdue."""
    waiting = Complaint.select().where(Complaint.state == lifecycle.PENDING_AGENT)
    if user.role in AGENT_ROLES:
        return {
            'waiting_department': waiting.where(Complaint.department == user.department).count(),
            'my_open': (Complaint.select()
                        .where((Complaint.owner == user.id) & (Complaint.in_queue == True))  # noqa: E712
                        .count()),
        }
    if user.role in ('supervisor', 'admin'):
        return {
            'waiting_all': waiting.count(),
            'overdue_all': (Complaint.select()
                            .where((Complaint.in_queue == True) & (Complaint.queue_rank == 0))  # noqa: E712
                            .count()),
        }
    return {}
