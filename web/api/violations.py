"""Merchant penalties over the API (SPEC §7): a merchant's appeal of a violation, the
supervisors' decision, manual violations, and the deposit ledger (statement and top-ups).

The rules are those of the services (`arbitration.penalties.penalty_appeals`,
`arbitration.penalties.manual_violations`, `arbitration.penalties.deposit`); a merchant key reaches only its own
merchant (another merchant's violation, appeal or ledger answers 404). The representations
of a violation, an appeal and a deposit entry are here, beside the endpoints that send them.
"""
from flask import Blueprint, jsonify, request
from flask_babel import gettext as _
from werkzeug.exceptions import RequestEntityTooLarge

from arbitration.evidence import too_large_error
from arbitration.penalties import deposit, penalty_appeals
from arbitration.penalties.manual_violations import record_manual
from arbitration.penalties.models import APPEAL_STATES, LEDGER_KINDS, VIOLATION_STATES, AppealEvidence
from desk.core.errors import Invalid, NotFound
from desk.core.money import parse_yuan, to_yuan
from desk.core.times import to_iso
from desk.parties.models import Merchant
from web.api.base import api_user, authenticated, json_body
from web.api.openapi import MONEY, TEXT, TIME, nullable, object_of, operation

bp = Blueprint('violations', __name__)

SIGNED_MONEY = {'type': 'string', 'pattern': r'^-?\d+\.\d{2}$', 'example': '-500.00',
                'description': 'signed yuan with two decimals'}
SCHEMAS = {
    'Violation': object_of({
        'id': {'type': 'integer'}, 'merchant': dict(TEXT, description='merchant ref'),
        'code': dict(TEXT, example='fake_delivery'), 'points': {'type': 'integer'}, 'fine': MONEY,
        'state': {'type': 'string', 'enum': list(VIOLATION_STATES)},
        'reason': nullable(TEXT), 'ticket_no': nullable(TEXT), 'at': TIME, 'expires_at': TIME,
        'ended_at': nullable(TIME),
        'appeal_due_at': dict(TIME, description='the merchant may appeal until then'),
        'appeal': nullable({'type': 'string', 'enum': list(APPEAL_STATES)}),
    }, ('id', 'merchant', 'code', 'points', 'fine', 'state', 'reason', 'ticket_no', 'at', 'expires_at',
        'ended_at', 'appeal_due_at', 'appeal')),
    'ViolationAppeal': object_of({
        'id': {'type': 'integer'}, 'violation': {'type': 'integer'},
        'state': {'type': 'string', 'enum': list(APPEAL_STATES)},
        'reason': TEXT, 'created_at': TIME, 'decided_at': nullable(TIME), 'decision_note': nullable(TEXT),
        'evidence': {'type': 'array', 'items': object_of({
            'id': {'type': 'integer'}, 'filename': nullable(TEXT), 'mime': TEXT, 'size': {'type': 'integer'}},
            ('id', 'filename', 'mime', 'size'))},
    }, ('id', 'violation', 'state', 'reason', 'created_at', 'decided_at', 'decision_note', 'evidence')),
    'ViolationAppealInput': object_of({'reason': dict(TEXT, maxLength=penalty_appeals.REASON_MAX)}, ('reason',)),
    'AppealDecisionInput': object_of({
        'decision': {'type': 'string', 'enum': list(penalty_appeals.DECISIONS)},
        'note': dict(TEXT, maxLength=penalty_appeals.NOTE_MAX)}, ('decision', 'note')),
    'ManualViolationInput': object_of({
        'points': {'type': 'integer', 'minimum': 0}, 'fine': dict(MONEY, description='yuan; default 0.00'),
        'reason': TEXT, 'ticket_no': dict(TEXT, description='the complaint it rests on (optional)')},
        ('points', 'reason')),
    'DepositEntry': object_of({
        'id': {'type': 'integer'}, 'kind': {'type': 'string', 'enum': list(LEDGER_KINDS)},
        'amount': SIGNED_MONEY, 'balance_after': SIGNED_MONEY,
        'violation': nullable({'type': 'integer'}), 'note': TEXT,
        'idempotency_key': nullable(TEXT), 'at': TIME,
    }, ('id', 'kind', 'amount', 'balance_after', 'violation', 'note', 'idempotency_key', 'at')),
    'DepositLedger': object_of({
        'merchant': TEXT, 'balance': SIGNED_MONEY,
        'on_hold': {'type': 'boolean', 'description': 'an uncovered fine: the shop is suspended until '
                                                      'a top-up brings the balance back to 0.00 or more'},
        'items': {'type': 'array', 'items': 'DepositEntry', 'description': 'newest first (at most 200)'},
    }, ('merchant', 'balance', 'on_hold', 'items')),
    'TopUpInput': object_of({'amount': dict(MONEY, description='more than 0.00'), 'note': TEXT}, ('amount',)),
}
PARAMETERS = {
    'IdempotencyKey': {'in': 'header', 'name': 'Idempotency-Key', 'required': False,
                       'schema': {'type': 'string', 'pattern': r'^[\x21-\x7e]{1,64}$'},
                       'description': 'a retry with the same key returns the first entry (200) and credits nothing'},
}
_APPEAL_BODY = {'requestBody': {'required': True, 'content': {
    'application/json': {'schema': {'$ref': '#/components/schemas/ViolationAppealInput'}},
    'multipart/form-data': {'schema': object_of({
        'reason': TEXT,
        'files': {'type': 'array', 'items': {'type': 'string', 'format': 'binary'},
                  'description': 'evidence: the file types and size limit of case evidence'}}, ('reason',))},
}}}


