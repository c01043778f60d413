"""The OpenAPI 3 document of the REST API, served without authentication at /api/openapi.json.

Generated, not hand-typed: apispec assembles it from
- the app's URL map: every rule under /api/v1 whose view carries an `@operation(...)`
  annotation becomes a path (methods and path parameters from the rule);
- the annotation (tag, request body, responses, extra errors, query parameters) and the
  view's docstring (first line: summary; the rest: description);
- the components: the shared ones below (`SCHEMAS`: the error body; `PARAMETERS`: the
  X-On-Behalf-Of header and the list filters several resources take) and each resource
  module's own `SCHEMAS` and `PARAMETERS` constants, which `init_app` gathers into the app's
  registry (a name given twice is an error, not a silent override);
- desk.cases.lifecycle: the `action` enum, and one request body per action whose description
  says from which states and by whom the action is taken (and whether it is built yet);
- the model constants (states, tiers, demand types, ...) for every enum.

How to add an endpoint to the document:
1. write the view as usual in its resource module web/api/<resource>.py (`@bp.route`,
   `@authenticated`; a new module goes into `web.api.RESOURCES`);
2. annotate it with `@operation(tag=..., body=..., responses={status: schema}, errors=(...),
   query=(...))` from this module and give it a docstring;
3. put any new representation into that module's `SCHEMAS` (and, for a response, a test in
   tests/web/api/test_openapi.py that its required keys are the keys the API really returns).
Bearer security, the X-On-Behalf-Of header and the 401/403/404 answers every authenticated
call can give are added to each operation automatically. tests/web/api/test_openapi.py fails for
any rule under /api/v1 without `@operation`, and for a lifecycle action without an entry in
ACTION_BODIES, so neither can be forgotten.
"""
import re

from apispec import APISpec, BasePlugin
from flask import current_app, jsonify

from desk.cases import lifecycle
from desk.cases.models import DEMAND_TYPES, EXTERNAL, TIERS
from web.errors import CODES

API_PREFIX = '/api/v1'
DOCUMENT_URL = '/api/openapi.json'
OPENAPI_VERSION = '3.0.3'
API_VERSION = '1.0'
ATTRIBUTE = '__openapi__'
EXTENSION = 'desk_openapi'
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

def nullable(schema):
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
#: The `code` of each documented error status, as `web.errors.error_response` sends it.
ERROR_CODES = {status: CODES[status] for status in ERROR_RESPONSES}
#: Every authenticated call can answer these (bad key, X-On-Behalf-Of misuse or unknown buyer).
AUTH_ERRORS = (401, 403, 404)

