"""Formatting shared by services, templates and notifications (times for people)."""
from flask_babel import format_datetime

from desk.times import to_local


def format_local(value, fmt='yyyy-MM-dd HH:mm'):
    """Naive UTC -> text in the configured zone, e.g. 2026-11-24 18:00 ('' for None)."""
    if value is None:
        return ''
    return format_datetime(to_local(value), fmt)
