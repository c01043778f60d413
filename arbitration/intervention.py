"""Platform intervention (SPEC §5): the evidence period, evidence requests addressed to one
party, the parties' "I have submitted all my evidence", and closing the period early.

Claiming a dispute (→ `in_arbitration`) opens the evidence period: `evidence_due_at` =
now + DESK_EVIDENCE_SECONDS, both parties notified with the deadline. The period is open
while `evidence_due_at` lies ahead; when it passes (the `evidence_due` deadline) or the owner
closes it early (both parties declared done) the column is cleared and the owner is told the
case can be ruled. An evidence request to the buyer pauses the SLA clocks until the buyer
submits evidence (`on_evidence_submitted`, called by the evidence service) or the request's
own deadline passes (`evidence_request_due`).
"""
import datetime as dt

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from desk.agent_desk import assignment, sla
from desk.cases import lifecycle, transitions
from desk.cases.access import buyer_users, merchant_users, relations
from desk.cases.models import Complaint, EvidenceDeclaration, EvidenceRequest
from desk.cases.timeline import record
from desk.cases.transitions import check, transition
from desk.core import clock, deadlines
from desk.core.db import atomic
from desk.core.errors import Invalid
from desk.core.labels import party_label
from desk.core.text_input import required_text
from desk.core.times import format_local, parse_datetime
from desk.messaging import notifications
from desk.messaging.notifications import notify

PARTIES = ('buyer', 'merchant')
NOTE_MAX = 1000
REQUEST_MIN_SECONDS = 3600            # an evidence request gives at least an hour
REQUEST_MAX_SECONDS = 14 * 86400      # and at most two weeks
REQUEST_DEFAULT_SECONDS = 24 * 3600

NOTICES = {
    'evidence_period_opened': (_l('%(ticket)s: submit your evidence by %(due)s'),
                               _l('The platform is arbitrating the case. Upload your evidence before '
                                  '%(due)s, then tell us you are done.')),
    'evidence_requested': (_l('%(ticket)s: the agent asks you for evidence'),
                           _l('%(note)s Please submit it before %(due)s.')),
    'evidence_declared': (_l('%(ticket)s: the %(party)s has submitted all evidence'),
                          _l('The %(party)s says all their evidence is in.')),
    'evidence_both_done': (_l('%(ticket)s: both parties are done with evidence'),
                           _l('Both parties declared their evidence complete: you may close the '
                              'evidence period and rule.')),
    'evidence_period_over': (_l('%(ticket)s can be ruled'),
                             _l('The evidence period of %(ticket)s is over; the case is ready for a ruling.')),
    'evidence_period_closed': (_l('%(ticket)s: the evidence period is closed'),
                               _l('The agent closed the evidence period; a ruling follows.')),
    'evidence_request_answered': (_l('%(ticket)s: the %(party)s sent the evidence you asked for'),
                                  _l('New evidence answers your request; the case is waiting on you again.')),
    'evidence_request_expired': (_l('%(ticket)s: an evidence request expired'),
                                 _l('The %(party)s did not answer the evidence request in time.')),
}


def evidence_round(complaint):
    """1 during the first arbitration, 2 on appeal."""
    return 2 if complaint.state == lifecycle.APPEALED else 1


def evidence_open(complaint, now):
    return complaint.evidence_due_at is not None and now < complaint.evidence_due_at


def declared_parties(complaint, round_=None):
    round_ = round_ or evidence_round(complaint)
    return {d.party for d in EvidenceDeclaration.select(EvidenceDeclaration.party).where(
        (EvidenceDeclaration.complaint == complaint.id) & (EvidenceDeclaration.round == round_))}


def open_requests(complaint, party=None):
    query = EvidenceRequest.select().where((EvidenceRequest.complaint == complaint.id) &
                                           EvidenceRequest.closed_at.is_null())
    if party:
        query = query.where(EvidenceRequest.party == party)
    return query.order_by(EvidenceRequest.id)


# --- guards -------------------------------------------------------------------------------

def _party_of(complaint, user):
    mine = relations(complaint, user)
    return next((p for p in PARTIES if p in mine), None)


def _guard_not_declared(complaint, user, now):
    party = _party_of(complaint, user)
    if complaint.state == lifecycle.IN_ARBITRATION and not evidence_open(complaint, now):
        return _('The evidence period is over.')
    if party in declared_parties(complaint):
        return _('You have already declared that all your evidence is submitted.')
    return None


def _guard_both_declared(complaint, user, now):
    if not evidence_open(complaint, now):
        return _('The evidence period is already over.')
    missing = [p for p in PARTIES if p not in declared_parties(complaint)]
    if missing:
        return _('The evidence period can be closed early only when both parties are done; '
                 'not yet declared: %(who)s.', who=', '.join(str(party_label(p, 'message')) for p in missing))
    return None


