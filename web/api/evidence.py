"""Evidence over the API: add an item (multipart file or JSON pasted text), list a case's
items, download one item's content.

The same rules as the consoles (arbitration.evidence): a merchant key reaches only its
merchant's cases, an integration key acts for a buyer with X-On-Behalf-Of, anyone else's case
is 404; 413 over the size limit, 415 for a type that is not allowed (with `detected_type`),
409 when evidence cannot be added now (with the `deadline` when there is one).
"""
from flask import Blueprint, jsonify, request, url_for
from flask_babel import gettext as _
from werkzeug.exceptions import RequestEntityTooLarge

from arbitration import evidence
from desk.cases.access import get_visible
from desk.cases.models import EVIDENCE_KINDS, EVIDENCE_PARTIES
from desk.core.errors import Invalid
from desk.core.masking import mask_text
from desk.core.times import to_iso
from web.api.base import api_user, authenticated, json_body
from web.api.openapi import TEXT, TIME, nullable, object_of, operation
from web.errors import error_response
from web.evidence import send_item

bp = Blueprint('evidence', __name__)

_ID = {'type': 'integer', 'minimum': 1}
SCHEMAS = {
    'Evidence': object_of({
        'id': {'type': 'integer'},
        'ticket_no': TEXT,
        'party': {'type': 'string', 'enum': list(EVIDENCE_PARTIES)},
        'kind': {'type': 'string', 'enum': list(EVIDENCE_KINDS)},
        'description': dict(TEXT, description='phone numbers and card codes masked'),
        'filename': nullable(dict(TEXT, description='the uploader\'s file name, cleaned; null for pasted text')),
        'mime': dict(TEXT, description='the type sniffed from the content', example='image/png'),
        'size': {'type': 'integer', 'description': 'bytes'},
        'sha256': dict(TEXT, pattern='^[0-9a-f]{64}$'),
        'text': nullable(dict(TEXT, description='pasted text (phone numbers and card codes masked '
                                                'for the parties); null for a file')),
        'created_at': TIME,
        'supersedes': nullable(dict(_ID, description='the item this one replaces')),
        'superseded_by': nullable(dict(_ID, description='the item that replaced this one (it '
                                                        'stays listed)')),
        'request': nullable(dict(_ID, description='the evidence request it answers')),
        'content_url': TEXT,
        'thumbnail_url': nullable(dict(TEXT, description='images, once the thumbnail is made')),
    }, ('id', 'ticket_no', 'party', 'kind', 'description', 'filename', 'mime', 'size', 'sha256',
        'text', 'created_at', 'supersedes', 'superseded_by', 'request', 'content_url',
        'thumbnail_url')),
    'EvidenceList': object_of({'items': {'type': 'array', 'items': 'Evidence'}}, ('items',)),
    'EvidenceTextInput': object_of({
        'kind': {'type': 'string', 'enum': list(EVIDENCE_KINDS)},
        'description': dict(TEXT, maxLength=evidence.DESCRIPTION_MAX),
        'text': dict(TEXT, maxLength=evidence.TEXT_MAX, description='pasted text, e.g. a chat log'),
        'supersedes': _ID, 'request': _ID,
    }, ('kind', 'text')),
}

_UPLOAD_BODY = {'requestBody': {'required': True, 'content': {
    'multipart/form-data': {'schema': object_of({
        'file': {'type': 'string', 'format': 'binary',
                 'description': 'jpeg, png, gif, webp, mp4, webm, pdf, plain text, csv or json '
                                '(by content, not by name); at most DESK_EVIDENCE_MAX_BYTES'},
        'kind': {'type': 'string', 'enum': list(EVIDENCE_KINDS)},
        'description': TEXT,
        'supersedes': _ID,
        'request': _ID,
    }, ('file', 'kind'))},
    'application/json': {'schema': {'$ref': '#/components/schemas/EvidenceTextInput'}},
}}}


