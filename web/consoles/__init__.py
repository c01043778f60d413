"""The two Flask-Admin consoles: the staff backoffice at /admin/ and the merchant console
at /merchant/. Views here only check the role and call services; rules live in services.

Every screen of each console is listed here, in menu order: a reader sees the consoles whole.
"""
from flask_admin import Admin
from flask_admin.theme import Bootstrap4Theme
from flask_babel import lazy_gettext as _l

from web.consoles import backoffice, health, merchant, penalties, ratings, screening, workspace


def init_app(app):
    staff = Admin(app, name=_l('Arbiter Desk'), url='/admin', endpoint='admin',
                  index_view=backoffice.HomeView(url='/admin', endpoint='admin'),
                  theme=Bootstrap4Theme(base_template='admin/desk_master.html', fluid=True))
    backoffice.register(staff)
    penalties.register(staff)
    workspace.register(staff)
    ratings.register(staff)
    screening.register(staff)
    health.register(staff)
    shop = Admin(app, name=_l('Merchant console'), url='/merchant', endpoint='merchant',
                 index_view=merchant.HomeView(url='/merchant', endpoint='merchant'),
                 theme=Bootstrap4Theme(base_template='admin/desk_master.html', fluid=True))
    merchant.register(shop)
    penalties.register_merchant(shop)
    ratings.register_merchant(shop)
