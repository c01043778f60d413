"""The two Flask-Admin consoles: the staff backoffice at /admin/ and the merchant console
at /merchant/. Views here only check the role and call services; rules live in services.

Every screen of each console is listed here, in menu order: a reader sees the consoles whole.
"""
from flask_admin import Admin
from flask_admin.theme import Bootstrap4Theme
from flask_babel import lazy_gettext as _l

from web.consoles import backoffice, health, merchant, penalties, ratings, screening, workspace


def _console(app, name, endpoint, home):
    """A Flask-Admin console at /<endpoint> with our theme and its home view."""
    return Admin(app, name=name, url=f'/{endpoint}', endpoint=endpoint,
                 index_view=home(url=f'/{endpoint}', endpoint=endpoint),
                 theme=Bootstrap4Theme(base_template='admin/desk_master.html', fluid=True))


def init_app(app):
    staff = _console(app, _l('Arbiter Desk'), 'admin', backoffice.HomeView)
    backoffice.register(staff)
    penalties.register(staff)
    workspace.register(staff)
    ratings.register(staff)
    screening.register(staff)
    health.register(staff)
    shop = _console(app, _l('Merchant console'), 'merchant', merchant.HomeView)
    merchant.register(shop)
    penalties.register_merchant(shop)
    ratings.register_merchant(shop)
