"""What the parties see of the arbitration on their case pages (buyer portal, merchant
console): the evidence deadline and the requests addressed to them, "I have submitted all my
evidence", the ruling (outcome, remedy, clause, reasoning — in the interface language) and
the appeal form when an appeal is allowed.

The pages include `templates/arbitration/_ruling_panel.html`, which reads its data from the
`ruling_panel(case)` template global; its two forms post here and come back to the page.
"""
from flask import Blueprint, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from arbitration.intervention import evidence_open, evidence_round
from desk.cases.access import get_visible, relations
from desk.cases.models import Appeal, EvidenceDeclaration, EvidenceRequest, Ruling
from desk.cases.transitions import allowed_actions, take_action
from desk.core import clock
from desk.core.errors import DomainError
from web.auth import is_safe_next, roles_required

bp = Blueprint('arbitration_party', __name__, url_prefix='/arbitration')
PARTY_ROLES = ('buyer', 'merchant_staff')


def ruling_panel(case):
    """The panel's data for the current user (a party of `case`), or None for anyone else."""
    if not getattr(current_user, 'is_authenticated', False):
        return None
    mine = relations(case, current_user)
    party = 'buyer' if 'buyer' in mine else 'merchant' if 'merchant' in mine else None
    if party is None:
        return None
    now = clock.now()
    rulings = list(Ruling.select().where(Ruling.complaint == case.id).order_by(Ruling.round))
    if not case.being_arbitrated and not rulings:
        return None
    actions = allowed_actions(case, current_user, now)
    declared = (EvidenceDeclaration
                .select()
                .where((EvidenceDeclaration.complaint == case.id) & (EvidenceDeclaration.party == party) &
                       (EvidenceDeclaration.round == evidence_round(case)))
                .first())
    requests = list(EvidenceRequest
                    .select()
                    .where((EvidenceRequest.complaint == case.id) & (EvidenceRequest.party == party))
                    .order_by(EvidenceRequest.id))
    return {
        'party': party, 'actions': actions, 'now': now,
        'evidence_open': case.in_arbitration and evidence_open(case, now),
        'declared': declared, 'requests': requests,
        'rulings': rulings, 'active': next((r for r in rulings if r.active), None),
        'appeal': Appeal.get_or_none(Appeal.complaint == case.id),
        'next': request.path,
    }


def _back(case):
    target = request.form.get('next') or ''
    if is_safe_next(target):
        return redirect(target)
    if current_user.role == 'buyer':
        return redirect(url_for('portal.complaint', ticket_no=case.ticket_no))
    return redirect(url_for('merchant_complaints.case', ticket_no=case.ticket_no))


def _act(ticket_no, action, data, done):
    case = get_visible(current_user, ticket_no)
    try:
        take_action(current_user, case, action, data)
    except DomainError as err:
        details = '; '.join(f'{v}' for v in err.fields.values())
        flash(f'{err.message} {details}'.strip(), 'danger')
    else:
        flash(done, 'success')
    return _back(case)


@bp.route('/<ticket_no>/evidence-done', methods=['POST'])
@roles_required(*PARTY_ROLES)
def evidence_done(ticket_no):
    return _act(ticket_no, 'evidence_done', {},
                _('Thank you: the agent knows that all your evidence is in.'))


@bp.route('/<ticket_no>/appeal', methods=['POST'])
@roles_required(*PARTY_ROLES)
def appeal(ticket_no):
    return _act(ticket_no, 'appeal', {'reason': request.form.get('reason', '')},
                _('Your appeal was filed; a senior agent who did not make the ruling will decide.'))


def init_app(app):
    app.register_blueprint(bp)
    app.jinja_env.globals['ruling_panel'] = ruling_panel