def violation_to_dict(violation, merchant_ref=None, appeal=None):
    return {
        'id': violation.id, 'merchant': merchant_ref or violation.merchant.ref, 'code': violation.code,
        'points': violation.points, 'fine': to_yuan(violation.fine_fen), 'state': violation.state,
        'reason': violation.reason, 'ticket_no': violation.complaint.ticket_no if violation.complaint_id else None,
        'at': to_iso(violation.at), 'expires_at': to_iso(violation.expires_at), 'ended_at': to_iso(violation.ended_at),
        'appeal_due_at': to_iso(penalty_appeals.appeal_deadline(violation)),
        'appeal': appeal.state if appeal is not None else None,
    }


def appeal_to_dict(row):
    return {'id': row.id, 'violation': row.violation_id, 'state': row.state, 'reason': row.reason,
            'created_at': to_iso(row.created_at), 'decided_at': to_iso(row.decided_at),
            'decision_note': row.decision_note,
            'evidence': [{'id': e.id, 'filename': e.filename, 'mime': e.mime, 'size': e.size}
                         for e in row.evidence.order_by(AppealEvidence.id)]}


def entry_to_dict(entry):
    """A deposit ledger entry (amounts as signed yuan strings)."""
    return {'id': entry.id, 'kind': entry.kind, 'amount': deposit.signed_yuan(entry.amount_fen),
            'balance_after': deposit.signed_yuan(entry.balance_after_fen),
            'violation': entry.violation_id, 'note': entry.note,
            'idempotency_key': entry.idempotency_key, 'at': to_iso(entry.at)}


def visible_merchant(user, ref):
    """The merchant `ref`; merchant keys reach only their own (404 otherwise)."""
    merchant = Merchant.get_or_none(Merchant.ref == ref)
    if merchant is None or (user.role == 'merchant_staff' and merchant.id != user.merchant_id):
        raise NotFound(_('No merchant %(ref)s.', ref=ref))
    return merchant


@bp.route('/violations/<int:violation_id>/appeal', methods=['POST'])
@operation(tag='penalties', responses={201: ('ViolationAppeal', 'Filed.')}, errors=(409, 413, 415, 422),
           extensions=_APPEAL_BODY)
