"""Display names of lifecycle states, actions and timeline events, in the interface language.

Service messages ("a complaint that is … cannot …") and every console read them from here.
The consoles' own `event_label` macros keep their audience's phrasing for the events they
word differently (the buyer reads "You accepted the proposal") and fall back to
`EVENT_LABELS` for the rest.
"""
from flask_babel import lazy_gettext as _l

STATE_LABELS = {
    'self_service': _l('self-service'), 'negotiating': _l('negotiating with the merchant'),
    'awaiting_buyer': _l("waiting for the buyer's answer"), 'pending_agent': _l('waiting for an agent'),
    'in_progress': _l('being handled by an agent'), 'in_arbitration': _l('in arbitration'),
    'resolved': _l('resolved'), 'appealed': _l('under appeal'), 'closed': _l('closed'),
    'withdrawn': _l('withdrawn'), 'screening': _l('being reviewed by the platform'),
}

ACTION_LABELS = {
    'file': _l('file'), 'helped': _l('mark as helped'), 'not_helped': _l('ask for an agent'),
    'propose': _l('propose'), 'accept': _l('accept'), 'reject': _l('reject'), 'escalate': _l('escalate'),
    'claim': _l('claim'), 'resolve': _l('resolve'), 'request_evidence': _l('request evidence'),
    'evidence_done': _l('declare the evidence complete'), 'close_evidence': _l('close the evidence period'),
    'rule': _l('rule'), 'rate': _l('rate'), 'appeal': _l('appeal'), 'review': _l('review'),
    'reopen': _l('reopen'), 'withdraw': _l('withdraw'), 'edit': _l('edit'), 'message': _l('send a message'),
    'mark_external': _l('mark as filed externally'), 'urge': _l('urge'), 'reassign': _l('reassign'),
    'merchant_timeout': _l('time out the merchant'), 'buyer_timeout': _l('time out the buyer'),
    'close_timeout': _l('close on timeout'),
    'screen_accept': _l('accept after screening'), 'screen_reject': _l('reject after screening'),
    'flag_malicious': _l('flag as malicious'),
}

EVENT_LABELS = {
    'evidence_added': _l('Evidence added'),
    'evidence_period_opened': _l('Evidence period opened'),
    'evidence_period_over': _l('Evidence period over'),
    'evidence_requested': _l('Evidence requested'),
    'evidence_request_answered': _l('Evidence request answered'),
    'evidence_request_expired': _l('Evidence request expired'),
    'evidence_request_closed': _l('Evidence request closed'),
    'evidence_done': _l('A party declared its evidence complete'),
    'ruled': _l('Ruling'),
    'appealed': _l('Appeal filed'),
    'appeal_ruled': _l('Ruling on appeal'),
    'resolved': _l('Resolved by the platform'),
    'screen_accepted': _l('Accepted after review'),
    'screen_rejected': _l('Not accepted after review'),
    'flagged_malicious': _l('Flagged as malicious'),
    'rated': _l('Rated'),
    'reviewed': _l('Supervisor review'),
    'reopened': _l('Reopened'),
    'close_timeout': _l('Closed'),
    'rating_excluded': _l('Rating excluded from CSAT'),
    'review_overdue': _l('Supervisor review overdue'),
}


def state_label(state):
    return STATE_LABELS.get(state, state)


def action_label(action):
    return ACTION_LABELS.get(action, action)


def event_label(kind):
    return EVENT_LABELS.get(kind, kind)


def init_labels(app):
    app.jinja_env.globals['common_event_label'] = event_label
