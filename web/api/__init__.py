"""The REST API under /api/v1: bearer-key authentication, JSON errors, and the endpoints.

Errors are always `{"error": {"code", "message", "fields"?}}` with the status of the
domain error (see `desk.core.errors`); nothing a client sends produces a 500.
"""
from functools import wraps

from flask import Blueprint, g, jsonify, request
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

from desk.core.errors import DomainError, Forbidden, Invalid, NotFound, Unauthorized
from desk.parties.accounts import user_for_api_key
from desk.parties.models import Buyer, User

bp = Blueprint('api', __name__, url_prefix='/api/v1')

_CODES = {400: 'bad_request', 401: 'unauthorized', 403: 'forbidden', 404: 'not_found',
          405: 'method_not_allowed', 409: 'conflict', 413: 'too_large', 415: 'unsupported_media_type',
          422: 'invalid', 429: 'throttled', 500: 'server_error'}


def error_response(status, message, code=None, fields=None, **extra):
    body = {'code': code or _CODES.get(status, 'error'), 'message': message}
    if fields:
        body['fields'] = fields
    body.update(extra)
    response = jsonify(error=body)
    response.status_code = status
    if status == 401:
        response.headers['WWW-Authenticate'] = 'Bearer'
    return response


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
    where = _nul_at(data)
    if where is not None:  # PostgreSQL cannot store NUL in text; no real input contains one
        raise Invalid(_('The body contains a NUL character.'),
                      fields={where or 'body': _('contains a NUL character')})
    return data


def _nul_at(value, path=''):
    """The dotted path of the first string (or key) holding a NUL character, else None."""
    if isinstance(value, str):
        return path if '\x00' in value else None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        here = f'{path}.{key}' if path else str(key)
        if isinstance(key, str) and '\x00' in key:
            return here
        found = _nul_at(item, here)
        if found is not None:
            return found
    return None


@bp.errorhandler(DomainError)
def _domain_error(err):
    return error_response(err.status, err.message, err.code, err.fields, **_jsonable(err.extra))


@bp.errorhandler(HTTPException)
def _http_error(err):
    return error_response(err.code or 500, err.description or err.name)


def _jsonable(extra):
    return {k: v for k, v in extra.items() if isinstance(v, (str, int, float, bool, type(None)))}


def init_app(app):
    from web.api import agent_desk, complaints, evidence, openapi, orders, ratings, remedies, standing, violations  # noqa: F401  (routes)
    from web.auth import csrf
    csrf.exempt(bp)
    app.register_blueprint(bp)
    openapi.init_app(app)  # GET /api/openapi.json, outside /api/v1 and without a key
