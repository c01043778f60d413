"""Settings: defaults from `config.defaults`, overridden by `DESK_<NAME>` environment
variables, then by the overrides passed to `create_app`.

Every value is type-checked here so that a typo in the environment stops start-up with a
message naming the variable, instead of failing later in a request.
"""
import os
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from config.defaults import DEVELOPMENT_SECRET_KEY, SETTINGS


class ConfigError(Exception):
    """A setting is missing or malformed; the message names the variable."""


def _coerce(name, kind, raw):
    var = 'DESK_' + name
    if kind is bool:
        lowered = str(raw).strip().lower()
        if lowered in ('1', 'true', 'yes', 'on'):
            return True
        if lowered in ('0', 'false', 'no', 'off', ''):
            return False
        raise ConfigError(f'{var} must be true or false, got {raw!r}')
    if kind is int:
        try:
            value = int(str(raw).strip())
        except ValueError:
            raise ConfigError(f'{var} must be a whole number, got {raw!r}') from None
        if value < 0:
            raise ConfigError(f'{var} must not be negative, got {raw!r}')
        return value
    return str(raw)


def load_config(overrides=None, environ=None):
    """Return the settings as a dict keyed by name without the `DESK_` prefix."""
    environ = os.environ if environ is None else environ
    overrides = dict(overrides or {})
    values = {}
    for setting in SETTINGS:
        raw = setting.default
        if 'DESK_' + setting.name in environ:
            raw = environ['DESK_' + setting.name]
        if setting.name in overrides:
            raw = overrides.pop(setting.name)
        values[setting.name] = raw if raw is None else _coerce(setting.name, setting.kind, raw)
        if setting.choices and values[setting.name] not in setting.choices:
            raise ConfigError(
                f'DESK_{setting.name} must be one of {", ".join(setting.choices)}, '
                f'got {values[setting.name]!r}')
    if overrides:
        raise ConfigError('unknown settings: ' + ', '.join(sorted(overrides)))
    _check_timezone(values['TIMEZONE'])
    if values['ENV'] != 'development':
        if not values['SECRET_KEY'] or values['SECRET_KEY'] == DEVELOPMENT_SECRET_KEY:
            raise ConfigError(
                f'DESK_SECRET_KEY must be set to a long random value when DESK_ENV is '
                f'{values["ENV"]!r} (the development key is public). Generate one with: '
                'python -c "import secrets; print(secrets.token_hex(32))"')
    if values['SECRET_KEY'] is None:
        values['SECRET_KEY'] = DEVELOPMENT_SECRET_KEY
    return values


def _check_timezone(name):
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f'DESK_TIMEZONE is not a known time zone: {name!r}') from None
