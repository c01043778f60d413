"""Conversions between the desk's naive-UTC datetimes and what people and integrations see.

Input without an offset is read in `DESK_TIMEZONE` (marketplace exports are local time);
output always carries the offset, e.g. 2026-11-24T18:00:00+08:00.
"""
import datetime as dt
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import format_datetime
from flask_babel import gettext as _

from desk.core.errors import Invalid


def zone():
    return ZoneInfo(current_app.config['TIMEZONE'])


def parse_datetime(raw, field):
    """ISO 8601 text -> naive UTC datetime, or `Invalid` naming `field`."""
    if not isinstance(raw, str) or not raw.strip():
        raise Invalid(_('%(f)s must be a date and time like 2026-11-24T18:00:00+08:00', f=field),
                      fields={field: _('must be a date and time like 2026-11-24T18:00:00+08:00')})
    text = raw.strip()
    if text.endswith('Z'):
        text = text[:-1] + '+00:00'
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise Invalid(_('%(f)s must be a date and time like 2026-11-24T18:00:00+08:00', f=field),
                      fields={field: _('must be a date and time like 2026-11-24T18:00:00+08:00')}) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone())
    if not 2000 <= value.year <= 2100:
        raise Invalid(_('%(f)s is out of range', f=field), fields={field: _('is out of range')})
    return value.astimezone(dt.timezone.utc).replace(tzinfo=None, microsecond=0)


def to_local(value):
    """Naive UTC -> aware datetime in the configured zone (None stays None)."""
    if value is None:
        return None
    if isinstance(value, str):  # SQLite may hand back text for computed columns
        value = dt.datetime.fromisoformat(value)
    return value.replace(tzinfo=dt.timezone.utc).astimezone(zone())


def to_iso(value):
    """Naive UTC -> ISO 8601 with the configured zone's offset (None stays None)."""
    local = to_local(value)
    return local.isoformat() if local is not None else None


def format_local(value, fmt='yyyy-MM-dd HH:mm'):
    """Naive UTC -> text in the configured zone, e.g. 2026-11-24 18:00 ('' for None)."""
    if value is None:
        return ''
    return format_datetime(to_local(value), fmt)
