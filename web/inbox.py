"""The in-app inbox every role has (/inbox), and its unread count in every header."""
from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user, login_required

from desk.messaging.notifications import inbox_for, mark_read, unread_count
from web.auth import is_safe_next

bp = Blueprint('inbox', __name__, url_prefix='/inbox')


@bp.route('/')
@login_required
def index():
    return render_template('inbox.html', messages=inbox_for(current_user))


@bp.route('/<int:message_id>/read', methods=['POST'])
@login_required
def read(message_id):
    message = mark_read(current_user, message_id)
    target = message.link if is_safe_next(message.link or '') else url_for('inbox.index')
    return redirect(target)


@bp.route('/read-all', methods=['POST'])
@login_required
def read_all():
    mark_read(current_user)
    return redirect(url_for('inbox.index'))


def init_app(app):
    app.register_blueprint(bp)

    @app.context_processor
    def _unread():
        def count():
            return unread_count(current_user) if current_user.is_authenticated else 0
        return {'unread_count': count}
