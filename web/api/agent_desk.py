"""The agent desk over the API: who am I, the queue (for wallboards), agent status."""
from flask import jsonify, request

from desk.agent_desk import assignment, queue
from desk.core import clock
from desk.core.errors import Invalid
from desk.core.money import to_yuan
from desk.core.times import to_iso
from web.api import api_user, authenticated, bp, json_body
from web.api.openapi import operation


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
