"""What personal data looks like on screen, and how card codes are kept.

Phones are stored whole (the platform may need to call the buyer) but every display goes
through `mask_phone`. Card codes (卡密) are never stored: only their last four characters
and a keyed hash, enough to match a code a buyer reports against the order.
"""
import hashlib
import hmac

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
