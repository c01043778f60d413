"""Money is integer fen inside the desk; the API speaks yuan strings ("49.90").

One parser and one formatter, so every form, API field and CSV column agrees on what a
valid amount is.
"""
import re

from desk.errors import Invalid

_YUAN = re.compile(r'^(0|[1-9][0-9]{0,11})(?:\.([0-9]{1,2}))?$')


def parse_yuan(raw, field='amount', allow_zero=True):
    """Parse a yuan string into fen. Raises `Invalid` naming `field` with a plain message.

    Accepts "49.90", "49.9", "49" and "0.01"; refuses numbers that are not strings, signs,
    exponents, more than two decimals, separators and blanks.
    """
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
    fen = int(whole) * 100 + int(frac)
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
