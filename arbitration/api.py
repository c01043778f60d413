"""The dispute side over the API: remedy confirmation, and the proposals and remedies in
every complaint representation."""
from collections import defaultdict

from flask import jsonify

from desk.api import api_user, authenticated, bp
from desk.api.openapi import operation
from desk.complaint_queries import REPRESENTATION_EXTENSIONS, REPRESENTATION_PREFETCH
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


def _prefetch_negotiation(complaints):
    """The proposals and remedies of a whole listed page in two queries."""
    ids = [c.id for c in complaints]
    proposals, decided = defaultdict(list), defaultdict(list)
    if ids:
        for p in Proposal.select().where(Proposal.complaint.in_(ids)).order_by(Proposal.seq):
            proposals[p.complaint_id].append(p)
        for r in Remedy.select().where(Remedy.complaint.in_(ids)).order_by(Remedy.id):
            decided[r.complaint_id].append(r)
    for c in complaints:
        c.prefetched_negotiation = (proposals[c.id], decided[c.id])


def _negotiation(complaint, user):
    prefetched = getattr(complaint, 'prefetched_negotiation', None)
    if prefetched is not None:
        proposals, decided = prefetched
    else:
        proposals = Proposal.select().where(Proposal.complaint == complaint.id).order_by(Proposal.seq)
        decided = Remedy.select().where(Remedy.complaint == complaint.id).order_by(Remedy.id)
    return {
        'proposals': [{'seq': p.seq, 'type': p.kind, 'state': p.state, 'message': p.message,
                       'amount': to_yuan(p.amount_fen) if p.amount_fen is not None else None,
                       'created_at': to_iso(p.created_at)} for p in proposals],
        'remedies': [remedies.remedy_to_dict(r, complaint.ticket_no, complaint.order.order_no) for r in decided],
    }


REPRESENTATION_EXTENSIONS.append(_negotiation)
REPRESENTATION_PREFETCH.append(_prefetch_negotiation)