@authenticated('merchant_staff')
def appeal_violation(violation_id):
    """Appeal a violation of your merchant (merchant keys), within 7 days of it.

    JSON `{reason}`, or multipart/form-data with `reason` and any number (at most 10) of
    `files`. 409 after the 7 days (the message names the deadline), for a second appeal and
    for a revoked or expired violation; another merchant's violation is 404."""
    user = api_user()
    try:
        if request.mimetype == 'multipart/form-data':
            reason = request.form.get('reason')
            files = [(f.filename, f.stream) for f in request.files.getlist('files')]
        else:
            reason, files = json_body().get('reason'), []
        row = penalty_appeals.appeal(user, violation_id, reason, files)
    except RequestEntityTooLarge:
        raise too_large_error() from None
    return jsonify(appeal_to_dict(row)), 201


@bp.route('/violation-appeals/<int:appeal_id>/decision', methods=['POST'])
@operation(tag='penalties', responses={200: 'ViolationAppeal'}, body='AppealDecisionInput', errors=(409, 422))
@authenticated('supervisor', 'admin')
def decide_violation_appeal(appeal_id):
    """Uphold or revoke a penalty appeal (supervisors).

    Revoking ends the violation, refunds its fine to the deposit and recomputes the merchant's
    standing. 409 when the appeal was decided already."""
    data = json_body()
    row = penalty_appeals.decide(api_user(), appeal_id, data.get('decision'), data.get('note'))
    return jsonify(appeal_to_dict(row))


@bp.route('/merchants/<ref>/violations', methods=['POST'])
@operation(tag='penalties', responses={201: ('Violation', 'Recorded.')}, body='ManualViolationInput',
           errors=(409, 422))
@authenticated('supervisor', 'admin')
def record_manual_violation(ref):
    """Record a manual violation (supervisors): points and fine chosen, a reason required.

    The fine is charged to the deposit ledger at once (an uncovered fine puts the shop on a
    deposit hold until topped up). Negative points or fine, or no reason: 422."""
    user = api_user()
    merchant = visible_merchant(user, ref)
    data = json_body()
    fine = data.get('fine')
    fine_fen = 0 if fine in (None, '') else parse_yuan(fine, 'fine')
    violation = record_manual(user, merchant, data.get('points'), fine_fen, data.get('reason'),
                              data.get('ticket_no'))
    return jsonify(violation_to_dict(violation, merchant.ref)), 201


@bp.route('/merchants/<ref>/deposit', methods=['GET'])
@operation(tag='penalties', responses={200: 'DepositLedger'})
@authenticated('merchant_staff', 'integration', 'agent', 'senior_agent', 'supervisor', 'admin')
def deposit_ledger(ref):
    """A merchant's deposit (保证金): balance, hold and the latest entries, newest first.

    Merchant keys read only their own merchant's (404 otherwise)."""
    merchant = visible_merchant(api_user(), ref)
    balance = deposit.balance_of(merchant.id)
    return jsonify(merchant=merchant.ref, balance=deposit.signed_yuan(balance), on_hold=balance < 0,
                   items=[entry_to_dict(e) for e in deposit.statement(merchant.id)])


@bp.route('/merchants/<ref>/deposit/top-ups', methods=['POST'])
@operation(tag='penalties', responses={201: ('DepositEntry', 'Credited.'),
                                       200: ('DepositEntry', 'A retry: the first entry, nothing credited.')},
           body='TopUpInput', errors=(409, 422), query=('IdempotencyKey',))
@authenticated('integration', 'admin')
def top_up_deposit(ref):
    """Credit a merchant's deposit (the marketplace integration, admins).

    Send an `Idempotency-Key` header to make retries safe. An amount of 0 or less: 422."""
    user = api_user()
    merchant = visible_merchant(user, ref)
    data = json_body()
    amount = parse_yuan(data.get('amount'), 'amount', allow_zero=False)
    key = request.headers.get('Idempotency-Key')
    if key is not None and not key.strip():
        raise Invalid(_('The Idempotency-Key header is empty.'), fields={'idempotency_key': _('is empty')})
    entry, created = deposit.top_up(user, merchant, amount, data.get('note'), key)
    return jsonify(entry_to_dict(entry)), 201 if created else 200
