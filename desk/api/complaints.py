"""Complaints: file, read, list, act on, and read the timeline."""
from flask import jsonify, request

from desk import clock
from desk.api import api_user, authenticated, bp, json_body
from desk.case_access import get_visible, is_staff_view
from desk.complaint_queries import complaint_to_dict, list_complaints
from desk.complaints import file_complaint, take_action
from desk.timeline import event_to_dict, events_for


@bp.route('/complaints', methods=['POST'])
@authenticated()
def create_complaint():
    user = api_user()
    complaint = file_complaint(user, json_body(), default_channel='api')
    return jsonify(complaint_to_dict(complaint, user)), 201


@bp.route('/complaints/<ticket_no>', methods=['GET'])
@authenticated()
def read_complaint(ticket_no):
    user = api_user()
    return jsonify(complaint_to_dict(get_visible(user, ticket_no), user))


@bp.route('/complaints', methods=['GET'])
@authenticated()
def index_complaints():
    user = api_user()
    rows, next_cursor = list_complaints(user, request.args)
    now = clock.now()
    return jsonify(items=[complaint_to_dict(c, user, now) for c in rows], next_cursor=next_cursor)


@bp.route('/complaints/<ticket_no>/actions/<action>', methods=['POST'])
@authenticated()
def complaint_action(ticket_no, action):
    user = api_user()
    complaint = get_visible(user, ticket_no)
    data = json_body() if request.content_length else {}
    take_action(user, complaint, action, data)
    return jsonify(complaint_to_dict(get_visible(user, ticket_no), user))


@bp.route('/complaints/<ticket_no>/events', methods=['GET'])
@authenticated()
def complaint_events(ticket_no):
    user = api_user()
    complaint = get_visible(user, ticket_no)
    return jsonify(items=[event_to_dict(e) for e in events_for(complaint, is_staff_view(user))])
