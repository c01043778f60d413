"""The buyer's rating form on the case page (`templates/ratings/_rate_panel.html`, read
through the `rating_panel(case)` template global). Rating is an explicit POST with the CSRF
token: the URL answers nothing else (a GET of it, e.g. a link scanner, is 405 and rates
nothing)."""
import json

from flask import Blueprint, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from desk.cases.access import get_visible, relations
from desk.cases.transitions import allowed_actions, take_action
from desk.core import clock
from desk.core.errors import DomainError
from desk.core.labels import rating_tag_label
from desk.satisfaction.models import TAGS, Rating
from web.auth import roles_required
from web.consoles.agent_desk import flash_error

bp = Blueprint('ratings', __name__, url_prefix='/buyer')



def rating_panel(case):
    """What the case page shows: the form while the buyer may rate, their ratings."""
    if not current_user.is_authenticated or 'buyer' not in relations(case, current_user):
        return None
    ratings = list(Rating.select().where(Rating.complaint == case.id).order_by(Rating.round))
    return {'can_rate': 'rate' in allowed_actions(case, current_user, clock.now()),
            'due': case.rating_due_at, 'tags': rating_tag_label.choices(TAGS),
            'ratings': [{'round': r.round, 'stars': r.stars, 'tags': [rating_tag_label(t) for t in json.loads(r.tags)],
                         'comment': r.comment, 'rated_at': r.rated_at} for r in ratings]}


@bp.route('/complaints/<ticket_no>/rate', methods=['POST'])
@roles_required('buyer')
def rate(ticket_no):
    case = get_visible(current_user, ticket_no)
    raw = (request.form.get('stars') or '').strip()
    stars = int(raw) if raw.isdigit() else raw or None
    data = {'stars': stars, 'tags': request.form.getlist('tags'),
            'comment': request.form.get('comment') or None}
    try:
        take_action(current_user, case, 'rate', data)
    except DomainError as err:
        flash_error(err, 'danger')
    else:
        flash(_('Thank you for your rating.'), 'success')
    return redirect(url_for('portal.complaint', ticket_no=case.ticket_no))


def init_app(app):
    app.register_blueprint(bp)
    app.jinja_env.globals['rating_panel'] = rating_panel
