"""Signed links from the marketplace app into the buyer portal.

The marketplace signs {buyer ref, order number} with the integration secret
(itsdangerous, salt "buyer-link"); the link is good for one hour. The desk trusts the
marketplace's word on who the buyer is, exactly as it does for `X-On-Behalf-Of`.
"""
import calendar

from flask import current_app, url_for
from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from desk.core import clock
from desk.core.errors import Invalid
from desk.orders.models import Order
from desk.parties.models import Buyer

SALT = 'buyer-link'
MAX_AGE_SECONDS = 3600


class _ClockSigner(TimestampSigner):
    """Signs and checks ages with the desk's clock, so tests can move time."""

    def get_timestamp(self):
        return calendar.timegm(clock.now().timetuple())


def _serializer():
    secret = current_app.config['INTEGRATION_SECRET'] or current_app.config['SECRET_KEY']
    return URLSafeTimedSerializer(secret, salt=SALT, signer=_ClockSigner)


def make_token(buyer_ref, order_no):
    return _serializer().dumps({'buyer': buyer_ref, 'order': order_no})


def make_link(buyer_ref, order_no):
    return url_for('portal.complain_by_link', token=make_token(buyer_ref, order_no), _external=True)


def read_token(token):
    """(Buyer, Order) named by a valid token, or `Invalid` with a message for the buyer."""
    try:
        data = _serializer().loads(token or '', max_age=MAX_AGE_SECONDS)
    except SignatureExpired:
        raise Invalid(_('This link has expired. Open the complaint page again from the app.')) from None
    except BadSignature:
        raise Invalid(_('This link is not valid. Open the complaint page again from the app.')) from None
    buyer = Buyer.get_or_none(Buyer.ref == str(data.get('buyer', '')))
    order = Order.get_or_none(Order.order_no == str(data.get('order', '')))
    if buyer is None or order is None or order.buyer_id != buyer.id:
        raise Invalid(_('This link is not valid. Open the complaint page again from the app.'))
    return buyer, order
