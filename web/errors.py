"""How every adapter answers an error: the HTML error page, the JSON error body of the API,
the app's error handlers, the refusal of NUL bytes and the CSRF error.

Errors under /api/ are always `{"error": {"code", "message", "fields"?}}` with the status of
the domain error (see `desk.core.errors`); everywhere else a person gets a page. The API's own
blueprint handlers (`web.api.base`) answer with `error_response` too; the app-wide handlers
below catch what reaches the app (an unknown URL under /api/, a NUL byte, a 405), so nothing a
client sends produces a 500 or an HTML page where JSON is expected.
"""
from flask import current_app, jsonify, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError

from desk.core.errors import DomainError

#: The `code` of an error body for each status, unless the domain error names its own.
CODES = {400: 'bad_request', 401: 'unauthorized', 403: 'forbidden', 404: 'not_found',
         405: 'method_not_allowed', 409: 'conflict', 413: 'too_large', 415: 'unsupported_media_type',
         422: 'invalid', 429: 'throttled', 500: 'server_error'}


def error_response(status, message, code=None, fields=None, **extra):
    """The API's JSON error answer; `extra` keys give context (e.g. `ticket_no`)."""
    body = {'code': code or CODES.get(status, 'error'), 'message': message}
    if fields:
        body['fields'] = fields
    body.update(extra)
    response = jsonify(error=body)
    response.status_code = status
    if status == 401:
        response.headers['WWW-Authenticate'] = 'Bearer'
    return response


def error_page(status, message):
    """The answer to an error no view handled: the JSON body under /api/, else the HTML page."""
    if request.path.startswith('/api/'):
        return error_response(status, message)
    return render_template('errors/error.html', status=status, message=message), status


def has_nul(values):
    """True when a key or value of the multi-dict `values` holds a NUL character."""
    return any('\x00' in key or '\x00' in value for key, value in values.items(multi=True))


def init_app(app):
    @app.before_request
    def _refuse_nul():
        """No query or form value is ever allowed a NUL byte (PostgreSQL cannot even store
        one, and searching for it made it fail): such a request is a 400, not a 500."""
        if has_nul(request.args) or (request.method != 'GET' and has_nul(request.form)):
            return error_page(400, _('must not contain control characters'))

    @app.errorhandler(CSRFError)
    def _csrf_error(err):
        return error_page(400, _('The form expired or was sent from elsewhere. Reload the page and try again.'))

    @app.errorhandler(DomainError)
    def _domain_error(err):
        return error_page(err.status, err.message)

    @app.errorhandler(403)
    def _forbidden(err):
        return error_page(403, _('Your account may not open this page.'))

    @app.errorhandler(404)
    def _not_found(err):
        return error_page(404, _('There is no such page.'))

    @app.errorhandler(405)
    def _not_allowed(err):
        return error_page(405, _('This address does not accept that method.'))

    @app.errorhandler(413)
    def _too_large(err):
        limit = current_app.config['MAX_UPLOAD_BYTES'] // (1024 * 1024)
        return error_page(413, _('The upload is larger than %(mb)d MB.', mb=limit))

    @app.errorhandler(500)
    def _server_error(err):
        return error_page(500, _('Something went wrong on our side; it has been logged.'))
