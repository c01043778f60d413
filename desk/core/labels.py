"""The one catalogue of display labels: every stored value a person reads (complaint states,
timeline events, demands, proposals, remedies, evidence, rulings, ratings, reviews, orders,
accounts, SLA clocks) is worded here once, translated (lazy_gettext), and read from here by the
services that word a message and by every template (`init_labels` makes each `*_label`
function a Jinja global). A template never keeps a second dict of the same labels.

Each vocabulary has a default wording (how the staff consoles show the value) and, where an
audience reads the value differently, that audience's own wording, looked up first:

- `buyer`, `merchant`: the parties' pages ("Waiting for your answer" is the buyer's
  `awaiting_buyer` and the merchant's `negotiating`);
- `message`: the value inside a sentence (lower case): service messages, notices, flashes.

`state_label(case.state, 'buyer')`; a value the vocabulary does not know is shown as it is.
Names the database stores in both languages (category names, rule clause titles) are read in
the interface language by `category_label` and `clause_title`.
"""
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l


class Vocabulary:
    """The labels of one kind of stored value: a default wording and each audience's own."""

    def __init__(self, default, **audiences):
        self.default = default
        self.audiences = audiences

    def __call__(self, value, audience=None):
        label = self.audiences.get(audience, {}).get(value)
        return self.default.get(value, value) if label is None else label

    def choices(self, values, audience=None):
        """(value, label) pairs for a select."""
        return [(value, self(value, audience)) for value in values]

    def items(self, audience=None):
        """(value, label) of every value the vocabulary words, in its order."""
        return self.choices(self.default, audience)


STATES = Vocabulary(
    {'self_service': _l('Self-service answer'), 'negotiating': _l('Waiting for the merchant'),
     'awaiting_buyer': _l('Waiting for the buyer'), 'pending_agent': _l('Waiting for an agent'),
     'in_progress': _l('In progress'), 'in_arbitration': _l('In arbitration'), 'resolved': _l('Resolved'),
     'appealed': _l('Under appeal'), 'closed': _l('Closed'), 'withdrawn': _l('Withdrawn'),
     'screening': _l('Waiting for the pre-screen')},
    buyer={'awaiting_buyer': _l('Waiting for your answer'), 'in_progress': _l('An agent is handling it'),
           'in_arbitration': _l('Platform arbitration'), 'screening': _l('Being reviewed by the platform')},
    merchant={'negotiating': _l('Waiting for your answer'), 'in_progress': _l('An agent is handling it')},
    message={'self_service': _l('self-service'), 'negotiating': _l('negotiating with the merchant'),
             'awaiting_buyer': _l("waiting for the buyer's answer"), 'pending_agent': _l('waiting for an agent'),
             'in_progress': _l('being handled by an agent'), 'in_arbitration': _l('in arbitration'),
             'resolved': _l('resolved'), 'appealed': _l('under appeal'), 'closed': _l('closed'),
             'withdrawn': _l('withdrawn'), 'screening': _l('being reviewed by the platform')},
)

ACTIONS = Vocabulary({
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
})

#: Timeline events every reader words alike (staff read `message` as a public reply).
_EVENTS_OF_THE_FILING = {
    'filed': _l('Complaint filed'), 'message': _l('Message'), 'edited': _l('Complaint updated'),
    'withdrawn': _l('Complaint withdrawn'), 'marked_external': _l('Also filed externally'),
    'helped': _l('The answer helped'), 'not_helped': _l('Handed to an agent'),
}
#: Negotiation events both parties read alike.
_EVENTS_OF_THE_NEGOTIATION = {
    'escalated': _l('The platform was asked to step in'),
    'remedy_created': _l('Remedy sent to the marketplace'),
    'remedy_confirmed': _l('The marketplace carried out the remedy'),
}
EVENTS = Vocabulary(
    {'evidence_added': _l('Evidence added'), 'evidence_period_opened': _l('Evidence period opened'),
     'evidence_period_over': _l('Evidence period over'), 'evidence_requested': _l('Evidence requested'),
     'evidence_request_answered': _l('Evidence request answered'),
     'evidence_request_expired': _l('Evidence request expired'),
     'evidence_request_closed': _l('Evidence request closed'),
     'evidence_done': _l('A party declared its evidence complete'), 'ruled': _l('Ruling'),
     'appealed': _l('Appeal filed'), 'appeal_ruled': _l('Ruling on appeal'),
     'resolved': _l('Resolved by the platform'), 'screen_accepted': _l('Accepted after review'),
     'screen_rejected': _l('Not accepted after review'), 'flagged_malicious': _l('Flagged as malicious'),
     'rated': _l('Rated'), 'reviewed': _l('Supervisor review'), 'reopened': _l('Reopened'),
     'close_timeout': _l('Closed'), 'rating_excluded': _l('Rating excluded from CSAT'),
     'review_overdue': _l('Supervisor review overdue')},
    staff={**_EVENTS_OF_THE_FILING, 'message': _l('Public reply'), 'internal_note': _l('Internal note'),
           'claimed': _l('Claimed'), 'assigned': _l('Assigned automatically'), 'reassigned': _l('Reassigned'),
           'window_overridden': _l('Opened after the complaint window')},
    buyer={**_EVENTS_OF_THE_FILING, **_EVENTS_OF_THE_NEGOTIATION,
           'claimed': _l('An agent took over your case'), 'assigned': _l('An agent took over your case'),
           'proposed': _l('The merchant made a proposal'), 'accepted': _l('You accepted the proposal'),
           'rejected': _l('You rejected the proposal'),
           'buyer_timeout': _l('No answer in time: the proposal counts as accepted'), 'urged': _l('Urged'),
           'merchant_timeout': _l('The merchant did not answer in time; the platform took over'),
           'screen_accepted': _l('The platform accepted your complaint'),
           'screen_rejected': _l('The platform did not accept your complaint')},
    merchant={**_EVENTS_OF_THE_FILING, **_EVENTS_OF_THE_NEGOTIATION,
              'claimed': _l('An agent took over the case'), 'assigned': _l('An agent took over the case'),
              'proposed': _l('Proposal sent'), 'accepted': _l('The buyer accepted the proposal'),
              'rejected': _l('The buyer rejected the proposal'),
              'buyer_timeout': _l('No answer from the buyer: the proposal counts as accepted'),
              'urged': _l('The buyer urged'), 'merchant_timeout': _l('The time to answer ran out')},
)

