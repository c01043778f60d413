"""The deposit ledger (保证金, SPEC §7): top-ups, fines and refunds of revoked fines.

Every change of a merchant's deposit is one `DepositEntry` with a signed amount; the balance
*is* the sum of the entries. Each entry also carries `balance_after_fen`, the running sum, so
a statement reads line by line, and `Merchant.deposit_fen` is a cached copy of the balance
written in the same transaction (the backoffice merchant list sorts and shows it without
summing). Entries of one merchant are serialized by locking the merchant row first
(`SELECT … FOR UPDATE` on PostgreSQL; SQLite's write lock does it there), so two concurrent
entries never compute their running sum from the same previous balance.

An uncovered fine — larger than the balance — is booked in full: the balance goes below
zero, visibly, on the statement. It is never silent: a negative balance is exactly the
condition under which `arbitration.penalties.standing` puts the shop on a deposit hold
(`MerchantStanding.deposit_hold`, restriction `shop_suspended`), and the hold lasts until a
top-up brings the balance back to zero or more. A fine is never cut to what the deposit
covers and never skipped. Every function here that changes the balance is followed by
`standing.recompute` — by itself (`top_up`) or by its caller in the same transaction
(`charge_fines` from `violations.record_many`, `refund_fine` from a revoke).

A retried top-up (same `Idempotency-Key`) returns the first entry and credits nothing more.
"""
import re

from flask_babel import gettext as _
from peewee import Case, IntegrityError, fn

from arbitration.penalties import standing
from arbitration.penalties.models import DepositEntry
from desk.core import clock
from desk.core.db import among, atomic, insert_rows, is_sqlite
from desk.core.errors import Conflict, Forbidden, Invalid
from desk.core.money import MAX_FEN, to_yuan
from desk.core.text_input import clean_text
from desk.parties.models import Merchant

#: Who may credit a deposit: staff with the money role, and the marketplace integration.
TOP_UP_ROLES = ('admin', 'supervisor', 'integration')
NOTE_MAX = 500
_KEY = re.compile(r'^[\x21-\x7e]{1,64}$')  # printable ASCII, no spaces


# --- reading ----------------------------------------------------------------------------------

def balances(merchant_ids):
    """merchant id -> balance in fen (the sum of its entries; 0 without entries)."""
    merchant_ids = sorted(set(merchant_ids))
    found = dict.fromkeys(merchant_ids, 0)
    rows = (DepositEntry
            .select(DepositEntry.merchant, fn.SUM(DepositEntry.amount_fen))
            .where(among(DepositEntry.merchant, merchant_ids))
            .group_by(DepositEntry.merchant)
            .tuples())
    found.update({m: int(total or 0) for m, total in rows})
    return found


def balance_of(merchant_id):
    return balances([merchant_id])[merchant_id]


def on_hold(merchant_id):
    """True when an uncovered fine holds the shop (the balance is below zero)."""
    return balance_of(merchant_id) < 0


def statement(merchant_id, limit=200):
    """The merchant's latest entries, newest first."""
    return list(DepositEntry
                .select()
                .where(DepositEntry.merchant == merchant_id)
                .order_by(DepositEntry.id.desc())
                .limit(limit))


def signed_yuan(fen):
    """-50000 -> "-500.00" (the API's yuan strings are unsigned elsewhere; a balance is not)."""
    return ('-' if fen < 0 else '') + to_yuan(abs(fen))


# --- writing ----------------------------------------------------------------------------------

def _lock(merchant_ids):
    """Lock the merchant rows for the rest of the transaction, in id order (PostgreSQL); on
    SQLite the UPDATE of the cached balances takes the database write lock before anything is
    computed from the previous balance."""
    merchant_ids = sorted(set(merchant_ids))
    if is_sqlite():
        Merchant.update(deposit_fen=Merchant.deposit_fen).where(among(Merchant.id, merchant_ids)).execute()
    else:
        list(Merchant.select(Merchant.id).where(among(Merchant.id, merchant_ids))
             .order_by(Merchant.id).for_update().tuples())


def _last_balances(merchant_ids):
    """merchant id -> the running sum of its last entry (0 without entries): one query."""
    merchant_ids = sorted(set(merchant_ids))
    last = (DepositEntry
            .select(fn.MAX(DepositEntry.id))
            .where(among(DepositEntry.merchant, merchant_ids))
            .group_by(DepositEntry.merchant))
    found = dict.fromkeys(merchant_ids, 0)
    found.update(DepositEntry
                 .select(DepositEntry.merchant, DepositEntry.balance_after_fen)
                 .where(DepositEntry.id.in_(last))
                 .tuples())
    return found


def _append_many(items, now):
    """New entries after each merchant's last one, `items` being dicts of merchant, kind,
    amount_fen and optionally violation, note, actor, key (the caller holds the locks and a
    transaction): one read of the last balances, one INSERT, one UPDATE of the cached
    balances, however many merchants. Returns the entries in order."""
    balances = _last_balances(item['merchant'] for item in items)
    entries = []
    for item in items:
        balances[item['merchant']] += item['amount_fen']
        entries.append(DepositEntry(merchant=item['merchant'], kind=item['kind'], amount_fen=item['amount_fen'],
                                    balance_after_fen=balances[item['merchant']],
                                    violation=item.get('violation'), note=item.get('note', ''),
                                    created_by=item.get('actor'), idempotency_key=item.get('key'), at=now))
    fields = [DepositEntry.merchant, DepositEntry.kind, DepositEntry.amount_fen, DepositEntry.balance_after_fen,
              DepositEntry.violation, DepositEntry.note, DepositEntry.created_by, DepositEntry.idempotency_key,
              DepositEntry.at]
    ids = insert_rows(DepositEntry, fields, [[e.merchant_id, e.kind, e.amount_fen, e.balance_after_fen,
                                              e.violation_id, e.note, e.created_by_id, e.idempotency_key, e.at]
                                             for e in entries], returning=True)
    for entry, entry_id in zip(entries, ids):
        entry.id = entry_id
    touched = {e.merchant_id for e in entries}
    (Merchant
     .update(deposit_fen=Case(Merchant.id, [(m, balances[m]) for m in sorted(touched)], Merchant.deposit_fen))
     .where(among(Merchant.id, sorted(touched)))
     .execute())
    return entries


