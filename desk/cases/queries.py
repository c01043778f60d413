"""Reading complaints: filtered lists with cursor pagination.

Lists are ordered newest first by id and paged with an opaque cursor (the last id seen), so
a page never shifts when new complaints arrive and deep pages cost the same as the first
(no OFFSET).
"""
import base64
import re

from flask_babel import gettext as _
from peewee import JOIN

from desk.cases.access import visible_complaints
from desk.cases.filters import filter_complaints, keyset_page
from desk.cases.models import Complaint
from desk.cases.transitions import prefetch_guards
from desk.core.errors import Invalid
from desk.core.times import parse_datetime
from desk.orders.models import Order
from desk.parties.models import Buyer, User

PAGE_MAX = 100
_CURSOR = re.compile(r'c([1-9][0-9]{0,18})')  # ASCII digits only (int() also reads '１２')
MAX_ID = 2 ** 63 - 1


def encode_cursor(last_id):
    return base64.urlsafe_b64encode(f'c{last_id}'.encode()).decode().rstrip('=')


def decode_cursor(cursor):
    try:
        text = base64.urlsafe_b64decode(cursor + '=' * (-len(cursor) % 4)).decode()
        match = _CURSOR.fullmatch(text)
        if not match or int(match.group(1)) > MAX_ID:  # beyond 64 bits the driver overflows
            raise ValueError
        return int(match.group(1))
    except (ValueError, UnicodeDecodeError):
        raise Invalid(_('The cursor is not one this API gave out.'), fields={'cursor': _('invalid')}) from None


def list_complaints(user, args):
    """(complaints, next_cursor) visible to `user`, filtered by the query `args`; what the
    lifecycle guards read is loaded for the whole page at once (`prefetch_guards`)."""
    query, fields = filter_complaints(visible_complaints(user), args)
    if args.get('buyer'):
        buyer = Buyer.get_or_none(Buyer.ref == args['buyer'])
        query = query.where(Complaint.buyer == (buyer.id if buyer else -1))
    for name, op in (('created_from', '>='), ('created_to', '<')):
        if args.get(name):
            try:
                when = parse_datetime(args[name], name)
            except Invalid as err:
                fields.update(err.fields)
                continue
            query = query.where(Complaint.created_at >= when if op == '>=' else Complaint.created_at < when)
    try:
        limit = int(args.get('limit', 50))
        if not 1 <= limit <= PAGE_MAX:
            raise ValueError
    except ValueError:
        fields['limit'] = _('a whole number from 1 to %(n)d', n=PAGE_MAX)
        limit = 50
    after = (decode_cursor(args['cursor']),) if args.get('cursor') else None
    if fields:
        raise Invalid(_('The filters are invalid.'), fields=fields)
    owner = User.alias()
    query = (query
             # only what the representation reads: whole joined rows cost more to build
             # than the query takes (the ids too, or peewee sets order_id/owner_id to None)
             .select_extend(Order.id, Order.order_no, owner.id, owner.username)
             .join(Order, on=(Complaint.order == Order.id))
             .switch(Complaint)
             .join(owner, JOIN.LEFT_OUTER, on=(Complaint.owner == owner.id)))
    rows, last = keyset_page(query, (Complaint.id,), after, limit, descending=True)
    next_cursor = encode_cursor(last.id) if last else None
    prefetch_guards(rows)
    return rows, next_cursor
