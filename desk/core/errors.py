"""The small family of domain errors every adapter maps the same way.

Services raise these; the API turns them into JSON with the status below, the consoles into
a flashed message or an error page, jobs into a log line.
"""


class DomainError(Exception):
    status = 400
    code = 'bad_request'

    def __init__(self, message, fields=None, **extra):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
        self.extra = extra


class Invalid(DomainError):
    """The input is malformed; `fields` maps each bad field to a message."""
    status = 422
    code = 'invalid'


class Unauthorized(DomainError):
    status = 401
    code = 'unauthorized'


class Forbidden(DomainError):
    """The caller may never take this action."""
    status = 403
    code = 'forbidden'


class NotFound(DomainError):
    """Unknown, or not visible to the caller (we never leak existence)."""
    status = 404
    code = 'not_found'


class Conflict(DomainError):
    """Allowed in general but not now (state, deadline, a concurrent change)."""
    status = 409
    code = 'conflict'


class TooLarge(DomainError):
    status = 413
    code = 'too_large'


class Unsupported(DomainError):
    """Content of a type that is not accepted (an evidence file, say)."""
    status = 415
    code = 'unsupported_media_type'


class Throttled(DomainError):
    status = 429
    code = 'throttled'
