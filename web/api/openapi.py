"""The OpenAPI 3 document of the REST API, served without authentication at /api/openapi.json.

Generated, not hand-typed: apispec assembles it from
- the app's URL map: every rule under /api/v1 whose view carries an `@operation(...)`
  annotation becomes a path (methods and path parameters from the rule);
- the annotation (tag, request body, responses, extra errors, query parameters) and the
  view's docstring (first line: summary; the rest: description);
- desk.cases.lifecycle: the `action` enum, and one request body per action whose description
  says from which states and by whom the action is taken (and whether it is built yet);
- the model constants (states, tiers, demand types, ...) for every enum below.

How to add an endpoint to the document:
1. write the view as usual in web/api/<module>.py (`@bp.route`, `@authenticated`);
2. annotate it with `@operation(tag=..., body=..., responses={status: schema}, errors=(...),
   query=(...))` from this module and give it a docstring;
3. put any new representation into SCHEMAS (and, for a response, a test in
   tests/test_openapi.py that its required keys are the keys the API really returns).
Bearer security, the X-On-Behalf-Of header and the 401/403/404 answers every authenticated
call can give are added to each operation automatically. tests/test_openapi.py fails for
any rule under /api/v1 without `@operation`, and for a lifecycle action without an entry in
ACTION_BODIES, so neither can be forgotten.
"""
import re

from apispec import APISpec, BasePlugin
from flask import current_app, jsonify

from desk.agent_desk.queue import FLAGS, QUEUE_FILTER_STATES
from desk.cases import lifecycle
from desk.cases.lifecycle import STATES
from desk.cases.models import CHANNELS, DEADLINES, DEMAND_TYPES, EXTERNAL, TIERS
from desk.orders.models import GOODS_TYPES, PAYMENT_METHODS
from desk.parties.models import AGENT_STATUSES, DEPARTMENTS

API_PREFIX = '/api/v1'
DOCUMENT_URL = '/api/openapi.json'
OPENAPI_VERSION = '3.0.3'
API_VERSION = '1.0'
ATTRIBUTE = '__openapi__'
#: The actions a client may post (filing has its own endpoint; timers are never callable).
CALLABLE_ACTIONS = tuple(a for a in lifecycle.ACTIONS
                         if a != 'file' and a not in lifecycle.TIMER_ACTIONS)


# --- the annotation -----------------------------------------------------------------------

def operation(*, tag, responses, body=None, body_required=True, errors=(), query=(), auth=True,
              extensions=None):
    """Describe a view for the OpenAPI document; the view itself is returned unchanged.

    `responses` maps success statuses to a schema name (or to (schema name, description));
    `body` names the request body schema (`body_required=False`: it may be left out);
    `errors` lists the error statuses beyond the
    401/403/404 of every authenticated call; `query` names parameters from PARAMETERS.
    """
    meta = {'tag': tag, 'responses': dict(responses), 'body': body,
            'body_required': body_required, 'errors': tuple(errors),
            'query': tuple(query), 'auth': auth, 'extensions': dict(extensions or {})}

    def decorator(view):
        setattr(view, ATTRIBUTE, meta)
        return view
    return decorator


# --- reusable pieces ----------------------------------------------------------------------

def _nullable(schema):
    """`schema` or null (OpenAPI 3.0: an enum must then list null too)."""
    schema = dict(schema, nullable=True)
    if 'enum' in schema and None not in schema['enum']:
        schema['enum'] = list(schema['enum']) + [None]
    return schema


MONEY = {'type': 'string', 'pattern': r'^\d+\.\d{2}$', 'example': '49.90',
         'description': 'yuan with two decimals'}
TIME = {'type': 'string', 'format': 'date-time', 'example': '2026-11-24T18:00:00+08:00',
        'description': 'ISO 8601 with the offset of the desk\'s time zone'}
TIME_INPUT = {'type': 'string', 'format': 'date-time', 'example': '2026-11-24T18:00:00+08:00',
              'description': 'ISO 8601; without an offset it is read in the desk\'s time zone'}
TEXT = {'type': 'string'}

ERROR_CODES = {400: 'bad_request', 401: 'unauthorized', 403: 'forbidden', 404: 'not_found',
               409: 'conflict', 413: 'too_large', 415: 'unsupported_media_type', 422: 'invalid'}
