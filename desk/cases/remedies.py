"""Remedies: what the marketplace must execute for the buyer, sent as a signed webhook and
confirmed by the marketplace (`POST /api/v1/remedies/<id>/confirm`, idempotent).

Refunds on one order never add up to more than was paid: `refundable` is the one place
that says how much is left. Unconfirmed after 24 hours, supervisors are alerted.
"""
import datetime as dt
import secrets

from flask_babel import gettext as _
from peewee import fn

from desk.cases.models import Remedy
from desk.cases.timeline import record
from desk.core import clock, deadlines
from desk.core.db import atomic
from desk.core.errors import Forbidden, Invalid, NotFound
from desk.core.money import to_yuan
from desk.core.times import to_iso
from desk.messaging import webhooks
from desk.messaging.notifications import notify
from desk.orders.models import Order
from desk.parties.accounts import supervisor_ids

CONFIRM_WITHIN = dt.timedelta(hours=24)


def refunded_fen(order_id):
    total = (Remedy
             .select(fn.COALESCE(fn.SUM(Remedy.amount_fen), 0))
             .where((Remedy.order == order_id) & (Remedy.kind == 'refund'))
             .scalar())
    return int(total or 0)


def refundable(order):
    """What may still be refunded on `order`: paid minus every refund already decided."""
    return max(0, order.amount_fen - refunded_fen(order.id))


def create(complaint, kind, amount_fen, source, actor=None):
    """Record a remedy and send the instruction (call inside the deciding transaction)."""
    order = Order.get_by_id(complaint.order_id)
    if kind == 'refund':
        left = refundable(order)
        if amount_fen is None or amount_fen <= 0 or amount_fen > left:
            raise Invalid(_('A refund must be more than 0 and at most %(left)s, what is left to refund.',
                            left=to_yuan(left)), fields={'amount': _('at most %(left)s', left=to_yuan(left))})
    now = clock.now()
    remedy = Remedy.create(complaint=complaint.id, order=order.id, kind=kind, amount_fen=amount_fen,
                           source=source, idempotency_key=f'remedy-{secrets.token_hex(12)}',
                           created_at=now, confirm_due_at=now + CONFIRM_WITHIN)
    deadlines.schedule('remedy_confirm', remedy.id, remedy.confirm_due_at)
    record(complaint, actor, 'remedy_created', {'remedy': remedy.id, 'kind': kind, 'amount_fen': amount_fen,
                                                'source': source})
    webhooks.publish('remedy.created', remedy_payload(remedy, complaint.ticket_no, order.order_no),
                     complaint=complaint, key=remedy.idempotency_key)
    return remedy


def remedy_payload(remedy, ticket_no=None, order_no=None):
    """The remedy as the `remedy.created` and `remedy.confirmed` webhooks send it: the wire
    format of those events, which the API's representation of a remedy reuses."""
    return {'id': remedy.id, 'ticket_no': ticket_no or remedy.complaint.ticket_no,
            'order_no': order_no or remedy.order.order_no, 'kind': remedy.kind,
            'amount': to_yuan(remedy.amount_fen) if remedy.amount_fen is not None else None,
            'source': remedy.source, 'state': remedy.state,
            'idempotency_key': remedy.idempotency_key, 'created_at': to_iso(remedy.created_at),
            'confirmed_at': to_iso(remedy.confirmed_at)}


def confirm(actor, remedy_id):
    """The marketplace executed the remedy. Confirming twice changes nothing."""
    if actor.role not in ('integration', 'admin'):
        raise Forbidden(_('Only the marketplace integration confirms remedies.'))
    remedy = Remedy.get_or_none(Remedy.id == remedy_id)
    if remedy is None:
        raise NotFound(_('No remedy %(id)s.', id=remedy_id))
    now = clock.now()
    with atomic():
        done = (Remedy
                .update(state='confirmed', confirmed_at=now, confirm_due_at=None)
                .where((Remedy.id == remedy.id) & (Remedy.state == 'pending'))
                .execute())
        if done:
            complaint = remedy.complaint
            record(complaint, actor, 'remedy_confirmed', {'remedy': remedy.id, 'kind': remedy.kind})
            webhooks.publish('remedy.confirmed', remedy_payload(Remedy.get_by_id(remedy.id)),
                             complaint=complaint, key=f'{remedy.idempotency_key}-confirmed')
    return Remedy.get_by_id(remedy.id)


def _unconfirmed(remedy_id, now):
    """Deadline handler: 24 hours without confirmation — alert the supervisors once."""
    remedy = Remedy.get_by_id(remedy_id)
    Remedy.update(confirm_due_at=None).where(Remedy.id == remedy_id).execute()
    if remedy.state != 'pending':
        return
    supervisors = supervisor_ids()
    notify('remedy_unconfirmed', supervisors, {'ticket': remedy.complaint.ticket_no, 'remedy': remedy.id},
           remedy.complaint)


def init_app(app):
    deadlines.register('remedy_confirm', Remedy, Remedy.confirm_due_at, _unconfirmed)
