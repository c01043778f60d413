"""What personal data looks like on screen, and how card codes are kept.

Phones are stored whole (the platform may need to call the buyer) but every display goes
through `mask_phone`. Card codes (卡密) are never stored: only their last four characters
and a keyed hash, enough to match a code a buyer reports against the order.
"""
import hashlib
import hmac
import re

from flask import current_app


def mask_phone(phone):
    """13812341234 -> 138****1234; short or odd numbers keep only their last two digits."""
    if not phone:
        return ''
    digits = phone.strip()
    if len(digits) >= 11:
        return digits[:3] + '****' + digits[-4:]
    if len(digits) > 2:
        return '*' * (len(digits) - 2) + digits[-2:]
    return '*' * len(digits)


def card_digest(code):
    """(last4, keyed SHA-256) of a card code; the code itself is not kept."""
    code = code.strip()
    key = current_app.config['SECRET_KEY'].encode()
    return code[-4:], hmac.new(key, code.encode(), hashlib.sha256).hexdigest()


def mask_card(last4):
    return '****' + last4 if last4 else ''


#: A mainland mobile number (optionally +86) not glued to other digits.
_PHONE_IN_TEXT = re.compile(r'(?<![0-9])(?:\+?86[- ]?)?(1[3-9][0-9]{9})(?![0-9])')
#: A card code (卡密) or card number: 12+ letters/digits with at least 8 digits, optionally in
#: groups joined by -, e.g. 1234-5678-9012-3456 or ABCD1234EFGH5678.
_CODE_IN_TEXT = re.compile(r'(?<![A-Za-z0-9-])(?=(?:[A-Za-z-]*[0-9]){8})[A-Za-z0-9]{3,}(?:-[A-Za-z0-9]{3,}){0,7}(?![A-Za-z0-9-])')


def _mask_code(match):
    raw = match.group(0)
    compact = raw.replace('-', '')
    return mask_card(compact[-4:]) if len(compact) >= 12 else raw


def mask_text(text):
    """Free text (a pasted chat log) for display: phone numbers and card codes masked."""
    if not text:
        return text or ''
    text = _PHONE_IN_TEXT.sub(lambda m: mask_phone(m.group(1)), text)
    return _CODE_IN_TEXT.sub(_mask_code, text)
