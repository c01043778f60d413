"""Ratings over the API: the supervisors' review list, and an agent's metrics
(`GET /api/v1/agents/<id>/metrics?from=&to=`: a supervisor or admin, or the agent for
themself), with the review's and the rating's representations. `rate` and `review` are
lifecycle actions (POST …/actions/<action>)."""
import json

from flask import Blueprint, jsonify, request
from flask_babel import gettext as _

from desk.cases.access import AGENT_ROLES
from desk.cases.models import Complaint
from desk.core import clock
from desk.core.errors import Forbidden, Invalid, NotFound
from desk.core.times import to_iso
from desk.parties.models import User
from desk.satisfaction import metrics
from desk.satisfaction.models import FINDINGS, REVIEW_ACTIONS, TAGS, Rating, Review
from web.api.base import api_user, authenticated
from web.api.openapi import TEXT, TIME, nullable, object_of, operation
from web.consoles.ratings import parse_period

bp = Blueprint('ratings', __name__)

NUMBER = {'type': 'number', 'nullable': True}
METRICS_SCHEMA = object_of({
    'agent': TEXT, 'from': {'type': 'string', 'format': 'date'}, 'to': {'type': 'string', 'format': 'date'},
    'handled': {'type': 'integer'}, 'rated': {'type': 'integer'}, 'excluded': {'type': 'integer'},
    'csat_avg': NUMBER, 'csat_pct': NUMBER, 'dissatisfied_pct': NUMBER, 'fcr': NUMBER,
    'first_response_sla': NUMBER, 'resolution_sla': NUMBER, 'sla': NUMBER,
    'median_handle_seconds': {'type': 'integer', 'nullable': True}, 'reopen_rate': NUMBER,
    'overturn_rate': NUMBER, 'not_overturned': NUMBER, 'score': NUMBER,
}, ('agent', 'from', 'to', 'handled', 'rated', 'csat_avg', 'csat_pct', 'dissatisfied_pct', 'fcr',
    'first_response_sla', 'resolution_sla', 'median_handle_seconds', 'reopen_rate', 'overturn_rate',
    'score'), description='ratios are 0–1 (null: no data in the period); see docs/metrics.md')
SCHEMAS = {
    'Review': object_of({
        'id': {'type': 'integer'}, 'ticket_no': TEXT,
        'state': {'type': 'string', 'enum': ['open', 'done']},
        'opened_at': TIME, 'due_at': TIME, 'overdue': {'type': 'boolean'},
        'rating': object_of({'id': {'type': 'integer'}, 'round': {'type': 'integer'},
                             'stars': {'type': 'integer', 'minimum': 1, 'maximum': 5},
                             'tags': {'type': 'array', 'items': {'type': 'string', 'enum': list(TAGS)}},
                             'comment': nullable(TEXT), 'excluded': {'type': 'boolean'}, 'rated_at': TIME},
                            ('id', 'round', 'stars', 'tags', 'comment', 'excluded', 'rated_at')),
        'finding': nullable({'type': 'string', 'enum': list(FINDINGS)}),
        'actions': {'type': 'array', 'items': {'type': 'string', 'enum': list(REVIEW_ACTIONS)}},
        'note': nullable(TEXT), 'agent': nullable(TEXT),
    }, ('id', 'ticket_no', 'state', 'opened_at', 'due_at', 'overdue', 'rating', 'finding', 'actions',
        'note', 'agent')),
    'ReviewList': object_of({'items': {'type': 'array', 'items': 'Review'}}, ('items',)),
    'AgentMetrics': METRICS_SCHEMA,
}
PARAMETERS = {
    'metrics_from': {'in': 'query', 'name': 'from', 'schema': {'type': 'string', 'format': 'date'},
                     'description': 'first local day (with `to`); default: 90 days ago'},
    'metrics_to': {'in': 'query', 'name': 'to', 'schema': {'type': 'string', 'format': 'date'},
                   'description': 'last local day, inclusive'},
    'review_state': {'in': 'query', 'name': 'state', 'schema': {'type': 'string', 'enum': ['open', 'done']}},
}


def rating_to_dict(rating):
    return {'id': rating.id, 'round': rating.round, 'stars': rating.stars,
            'tags': json.loads(rating.tags or '[]'), 'comment': rating.comment,
            'excluded': rating.excluded, 'rated_at': to_iso(rating.rated_at)}


def review_to_dict(item, ticket_no=None):
    rating = item.rating
    return {'id': item.id, 'ticket_no': ticket_no or item.complaint.ticket_no, 'state': item.state,
            'opened_at': to_iso(item.opened_at), 'due_at': to_iso(item.due_at),
            'overdue': item.state == 'open' and clock.now() > item.due_at,
            'rating': rating_to_dict(rating), 'finding': item.finding,
            'actions': json.loads(item.actions or '[]'), 'note': item.note,
            'agent': item.agent.username if item.agent_id else None}


@bp.route('/reviews')
@operation(tag='ratings', responses={200: 'ReviewList'}, errors=(422,), query=('review_state',))
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


@bp.route('/agents/<int:agent_id>/metrics')
@operation(tag='ratings', responses={200: 'AgentMetrics'}, errors=(422,), query=('metrics_from', 'metrics_to'))
@authenticated('agent', 'senior_agent', 'supervisor', 'admin')
def agent_metrics(agent_id):
    """An agent's metrics over local days `from`..`to` (default: the last 90 days).

    Supervisors and admins read anyone's; an agent only their own (403 otherwise).
    """
    user = api_user()
    if user.role in AGENT_ROLES and user.id != agent_id:
        raise Forbidden(_('Agents see only their own metrics.'))
    agent = User.get_or_none((User.id == agent_id) & User.role.in_(AGENT_ROLES))
    if agent is None:
        raise NotFound(_('No agent %(id)s.', id=agent_id))
    if bool(request.args.get('from')) != bool(request.args.get('to')):
        raise Invalid(_('Give both from and to, or neither.'),
                      fields={'from' if not request.args.get('from') else 'to': _('is required')})
    _name, start, end = parse_period(request.args)
    figures = metrics.agent_figures(agent.id, start, end)
    return jsonify(dict(figures, agent=agent.username, **{'from': start.isoformat(), 'to': end.isoformat()}))
