"""Money is integer fen inside the desk; the API speaks yuan strings ("49.90").

One parser and one formatter, so every form, API field and CSV column agrees on what a
valid amount is.
"""
import re

from desk.core.errors import Invalid

_YUAN = re.compile(r'^(0|[1-9][0-9]*)(?:\.([0-9]{1,2}))?$')
#: The largest amount accepted: 10,000,000.00 yuan. Amounts are stored in 32-bit integer
#: columns (PostgreSQL INTEGER), so anything near 2**31 fen would fail in the database.
MAX_FEN = 1_000_000_000


def parse_yuan(raw, field='amount', allow_zero=True):
    """Parse a yuan string into fen. Raises `Invalid` naming `field` with a plain message.

    Accepts "49.90", "49.9", "49" and "0.01"; refuses numbers that are not strings, signs,
    exponents, more than two decimals, separators, blanks and amounts above `MAX_FEN`.
    """
    if raw is None:
        raise Invalid(f'{field} is required', fields={field: 'is required'})
    if not isinstance(raw, str):
        raise Invalid(f'{field} must be a string of yuan like "49.90"',
                      fields={field: 'must be a string of yuan like "49.90"'})
    text = raw.strip()
    if not text:
        raise Invalid(f'{field} is required', fields={field: 'is required'})
    if text.startswith('-'):
        raise Invalid(f'{field} must not be negative', fields={field: 'must not be negative'})
    match = _YUAN.match(text)
    if not match:
        if re.match(r'^[0-9]+\.[0-9]{3,}$', text):
            msg = 'must have at most two decimals'
        else:
            msg = 'must be an amount in yuan like "49.90"'
        raise Invalid(f'{field} {msg}', fields={field: msg})
    whole, frac = match.group(1), (match.group(2) or '').ljust(2, '0')
    fen = int(whole) * 100 + int(frac) if len(whole) <= 12 else MAX_FEN + 1
    if fen > MAX_FEN:
        msg = f'must be at most {to_yuan(MAX_FEN)}'
        raise Invalid(f'{field} {msg}', fields={field: msg})
    if fen == 0 and not allow_zero:
        raise Invalid(f'{field} must be more than 0', fields={field: 'must be more than 0'})
    return fen


def to_yuan(fen):
    """Fen as the API's yuan string: 4990 -> "49.90"."""
    sign = '-' if fen < 0 else ''
    fen = abs(fen)
    return f'{sign}{fen // 100}.{fen % 100:02d}'


def format_money(fen):
    """Fen for people: 4990 -> "¥49.90", with thousands separators."""
    if fen is None:
        return ''
    sign = '-' if fen < 0 else ''
    fen = abs(fen)
    return f'{sign}¥{fen // 100:,}.{fen % 100:02d}'
