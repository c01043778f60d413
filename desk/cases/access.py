"""Who may see a complaint, and in what capacity a user stands to it.

Visibility (SPEC §1): a buyer sees their own complaints, merchant staff their merchant's,
agents their department's queue and the cases they own, supervisors and admins everything
(except that a merchant does not see a complaint held or refused by the pre-screen);
the marketplace integration reads everything and acts only on behalf of a buyer. Anything
else is "not found" — existence is never leaked.
"""
from flask_babel import gettext as _

from desk.cases.models import Complaint
from desk.core.db import among
from desk.core.errors import NotFound
from desk.parties.models import User

AGENT_ROLES = ('agent', 'senior_agent')
#: A complaint waiting for the supervisor pre-screen, or refused by it, does not exist for
#: its merchant (desk.credit.screening).
HIDDEN_FROM_MERCHANT = ('pending', 'rejected')


def relations(complaint, user):
    """The capacities (lifecycle actors) `user` has on `complaint`."""
    found = set()
    if user.role == 'buyer' and user.buyer_id is not None and user.buyer_id == complaint.buyer_id:
        found.add('buyer')
    elif (user.role == 'merchant_staff' and user.merchant_id == complaint.merchant_id
          and complaint.screening not in HIDDEN_FROM_MERCHANT):
        found.add('merchant')
    elif user.role in AGENT_ROLES:
        owns = complaint.owner_id is not None and complaint.owner_id == user.id
        if owns:
            found.add('owner')
        if owns or user.department == complaint.department:
            found.add('agent')
            if user.role == 'senior_agent':
                found.add('senior')
    elif user.role == 'supervisor':
        found.add('supervisor')
    elif user.role == 'admin':
        found.add('admin')
    return found


def can_see(complaint, user):
    return user.role == 'integration' or bool(relations(complaint, user))


def is_staff_view(user):
    """Staff see internal notes and the whole timeline; parties see public events only."""
    return user.role in AGENT_ROLES + ('supervisor', 'admin')


def visible_complaints(user):
    """The complaints `user` may see, as a query to filter further."""
    query = Complaint.select()
    if user.role == 'buyer':
        return query.where(Complaint.buyer == user.buyer_id) if user.buyer_id else query.where(False)
    if user.role == 'merchant_staff':
        return query.where((Complaint.merchant == user.merchant_id) &
                           (Complaint.screening.is_null() | Complaint.screening.not_in(HIDDEN_FROM_MERCHANT)))
    if user.role in AGENT_ROLES:
        return query.where((Complaint.department == user.department) | (Complaint.owner == user.id))
    if user.role in ('supervisor', 'admin', 'integration'):
        return query
    return query.where(False)


def get_visible(user, ticket_no):
    """The complaint `ticket_no` if `user` may see it, else `NotFound`."""
    complaint = Complaint.get_or_none(Complaint.ticket_no == (ticket_no or ''))
    if complaint is None or not can_see(complaint, user):
        raise NotFound(_('No complaint %(no)s.', no=ticket_no))
    return complaint


def buyer_users(complaint):
    return buyer_users_many([complaint])[complaint.id]


def merchant_users(complaint):
    return merchant_users_many([complaint])[complaint.id]


def buyer_users_many(complaints):
    """{complaint id: ids of its buyer's users} for many complaints in one query."""
    return _users_of(complaints, 'buyer_id', User.buyer, 'buyer')


def merchant_users_many(complaints):
    """{complaint id: ids of its merchant's staff} for many complaints in one query."""
    return _users_of(complaints, 'merchant_id', User.merchant, 'merchant_staff')


def _users_of(complaints, attribute, field, role):
    owners = {getattr(c, attribute) for c in complaints}
    users = {}
    for user_id, owner in (User
                           .select(User.id, field)
                           .where(among(field, sorted(o for o in owners if o is not None)) & (User.role == role))
                           .order_by(User.id)
                           .tuples()):
        users.setdefault(owner, []).append(user_id)
    return {c.id: list(users.get(getattr(c, attribute), [])) for c in complaints}
