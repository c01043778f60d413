"""The agent desk's queues: which cases a department (or an agent) works on, in what order,
and the counts beside the filters.

Order: overdue first, then tier (L1 first), then the next SLA due time, then id — the
columns of one composite index (department, in_queue, queue_rank, tier, next_due_at, id),
so the first page and every later page (keyset cursor, never OFFSET) read a few index
entries however long the queue is.
"""
import base64
import datetime as dt
import json

from flask_babel import gettext as _
from peewee import JOIN, SQL, fn

from desk.cases import lifecycle
from desk.cases.access import AGENT_ROLES
from desk.cases.filters import filter_complaints, keyset_page
from desk.cases.models import TIERS, Complaint
from desk.core.errors import Forbidden, Invalid
from desk.orders.models import Order
from desk.parties.models import DEPARTMENTS, Merchant, User

#: The states a queue may be filtered by: those a case sits in a queue in.
QUEUE_FILTER_STATES = lifecycle.QUEUE
FLAGS = ('overdue', 'external', 'unassigned', 'needs_payment_proof')
PAGE_MAX = 100
#: Queue order (overdue first, then tier, then the next due time): the keyset of a page.
ORDER = (Complaint.queue_rank, Complaint.tier, Complaint.next_due_at, Complaint.id)
#: What a queue row shows (ticket, flags, countdown) and its keyset: only these columns are
#: read, so a page does not build 50 whole complaints (facts, scenario...) it never shows.
ROW_COLUMNS = (Complaint.id, Complaint.ticket_no, Complaint.department, Complaint.state, Complaint.tier,
               Complaint.category, Complaint.priority, Complaint.needs_payment_proof, Complaint.owner,
               Complaint.order, Complaint.merchant, Complaint.queue_rank, Complaint.next_due_at,
               Complaint.first_response_at, Complaint.first_response_due_at, Complaint.resolution_due_at,
               Complaint.version)


def queue_department(user, department):
    """The department `user` may look at: agents their own, supervisors and admins any."""
    if user.role in AGENT_ROLES:
        if department and department != user.department:
            raise Forbidden(_('Agents see their own department\'s queue.'))
        return user.department
    if user.role in ('supervisor', 'admin', 'integration'):
        if department not in DEPARTMENTS:
            raise Invalid(_('Choose a department.'), fields={'department': _('one of %(d)s', d=', '.join(DEPARTMENTS))})
        return department
    raise Forbidden(_('Only staff see the queues.'))


def filtered(query, filters):
    """`query` narrowed by the queue's filters: the ones every complaint list has (a state of
    the queue, tier, category, merchant), the owner (username) and a flag."""
    query, fields = filter_complaints(query, filters, states=QUEUE_FILTER_STATES)
    if filters.get('owner'):
        owner = User.get_or_none(User.username == filters['owner'])
        query = query.where(Complaint.owner == (owner.id if owner else -1))
    flag = filters.get('flag')
    if flag:
        if flag not in FLAGS:
            fields['flag'] = _('one of %(c)s', c=', '.join(FLAGS))
        elif flag == 'overdue':
            query = query.where(Complaint.queue_rank == 0)
        elif flag == 'external':
            query = query.where(Complaint.priority > 0)
        elif flag == 'unassigned':
            query = query.where(Complaint.owner.is_null())
        elif flag == 'needs_payment_proof':
            query = query.where(Complaint.needs_payment_proof == True)  # noqa: E712
    if fields:
        raise Invalid(_('The filters are invalid.'), fields=fields)
    return query


def _encode(row):
    key = [row.queue_rank, row.tier, row.next_due_at.isoformat(), row.id]
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip('=')


def _decode(cursor):
    try:
        rank, tier, due, last_id = json.loads(base64.urlsafe_b64decode(cursor + '=' * (-len(cursor) % 4)))
        if not (isinstance(rank, int) and tier in TIERS and isinstance(last_id, int)):
            raise ValueError
        return rank, tier, dt.datetime.fromisoformat(due), last_id
    except (ValueError, TypeError, UnicodeDecodeError):
        raise Invalid(_('The cursor is not one this page gave out.'), fields={'cursor': _('invalid')}) from None


def base_query(department=None, owner=None):
    query = Complaint.select().where(Complaint.in_queue == True)  # noqa: E712
    if department:
        query = query.where(Complaint.department == department)
    if owner:
        query = query.where(Complaint.owner == owner.id)
    return query


def page(query, filters, cursor=None, limit=50):
    """(rows, next_cursor) of `query` in queue order after the keyset `cursor`."""
    if not 1 <= limit <= PAGE_MAX:
        raise Invalid(_('The page size is out of range.'), fields={'limit': _('1 to %(n)d', n=PAGE_MAX)})
    query = filtered(query, filters)
    after = _decode(cursor) if cursor else None
    owner = User.alias()
    query = (query
             # the joined ids too: without them peewee sets order_id/merchant_id/owner_id to None
             .select(*ROW_COLUMNS, Order.id, Order.order_no, Order.amount_fen, Merchant.id, Merchant.name,
                     owner.id, owner.username)
             .join(Order, on=(Complaint.order == Order.id))
             .switch(Complaint)
             .join(Merchant, on=(Complaint.merchant == Merchant.id))
             .switch(Complaint)
             .join(owner, JOIN.LEFT_OUTER, on=(Complaint.owner == owner.id)))
    rows, last = keyset_page(query, ORDER, after, limit)
    return rows, _encode(last) if last else None


def counts(query):
    """Counts beside the filters: all, overdue, unassigned, per tier and per state."""
    result = {'all': 0, 'overdue': 0, 'unassigned': 0, 'tier': {}, 'state': {}}
    # COUNT(*), not COUNT(id): the queue index ends with state and owner, so with COUNT(*)
    # every column the counts read is in it and PostgreSQL counts from the index alone.
    grouped = (query
               .select(Complaint.state, Complaint.tier, Complaint.queue_rank,
                       Complaint.owner.is_null().alias('unowned'), fn.COUNT(SQL('*')).alias('n'))
               .group_by(Complaint.state, Complaint.tier, Complaint.queue_rank, Complaint.owner.is_null())
               .dicts())
    for row in grouped:
        n = row['n']
        result['all'] += n
        result['overdue'] += n if row['queue_rank'] == 0 else 0
        result['unassigned'] += n if row['unowned'] else 0
        result['tier'][row['tier']] = result['tier'].get(row['tier'], 0) + n
        result['state'][row['state']] = result['state'].get(row['state'], 0) + n
    return result


def next_target(complaint):
    """(name, due) of the nearest running SLA target, for the row's countdown."""
    candidates = [('first_response', complaint.first_response_due_at) if complaint.first_response_at is None else None,
                  ('resolution', complaint.resolution_due_at)]
    candidates = [c for c in candidates if c and c[1]]
    return min(candidates, key=lambda c: c[1]) if candidates else (None, None)
