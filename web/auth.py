"""The browser side shared by every console: login sessions, CSRF, the language switch and
the role-based home redirect (`HOMES`), `roles_required` for blueprint views and
`is_safe_next` for redirects. Error pages and handlers are in `web.errors`.
"""
import json
from functools import wraps
from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import LoginManager, current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFProtect
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from desk.core import tasks
from desk.core.errors import DomainError
from desk.parties import accounts
from desk.parties.models import STAFF_ROLES, User

login_manager = LoginManager()
csrf = CSRFProtect()
bp = Blueprint('auth', __name__)

#: Where each role lands after login, and the roles each console admits.
HOMES = {'buyer': 'portal.home', 'merchant_staff': 'merchant.index'}
for _role in STAFF_ROLES:
    HOMES[_role] = 'admin.index'


@login_manager.user_loader
def load_user(user_id):
    try:
        return User.get_or_none((User.id == int(user_id)) & (User.active == True))  # noqa: E712
    except (TypeError, ValueError):
        return None


def is_safe_next(target):
    """Only same-site relative paths may be redirected to after login (no open redirect)."""
    if not target or not target.startswith('/') or target.startswith('//') or '\\' in target:
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


def roles_required(*roles):
    """Blueprint views: anonymous users go to the login page, other roles get a 403 page."""
    def decorator(view):
        @wraps(view)
        @login_required
        def wrapper(*args, **kwargs):
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)
        return wrapper
    return decorator


class LoginForm(FlaskForm):
    username = StringField(_l('Username'), validators=[DataRequired(), Length(max=64)])
    password = PasswordField(_l('Password'), validators=[DataRequired(), Length(max=200)])


@bp.route('/login', methods=['GET', 'POST'])
def login():
    form = LoginForm()
    target = request.values.get('next', '')
    if not is_safe_next(target):
        target = ''
    status = 200
    if form.validate_on_submit():
        try:
            user = accounts.authenticate(form.username.data, form.password.data, request.remote_addr)
        except DomainError as err:
            flash(err.message, 'danger')
            status = err.status
        else:
            login_user(user)
            session.permanent = False
            return redirect(target or url_for(HOMES.get(user.role, 'auth.home')))
    elif request.method == 'POST':
        status = 400 if 'csrf_token' in form.errors else 422
    return render_template('auth/login.html', form=form, next=target), status


@bp.route('/logout', methods=['POST'])
def logout():
    logout_user()
    session.pop('_flashes', None)
    flash(_('You have been logged out.'), 'info')
    return redirect(url_for('auth.login'))


@bp.route('/lang/<code>')
def set_language(code):
    """The header's language switch; remembered in the session."""
    if code in ('zh', 'en'):
        session['lang'] = code
    target = request.args.get('next', '')
    return redirect(target if is_safe_next(target) else url_for('auth.home'))


@bp.route('/')
@login_required
def home():
    endpoint = HOMES.get(current_user.role)
    if endpoint is None:
        abort(403)
    return redirect(url_for(endpoint))


def init_app(app):
    login_manager.init_app(app)
    login_manager.login_view = 'auth.login'
    login_manager.login_message = _l('Please log in to see this page.')
    login_manager.login_message_category = 'info'
    login_manager.session_protection = 'strong'
    csrf.init_app(app)
    app.register_blueprint(bp)

    app.jinja_env.filters['fromjson'] = json.loads

    @app.before_request
    def _start_ticker():
        if not app.testing:
            tasks.start_ticker(app)
