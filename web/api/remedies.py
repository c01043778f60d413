"""The dispute side over the API: remedy confirmation, and the proposals and remedies in
every complaint representation."""
from collections import defaultdict

from flask import jsonify

from desk.cases import remedies
from desk.cases.models import Proposal, Remedy
from desk.cases.queries import REPRESENTATION_EXTENSIONS, REPRESENTATION_PREFETCH
from desk.core.money import to_yuan
from desk.core.times import to_iso
from web.api import api_user, authenticated, bp
from web.api.openapi import operation


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


# --- rulings ------------------------------------------------------------------------------

def _prefetch_rulings(complaints):
    """The active ruling and whether an appeal exists, for a whole listed page in two queries."""
    from desk.cases.models import Appeal, Ruling
    ids = [c.id for c in complaints]
    active, appealed = {}, set()
    if ids:
        for r in Ruling.select().where(Ruling.complaint.in_(ids) & (Ruling.active == True)):  # noqa: E712
            active[r.complaint_id] = r
        appealed = {a.complaint_id for a in Appeal.select(Appeal.complaint).where(Appeal.complaint.in_(ids))}
    for c in complaints:
        c.prefetched_ruling = (active.get(c.id),)
        c.prefetched_appealed = c.id in appealed


def _ruling(complaint, user):
    from arbitration.rulings import active_ruling, ruling_to_dict
    prefetched = getattr(complaint, 'prefetched_ruling', None)
    ruling = prefetched[0] if prefetched is not None else active_ruling(complaint)
    return {'ruling': ruling_to_dict(ruling) if ruling is not None else None}


REPRESENTATION_EXTENSIONS.append(_ruling)
REPRESENTATION_PREFETCH.append(_prefetch_rulings)


@bp.route('/complaints/<ticket_no>/rulings', methods=['GET'])
@operation(tag='complaints', responses={200: 'RulingList'})
@authenticated()
def complaint_rulings(ticket_no):
    """Every ruling of a complaint, first round first, and its appeal (both parties and staff
    see them all: the reasoning is shown to both parties)."""
    from arbitration.rulings import ruling_to_dict
    from desk.cases.access import get_visible
    from desk.cases.models import Appeal, Ruling
    complaint = get_visible(api_user(), ticket_no)
    items = [ruling_to_dict(r) for r in Ruling.select().where(Ruling.complaint == complaint.id).order_by(Ruling.round)]
    appeal = Appeal.get_or_none(Appeal.complaint == complaint.id)
    return jsonify(items=items, appeal=None if appeal is None else {
        'party': appeal.party, 'reason': appeal.reason, 'created_at': to_iso(appeal.created_at),
        'decided_at': to_iso(appeal.decided_at), 'changed': appeal.changed})