def _append(merchant_id, kind, amount_fen, now, violation=None, note='', actor=None, key=None):
    """One entry after the merchant's last one (the caller holds the lock and a transaction)."""
    return _append_many([dict(merchant=merchant_id, kind=kind, amount_fen=amount_fen, violation=violation,
                              note=note, actor=actor, key=key)], now)[0]


def _check_top_up(actor, amount_fen, note, idempotency_key):
    if actor is None or actor.role not in TOP_UP_ROLES:
        raise Forbidden(_('Only an admin, a supervisor or the marketplace integration may top up a deposit.'))
    fields = {}
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int):
        fields['amount'] = _('must be an amount in yuan like "49.90"')
    elif amount_fen <= 0:
        fields['amount'] = _('must be more than 0')
    elif amount_fen > MAX_FEN:
        fields['amount'] = _('is too large')
    note = clean_text(note, 'note', NOTE_MAX, fields, required=False) or ''
    if idempotency_key is not None and not _KEY.match(str(idempotency_key)):
        fields['idempotency_key'] = _('1 to 64 printable characters without spaces')
    if fields:
        raise Invalid(_('The top-up has invalid fields.'), fields=fields)
    return note


def top_up(actor, merchant, amount_fen, note='', idempotency_key=None, now=None):
    """Credit `amount_fen` (> 0) to the merchant's deposit; returns (entry, created).

    With an `idempotency_key`, a retry returns the first entry (`created` False) and credits
    nothing; the same key for a different merchant or amount is a 409. A top-up that brings
    the balance back to zero or more lifts a deposit hold (through `standing.recompute`)."""
    note = _check_top_up(actor, amount_fen, note, idempotency_key)
    now = now or clock.now()
    try:
        with atomic():
            _lock([merchant.id])
            if idempotency_key is not None:
                earlier = DepositEntry.get_or_none(DepositEntry.idempotency_key == idempotency_key)
                if earlier is not None:
                    return _same_top_up(earlier, merchant, amount_fen), False
            entry = _append(merchant.id, 'top_up', amount_fen, now, note=note,
                            actor=actor.id, key=idempotency_key)
            standing.recompute([merchant.id], now)
    except IntegrityError:
        # the key was taken meanwhile by a concurrent request (another merchant's: this one's
        # lock would have queued us behind it)
        earlier = DepositEntry.get_or_none(DepositEntry.idempotency_key == idempotency_key)
        if earlier is None:
            raise
        return _same_top_up(earlier, merchant, amount_fen), False
    return entry, True


def _same_top_up(earlier, merchant, amount_fen):
    if earlier.kind != 'top_up' or earlier.merchant_id != merchant.id or earlier.amount_fen != amount_fen:
        raise Conflict(_('This Idempotency-Key was already used for a different top-up (entry %(id)d).',
                         id=earlier.id), fields={'idempotency_key': _('already used')})
    return earlier


def charge_fines(violations, now=None):
    """Book the fine of each new violation with `fine_fen` > 0 as a negative entry, in full
    even when the deposit does not cover it (see the module docstring). A violation already
    charged is not charged again. Returns the new entries. The caller recomputes standing."""
    now = now or clock.now()
    due = [v for v in violations if v is not None and (v.fine_fen or 0) > 0 and v.id is not None]
    if not due:
        return []
    charged = {v for (v,) in DepositEntry
               .select(DepositEntry.violation)
               .where(among(DepositEntry.violation, [v.id for v in due]) & (DepositEntry.kind == 'fine'))
               .tuples()}
    items = []
    for violation in sorted(due, key=lambda v: (v.merchant_id, v.id)):
        if violation.id not in charged:
            charged.add(violation.id)
            items.append(dict(merchant=violation.merchant_id, kind='fine', amount_fen=-violation.fine_fen,
                              violation=violation.id, note=violation.code, actor=violation.created_by_id))
    if not items:
        return []
    with atomic():
        _lock(item['merchant'] for item in items)
        return _append_many(items, now)


def refund_fine(violation, actor, now=None):
    """Give back the fine charged for `violation` (revoked): a positive entry of the amount
    that was charged. Nothing when no fine was charged or it was refunded already; returns the
    entry or None. The caller recomputes standing (in the same transaction)."""
    now = now or clock.now()
    with atomic():
        _lock([violation.merchant_id])
        entries = list(DepositEntry
                       .select()
                       .where((DepositEntry.violation == violation.id)
                              & DepositEntry.kind.in_(('fine', 'fine_refund'))))
        charged = -sum(e.amount_fen for e in entries if e.kind == 'fine')
        refunded = sum(e.amount_fen for e in entries if e.kind == 'fine_refund')
        if charged - refunded <= 0:
            return None
        return _append(violation.merchant_id, 'fine_refund', charged - refunded, now,
                       violation=violation.id, note=violation.code,
                       actor=actor.id if actor is not None else None)