#: The parameters every resource may name: the X-On-Behalf-Of header, and the filters and
#: paging of the lists (complaints, the queue).
PARAMETERS = {
    'OnBehalfOf': {
        'in': 'header', 'name': 'X-On-Behalf-Of', 'required': False, 'schema': TEXT,
        'description': 'Integration keys only: the `ref` of the buyer to act for. The call is '
                       'then treated as that buyer\'s (403 for other keys, 404 for an '
                       'unknown buyer).'},
    'tier': {'in': 'query', 'name': 'tier', 'schema': {'type': 'string', 'enum': list(TIERS)}},
    'category': {'in': 'query', 'name': 'category', 'schema': TEXT, 'description': 'category code'},
    'merchant': {'in': 'query', 'name': 'merchant', 'schema': TEXT, 'description': 'merchant ref'},
    'limit': {'in': 'query', 'name': 'limit',
              'schema': {'type': 'integer', 'minimum': 1, 'maximum': 100, 'default': 50}},
    'cursor': {'in': 'query', 'name': 'cursor', 'schema': TEXT,
               'description': '`next_cursor` of the previous page'},
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

def object_of(properties, required=(), **extra):
    schema = {'type': 'object', 'properties': properties}
    if required:
        schema['required'] = list(required)
    schema.update(extra)
    return schema


DEMAND_INPUT = object_of({'type': {'type': 'string', 'enum': list(DEMAND_TYPES)},
                          'amount': dict(MONEY, description='partial_refund and compensation only; '
                                                            'at most the order amount')},
                         ('type',))
REMEDY_INPUT = object_of({'type': {'type': 'string', 'enum': ['refund', 'reissue', 'compensation', 'none']},
                          'amount': MONEY}, ('type',))

#: The schemas every resource shares: the error body.
SCHEMAS = {
    'Error': object_of({'error': object_of({
        'code': {'type': 'string', 'enum': sorted(set(ERROR_CODES.values()))},
        'message': dict(TEXT, description='for people, in the language asked for'),
        'fields': {'type': 'object', 'additionalProperties': TEXT,
                   'description': 'each bad field and what is wrong with it'},
    }, ('code', 'message'), additionalProperties=True,
        description='extra keys give context, e.g. `ticket_no` of the open complaint')}, ('error',)),
}

#: The request body of each action (SPEC §9a) with an example a test proves valid.
ACTION_BODIES = {
    'helped': (object_of({}), {}),
    'not_helped': (object_of({}), {}),
    'propose': (object_of({'type': {'type': 'string', 'enum': ['refund', 'reissue', 'compensation', 'reject']},
                           'amount': MONEY, 'message': TEXT}, ('type', 'message')),
                {'type': 'refund', 'amount': '49.90', 'message': 'Refunding in full.'}),
    'accept': (object_of({}), {}),
    'reject': (object_of({'reason': TEXT}, ('reason',)), {'reason': 'Not enough.'}),
    'escalate': (object_of({'reason': TEXT}, ('reason',)), {'reason': 'We cannot agree.'}),
    'claim': (object_of({}), {}),
    'resolve': (object_of({'remedy': REMEDY_INPUT, 'note': TEXT}, ('remedy', 'note')),
                {'remedy': {'type': 'none'}, 'note': 'Explained the fault.'}),
    'request_evidence': (object_of({'party': {'type': 'string', 'enum': ['buyer', 'merchant']},
                                    'note': dict(TEXT, maxLength=1000),
                                    'due_in_seconds': {'type': 'integer', 'minimum': 3600, 'maximum': 1209600,
                                                       'description': 'the request\'s own deadline '
                                                                      '(default 24 h)'},
                                    'due_in_hours': {'type': 'number', 'minimum': 1, 'maximum': 336},
                                    'due_at': dict(TIME_INPUT, description='instead of due_in_*')},
                                   ('party', 'note')),
                         {'party': 'merchant', 'note': 'The delivery log, please.'}),
    'evidence_done': (object_of({}, description='the calling party has submitted all its evidence'), {}),
    'close_evidence': (object_of({}), {}),
    'rule': (object_of({'outcome': {'type': 'string',
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
    'rate': (object_of({'stars': {'type': 'integer', 'minimum': 1, 'maximum': 5},
                        'tags': {'type': 'array', 'items': {'type': 'string', 'enum': [
                            'slow', 'unfair', 'rude', 'not_resolved', 'good']}},
                        'comment': TEXT}, ('stars',)),
             {'stars': 5, 'tags': ['good']}),
    'appeal': (object_of({'reason': TEXT}, ('reason',)), {'reason': 'New evidence attached.'}),
    'review': (object_of({'finding': {'type': 'string', 'enum': [
                              'agent_fault', 'policy_gap', 'merchant_fault', 'buyer_unreasonable']},
                          'actions': {'type': 'array', 'items': {'type': 'string', 'enum': [
                              'uphold', 'reopen', 'compensate', 'coach']}},
                          'note': TEXT, 'amount': MONEY}, ('finding', 'actions', 'note')),
               {'finding': 'agent_fault', 'actions': ['coach'], 'note': 'Too slow.'}),
    'reopen': (object_of({'reason': TEXT}, ('reason',),
                         description='provisional: SPEC §9a names no body for reopen yet'),
               {'reason': 'The review found the ruling unfair.'}),
    'withdraw': (object_of({'reason': TEXT}), {'reason': 'Sorted it out myself.'}),
    'edit': (object_of({'facts': dict(TEXT, maxLength=5000), 'demand': DEMAND_INPUT},
                       minProperties=1, description='facts, demand or both'),
             {'facts': 'The recharge never arrived; the order page says delivered.'}),
    'message': (object_of({'body': dict(TEXT, maxLength=2000),
                           'internal': {'type': 'boolean', 'default': False,
                                        'description': 'staff only: a note the parties never see'}},
                          ('body',)),
                {'body': 'Any news?'}),
    'mark_external': (object_of({'external': {'type': 'array', 'minItems': 1,
                                              'items': {'type': 'string', 'enum': list(EXTERNAL)}}},
                                ('external',)),
                      {'external': ['12315']}),
    'urge': (object_of({}), {}),
    'flag_malicious': (object_of({'reason': dict(TEXT, maxLength=1000)}, ('reason',),
                                 description='supervisors only; once per complaint (409)'),
                       {'reason': 'The same fake claim on five orders.'}),
    'screen_accept': (object_of({}, description='the complaint takes the path its category gives'), {}),
    'screen_reject': (object_of({'reason': dict(TEXT, maxLength=1000, description='told to the buyer')},
                                ('reason',)),
                      {'reason': 'The order page shows the card was redeemed by this account.'}),
    'reassign': (object_of({'to': dict(TEXT, description='username of the new owner'),
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
    """The OpenAPI document (a dict) for the API routes registered on `app`, with the
    components `init_app` gathered."""
    components = app.extensions[EXTENSION]
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
    for name, param in components.parameters.items():
        spec.components.parameter(name, param['in'], {k: v for k, v in param.items() if k != 'in'})
    for name, schema in {**components.schemas, **_action_schemas()}.items():
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
            continue  # undocumented: tests/web/api/test_openapi.py names it
        spec.path(rule=rule, view=view)
    return spec.to_dict()


def action_bodies_extension():
    """`x-action-bodies`: each callable action -> the $ref of its request body."""
    return {'x-action-bodies': {a: {'$ref': f'#/components/schemas/{action_schema_name(a)}'}
                                for a in CALLABLE_ACTIONS}}


def serve_document():
    """GET /api/openapi.json (no authentication: the document holds no data)."""
    components = current_app.extensions[EXTENSION]
    if components.document is None:
        components.document = build_document(current_app)
    return jsonify(components.document)


class Components:
    """An app's registry of the document's schemas and parameters (and the document, built
    on first request)."""

    def __init__(self):
        self.schemas, self.parameters = dict(SCHEMAS), dict(PARAMETERS)
        self.document = None

    def add(self, resource):
        """Add a resource module's `SCHEMAS` and `PARAMETERS` (either may be absent)."""
        for mine, theirs in ((self.schemas, getattr(resource, 'SCHEMAS', {})),
                             (self.parameters, getattr(resource, 'PARAMETERS', {}))):
            twice = set(mine) & set(theirs)
            if twice:
                raise ValueError(f'{resource.__name__} defines {sorted(twice)} again')
            mine.update(theirs)


def init_app(app, resources):
    """Gather the components of `resources` into the app's registry and serve the document."""
    components = app.extensions[EXTENSION] = Components()
    for resource in resources:
        components.add(resource)
    app.add_url_rule(DOCUMENT_URL, 'openapi', serve_document, methods=['GET'])
