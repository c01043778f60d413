"""The buyer portal (/buyer/): a plain, mobile-first blueprint."""
from flask import Blueprint, render_template
from flask_login import current_user

from desk import overview
from desk.web import roles_required

bp = Blueprint('portal', __name__, url_prefix='/buyer')


@bp.route('/')
@roles_required('buyer')
def home():
    return render_template('buyer/home.html', orders=overview.buyer_orders(current_user))
