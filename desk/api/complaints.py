"""Complaints: file, read, list, act on, and read the timeline."""
from flask import jsonify, request

from desk import clock
from desk.api import api_user, authenticated, bp, json_body
from desk.api.openapi import action_bodies_extension, operation
from desk.case_access import get_visible, is_staff_view
from desk.complaint_queries import complaint_to_dict, list_complaints
from desk.complaints import file_complaint, take_action
from desk.timeline import event_to_dict, events_for


@bp.route('/complaints', methods=['POST'])
@operation(tag='complaints', body='ComplaintInput', responses={201: ('Complaint', 'Filed.')},
           errors=(400, 409, 413, 422))
@authenticated()
def create_complaint():
    """File a complaint about an order.

    A buyer files for their own orders (an integration key with X-On-Behalf-Of files for
    that buyer); agents and supervisors file for the order's buyer. 409 with `ticket_no`
    when the order already has an open complaint; 422 when the complaint window has closed.
    """
    user = api_user()
    complaint = file_complaint(user, json_body(), default_channel='api')
    return jsonify(complaint_to_dict(complaint, user)), 201


@bp.route('/complaints/<ticket_no>', methods=['GET'])
@operation(tag='complaints', responses={200: 'Complaint'})
@authenticated()
def read_complaint(ticket_no):
    """Read a complaint, with the actions the caller may take now."""
    user = api_user()
    return jsonify(complaint_to_dict(get_visible(user, ticket_no), user))


@bp.route('/complaints', methods=['GET'])
@operation(tag='complaints', responses={200: 'ComplaintList'}, errors=(422,),
           query=('state', 'tier', 'category', 'merchant', 'buyer', 'created_from', 'created_to',
                  'limit', 'cursor'))
@authenticated()
def index_complaints():
    """List the complaints the caller may see, newest first.

    Pages are cut with an opaque cursor: pass `next_cursor` of one page to get the next
    (null on the last page).
    """
    user = api_user()
    rows, next_cursor = list_complaints(user, request.args)
    now = clock.now()
    return jsonify(items=[complaint_to_dict(c, user, now) for c in rows], next_cursor=next_cursor)


@bp.route('/complaints/<ticket_no>/actions/<action>', methods=['POST'])
@operation(tag='complaints', body='ActionBody', body_required=False,
           responses={200: ('Complaint', 'Done; the complaint as it is now.')},
           errors=(400, 409, 413, 422), extensions=action_bodies_extension())
@authenticated()
def complaint_action(ticket_no, action):
    """Take a lifecycle action on a complaint.

    The lifecycle table (docs/lifecycle.md) decides: 404 for an unknown action or a case the
    caller may not see, 403 for an action the caller may never take here (timer actions
    included), 409 for one that is not possible now (state, a closed window, not available
    yet). `allowed_actions` of the complaint lists what would succeed.
    """
    user = api_user()
    complaint = get_visible(user, ticket_no)
    data = json_body() if request.content_length else {}
    take_action(user, complaint, action, data)
    return jsonify(complaint_to_dict(get_visible(user, ticket_no), user))


@bp.route('/complaints/<ticket_no>/events', methods=['GET'])
@operation(tag='complaints', responses={200: 'EventList'})
@authenticated()
def complaint_events(ticket_no):
    """Read the complaint's timeline, oldest first.

    Parties see public events; staff also see internal notes.
    """
    user = api_user()
    complaint = get_visible(user, ticket_no)
    return jsonify(items=[event_to_dict(e) for e in events_for(complaint, is_staff_view(user))])