# --- the evidence period ----------------------------------------------------------------

def open_evidence_period(complaint, now):
    """Claiming a dispute opens the evidence period; both parties learn the deadline.

    The SLA clocks pause for the period: the platform waits on both parties by rule (a
    48-hour period inside a 24-hour resolution target would make every L2 dispute a breach
    of the agent's), and they run again when it ends or is closed early.
    """
    due = now + dt.timedelta(seconds=current_app.config['EVIDENCE_SECONDS'])
    Complaint.update(evidence_due_at=due).where(Complaint.id == complaint.id).execute()
    complaint.evidence_due_at = due
    deadlines.schedule('evidence_due', complaint.id, due)
    sla.pause(complaint, now)
    record(complaint, None, 'evidence_period_opened', {'due_at': due.isoformat()})
    notify('evidence_period_opened', buyer_users(complaint) + merchant_users(complaint),
           {'ticket': complaint.ticket_no, 'due': format_local(due)}, complaint,
           link=f'/buyer/complaints/{complaint.ticket_no}', sms=True)


def _evidence_due(complaint_id, now):
    """Deadline handler: the period ran out — clear it and tell the owner to rule."""
    complaint = Complaint.get_by_id(complaint_id)
    Complaint.update(evidence_due_at=None).where(Complaint.id == complaint_id).execute()
    complaint.evidence_due_at = None
    if complaint.state != lifecycle.IN_ARBITRATION:
        return
    _resume_if_not_waiting(complaint, now)
    record(complaint, None, 'evidence_period_over', {'reason': 'deadline'})
    notify('evidence_period_over', [complaint.owner_id], {'ticket': complaint.ticket_no}, complaint)


def _close_requests(complaint, now, reason):
    """Close every open request of the case; a buyer's clock pause ends with them."""
    closed = list(open_requests(complaint))
    if closed:
        (EvidenceRequest
         .update(closed_at=now, expire_at=None)
         .where(EvidenceRequest.id.in_([r.id for r in closed]))
         .execute())
        for r in closed:
            record(complaint, None, 'evidence_request_closed', {'request': r.id, 'party': r.party,
                                                                'reason': reason}, public=False)
    return closed


def _resume_if_not_waiting(complaint, now):
    """The SLA clocks run again once the evidence period is over and no request to the buyer
    waits for an answer."""
    if evidence_open(complaint, now):
        return
    if not open_requests(complaint, 'buyer').where(EvidenceRequest.answered_at.is_null()).exists():
        sla.resume(complaint, now)


def _request_due(request_id, now):
    """Deadline handler: the request's time is over and it closes; unanswered, it expired
    (and waiting on the buyer ends with it)."""
    request = EvidenceRequest.get_by_id(request_id)
    EvidenceRequest.update(expire_at=None).where(EvidenceRequest.id == request_id).execute()
    if request.closed_at is not None:
        return
    EvidenceRequest.update(closed_at=now).where(EvidenceRequest.id == request_id).execute()
    if request.answered_at is not None:
        return
    complaint = Complaint.get_by_id(request.complaint_id)
    record(complaint, None, 'evidence_request_expired', {'request': request.id, 'party': request.party})
    if request.party == 'buyer':
        _resume_if_not_waiting(complaint, now)
    notify('evidence_request_expired', [complaint.owner_id],
           {'ticket': complaint.ticket_no, 'party': str(party_label(request.party, 'message'))}, complaint)


def on_evidence_submitted(complaint, party, now=None):
    """A party submitted evidence: its unanswered open requests are answered, and when it
    was the buyer and nothing else waits for them, the SLA clocks resume. A request stays
    open until its own deadline, so an answer may take several files.

    Called by the evidence service inside the transaction that stores the item. Returns the
    requests answered.
    """
    now = now or clock.now()
    answered = list(open_requests(complaint, party).where(EvidenceRequest.answered_at.is_null()))
    if not answered:
        return []
    (EvidenceRequest
     .update(answered_at=now)
     .where(EvidenceRequest.id.in_([r.id for r in answered]))
     .execute())
    for r in answered:
        record(complaint, None, 'evidence_request_answered', {'request': r.id, 'party': party})
    if party == 'buyer':
        _resume_if_not_waiting(complaint, now)
    if complaint.owner_id:
        notify('evidence_request_answered', [complaint.owner_id],
               {'ticket': complaint.ticket_no, 'party': str(party_label(party, 'message'))}, complaint)
    return answered


# --- actions ------------------------------------------------------------------------------