DEMANDS = Vocabulary({
    'full_refund': _l('Full refund'), 'partial_refund': _l('Partial refund'), 'reissue': _l('Reissue the goods'),
    'compensation': _l('Compensation'), 'fix': _l('Repair / fix'), 'other': _l('Other'),
})

#: The facts a category asks for at filing (Category.scenario_fields), as the form and the
#: case pages name them.
SCENARIO_FIELDS = Vocabulary(
    {'receiving_account': _l('Account that should have received the recharge'),
     'minutes_late': _l('Minutes late'), 'error_message': _l('Error message shown when using the code'),
     'refund_requested_at': _l('When the buyer asked for the refund'),
     'occurred_at': _l('When the fault happened')},
    buyer={'refund_requested_at': _l('When you asked for the refund')},
)

EXTERNAL = Vocabulary({'12315': '12315', 'heimao': _l('Heimao complaints (黑猫投诉)')})

CHANNELS = Vocabulary({
    'app': _l('App'), 'web': _l('Web'), 'api': _l('Marketplace API'), 'phone': _l('Phone call'),
    'wechat': _l('WeChat'), 'qq': 'QQ',
})

PROPOSAL_KINDS = Vocabulary(
    {'refund': _l('Refund'), 'reissue': _l('Reissue the goods'), 'compensation': _l('Compensation'),
     'reject': _l('Reject the complaint')},
    buyer={'reject': _l('The merchant rejects the complaint')},
)

PROPOSAL_STATES = Vocabulary(
    {'pending': _l('Waiting for the buyer'), 'accepted': _l('Accepted'), 'rejected': _l('Rejected'),
     'superseded': _l('Set aside: the platform stepped in')},
    buyer={'pending': _l('Waiting for your answer')},
)

#: What a ruling or a resolution orders (Ruling.remedy); `Remedy.kind` is one of the first three.
REMEDY_KINDS = Vocabulary({
    'refund': _l('refund'), 'reissue': _l('reissue'), 'compensation': _l('compensation coupon'),
    'none': _l('no remedy'),
})

REMEDY_STATES = Vocabulary(
    {'pending': _l('Waiting for the marketplace'), 'confirmed': _l('Carried out')},
    buyer={'pending': _l('Being carried out'), 'confirmed': _l('Done')},
)

EVIDENCE_KINDS = Vocabulary({
    'order_screenshot': _l('Order screenshot'), 'payment_proof': _l('Payment proof'),
    'chat_log': _l('Chat log'), 'screen_recording': _l('Screen recording'),
    'error_screenshot': _l('Error screenshot'), 'delivery_log': _l('Delivery log'), 'other': _l('Other'),
})

#: Who submitted evidence, asked for it, declared or appealed.
PARTIES = Vocabulary(
    {'buyer': _l('Buyer'), 'merchant': _l('Merchant'), 'staff': _l('Platform')},
    message={'buyer': _l('buyer'), 'merchant': _l('merchant')},
)

RULING_OUTCOMES = Vocabulary({
    'buyer_full': _l('buyer wins in full'), 'buyer_partial': _l('buyer wins in part'),
    'merchant': _l('merchant wins'), 'split': _l('responsibility split'),
})

RESPONSIBILITIES = Vocabulary({
    'merchant': _l('the merchant'), 'buyer': _l('the buyer'), 'platform': _l('the platform'),
    'third_party': _l('a third party'),
})

RATING_TAGS = Vocabulary({
    'slow': _l('Too slow'), 'unfair': _l('Unfair'), 'rude': _l('Rude'), 'not_resolved': _l('Not resolved'),
    'good': _l('Good service'),
})

REVIEW_FINDINGS = Vocabulary({
    'agent_fault': _l('Agent at fault'), 'policy_gap': _l('Gap in the rules'),
    'merchant_fault': _l('Merchant at fault'), 'buyer_unreasonable': _l('Buyer unreasonable'),
})

