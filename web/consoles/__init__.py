"""The two Flask-Admin consoles: the staff backoffice at /admin/ and the merchant console
at /merchant/. Views here only check the role and call services; rules live in services."""
from flask_admin import Admin
from flask_admin.theme import Bootstrap4Theme
from flask_babel import lazy_gettext as _l

#: Functions (staff Admin) -> None adding views of other packages to the backoffice
#: (registered by those packages, e.g. the arbitration workspace).
STAFF_VIEWS = []
#: The same for the merchant console (e.g. the merchant's satisfaction page).
MERCHANT_VIEWS = []


def init_consoles(app):
    from web.consoles import backoffice, merchant
    theme = Bootstrap4Theme(base_template='admin/desk_master.html', fluid=True)
    staff = Admin(app, name=_l('Arbiter Desk'), url='/admin', endpoint='admin',
                  index_view=backoffice.HomeView(url='/admin', endpoint='admin'), theme=theme)
    backoffice.register(staff)
    for register in STAFF_VIEWS:
        register(staff)
    shop = Admin(app, name=_l('Merchant console'), url='/merchant', endpoint='merchant',
                 index_view=merchant.HomeView(url='/merchant', endpoint='merchant'),
                 theme=Bootstrap4Theme(base_template='admin/desk_master.html', fluid=True))
    merchant.register(shop)
    for register in MERCHANT_VIEWS:
        register(shop)
