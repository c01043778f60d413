"""What a merchant's standing looks like to whoever may read it: level, active points,
violations with their tickets, restrictions, deposit balance and the health figures — the
resource of `GET /api/v1/merchants/<ref>/standing` (SPEC §9a).

It lives above `arbitration.penalties.standing` and `arbitration.health.merchant_health`
because it joins both (health builds on standing, so standing cannot import it).
"""
import datetime as dt

from flask_babel import gettext as _
from peewee import JOIN, fn

from arbitration.health import merchant_health
from arbitration.penalties import standing
from arbitration.penalties.models import DepositEntry, MerchantStanding, Violation
from desk.cases.models import Complaint
from desk.core import clock
from desk.core.errors import NotFound
from desk.core.money import to_yuan
from desk.core.times import to_iso
from desk.parties.models import STAFF_ROLES, Merchant

#: Violations that ended (expired or revoked) within this many days are still listed by
#: `standing_for`, so a merchant sees a violation drop off and an appeal take effect.
RECENT_DAYS = 30


def standing_for(actor, merchant_ref, now=None):
    """The standing of merchant `merchant_ref` as `actor` may read it (the API's
    representation): staff and integrations read any merchant, merchant staff only their
    own; anyone else — another merchant's staff, a buyer — is told it does not exist (404).
    Three indexed queries when the stored standing is current: the merchant with its
    standing row and deposit balance, the level table, its violations with their tickets."""
    now = now or clock.now()
    found = read(merchant_ref)
    allowed = found is not None and (
        actor.role in STAFF_ROLES or actor.role == 'integration'
        or (actor.role == 'merchant_staff' and actor.merchant_id == found['id']))
    if not allowed:
        raise NotFound(_('No merchant %(ref)s.', ref=merchant_ref))
    if found['level'] is None or (found['due_at'] is not None and found['due_at'] <= now):
        standing.standing_of(found['id'], now)  # first read, or a deadline not applied yet: apply it
        found = read(merchant_ref)
    table = standing.levels()
    recent = now - dt.timedelta(days=RECENT_DAYS)
    listed = (Violation
              .select(Violation.id, Violation.code, Violation.points, Violation.fine_fen, Violation.at,
                      Violation.expires_at, Violation.state, Violation.ended_at, Complaint.ticket_no)
              .join(Complaint, JOIN.LEFT_OUTER, on=(Violation.complaint == Complaint.id))
              .where((Violation.merchant == found['id'])
                     & ((Violation.state == 'active') | (Violation.ended_at >= recent)))
              .order_by(Violation.at.desc(), Violation.id.desc())
              .tuples())
    violations = [{'id': vid, 'code': code, 'points': points, 'fine': to_yuan(fine), 'ticket_no': ticket_no,
                   'at': to_iso(at), 'expires_at': to_iso(expires_at), 'state': state,
                   'ended_at': to_iso(ended_at)}
                  for vid, code, points, fine, at, expires_at, state, ended_at, ticket_no in listed]
    return {
        'merchant': found['ref'],
        'level': standing.level_code(found['level'], table),
        'level_since': to_iso(found['level_since']),
        'active_points': found['active_points'],
        'violations': violations,
        'restrictions': [{'kind': kind, 'until': to_iso(until), 'reason': reason}
                         for kind, until, reason in standing.restrictions(found['level'], found['restriction_until'],
                                                                 found['deposit_hold'], table)],
        'next_change_at': to_iso(found['due_at']),
        'deposit': {'balance': to_yuan(found['balance'])},
        'health': merchant_health.figures_for(found['id']),
    }


def read(merchant_ref):
    """The merchant `merchant_ref` with its stored standing and deposit balance, in one
    query (None: no such merchant; `level` None: no standing row yet)."""
    balance = (DepositEntry
               .select(fn.COALESCE(fn.SUM(DepositEntry.amount_fen), 0))
               .where(DepositEntry.merchant == Merchant.id))
    row = (Merchant
           .select(Merchant.id, Merchant.ref, MerchantStanding.level, MerchantStanding.level_since,
                   MerchantStanding.active_points, MerchantStanding.restriction_until,
                   MerchantStanding.deposit_hold, MerchantStanding.due_at, balance.alias('balance'))
           .join(MerchantStanding, JOIN.LEFT_OUTER, on=(MerchantStanding.merchant == Merchant.id))
           .where(Merchant.ref == merchant_ref)
           .dicts()
           .first())
    if row is not None:
        row['balance'] = int(row['balance'] or 0)
    return row
