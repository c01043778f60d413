"""The supervisor pre-screen of complaints from buyers with credit below 30 (SPEC §7).

Such a complaint is filed into `screening` (`desk.cases.complaints._create`): no merchant timer, no
SLA clock, no queue, and nobody but its buyer is told; the merchant does not even see it
(`desk.cases.access`). A supervisor then either lets it through (`screen_accept`: it takes the
path its category gives, and everything filing would have started starts now — the merchant's
24 hours and its notice, or the SLA clocks and auto-assignment, and the marketplace's
`complaint.filed` webhook) or refuses it with a reason the buyer is told (`screen_reject`: closed;
the merchant never hears of it). `pending_screening()` is the supervisors' queue.
"""
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from desk.cases import lifecycle, transitions
from desk.cases.access import buyer_users
from desk.cases.complaints import announce_filed, notify_filed, path_state, start_path
from desk.cases.models import Category, Complaint
from desk.cases.timeline import record
from desk.cases.transitions import check, transition
from desk.core import clock
from desk.core.db import atomic
from desk.credit.ledger import supervisor_reason
from desk.messaging import notifications
from desk.messaging.notifications import notify
from desk.orders.models import Order

NOTICES = {
    'complaint_screen_rejected': (_l('Complaint %(ticket)s was not accepted'),
                                  _l('After review the platform did not accept the complaint about order '
                                     '%(order_no)s: %(reason)s')),
}


def pending_screening(limit=100):
    """The complaints waiting for a pre-screen, oldest first (the supervisors' queue)."""
    return list(Complaint
                .select()
                .where(Complaint.state == lifecycle.SCREENING)
                .order_by(Complaint.created_at, Complaint.id)
                .limit(limit))


def screen_accept(actor, complaint, data=None):
    """Let a screened complaint through to the path its category gives."""
    now = clock.now()
    check(complaint, actor, 'screen_accept', now)
    category = Category.get(Category.code == complaint.category)
    order = Order.get_by_id(complaint.order_id)
    state = path_state(category)
    with atomic():
        transition(complaint, 'screen_accept', state, screening='accepted')
        start_path(complaint, now)
        record(complaint, actor, 'screen_accepted', {'state': state}, actor_role=actor.role)
        notify_filed(complaint, order, category, buyer=False)
        announce_filed(complaint, order, category)
    return complaint


def screen_reject(actor, complaint, data):
    """Refuse a screened complaint with a reason the buyer is told; it is closed."""
    now = clock.now()
    check(complaint, actor, 'screen_reject', now)
    reason = supervisor_reason(data, _('Tell the buyer why the complaint is not accepted.'))
    with atomic():
        transition(complaint, 'screen_reject', lifecycle.CLOSED, screening='rejected', closed_at=now)
        record(complaint, actor, 'screen_rejected', {'reason': reason}, actor_role=actor.role)
        notify('complaint_screen_rejected', buyer_users(complaint),
               {'ticket': complaint.ticket_no, 'order_no': complaint.order.order_no, 'reason': reason},
               complaint, link=f'/buyer/complaints/{complaint.ticket_no}', sms=True)
    return complaint


def init_app(app):
    notifications.TEMPLATES.update(NOTICES)
    transitions.ACTIONS.update({'screen_accept': screen_accept, 'screen_reject': screen_reject})
