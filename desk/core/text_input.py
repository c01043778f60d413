"""The one parser of a free-text field in request data (a reason, a note, a comment, a name).

Every service used to carry its own copy, and they drifted: some refused a NUL byte, most
did not, and PostgreSQL cannot store NUL in text, so such a request ended in a 500 instead
of a 422. One rule now holds everywhere:

- the value is stripped; absent, null or only whitespace counts as missing;
- anything but a string is refused ('must be text');
- at most `limit` characters, counted after stripping;
- NUL is always refused; a `single_line` field (an order's product, a party's name) refuses
  every control character, line breaks included.

`clean_text` collects the first problem into a `fields` dict, for services that report every bad
field at once; `required_text` raises `Invalid` at once, for services with a single text field.
"""
import re

from flask_babel import gettext as _

from desk.core.errors import Invalid

NUL = re.compile(r'\x00')
CONTROL = re.compile(r'[\x00-\x1f\x7f]')

MISSING = 'missing'
NOT_TEXT = 'not_text'
TOO_LONG = 'too_long'
CONTROL_CHARS = 'control'


def _check(value, limit, single_line):
    """(clean value, None) or (None, problem kind); (None, MISSING) for an absent value."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, MISSING
    if not isinstance(value, str):
        return None, NOT_TEXT
    value = value.strip()
    if (CONTROL if single_line else NUL).search(value):
        return None, CONTROL_CHARS
    if len(value) > limit:
        return None, TOO_LONG
    return value, None


def _field_message(problem, limit, single_line, missing):
    if problem == MISSING:
        return missing or _('is required')
    if problem == NOT_TEXT:
        return _('must be text')
    if problem == CONTROL_CHARS:
        return (_('must not contain control characters or line breaks') if single_line
                else _('must not contain control characters'))
    return _('at most %(n)d characters', n=limit)


def clean_text(value, field, limit, fields, required=True, single_line=False, missing=None):
    """The stripped `value`, or None when it is absent or bad.

    A problem goes into `fields[field]` (an absent value only when `required`; `missing`
    replaces the default 'is required' where a caller says more)."""
    clean, problem = _check(value, limit, single_line)
    if problem and (problem != MISSING or required):
        fields[field] = _field_message(problem, limit, single_line, missing)
    return clean


def required_text(data, field, limit, missing=None, too_long=None, single_line=False):
    """`data[field]` stripped; raises `Invalid` naming the field otherwise.

    `missing` is the message when the field is absent (default '<field> is required.'),
    `too_long` when it is over `limit` (default 'The text is too long.')."""
    value = data.get(field) if isinstance(data, dict) else None
    clean, problem = _check(value, limit, single_line)
    if problem is None:
        return clean
    if problem == MISSING:
        message = missing or _('%(f)s is required.', f=field)
    elif problem == TOO_LONG:
        message = too_long or _('The text is too long.')
    else:  # not text, or a control character: the field message says which
        message = _('%(f)s must be text.', f=field)
    raise Invalid(message, fields={field: _field_message(problem, limit, single_line, None)})
