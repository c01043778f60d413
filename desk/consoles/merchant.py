"""The merchant console (/merchant/): merchant staff see only their own merchant's data.

The list and detail queries come from `desk.orders.visible_orders`, the same rule the API
uses, so a merchant cannot reach another merchant's order by editing an id in the URL.
"""
from flask_admin import AdminIndexView, expose
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from desk import overview
from desk.consoles.access import MerchantOnly
from desk.consoles.base import DeskModelView, parse_id
from desk.masking import mask_phone
from desk.models import Merchant, Order
from desk.money import format_money
from desk.orders import visible_orders


class HomeView(MerchantOnly, AdminIndexView):
    @expose('/')
    def index(self):
        merchant = Merchant.get_by_id(current_user.merchant_id)
        return self.render('merchant/home.html', merchant=merchant,
                           counts=overview.merchant_overview(current_user))


class MyOrdersView(MerchantOnly, DeskModelView):
    can_create = can_edit = can_delete = False
    can_view_details = True
    simple_list_pager = True
    page_size = 50
    column_list = ('order_no', 'buyer', 'product', 'goods_type', 'amount_fen', 'paid_at')
    column_labels = {'order_no': _l('Order no.'), 'buyer': _l('Buyer'), 'product': _l('Product'),
                     'goods_type': _l('Goods type'), 'amount_fen': _l('Amount'),
                     'paid_at': _l('Paid at')}
    column_details_list = column_list + ('sku', 'payment_method', 'delivered_at', 'confirmed_at', 'region')
    column_formatters = {
        'amount_fen': lambda v, c, m, n: format_money(m.amount_fen),
        'buyer': lambda v, c, m, n: f'{m.buyer.display_name} ({mask_phone(m.buyer.phone)})',
    }
    column_searchable_list = ('order_no', 'product')
    column_filters = ('goods_type', 'paid_at')
    column_default_sort = ('paid_at', True)

    def get_query(self):
        return visible_orders(current_user)

    def get_one(self, id):
        id = parse_id(id)
        return visible_orders(current_user).where(Order.id == id).first() if id else None


def register(admin):
    admin.add_view(MyOrdersView(Order, name=_l('My orders'), endpoint='merchant_orders'))
