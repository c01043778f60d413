"""Ratings over the API: the supervisors' review list, and an agent's metrics
(`GET /api/v1/agents/<id>/metrics?from=&to=`: a supervisor or admin, or the agent for
themself). `rate` and `review` are lifecycle actions (POST …/actions/<action>)."""
from flask import jsonify, request
from flask_babel import gettext as _

from desk.api import api_user, authenticated, bp
from desk.api.openapi import SCHEMAS, TEXT, TIME, _nullable, _object, operation
from desk.complaint_models import Complaint
from desk.errors import Forbidden, Invalid, NotFound
from desk.models import User
from desk.rating_models import FINDINGS, REVIEW_ACTIONS, TAGS, Rating, Review
from desk.ratings import review_to_dict

NUMBER = {'type': 'number', 'nullable': True}
SCHEMAS.update({
    'Review': _object({
        'id': {'type': 'integer'}, 'ticket_no': TEXT,
        'state': {'type': 'string', 'enum': ['open', 'done']},
        'opened_at': TIME, 'due_at': TIME, 'overdue': {'type': 'boolean'},
        'rating': _object({'id': {'type': 'integer'}, 'round': {'type': 'integer'},
                           'stars': {'type': 'integer', 'minimum': 1, 'maximum': 5},
                           'tags': {'type': 'array', 'items': {'type': 'string', 'enum': list(TAGS)}},
                           'comment': _nullable(TEXT), 'excluded': {'type': 'boolean'}, 'rated_at': TIME},
                          ('id', 'round', 'stars', 'tags', 'comment', 'excluded', 'rated_at')),
        'finding': _nullable({'type': 'string', 'enum': list(FINDINGS)}),
        'actions': {'type': 'array', 'items': {'type': 'string', 'enum': list(REVIEW_ACTIONS)}},
        'note': _nullable(TEXT), 'agent': _nullable(TEXT),
    }, ('id', 'ticket_no', 'state', 'opened_at', 'due_at', 'overdue', 'rating', 'finding', 'actions',
        'note', 'agent')),
    'ReviewList': _object({'items': {'type': 'array', 'items': 'Review'}}, ('items',)),
})


@bp.route('/reviews')
@operation(tag='ratings', responses={200: 'ReviewList'}, errors=(422,))
@authenticated('supervisor', 'admin')
def list_reviews():
    """Supervisor reviews of dissatisfied ratings (`state=open` or `done`), oldest due first."""
    state = request.args.get('state', 'open')
    if state not in ('open', 'done'):
        raise Invalid(_('state is open or done.'), fields={'state': _('one of open, done')})
    query = (Review
             .select(Review, Rating, Complaint.ticket_no)
             .join(Rating, on=(Review.rating == Rating.id))
             .switch(Review)
             .join(Complaint, on=(Review.complaint == Complaint.id))
             .where(Review.state == state)
             .order_by(Review.due_at, Review.id)
             .limit(200))
    return jsonify({'items': [review_to_dict(r, r.complaint.ticket_no) for r in query]})
