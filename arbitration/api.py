"""The dispute side over the API: remedy confirmation, and the proposals and remedies in
every complaint representation."""
from flask import jsonify

from desk.api import api_user, authenticated, bp
from desk.api.openapi import operation
from desk.complaint_queries import REPRESENTATION_EXTENSIONS
from desk.money import to_yuan
from desk.times import to_iso

from arbitration import remedies
from arbitration.models import Proposal, Remedy


@bp.route('/remedies/<int:remedy_id>/confirm', methods=['POST'])
@operation(tag='remedies', responses={200: 'Remedy'})
@authenticated('integration', 'admin')
def confirm_remedy(remedy_id):
    """The marketplace executed the remedy; confirming again changes nothing."""
    remedy = remedies.confirm(api_user(), remedy_id)
    return jsonify(remedies.remedy_to_dict(remedy))


def _negotiation(complaint, user):
    proposals = Proposal.select().where(Proposal.complaint == complaint.id).order_by(Proposal.seq)
    decided = Remedy.select().where(Remedy.complaint == complaint.id).order_by(Remedy.id)
    return {
        'proposals': [{'seq': p.seq, 'type': p.kind, 'state': p.state, 'message': p.message,
                       'amount': to_yuan(p.amount_fen) if p.amount_fen is not None else None,
                       'created_at': to_iso(p.created_at)} for p in proposals],
        'remedies': [remedies.remedy_to_dict(r, complaint.ticket_no, complaint.order.order_no) for r in decided],
    }


REPRESENTATION_EXTENSIONS.append(_negotiation)
