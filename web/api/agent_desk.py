"""The agent desk over the API: who am I, the queue (for wallboards), agent status."""
from flask import Blueprint, jsonify, request

from desk.agent_desk import assignment, queue
from desk.agent_desk.queue import FLAGS, QUEUE_FILTER_STATES
from desk.cases.models import TIERS
from desk.core import clock
from desk.core.errors import Invalid
from desk.core.money import to_yuan
from desk.core.times import to_iso
from desk.parties.models import AGENT_STATUSES, DEPARTMENTS
from web.api.base import api_user, authenticated, json_body
from web.api.openapi import MONEY, TEXT, TIME, nullable, object_of, operation

bp = Blueprint('agent_desk', __name__)

SCHEMAS = {
    'Me': object_of({'username': TEXT, 'role': TEXT,
                     'department': nullable({'type': 'string', 'enum': list(DEPARTMENTS)}),
                     'status': nullable(dict({'type': 'string', 'enum': list(AGENT_STATUSES)},
                                             description='agents only'))},
                    ('username', 'role', 'department', 'status')),
    'QueueItem': object_of({
        'ticket_no': TEXT, 'state': {'type': 'string', 'enum': list(QUEUE_FILTER_STATES)},
        'tier': {'type': 'string', 'enum': list(TIERS)}, 'category': TEXT,
        'overdue': {'type': 'boolean'}, 'owner': nullable(TEXT), 'order_no': TEXT,
        'amount': MONEY, 'merchant': dict(TEXT, description='merchant name'),
        'next_target': nullable({'type': 'string', 'enum': ['first_response', 'resolution']}),
        'due': nullable(TIME), 'seconds_left': nullable({'type': 'integer'}),
    }, ('ticket_no', 'state', 'tier', 'category', 'overdue', 'owner', 'order_no', 'amount',
        'merchant', 'next_target', 'due', 'seconds_left')),
    'Queue': object_of({
        'department': {'type': 'string', 'enum': list(DEPARTMENTS)},
        'items': {'type': 'array', 'items': 'QueueItem'},
        'next_cursor': nullable(TEXT),
        'counts': object_of({'all': {'type': 'integer'}, 'overdue': {'type': 'integer'},
                             'unassigned': {'type': 'integer'},
                             'tier': {'type': 'object', 'additionalProperties': {'type': 'integer'}},
                             'state': {'type': 'object', 'additionalProperties': {'type': 'integer'}}},
                            ('all', 'overdue', 'unassigned', 'tier', 'state')),
    }, ('department', 'items', 'next_cursor', 'counts')),
    'AgentStatus': object_of({'username': TEXT,
                              'status': {'type': 'string', 'enum': list(AGENT_STATUSES)}},
                             ('username', 'status')),
    'AgentStatusInput': object_of({'status': {'type': 'string', 'enum': list(AGENT_STATUSES)}},
                                  ('status',)),
}
PARAMETERS = {
    'department': {'in': 'query', 'name': 'department',
                   'schema': {'type': 'string', 'enum': list(DEPARTMENTS)},
                   'description': 'required for supervisors, admins and the integration; '
                                  'agents see their own department'},
    'queue_state': {'in': 'query', 'name': 'state',
                    'schema': {'type': 'string', 'enum': list(QUEUE_FILTER_STATES)}},
    'owner': {'in': 'query', 'name': 'owner', 'schema': TEXT, 'description': 'agent username'},
    'flag': {'in': 'query', 'name': 'flag', 'schema': {'type': 'string', 'enum': list(FLAGS)}},
}


@bp.route('/me', methods=['GET'])
@operation(tag='agent desk', responses={200: 'Me'})
@authenticated()
def whoami():
    """The key's user: a cheap authenticated call (also the benchmarks' baseline)."""
    user = api_user()
    return jsonify(username=user.username, role=user.role, department=user.department,
                   status=user.status if user.role in ('agent', 'senior_agent') else None)


@bp.route('/queue', methods=['GET'])
@operation(tag='agent desk', responses={200: 'Queue'}, errors=(422,),
           query=('department', 'queue_state', 'tier', 'category', 'merchant', 'owner', 'flag',
                  'limit', 'cursor'))
@authenticated('agent', 'senior_agent', 'supervisor', 'admin', 'integration')
def read_queue():
    """A department's queue in work order: overdue first, then tier, then due time.

    For wallboards: staff and the integration only; agents see their own department.
    """
    user = api_user()
    department = queue.queue_department(user, request.args.get('department'))
    try:
        limit = int(request.args.get('limit', 50))
    except ValueError:
        raise Invalid('limit must be a whole number', fields={'limit': 'whole number'}) from None
    base = queue.base_query(department)
    rows, next_cursor = queue.page(base, request.args, request.args.get('cursor'), limit)
    now = clock.now()
    items = []
    for c in rows:
        target, due = queue.next_target(c)
        items.append({
            'ticket_no': c.ticket_no, 'state': c.state, 'tier': c.tier, 'category': c.category,
            'overdue': c.queue_rank == 0, 'owner': c.owner.username if c.owner_id else None,
            'order_no': c.order.order_no, 'amount': to_yuan(c.order.amount_fen),
            'merchant': c.merchant.name, 'next_target': target, 'due': to_iso(due),
            'seconds_left': int((due - now).total_seconds()) if due else None,
        })
    return jsonify(department=department, items=items, next_cursor=next_cursor,
                   counts=queue.counts(queue.filtered(base, request.args)))


@bp.route('/agents/me/status', methods=['PUT'])
@operation(tag='agent desk', body='AgentStatusInput', responses={200: 'AgentStatus'},
           errors=(400, 413, 422))
@authenticated('agent', 'senior_agent')
def set_agent_status():
    """Set the calling agent's status; going online may hand them waiting cases."""
    user = assignment.set_status(api_user(), json_body().get('status'))
    return jsonify(username=user.username, status=user.status)
