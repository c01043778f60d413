"""What every list of complaints filters and pages by: the complaint list of the API
(`desk.cases.queries.list_complaints`) and the agent desk's queues (`desk.agent_desk.queue`)
narrow their base query with `filter_complaints` and read a page with `keyset_page`.

Pages are keyset pages (never OFFSET): the rows after the last one seen, in the order of the
columns of an index, so a deep page costs what the first does and a page never shifts when
rows arrive.
"""
from flask_babel import gettext as _
from peewee import Tuple

from desk.cases import lifecycle
from desk.cases.models import TIERS, Complaint
from desk.parties.models import Merchant


def _one_of(values):
    return _('one of %(c)s', c=', '.join(values))


def filter_complaints(query, filters, states=lifecycle.STATES):
    """(`query` narrowed by the shared filters, {filter: problem}): `state` (one of `states`),
    `tier`, `category` (its code) and `merchant` (its ref; an unknown ref matches nothing).
    The caller adds its own filters and raises one Invalid for all the problems."""
    problems = {}
    state = filters.get('state')
    if state:
        if state not in states:
            problems['state'] = _one_of(states)
        query = query.where(Complaint.state == state)
    tier = filters.get('tier')
    if tier:
        if tier not in TIERS:
            problems['tier'] = _one_of(TIERS)
        query = query.where(Complaint.tier == tier)
    if filters.get('category'):
        query = query.where(Complaint.category == filters['category'])
    if filters.get('merchant'):
        merchant = Merchant.get_or_none(Merchant.ref == filters['merchant'])
        query = query.where(Complaint.merchant == (merchant.id if merchant else -1))
    return query, problems


def keyset_page(query, key, after=None, limit=50, descending=False):
    """(rows, last row when more follow, else None): one page of `query` in the order of the
    `key` columns, starting after the key values `after` (None: the first page)."""
    if after is not None:
        seen = Tuple(*after)
        query = query.where(Tuple(*key) < seen if descending else Tuple(*key) > seen)
    rows = list(query.order_by(*(column.desc() for column in key) if descending else key).limit(limit + 1))
    return rows[:limit], (rows[limit - 1] if len(rows) > limit else None)