ERROR_RESPONSES = {
    400: ('BadRequest', 'The request could not be understood.'),
    401: ('Unauthorized', 'No API key, or an unknown or revoked one.'),
    403: ('Forbidden', 'The caller may never do this (role, relation to the case, timer '
                       'actions, X-On-Behalf-Of sent by a key that is not an integration key).'),
    404: ('NotFound', 'Unknown, or not visible to the caller (existence is never leaked); '
                      'also an unknown buyer in X-On-Behalf-Of or an unknown action.'),
    409: ('Conflict', 'Allowed in general but not now: the state, a closed window, an action '
                      'not available yet, a concurrent change, or an open complaint on the '
                      'order (its `ticket_no` is in the error).'),
    413: ('TooLarge', 'The request body is too large (an evidence file: above the limit).'),
    415: ('UnsupportedMediaType', 'A file of a type that is not accepted; `detected_type` names '
                                  'the type found in its content.'),
    422: ('Invalid', 'Invalid input; `fields` maps each bad field to a message.'),
}
#: Every authenticated call can answer these (bad key, X-On-Behalf-Of misuse or unknown buyer).
AUTH_ERRORS = (401, 403, 404)

PARAMETERS = {
    'OnBehalfOf': {
        'in': 'header', 'name': 'X-On-Behalf-Of', 'required': False, 'schema': TEXT,
        'description': 'Integration keys only: the `ref` of the buyer to act for. The call is '
                       'then treated as that buyer\'s (403 for other keys, 404 for an '
                       'unknown buyer).'},
    'state': {'in': 'query', 'name': 'state', 'schema': {'type': 'string', 'enum': list(STATES)}},
    'tier': {'in': 'query', 'name': 'tier', 'schema': {'type': 'string', 'enum': list(TIERS)}},
    'category': {'in': 'query', 'name': 'category', 'schema': TEXT, 'description': 'category code'},
    'merchant': {'in': 'query', 'name': 'merchant', 'schema': TEXT, 'description': 'merchant ref'},
    'buyer': {'in': 'query', 'name': 'buyer', 'schema': TEXT, 'description': 'buyer ref'},
    'created_from': {'in': 'query', 'name': 'created_from', 'schema': TIME_INPUT,
                     'description': 'filed at or after'},
    'created_to': {'in': 'query', 'name': 'created_to', 'schema': TIME_INPUT,
                   'description': 'filed before'},
    'limit': {'in': 'query', 'name': 'limit',
              'schema': {'type': 'integer', 'minimum': 1, 'maximum': 100, 'default': 50}},
    'cursor': {'in': 'query', 'name': 'cursor', 'schema': TEXT,
               'description': '`next_cursor` of the previous page'},
    'department': {'in': 'query', 'name': 'department',
                   'schema': {'type': 'string', 'enum': list(DEPARTMENTS)},
                   'description': 'required for supervisors, admins and the integration; '
                                  'agents see their own department'},
    'queue_state': {'in': 'query', 'name': 'state',
                    'schema': {'type': 'string', 'enum': list(QUEUE_FILTER_STATES)}},
    'owner': {'in': 'query', 'name': 'owner', 'schema': TEXT, 'description': 'agent username'},
    'flag': {'in': 'query', 'name': 'flag', 'schema': {'type': 'string', 'enum': list(FLAGS)}},
}

PATH_PARAMETERS = {
    'order_no': {'schema': {'type': 'string', 'pattern': r'^[A-Za-z0-9_-]{1,64}$'},
                 'description': 'the marketplace\'s order number', 'example': 'O20261124001'},
    'ticket_no': {'schema': TEXT, 'description': 'the complaint\'s ticket number',
                  'example': 'TS20261124-000123'},
    'action': {'schema': {'type': 'string', 'enum': list(CALLABLE_ACTIONS)},
               'description': 'a lifecycle action (see docs/lifecycle.md); the body depends on '
                              'it (x-action-bodies). The timer actions '
                              + ', '.join(lifecycle.TIMER_ACTIONS) + ' answer 403; an unknown '
                              'action 404.'},
}


# --- schemas ------------------------------------------------------------------------------

def _object(properties, required=(), **extra):
    schema = {'type': 'object', 'properties': properties}
    if required:
        schema['required'] = list(required)
    schema.update(extra)
    return schema


PARTY = _object({'ref': TEXT, 'name': TEXT}, ('ref', 'name'))
DEMAND_INPUT = _object({'type': {'type': 'string', 'enum': list(DEMAND_TYPES)},
                        'amount': dict(MONEY, description='partial_refund and compensation only; '
                                                          'at most the order amount')},
                       ('type',))
