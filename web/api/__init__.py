"""The REST API under /api/v1, one module per resource, wired here in one readable place.

Each resource module (`orders`, `complaints`, …) holds its own blueprint `bp` with its
endpoints, the representations it sends (`*_to_dict`, beside the endpoints that send them)
and its OpenAPI fragments as constants (`SCHEMAS`, `PARAMETERS`); importing it registers
nothing. `init_app` nests every resource blueprint under the parent blueprint `api`
(url_prefix /api/v1, endpoints `api.<resource>.<view>`), exempts each from CSRF (bearer keys,
no session), gives them the JSON error answers of `web.api.base` on the parent (so every
nested blueprint answers errors as `{"error": {"code", "message", "fields"?}}`; see
`web.errors`), and hands the resources to the OpenAPI document (`openapi`,
GET /api/openapi.json).
"""
from flask import Blueprint
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from desk.core.errors import DomainError
from web.api import (
    agent_desk,
    base,
    complaints,
    evidence,
    openapi,
    orders,
    ratings,
    remedies,
    rulings,
    standing,
    violations,
)
from web.auth import csrf

#: Every resource of the API.
RESOURCES = (orders, complaints, rulings, remedies, evidence, agent_desk, ratings, standing, violations)


def init_app(app):
    # a parent per app: a blueprint takes no more children once it has been registered
    api = Blueprint('api', __name__, url_prefix=openapi.API_PREFIX)
    api.register_error_handler(DomainError, base.domain_error)
    api.register_error_handler(HTTPException, base.http_error)
    api.register_error_handler(RequestEntityTooLarge, base.too_large)
    for resource in RESOURCES:
        api.register_blueprint(resource.bp)
        csrf.exempt(resource.bp)  # Flask-WTF looks up the blueprint of the request: the child
    app.register_blueprint(api)
    openapi.init_app(app, RESOURCES)  # GET /api/openapi.json, outside /api/v1 and without a key
