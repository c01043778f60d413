"""Complaints: file, read, list, act on, and read the timeline — with the complaint's
representation (its proposals, remedies and active ruling included) and the event's.

A listed page is read in a fixed number of queries: the guards' prefetch of
`desk.cases.queries.list_complaints` (ratings, the active ruling and the appeal) and
`prefetch_page` here (proposals and remedies) load what every row needs at once.
"""
import json
from collections import defaultdict

from flask import Blueprint, jsonify, request
from flask_babel import gettext as _
from werkzeug.exceptions import RequestEntityTooLarge

from arbitration.evidence import too_large_error
from arbitration.rulings import current_ruling
from desk.cases.access import get_visible, is_staff_view
from desk.cases.complaints import file_complaint, promised_by
from desk.cases.lifecycle import STATES
from desk.cases.models import CHANNELS, DEADLINES, DEMAND_TYPES, EXTERNAL, TIERS, Proposal, Remedy
from desk.cases.queries import list_complaints
from desk.cases.remedies import remedy_payload
from desk.cases.timeline import events_for
from desk.cases.transitions import allowed_actions, take_action
from desk.core import clock
from desk.core.errors import Invalid
from desk.core.money import to_yuan
from desk.core.times import to_iso
from desk.parties.models import DEPARTMENTS
from web.api.base import api_user, authenticated, json_body, nul_at
from web.api.openapi import (
    CALLABLE_ACTIONS,
    DEMAND_INPUT,
    MONEY,
    TEXT,
    TIME,
    TIME_INPUT,
    action_bodies_extension,
    nullable,
    object_of,
    operation,
)
from web.api.rulings import ruling_to_dict

bp = Blueprint('complaints', __name__)

SCHEMAS = {
    'ComplaintInput': object_of({
        'order_no': TEXT,
        'category': dict(TEXT, description='category code, e.g. recharge_not_arrived'),
        'facts': dict(TEXT, maxLength=5000),
        'scenario': {'type': 'object', 'additionalProperties': True,
                     'description': 'the fields the category requires (SPEC §3)'},
        'demand': DEMAND_INPUT,
        'basis': dict(TEXT, description='rule clause code'),
        'channel': {'type': 'string', 'enum': list(CHANNELS)},
        'external': {'type': 'array', 'items': {'type': 'string', 'enum': list(EXTERNAL)}},
        'override_reason': dict(TEXT, description='staff only: open it although the complaint '
                                                  'window has closed (logged)'),
        'evidence': {'type': 'array', 'maxItems': 10, 'items': object_of({
            'kind': {'type': 'string', 'enum': ['order_screenshot', 'payment_proof', 'chat_log',
                                                'screen_recording', 'error_screenshot', 'delivery_log',
                                                'other']},
            'text': dict(TEXT, maxLength=100000, description='pasted text, e.g. a chat log'),
            'description': dict(TEXT, maxLength=1000)}, ('kind', 'text')),
            'description': 'evidence given with the complaint, stored with it in one '
                           'transaction (files: send multipart/form-data). Some buyers must '
                           'give at least one item: without it the answer is 422 with the '
                           'message "Please upload at least one piece of evidence" '
                           '(请上传至少一项证据) and `fields.evidence`'},
    }, ('order_no', 'category', 'facts', 'demand')),
    'Complaint': object_of({
        'ticket_no': TEXT,
        'order_no': TEXT,
        'category': TEXT,
        'tier': {'type': 'string', 'enum': list(TIERS)},
        'department': {'type': 'string', 'enum': list(DEPARTMENTS)},
        'state': {'type': 'string', 'enum': list(STATES)},
        'owner': nullable(dict(TEXT, description='username of the owning agent')),
        'facts': TEXT,
        'scenario': {'type': 'object', 'additionalProperties': True},
        'demand': object_of({'type': {'type': 'string', 'enum': list(DEMAND_TYPES)},
                             'amount': nullable(MONEY)}, ('type', 'amount')),
        'basis': nullable(TEXT),
        'channel': {'type': 'string', 'enum': list(CHANNELS)},
        'external': {'type': 'array', 'items': {'type': 'string', 'enum': list(EXTERNAL)}},
        'priority': {'type': 'integer'},
        'deadlines': object_of({name: TIME for name in DEADLINES}, additionalProperties=False,
                               description='only the deadlines that apply now'),
        'promised_by': nullable(dict(TIME, description='when the buyer is promised an answer')),
        'ruling': {'type': 'object', 'nullable': True, 'additionalProperties': True,
                   'description': 'outcome, responsibility, remedy, clause and reasoning once '
                                  'ruled; null until then'},
        'remedies': {'type': 'array', 'items': 'Remedy'},
        'proposals': {'type': 'array', 'items': 'Proposal'},
        'allowed_actions': {'type': 'array',
                            'items': {'type': 'string', 'enum': list(CALLABLE_ACTIONS)},
                            'description': 'what the calling user may do now, from the '
                                           'lifecycle table'},
        'created_at': TIME,
        'updated_at': TIME,
    }, ('ticket_no', 'order_no', 'category', 'tier', 'department', 'state', 'owner', 'facts',
        'scenario', 'demand', 'basis', 'channel', 'external', 'priority', 'deadlines',
        'promised_by', 'ruling', 'remedies', 'proposals', 'allowed_actions', 'created_at',
        'updated_at')),
    'Proposal': object_of({
        'seq': {'type': 'integer'},
        'type': {'type': 'string', 'enum': ['refund', 'reissue', 'compensation', 'reject']},
        'state': {'type': 'string', 'enum': ['pending', 'accepted', 'rejected', 'superseded']},
        'message': TEXT, 'amount': nullable(TEXT), 'created_at': TIME,
    }, ('seq', 'type', 'state', 'message', 'amount', 'created_at')),
    'ComplaintList': object_of({'items': {'type': 'array', 'items': 'Complaint'},
                                'next_cursor': nullable(TEXT)}, ('items', 'next_cursor')),
    'Event': object_of({
        'seq': {'type': 'integer'},
        'at': TIME,
        'kind': dict(TEXT, example='filed'),
        'actor_role': TEXT,
        'public': {'type': 'boolean'},
        'data': {'type': 'object', 'additionalProperties': True},
    }, ('seq', 'at', 'kind', 'actor_role', 'public', 'data')),
    'EventList': object_of({'items': {'type': 'array', 'items': 'Event'}}, ('items',)),
}
PARAMETERS = {
    'state': {'in': 'query', 'name': 'state', 'schema': {'type': 'string', 'enum': list(STATES)}},
    'buyer': {'in': 'query', 'name': 'buyer', 'schema': TEXT, 'description': 'buyer ref'},
    'created_from': {'in': 'query', 'name': 'created_from', 'schema': TIME_INPUT,
                     'description': 'filed at or after'},
    'created_to': {'in': 'query', 'name': 'created_to', 'schema': TIME_INPUT,
                   'description': 'filed before'},
}
#: The deadlines a complaint shows (when set), by their name in the representation.
DEADLINE_COLUMNS = {
    'merchant_due': 'merchant_due_at', 'buyer_due': 'buyer_due_at',
    'evidence_due': 'evidence_due_at', 'first_response_due': 'first_response_due_at',
    'resolution_due': 'resolution_due_at', 'rating_due': 'rating_due_at',
    'appeal_due': 'appeal_due_at', 'edit_until': 'edit_until',
}