REMEDY_INPUT = _object({'type': {'type': 'string', 'enum': ['refund', 'reissue', 'compensation', 'none']},
                        'amount': MONEY}, ('type',))

SCHEMAS = {
    'Error': _object({'error': _object({
        'code': {'type': 'string', 'enum': sorted(set(ERROR_CODES.values()))},
        'message': dict(TEXT, description='for people, in the language asked for'),
        'fields': {'type': 'object', 'additionalProperties': TEXT,
                   'description': 'each bad field and what is wrong with it'},
    }, ('code', 'message'), additionalProperties=True,
        description='extra keys give context, e.g. `ticket_no` of the open complaint')}, ('error',)),
    'Order': _object({
        'order_no': TEXT,
        'buyer': _object({'ref': TEXT, 'name': TEXT,
                          'phone': dict(TEXT, description='masked, e.g. 138****1234; empty when unknown')},
                         ('ref', 'name', 'phone')),
        'merchant': PARTY,
        'product': TEXT,
        'sku': _nullable(TEXT),
        'goods_type': {'type': 'string', 'enum': list(GOODS_TYPES)},
        'amount': MONEY,
        'paid_at': TIME,
        'delivered_at': _nullable(TIME),
        'confirmed_at': _nullable(TIME),
        'payment_method': {'type': 'string', 'enum': list(PAYMENT_METHODS)},
        'receiving_account': _nullable(TEXT),
        'region': _nullable(TEXT),
        'card_code': dict(TEXT, description='masked: ****1234, empty when none was sent'),
        'created_at': TIME,
        'updated_at': TIME,
    }, ('order_no', 'buyer', 'merchant', 'product', 'sku', 'goods_type', 'amount', 'paid_at',
        'delivered_at', 'confirmed_at', 'payment_method', 'receiving_account', 'region',
        'card_code', 'created_at', 'updated_at')),
    'OrderInput': _object({
        'buyer': _object({'ref': TEXT, 'name': TEXT, 'phone': TEXT}, ('ref', 'name')),
        'merchant': PARTY,
        'product': TEXT,
        'sku': TEXT,
        'goods_type': {'type': 'string', 'enum': list(GOODS_TYPES)},
        'amount': MONEY,
        'paid_at': TIME_INPUT,
        'delivered_at': TIME_INPUT,
        'confirmed_at': TIME_INPUT,
        'payment_method': {'type': 'string', 'enum': list(PAYMENT_METHODS)},
        'receiving_account': TEXT,
        'region': dict(TEXT, description='province'),
        'card_code': dict(TEXT, description='kept only as its last 4 characters and a hash'),
    }, ('buyer', 'merchant', 'product', 'goods_type', 'amount', 'paid_at', 'payment_method')),
    'ComplaintInput': _object({
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
        'evidence': {'type': 'array', 'maxItems': 10, 'items': _object({
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
    'Complaint': _object({
        'ticket_no': TEXT,
        'order_no': TEXT,
        'category': TEXT,
        'tier': {'type': 'string', 'enum': list(TIERS)},
        'department': {'type': 'string', 'enum': list(DEPARTMENTS)},
        'state': {'type': 'string', 'enum': list(STATES)},
        'owner': _nullable(dict(TEXT, description='username of the owning agent')),
        'facts': TEXT,
        'scenario': {'type': 'object', 'additionalProperties': True},
        'demand': _object({'type': {'type': 'string', 'enum': list(DEMAND_TYPES)},
                           'amount': _nullable(MONEY)}, ('type', 'amount')),
        'basis': _nullable(TEXT),
        'channel': {'type': 'string', 'enum': list(CHANNELS)},
        'external': {'type': 'array', 'items': {'type': 'string', 'enum': list(EXTERNAL)}},
        'priority': {'type': 'integer'},
        'deadlines': _object({name: TIME for name in DEADLINES}, additionalProperties=False,
                             description='only the deadlines that apply now'),
        'promised_by': _nullable(dict(TIME, description='when the buyer is promised an answer')),
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
    'Remedy': _object({
        'id': {'type': 'integer'}, 'ticket_no': TEXT, 'order_no': TEXT,
        'kind': {'type': 'string', 'enum': ['refund', 'reissue', 'compensation']},
        'amount': _nullable(dict(TEXT, example='49.90')),
        'source': {'type': 'string', 'enum': ['agreement', 'timeout', 'auto_refund', 'ruling', 'resolution',
                                               'review']},
        'state': {'type': 'string', 'enum': ['pending', 'confirmed']},
        'idempotency_key': TEXT, 'created_at': TIME, 'confirmed_at': _nullable(TIME),
    }, ('id', 'ticket_no', 'order_no', 'kind', 'amount', 'source', 'state', 'idempotency_key',
        'created_at', 'confirmed_at')),
    'Proposal': _object({
        'seq': {'type': 'integer'},
        'type': {'type': 'string', 'enum': ['refund', 'reissue', 'compensation', 'reject']},
        'state': {'type': 'string', 'enum': ['pending', 'accepted', 'rejected', 'superseded']},
        'message': TEXT, 'amount': _nullable(TEXT), 'created_at': TIME,
    }, ('seq', 'type', 'state', 'message', 'amount', 'created_at')),
    'ComplaintList': _object({'items': {'type': 'array', 'items': 'Complaint'},
                              'next_cursor': _nullable(TEXT)}, ('items', 'next_cursor')),
    'Event': _object({
        'seq': {'type': 'integer'},
        'at': TIME,
        'kind': dict(TEXT, example='filed'),
        'actor_role': TEXT,
        'public': {'type': 'boolean'},
        'data': {'type': 'object', 'additionalProperties': True},
    }, ('seq', 'at', 'kind', 'actor_role', 'public', 'data')),
    'EventList': _object({'items': {'type': 'array', 'items': 'Event'}}, ('items',)),
    'Ruling': _object({
        'round': {'type': 'integer', 'enum': [1, 2], 'description': '2 = on appeal'},
        'outcome': {'type': 'string', 'enum': ['buyer_full', 'buyer_partial', 'merchant', 'split']},
        'responsibility': {'type': 'string', 'enum': ['merchant', 'buyer', 'platform', 'third_party']},
        'remedy': _object({'type': {'type': 'string', 'enum': ['refund', 'reissue', 'compensation', 'none']},
                           'amount': _nullable(MONEY)}, ('type', 'amount')),
        'clause': _nullable(TEXT), 'reasoning': TEXT,
        'active': {'type': 'boolean'}, 'overturned': {'type': 'boolean'},
        'agent': _nullable(TEXT), 'created_at': TIME,
    }, ('round', 'outcome', 'responsibility', 'remedy', 'clause', 'reasoning', 'active', 'overturned',
        'agent', 'created_at')),
    'RulingList': _object({
        'items': {'type': 'array', 'items': 'Ruling'},
        'appeal': _nullable(_object({'party': {'type': 'string', 'enum': ['buyer', 'merchant']},
                                     'reason': TEXT, 'created_at': TIME,
                                     'decided_at': _nullable(TIME),
                                     'changed': _nullable({'type': 'boolean'})},
                                    ('party', 'reason', 'created_at', 'decided_at', 'changed'))),
    }, ('items', 'appeal')),
    'Me': _object({'username': TEXT, 'role': TEXT,
                   'department': _nullable({'type': 'string', 'enum': list(DEPARTMENTS)}),
                   'status': _nullable(dict({'type': 'string', 'enum': list(AGENT_STATUSES)},
                                            description='agents only'))},
                  ('username', 'role', 'department', 'status')),
    'QueueItem': _object({
        'ticket_no': TEXT, 'state': {'type': 'string', 'enum': list(QUEUE_FILTER_STATES)},
        'tier': {'type': 'string', 'enum': list(TIERS)}, 'category': TEXT,
        'overdue': {'type': 'boolean'}, 'owner': _nullable(TEXT), 'order_no': TEXT,
        'amount': MONEY, 'merchant': dict(TEXT, description='merchant name'),
        'next_target': _nullable({'type': 'string', 'enum': ['first_response', 'resolution']}),
        'due': _nullable(TIME), 'seconds_left': _nullable({'type': 'integer'}),
    }, ('ticket_no', 'state', 'tier', 'category', 'overdue', 'owner', 'order_no', 'amount',
        'merchant', 'next_target', 'due', 'seconds_left')),
    'Queue': _object({
        'department': {'type': 'string', 'enum': list(DEPARTMENTS)},
        'items': {'type': 'array', 'items': 'QueueItem'},
        'next_cursor': _nullable(TEXT),
        'counts': _object({'all': {'type': 'integer'}, 'overdue': {'type': 'integer'},
                           'unassigned': {'type': 'integer'},
                           'tier': {'type': 'object', 'additionalProperties': {'type': 'integer'}},
                           'state': {'type': 'object', 'additionalProperties': {'type': 'integer'}}},
                          ('all', 'overdue', 'unassigned', 'tier', 'state')),
    }, ('department', 'items', 'next_cursor', 'counts')),
    'AgentStatus': _object({'username': TEXT,
                            'status': {'type': 'string', 'enum': list(AGENT_STATUSES)}},
                           ('username', 'status')),
    'AgentStatusInput': _object({'status': {'type': 'string', 'enum': list(AGENT_STATUSES)}},
                                ('status',)),
}

#: The request body of each action (SPEC §9a) with an example a test proves valid.
ACTION_BODIES = {
    'helped': (_object({}), {}),
    'not_helped': (_object({}), {}),
    'propose': (_object({'type': {'type': 'string', 'enum': ['refund', 'reissue', 'compensation', 'reject']},
                         'amount': MONEY, 'message': TEXT}, ('type', 'message')),
                {'type': 'refund', 'amount': '49.90', 'message': 'Refunding in full.'}),
    'accept': (_object({}), {}),
    'reject': (_object({'reason': TEXT}, ('reason',)), {'reason': 'Not enough.'}),
    'escalate': (_object({'reason': TEXT}, ('reason',)), {'reason': 'We cannot agree.'}),
    'claim': (_object({}), {}),
    'resolve': (_object({'remedy': REMEDY_INPUT, 'note': TEXT}, ('remedy', 'note')),
                {'remedy': {'type': 'none'}, 'note': 'Explained the fault.'}),
    'request_evidence': (_object({'party': {'type': 'string', 'enum': ['buyer', 'merchant']},
                                  'note': dict(TEXT, maxLength=1000),
                                  'due_in_seconds': {'type': 'integer', 'minimum': 3600, 'maximum': 1209600,
                                                     'description': 'the request\'s own deadline '
                                                                    '(default 24 h)'},
                                  'due_in_hours': {'type': 'number', 'minimum': 1, 'maximum': 336},
                                  'due_at': dict(TIME_INPUT, description='instead of due_in_*')},
                                 ('party', 'note')),
                         {'party': 'merchant', 'note': 'The delivery log, please.'}),
    'evidence_done': (_object({}, description='the calling party has submitted all its evidence'), {}),
    'close_evidence': (_object({}), {}),
    'rule': (_object({'outcome': {'type': 'string',
                                  'enum': ['buyer_full', 'buyer_partial', 'merchant', 'split']},
                      'responsibility': {'type': 'string',
                                         'enum': ['merchant', 'buyer', 'platform', 'third_party']},
                      'remedy': dict(REMEDY_INPUT, description='refund `amount` omitted: the whole '
                                                               'remainder; on appeal the total the '
                                                               'buyer gets (only the difference is '
                                                               'executed)'),
                      'clause': dict(TEXT, description='code of an active rule clause'),
                      'reasoning': dict(TEXT, maxLength=5000, description='shown to both parties')},
                     ('outcome', 'responsibility', 'remedy', 'reasoning')),
             {'outcome': 'buyer_full', 'responsibility': 'merchant',
              'remedy': {'type': 'refund', 'amount': '49.90'}, 'reasoning': 'The code was used.'}),
    'rate': (_object({'stars': {'type': 'integer', 'minimum': 1, 'maximum': 5},
                      'tags': {'type': 'array', 'items': {'type': 'string', 'enum': [
                          'slow', 'unfair', 'rude', 'not_resolved', 'good']}},
                      'comment': TEXT}, ('stars',)),
             {'stars': 5, 'tags': ['good']}),
    'appeal': (_object({'reason': TEXT}, ('reason',)), {'reason': 'New evidence attached.'}),
    'review': (_object({'finding': {'type': 'string', 'enum': [
                            'agent_fault', 'policy_gap', 'merchant_fault', 'buyer_unreasonable']},
                        'actions': {'type': 'array', 'items': {'type': 'string', 'enum': [
                            'uphold', 'reopen', 'compensate', 'coach']}},
                        'note': TEXT, 'amount': MONEY}, ('finding', 'actions', 'note')),
               {'finding': 'agent_fault', 'actions': ['coach'], 'note': 'Too slow.'}),
    'reopen': (_object({'reason': TEXT}, ('reason',),
                       description='provisional: SPEC §9a names no body for reopen yet'),
               {'reason': 'The review found the ruling unfair.'}),
    'withdraw': (_object({'reason': TEXT}), {'reason': 'Sorted it out myself.'}),
    'edit': (_object({'facts': dict(TEXT, maxLength=5000), 'demand': DEMAND_INPUT},
                     minProperties=1, description='facts, demand or both'),
             {'facts': 'The recharge never arrived; the order page says delivered.'}),
    'message': (_object({'body': dict(TEXT, maxLength=2000),
                         'internal': {'type': 'boolean', 'default': False,
                                      'description': 'staff only: a note the parties never see'}},
                        ('body',)),
                {'body': 'Any news?'}),
    'mark_external': (_object({'external': {'type': 'array', 'minItems': 1,
                                            'items': {'type': 'string', 'enum': list(EXTERNAL)}}},
                              ('external',)),
                      {'external': ['12315']}),
    'urge': (_object({}), {}),
    'flag_malicious': (_object({'reason': dict(TEXT, maxLength=1000)}, ('reason',),
                               description='supervisors only; once per complaint (409)'),
                       {'reason': 'The same fake claim on five orders.'}),
    'screen_accept': (_object({}, description='the complaint takes the path its category gives'), {}),
    'screen_reject': (_object({'reason': dict(TEXT, maxLength=1000, description='told to the buyer')},
                              ('reason',)),
                      {'reason': 'The order page shows the card was redeemed by this account.'}),
    'reassign': (_object({'to': dict(TEXT, description='username of the new owner'),
                          'reason': TEXT}, ('to', 'reason')),
                 {'to': 'agent_li', 'reason': 'Wang is on leave.'}),
}


def action_schema_name(action):
    return ''.join(part.capitalize() for part in action.split('_')) + 'Action'


def _lifecycle_summary(action):
    """Who takes `action` from which states, straight from the lifecycle table."""
    parts = []
    for t in lifecycle.rows_for(action):
        text = f'from {", ".join(t.sources)} by {", ".join(t.actors)} to {", ".join(t.targets)}: {t.note}'
        if not t.built:
            text += ' (not available yet: 409)'
        parts.append(text)
    return '; '.join(parts)


def _action_schemas():
    schemas = {}
    for action in CALLABLE_ACTIONS:
        schema, example = ACTION_BODIES[action]
        description = f'`{action}` — {_lifecycle_summary(action)}'
        if schema.get('description'):
            description += f' ({schema["description"]})'
        schemas[action_schema_name(action)] = dict(schema, description=description, example=example)
    schemas['ActionBody'] = {
        'anyOf': [action_schema_name(a) for a in CALLABLE_ACTIONS],
        'description': 'the body of the action named in the path; `x-action-bodies` maps each '
                       'action to its schema'}
    return schemas


# --- building the document ----------------------------------------------------------------

_PATH_VARIABLE = re.compile(r'<(?:[^:<>]+:)?([^<>]+)>')
_CONVERTER_TYPES = {'IntegerConverter': {'type': 'integer'}, 'FloatConverter': {'type': 'number'},
                    'UUIDConverter': {'type': 'string', 'format': 'uuid'}}


def openapi_path(rule):
    """'/api/v1/orders/<order_no>' -> '/orders/{order_no}' (relative to the server URL)."""
    return _PATH_VARIABLE.sub(r'{\1}', rule.rule[len(API_PREFIX):])


class FlaskRulePlugin(BasePlugin):
    """Turns a werkzeug rule plus its view's `@operation` annotation into an apispec path."""

    def path_helper(self, path=None, operations=None, parameters=None, *, rule=None, view=None,
                    **kwargs):
        meta = getattr(view, ATTRIBUTE)
        for name in _PATH_VARIABLE.findall(rule.rule):  # in the order of the path
            known = PATH_PARAMETERS.get(name, {'schema': TEXT})
            converter = type(rule._converters.get(name)).__name__
            param = {'in': 'path', 'name': name, 'required': True,
                     'schema': _CONVERTER_TYPES.get(converter, known['schema'])}
            param.update({k: v for k, v in known.items() if k != 'schema'})
            parameters.append(param)
        doc = (view.__doc__ or '').strip()
        summary, _sep, description = doc.partition('\n')
        methods = sorted(rule.methods - {'HEAD', 'OPTIONS'})
        for method in methods:
            operation_id = view.__name__ if len(methods) == 1 else f'{view.__name__}_{method.lower()}'
            operations[method.lower()] = self._operation(operation_id, meta, summary.strip(),
                                                         _dedent(description))
        return openapi_path(rule)

    @staticmethod
    def _operation(operation_id, meta, summary, description):
        op = {'tags': [meta['tag']], 'operationId': operation_id, 'summary': summary,
              'parameters': list(meta['query']), 'responses': {}}
        if description:
            op['description'] = description
        if meta['auth']:
            op['security'] = [{'bearerAuth': []}]
            op['parameters'].append('OnBehalfOf')
        if meta['body']:
            op['requestBody'] = {'required': meta['body_required'],
                                 'content': {'application/json': {'schema': meta['body']}}}
        for status, spec in meta['responses'].items():
            schema, text = spec if isinstance(spec, tuple) else (spec, 'OK')
            op['responses'][str(status)] = {'description': text,
                                            'content': {'application/json': {'schema': schema}}}
        errors = set(meta['errors']) | (set(AUTH_ERRORS) if meta['auth'] else set())
        for status in sorted(errors):
            op['responses'][str(status)] = ERROR_RESPONSES[status][0]
        op.update(meta['extensions'])
        return op


def _dedent(text):
    """A docstring body as Markdown paragraphs (lines joined, blank lines kept)."""
    paragraphs = re.split(r'\n\s*\n', text.strip())
    return '\n\n'.join(' '.join(line.strip() for line in p.splitlines()) for p in paragraphs if p)


def build_document(app):
    """The OpenAPI document (a dict) for the API routes registered on `app`."""
    spec = APISpec(
        title='Arbiter Desk API', version=API_VERSION, openapi_version=OPENAPI_VERSION,
        plugins=[FlaskRulePlugin()],
        servers=[{'url': API_PREFIX}],
        info={'description': (
            'The complaint and dispute desk of the marketplace. JSON in and out; money is a '
            'yuan string with two decimals, times are ISO 8601 with an offset. Errors are '
            '`{"error": {"code", "message", "fields"?}}` with the status of the error. '
            'Complaint states and actions follow the lifecycle table (docs/lifecycle.md); '
            'every complaint carries the `allowed_actions` of the calling user.')},
    )
    spec.components.security_scheme('bearerAuth', {
        'type': 'http', 'scheme': 'bearer',
        'description': 'An API key created by an admin (`flask desk create-api-key`).'})
    for name, param in PARAMETERS.items():
        spec.components.parameter(name, param['in'], {k: v for k, v in param.items() if k != 'in'})
    for name, schema in {**SCHEMAS, **_action_schemas()}.items():
        spec.components.schema(name, schema)  # apispec turns schema names into $refs
    for status, (name, text) in ERROR_RESPONSES.items():
        spec.components.response(name, {
            'description': text,
            'content': {'application/json': {
                'schema': 'Error',
                'example': {'error': {'code': ERROR_CODES[status], 'message': text}}}}})
    for tag, text in (('orders', 'Orders pushed by the marketplace'),
                      ('complaints', 'Complaints, their actions and timeline'),
                      ('agent desk', 'The caller, agent queues and agent status'),
                      ('evidence', 'Evidence of a complaint: add, list, download')):
        spec.tag({'name': tag, 'description': text})
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, sorted(r.methods))):
        if not rule.rule.startswith(API_PREFIX + '/'):
            continue
        view = app.view_functions[rule.endpoint]
        if not hasattr(view, ATTRIBUTE):
            continue  # undocumented: tests/test_openapi.py names it
        spec.path(rule=rule, view=view)
    return spec.to_dict()


def action_bodies_extension():
    """`x-action-bodies`: each callable action -> the $ref of its request body."""
    return {'x-action-bodies': {a: {'$ref': f'#/components/schemas/{action_schema_name(a)}'}
                                for a in CALLABLE_ACTIONS}}


def serve_document():
    """GET /api/openapi.json (no authentication: the document holds no data)."""
    document = current_app.extensions.get('desk_openapi')
    if document is None:
        document = current_app.extensions['desk_openapi'] = build_document(current_app)
    return jsonify(document)


def init_app(app):
    app.add_url_rule(DOCUMENT_URL, 'openapi', serve_document, methods=['GET'])
