"""Interface language and display formats.

Chinese is the default; English by the header switch (stored in the session) or the
browser's Accept-Language. The API speaks English unless the caller asks for Chinese.
Chinese is served as locale `zh_Hans_CN`: Flask-Admin ships its catalogue under that name,
and gettext falls back from it to `zh`, where WTForms' and our own catalogues live.
"""
from flask import current_app, has_request_context, request, session
from flask_babel import Babel

from desk.core.labels import init_labels
from desk.core.money import format_money
from desk.core.times import format_local

LANGUAGES = {'zh': 'zh_Hans_CN', 'en': 'en'}


def current_language():
    """'zh' or 'en' for the current request; the default language outside a request
    (jobs, commands, app start-up), where there is no browser to ask."""
    if not has_request_context():
        return current_app.config['DEFAULT_LOCALE']
    if request.path.startswith('/api/'):
        return request.accept_languages.best_match(['en', 'zh'], default='en')
    chosen = session.get('lang')
    if chosen in LANGUAGES:
        return chosen
    default = current_app.config['DEFAULT_LOCALE']
    return request.accept_languages.best_match(['zh', 'en'], default=default)


def select_locale():
    return LANGUAGES[current_language()]


def select_timezone():
    return current_app.config['TIMEZONE']


def init_app(app):
    Babel(app, locale_selector=select_locale, timezone_selector=select_timezone)
    app.jinja_env.filters['money'] = format_money
    app.jinja_env.filters['localtime'] = format_local
    app.jinja_env.globals['current_language'] = current_language
    init_labels(app)