# --- representations ----------------------------------------------------------------------

def complaint_to_dict(complaint, user, now=None):
    """The complaint as `user` sees it: its proposals, remedies and active ruling, and the
    actions `user` may take now."""
    owner = complaint.owner.username if complaint.owner_id else None
    external = [code for code, flag in (('12315', complaint.external_12315),
                                        ('heimao', complaint.external_heimao)) if flag]
    deadlines = {name: to_iso(getattr(complaint, column)) for name, column in DEADLINE_COLUMNS.items()
                 if getattr(complaint, column) is not None}
    proposals, decided = _negotiation(complaint)
    ruling = current_ruling(complaint)
    return {
        'ticket_no': complaint.ticket_no,
        'order_no': complaint.order.order_no,
        'category': complaint.category,
        'tier': complaint.tier,
        'department': complaint.department,
        'state': complaint.state,
        'owner': owner,
        'facts': complaint.facts,
        'scenario': json.loads(complaint.scenario or '{}'),
        'demand': {'type': complaint.demand_type,
                   'amount': to_yuan(complaint.demand_fen) if complaint.demand_fen is not None else None},
        'basis': complaint.basis,
        'channel': complaint.channel,
        'external': external,
        'priority': complaint.priority,
        'deadlines': deadlines,
        'promised_by': to_iso(promised_by(complaint)),
        'ruling': ruling_to_dict(ruling) if ruling is not None else None,
        'remedies': [remedy_payload(r, complaint.ticket_no, complaint.order.order_no) for r in decided],
        'proposals': [proposal_to_dict(p) for p in proposals],
        'allowed_actions': allowed_actions(complaint, user, now),
        'created_at': to_iso(complaint.created_at),
        'updated_at': to_iso(complaint.updated_at),
    }


def proposal_to_dict(proposal):
    return {'seq': proposal.seq, 'type': proposal.kind, 'state': proposal.state, 'message': proposal.message,
            'amount': to_yuan(proposal.amount_fen) if proposal.amount_fen is not None else None,
            'created_at': to_iso(proposal.created_at)}


def event_to_dict(event):
    return {'seq': event.seq, 'at': to_iso(event.at), 'kind': event.kind,
            'actor_role': event.actor_role, 'public': event.public,
            'data': json.loads(event.data or '{}')}


def prefetch_page(complaints):
    """The proposals and remedies of a whole listed page in two queries (instead of two per row)."""
    ids = [c.id for c in complaints]
    proposals, decided = defaultdict(list), defaultdict(list)
    if ids:
        for p in Proposal.select().where(Proposal.complaint.in_(ids)).order_by(Proposal.seq):
            proposals[p.complaint_id].append(p)
        for r in Remedy.select().where(Remedy.complaint.in_(ids)).order_by(Remedy.id):
            decided[r.complaint_id].append(r)
    for c in complaints:
        c.prefetched_negotiation = (proposals[c.id], decided[c.id])


def _negotiation(complaint):
    """(proposals, remedies) of `complaint`, from the page's prefetch when there is one."""
    prefetched = getattr(complaint, 'prefetched_negotiation', None)
    if prefetched is not None:
        return prefetched
    return (Proposal.select().where(Proposal.complaint == complaint.id).order_by(Proposal.seq),
            Remedy.select().where(Remedy.complaint == complaint.id).order_by(Remedy.id))


# --- endpoints ----------------------------------------------------------------------------

_FILING_BODY = {'requestBody': {'required': True, 'content': {
    'application/json': {'schema': {'$ref': '#/components/schemas/ComplaintInput'}},
    'multipart/form-data': {'schema': object_of({
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
    where = nul_at(data)
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
    prefetch_page(rows)
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