def item_to_dict(item, actor, ticket_no=None):
    """An evidence item as `actor` sees it (pasted text masked for the parties)."""
    thumb = getattr(item, 'thumbnail_sha256', None)
    return {
        'id': item.id,
        'ticket_no': ticket_no or item.complaint.ticket_no,
        'party': item.party,
        'kind': item.kind,
        'description': mask_text(item.description),
        'filename': item.filename,
        'mime': item.mime,
        'size': item.size,
        'sha256': item.sha256,
        'text': evidence.display_text(item, actor),
        'created_at': to_iso(item.created_at),
        'supersedes': item.supersedes_id,
        'superseded_by': getattr(item, 'replaced_by', None),
        'request': item.request_id,
        'content_url': url_for('api.evidence.evidence_content', evidence_id=item.id),
        'thumbnail_url': url_for('evidence.thumbnail', evidence_id=item.id) if thumb else None,
    }


@bp.route('/complaints/<ticket_no>/evidence', methods=['POST'])
@operation(tag='evidence', responses={201: ('Evidence', 'Added.')}, errors=(400, 409, 413, 415, 422),
           extensions=_UPLOAD_BODY)
@authenticated()
def add_evidence(ticket_no):
    """Add evidence to a complaint: a file (multipart) or pasted text (JSON).

    The buyer (an integration key with X-On-Behalf-Of), the merchant's staff and the staff
    who may see the case add evidence; items are never edited or deleted, a correction names
    the item it `supersedes`. Parties add evidence while the case is open and before a ruling,
    during the evidence period (`evidence_due_at`), after it only against an open evidence
    `request` addressed to them, and after a ruling until `appeal_due_at`; otherwise 409.
    The type is taken from the content: 415 names the detected type. 413 above the limit.
    """
    user = api_user()
    complaint = get_visible(user, ticket_no)
    try:
        is_multipart = request.mimetype == 'multipart/form-data'
        if is_multipart:
            form = request.form
            upload = request.files.get('file')
            if upload is None:
                raise Invalid(_('Send the file in the multipart field "file".'),
                              fields={'file': _('is required')})
            item = evidence.submit_file(complaint, user, form.get('kind', ''), form.get('description', ''),
                                        upload.filename, upload.stream,
                                        supersedes=form.get('supersedes'), request=form.get('request'))
        else:
            if not request.is_json:
                raise Invalid(_('Send multipart/form-data with a file, or JSON with the pasted text.'))
            data = json_body()
            item = evidence.submit_text(complaint, user, data.get('kind'), data.get('description'),
                                        data.get('text'), supersedes=data.get('supersedes'),
                                        request=data.get('request'))
    except RequestEntityTooLarge:
        raise evidence.too_large_error() from None
    return jsonify(item_to_dict(item, user, complaint.ticket_no)), 201


@bp.route('/complaints/<ticket_no>/evidence', methods=['GET'])
@operation(tag='evidence', responses={200: 'EvidenceList'})
@authenticated()
def list_evidence(ticket_no):
    """List a complaint's evidence, oldest first (both parties and the staff see all of it;
    superseded items stay listed with `superseded_by`)."""
    user = api_user()
    complaint = get_visible(user, ticket_no)
    items = evidence.visible_items(complaint, user)
    return jsonify(items=[item_to_dict(i, user, complaint.ticket_no) for i in items])


@bp.route('/evidence/<int:evidence_id>/content', methods=['GET'])
@operation(tag='evidence', responses={}, extensions={'responses': {
    '200': {'description': 'The bytes, as an attachment, with the type sniffed at upload.',
            'content': {'application/octet-stream': {'schema': {'type': 'string', 'format': 'binary'}}}},
    '401': 'Unauthorized', '403': 'Forbidden', '404': 'NotFound'}})
@authenticated()
def evidence_content(evidence_id):
    """Download an evidence item's content (404 when the caller may not see its case).

    Sent as an attachment with `X-Content-Type-Options: nosniff`; pasted text as
    text/plain; charset=utf-8.
    """
    user = api_user()
    return send_item(evidence.item_for_download(evidence_id, user), user)


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(err):
    """A body over the app's cap is refused before it is read; say what the evidence limit is."""
    refusal = evidence.too_large_error()
    return error_response(413, refusal.message, 'too_large', refusal.fields,
                          limit_bytes=refusal.extra['limit_bytes'])