def _request_due_at(data, now):
    """The request's own deadline from `due_in_seconds`, `due_in_hours` or `due_at`."""
    if data.get('due_at') not in (None, ''):
        due = parse_datetime(str(data['due_at']), 'due_at')
        seconds = (due - now).total_seconds()
        field = 'due_at'
    else:
        field = 'due_in_seconds' if 'due_in_seconds' in data else 'due_in_hours'
        raw = data.get(field)
        if raw in (None, ''):
            seconds = REQUEST_DEFAULT_SECONDS
        else:
            try:
                number = float(raw) if field == 'due_in_hours' else int(raw)
                if isinstance(raw, bool):
                    raise ValueError
            except (TypeError, ValueError):
                raise Invalid(_('Give the deadline as a number.'),
                              fields={field: _('must be a number')}) from None
            seconds = number * 3600 if field == 'due_in_hours' else number
    if not REQUEST_MIN_SECONDS <= seconds <= REQUEST_MAX_SECONDS:
        raise Invalid(_('An evidence request gives between 1 hour and 14 days.'),
                      fields={field: _('between 1 hour and 14 days from now')})
    return now + dt.timedelta(seconds=int(seconds))


def request_evidence(actor, complaint, data):
    """The owner asks one party for specific evidence, with its own deadline."""
    now = clock.now()
    check(complaint, actor, 'request_evidence', now)
    data = data or {}
    party = data.get('party')
    if party not in PARTIES:
        raise Invalid(_('Ask the buyer or the merchant.'), fields={'party': _('one of %(c)s', c='buyer, merchant')})
    note = required_text(data, 'note', NOTE_MAX)
    due = _request_due_at(data, now)
    with atomic():
        transition(complaint, 'request_evidence')
        req = EvidenceRequest.create(complaint=complaint.id, party=party, note=note, due_at=due,
                                     expire_at=due, created_by=actor.id, created_at=now)
        deadlines.schedule('evidence_request_due', req.id, due)
        if party == 'buyer':
            sla.pause(complaint, now)  # the platform waits on the buyer
        record(complaint, actor, 'evidence_requested', {'request': req.id, 'party': party, 'note': note,
                                                        'due_at': due.isoformat()})
        recipients = buyer_users(complaint) if party == 'buyer' else merchant_users(complaint)
        notify('evidence_requested', recipients,
               {'ticket': complaint.ticket_no, 'note': note, 'due': format_local(due)}, complaint,
               link=f'/buyer/complaints/{complaint.ticket_no}' if party == 'buyer' else None, sms=True)
    return req


def evidence_done(actor, complaint, data=None):
    """A party declares that it has submitted all its evidence (for this round)."""
    now = clock.now()
    check(complaint, actor, 'evidence_done', now)
    party = _party_of(complaint, actor)
    round_ = evidence_round(complaint)
    with atomic():
        transition(complaint, 'evidence_done')
        EvidenceDeclaration.create(complaint=complaint.id, party=party, round=round_, at=now)
        record(complaint, actor, 'evidence_done', {'party': party, 'round': round_}, actor_role=party)
        both = declared_parties(complaint, round_) >= set(PARTIES)
        recipients = [complaint.owner_id] if complaint.owner_id else []
        if recipients:
            notify('evidence_both_done' if both else 'evidence_declared', recipients,
                   {'ticket': complaint.ticket_no, 'party': str(party_label(party, 'message'))}, complaint)
    return complaint


def close_evidence(actor, complaint, data=None):
    """The owner closes the evidence period early (both parties declared done)."""
    now = clock.now()
    check(complaint, actor, 'close_evidence', now)
    with atomic():
        transition(complaint, 'close_evidence', evidence_due_at=None)
        _close_requests(complaint, now, 'period_closed')
        record(complaint, actor, 'evidence_period_over', {'reason': 'closed_early'})
        sla.resume(complaint, now)  # nothing is awaited from the parties any more
        notify('evidence_period_closed', buyer_users(complaint) + merchant_users(complaint),
               {'ticket': complaint.ticket_no}, complaint)
    return complaint


def init_app(app):
    notifications.TEMPLATES.update(NOTICES)
    transitions.GUARDS.update({'not_declared': _guard_not_declared, 'both_declared': _guard_both_declared})
    transitions.ACTIONS.update({'request_evidence': request_evidence, 'evidence_done': evidence_done,
                                'close_evidence': close_evidence})
    assignment.on_arbitration(open_evidence_period)
    deadlines.register('evidence_due', Complaint, Complaint.evidence_due_at, _evidence_due)
    deadlines.register('evidence_request_due', EvidenceRequest, EvidenceRequest.expire_at, _request_due)


def close_for_ruling(complaint, now):
    """Used by the ruling: no period or request stays open on a decided case."""
    if complaint.evidence_due_at is not None:
        Complaint.update(evidence_due_at=None).where(Complaint.id == complaint.id).execute()
        complaint.evidence_due_at = None
    _close_requests(complaint, now, 'ruled')


__all__ = ['on_evidence_submitted', 'open_evidence_period', 'request_evidence', 'evidence_done',
           'close_evidence', 'evidence_open', 'declared_parties', 'open_requests']