REVIEW_STATES = Vocabulary({'open': _l('Open'), 'done': _l('Done')})

REVIEW_ACTIONS = Vocabulary({
    'uphold': _l('Uphold'), 'reopen': _l('Reopen to a senior agent'),
    'compensate': _l('Compensate the buyer (coupon)'), 'coach': _l('Coach the agent'),
})

CREDIT_REASONS = Vocabulary({
    'ruled_buyer': _l('Ruled responsible'),
    'ruling_restored': _l('A later ruling no longer holds the buyer responsible'),
    'malicious': _l('Flagged as malicious'), 'monthly_recovery': _l('Clean month'),
})

GOODS_TYPES = Vocabulary({
    'game_card': _l('Game card'), 'phone_recharge': _l('Phone recharge'), 'gift_card': _l('Gift card'),
    'game_account': _l('Game account'), 'other': _l('Other'),
})

PAYMENT_METHODS = Vocabulary({
    'alipay': _l('Alipay'), 'wechat': _l('WeChat Pay'), 'bank': _l('Bank card'), 'balance': _l('Balance'),
})

ROLES = Vocabulary({
    'buyer': _l('Buyer'), 'merchant_staff': _l('Merchant staff'), 'agent': _l('Agent'),
    'senior_agent': _l('Senior agent'), 'supervisor': _l('Supervisor'), 'admin': _l('Administrator'),
    'integration': _l('Integration'),
})

DEPARTMENTS = Vocabulary({'cs': _l('Customer service'), 'ops': _l('Operations'), 'tech': _l('Technology')})

AGENT_STATUSES = Vocabulary(
    {'online': _l('Online'), 'away': _l('Away'), 'offline': _l('Offline')},
    message={'online': _l('online'), 'away': _l('away'), 'offline': _l('offline')},
)

SLA_TARGETS = Vocabulary({'first_response': _l('First response'), 'resolution': _l('Resolution')})

SLA_CLOCK_STATES = Vocabulary({
    'running': _l('Running'), 'paused': _l('Paused'), 'achieved': _l('Achieved'), 'breached': _l('Breached'),
    'cancelled': _l('Cancelled'),
})

#: The agent queue's flags (desk.agent_desk.queue.FLAGS).
QUEUE_FLAGS = Vocabulary({
    'overdue': _l('Overdue'), 'external': _l('Filed externally'), 'unassigned': _l('Unassigned'),
    'needs_payment_proof': _l('Needs payment proof'),
})

#: A merchant's standing level, by the code of the level table (arbitration.penalties.standing).
STANDING_LEVELS = Vocabulary({
    'normal': _l('Normal'), 'warning': _l('Warning, search demotion'), 'no_listing': _l('No new listings'),
    'suspended': _l('Shop suspended'), 'cleared': _l('Cleared (清退)'),
})

VIOLATION_STATES = Vocabulary({'active': _l('active'), 'expired': _l('expired'), 'revoked': _l('revoked')})

state_label = STATES
action_label = ACTIONS
event_label = EVENTS
demand_label = DEMANDS
scenario_label = SCENARIO_FIELDS
external_label = EXTERNAL
channel_label = CHANNELS
proposal_kind_label = PROPOSAL_KINDS
proposal_state_label = PROPOSAL_STATES
remedy_label = REMEDY_KINDS
remedy_state_label = REMEDY_STATES
evidence_kind_label = EVIDENCE_KINDS
party_label = PARTIES
outcome_label = RULING_OUTCOMES
responsibility_label = RESPONSIBILITIES
rating_tag_label = RATING_TAGS
finding_label = REVIEW_FINDINGS
review_state_label = REVIEW_STATES
review_action_label = REVIEW_ACTIONS
credit_reason_label = CREDIT_REASONS
goods_type_label = GOODS_TYPES
payment_method_label = PAYMENT_METHODS
role_label = ROLES
agent_status_label = AGENT_STATUSES
sla_target_label = SLA_TARGETS
clock_state_label = SLA_CLOCK_STATES
queue_flag_label = QUEUE_FLAGS
standing_level_label = STANDING_LEVELS
violation_state_label = VIOLATION_STATES


def department_label(code):
    """A department's name; '—' for none (a case or an agent without one)."""
    return DEPARTMENTS(code) if code else '—'


# --- names stored in both languages --------------------------------------------------------

def in_interface_language(zh, en):
    """The Chinese or the English of a name the database stores in both."""
    locale = get_locale()
    return en if locale is not None and locale.language == 'en' else zh


def category_label(category):
    """A complaint category's name (a `Category` row) in the interface language."""
    return in_interface_language(category.name_zh, category.name_en) if category is not None else ''


def clause_title(clause):
    """A rule clause's title (a `RuleClause` row) in the interface language; '' for none."""
    return in_interface_language(clause.title_zh, clause.title_en) if clause is not None else ''


#: What `init_labels` gives every template.
GLOBALS = {name: value for name, value in globals().items()
           if name.endswith('_label') or name == 'clause_title'}


def init_labels(app):
    app.jinja_env.globals.update(GLOBALS)
