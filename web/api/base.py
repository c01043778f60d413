"""What every resource of the API shares: bearer-key authentication (`authenticated`,
`api_user`), acting for a buyer (`X-On-Behalf-Of`), reading a JSON body (`json_body`, which
refuses NUL characters: `nul_at`), and the JSON answers to errors that `web.api.init_app`
registers on the parent blueprint, so that they hold for every resource.
"""
from functools import wraps

from flask import g, request
from flask_babel import gettext as _

from desk.core.errors import Forbidden, Invalid, NotFound, Unauthorized
from desk.parties.accounts import user_for_api_key
from desk.parties.models import Buyer, User
from web.errors import error_response


def api_user():
    """The user the bearer key belongs to (set by `authenticated`)."""
    return g.api_user


def authenticated(*roles):
    """Require a valid `Authorization: Bearer <key>`; with `roles`, one of them (else 403)."""
    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            header = request.headers.get('Authorization', '')
            scheme, _sep, key = header.partition(' ')
            if scheme.lower() != 'bearer' or not key.strip():
                raise Unauthorized(_('Send an API key as "Authorization: Bearer <key>".'))
            user = user_for_api_key(key.strip())
            if user is None:
                raise Unauthorized(_('The API key is unknown or revoked.'))
            on_behalf = request.headers.get('X-On-Behalf-Of')
            if on_behalf is not None:
                user = acting_for_buyer(user, on_behalf.strip())
            if roles and user.role not in roles:
                raise Forbidden(_('This API key may not use this endpoint.'))
            g.api_user = user
            return view(*args, **kwargs)
        return wrapper
    return decorator


def acting_for_buyer(integration, buyer_ref):
    """An integration key acting for a buyer is treated as that buyer (SPEC §9a).

    The result is an unsaved `User` carrying the integration's id, so the timeline records
    which key acted while every permission check sees a buyer.
    """
    if integration.role != 'integration':
        raise Forbidden(_('Only an integration key may act on behalf of a buyer.'))
    buyer = Buyer.get_or_none(Buyer.ref == buyer_ref)
    if buyer is None:
        raise NotFound(_('No buyer %(ref)s.', ref=buyer_ref))
    return User(id=integration.id, username=f'{integration.username}:{buyer.ref}',
                display_name=buyer.display_name, role='buyer', buyer=buyer.id, active=True)


def json_body():
    """The request's JSON object, or `Invalid` with a message a person understands."""
    if not request.is_json:
        raise Invalid(_('Send a JSON body with Content-Type: application/json.'))
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise Invalid(_('The body is not a valid JSON object.'))
    where = nul_at(data)
    if where is not None:  # PostgreSQL cannot store NUL in text; no real input contains one
        raise Invalid(_('The body contains a NUL character.'),
                      fields={where or 'body': _('contains a NUL character')})
    return data


def nul_at(value, path=''):
    """The dotted path of the first string (or key) holding a NUL character in a JSON value,
    else None ('' when `value` itself is such a string)."""
    if isinstance(value, str):
        return path if '\x00' in value else None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        here = f'{path}.{key}' if path else str(key)
        if isinstance(key, str) and '\x00' in key:
            return here
        found = nul_at(item, here)
        if found is not None:
            return found
    return None


# --- the JSON answers to errors (registered on the parent blueprint by web.api.init_app) ---

def domain_error(err):
    """A `DomainError` of a service: its status, code, message, fields and context."""
    return error_response(err.status, err.message, err.code, err.fields, **_jsonable(err.extra))


def http_error(err):
    """Any other HTTP error of werkzeug, as the same JSON body."""
    return error_response(err.code or 500, err.description or err.name)


def too_large(err):
    """A body over the app's cap is refused before it is read (`web.api.evidence` says what
    the evidence limit is for its own endpoints)."""
    return error_response(413, _('The request body is too large.'))


def _jsonable(extra):
    return {k: v for k, v in extra.items() if isinstance(v, (str, int, float, bool, type(None)))}
