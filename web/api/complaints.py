"""Complaints: file, read, list, act on, and read the timeline."""
import json

from flask import jsonify, request
from flask_babel import gettext as _
from werkzeug.exceptions import RequestEntityTooLarge

from desk.cases.access import get_visible, is_staff_view
from desk.cases.complaints import file_complaint
from desk.cases.queries import complaint_to_dict, list_complaints
from desk.cases.timeline import event_to_dict, events_for
from desk.cases.transitions import take_action
from desk.core import clock
from desk.core.errors import Invalid
from web.api import _nul_at, api_user, authenticated, bp, json_body
from web.api.openapi import _object, action_bodies_extension, operation

_FILING_BODY = {'requestBody': {'required': True, 'content': {
    'application/json': {'schema': {'$ref': '#/components/schemas/ComplaintInput'}},
    'multipart/form-data': {'schema': _object({
        'complaint': {'type': 'string', 'description': 'the ComplaintInput object as JSON text '
                                                      '(it may carry pasted-text `evidence` too)'},
        'file': {'type': 'array', 'items': {'type': 'string', 'format': 'binary'},
                 'description': 'evidence files (repeat the field for several): jpeg, png, gif, '
                                'webp, mp4, webm, pdf, plain text, csv or json by content; at most '
                                'DESK_EVIDENCE_MAX_BYTES each'},
        'kind': {'type': 'array', 'items': {'type': 'string', 'enum': [
                     'order_screenshot', 'payment_proof', 'chat_log', 'screen_recording',
                     'error_screenshot', 'delivery_log', 'other']},
                 'description': 'the kind of each file, in the order of the files'},
        'description': {'type': 'array', 'items': {'type': 'string'},
                        'description': 'a description of each file, in the order of the files'},
    }, ('complaint',))},
}}}


@bp.route('/complaints', methods=['POST'])
@operation(tag='complaints', responses={201: ('Complaint', 'Filed.')},
           errors=(400, 409, 413, 415, 422), extensions=_FILING_BODY)
@authenticated()
def create_complaint():
    """File a complaint about an order, with evidence if there is any.

    A buyer files for their own orders (an integration key with X-On-Behalf-Of files for
    that buyer); agents and supervisors file for the order's buyer. 409 with `ticket_no`
    when the order already has an open complaint; 422 when the complaint window has closed.

    Evidence may come with the complaint: pasted text in `evidence` of the JSON body, files
    as multipart/form-data (the complaint as JSON text in the field `complaint`, each file in
    a `file` field with its `kind` and `description` in the same order). It is checked like
    any evidence (413 above the size limit, 415 for a type that is not accepted) and stored
    with the complaint or not at all. Some buyers must give at least one item: 422 "Please
    upload at least one piece of evidence" (请上传至少一项证据) with `fields.evidence`, and
    nothing is filed. Some complaints are reviewed by the platform first (state `screening`).
    """
    user = api_user()
    try:
        if request.mimetype == 'multipart/form-data':
            data, uploads = _multipart_filing()
        else:
            data, uploads = json_body(), ()
        complaint = file_complaint(user, data, default_channel='api', uploads=uploads)
    except RequestEntityTooLarge:
        from arbitration.evidence import too_large_error
        raise too_large_error() from None
    return jsonify(complaint_to_dict(complaint, user)), 201


def _multipart_filing():
    """(data, uploads) of a multipart filing: the JSON of the `complaint` field, and each
    `file` with the `kind` and `description` given at the same position."""
    try:
        data = json.loads(request.form.get('complaint') or '')
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise Invalid(_('Send the complaint as a JSON object in the multipart field "complaint".'),
                      fields={'complaint': _('must be a JSON object')})
    where = _nul_at(data)
    if where is not None:
        raise Invalid(_('The body contains a NUL character.'), fields={where: _('contains a NUL character')})
    kinds, descriptions = request.form.getlist('kind'), request.form.getlist('description')
    uploads = [(kinds[n] if n < len(kinds) else None, descriptions[n] if n < len(descriptions) else '',
                upload.filename, upload.stream)
               for n, upload in enumerate(request.files.getlist('file'))]
    return data, uploads


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
