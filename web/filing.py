"""Filing a complaint from a web form: the fields the buyer's form (web/buyer/portal.py) and the
agents' phone filing (web/consoles/agent_desk.py) share, their choices, the payload they hand
to `desk.cases.complaints.file_complaint`, and its refusals put back next to the fields.
`templates/_filing.html` renders the shared fields.

The fields are worded for staff; the buyer's form words a few of them for the buyer.
"""
import json

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import SelectField, SelectMultipleField, StringField, TextAreaField, widgets
from wtforms.validators import Optional

from desk.cases.models import DEMAND_TYPES, EVIDENCE_KINDS, EXTERNAL, Category, RuleClause
from desk.core import labels
from desk.core.labels import category_label, clause_title, scenario_label

#: The scenario facts a category may ask for (Category.scenario_fields), one field each.
SCENARIO_FIELDS = ('receiving_account', 'minutes_late', 'error_message', 'refund_requested_at', 'occurred_at')
#: Demands that name an amount.
AMOUNT_DEMANDS = ('partial_refund', 'compensation')
#: Where a service's field message goes when the field is named otherwise.
FIELD_NAMES = {'demand.type': 'demand_type', 'demand.amount': 'demand_amount'}
#: Where a filing's evidence problems are shown.
EVIDENCE_FIELDS = {'kind': 'evidence_kind', 'text': 'evidence_text', 'file': 'evidence_file',
                   'description': 'evidence_description'}


class MultiCheckboxField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


def demand_of(form):
    """The `demand` of a filing or an edit: its type, and the amount when the type has one."""
    demand = {'type': form.demand_type.data}
    if form.demand_type.data in AMOUNT_DEMANDS:
        demand['amount'] = (form.demand_amount.data or '').strip()
    return demand


def put_field_errors(form, err):
    """Put a domain error's field messages next to the matching fields of `form`."""
    for key, message in err.fields.items():
        name = FIELD_NAMES.get(key, key.split('.', 1)[-1])
        if name in form:
            form[name].errors = list(form[name].errors or []) + [message]


class FilingForm(FlaskForm):
    category = SelectField(_l('Category'))
    receiving_account = StringField(scenario_label('receiving_account'))
    minutes_late = StringField(scenario_label('minutes_late'))
    error_message = StringField(scenario_label('error_message'))
    refund_requested_at = StringField(scenario_label('refund_requested_at'))
    occurred_at = StringField(scenario_label('occurred_at'))
    facts = TextAreaField(_l('Facts as the buyer tells them'))
    demand_type = SelectField(_l('Demand'), choices=labels.DEMANDS.choices(DEMAND_TYPES))
    demand_amount = StringField(_l('Amount (yuan)'), validators=[Optional()])
    basis = SelectField(_l('Platform rule (optional)'), validators=[Optional()])
    external = MultiCheckboxField(_l('Also filed with'), choices=labels.EXTERNAL.choices(EXTERNAL))
    # evidence given with the complaint (required for some buyers: desk.credit.ledger)
    evidence_kind = SelectField(_l('Kind of evidence'), choices=labels.EVIDENCE_KINDS.choices(EVIDENCE_KINDS),
                                default='order_screenshot')
    evidence_file = FileField(_l('Evidence file (screenshot, recording, PDF)'))
    evidence_text = TextAreaField(_l('Or paste a chat log'))
    evidence_description = StringField(_l('What it shows (optional)'))

    def offer_choices(self):
        """Fill the category and rule choices (active ones, in the interface language) and
        `scenario_map` (category code -> the scenario fields it asks for, for the page's script)."""
        categories = list(Category.select().where(Category.active == True).order_by(Category.position))  # noqa: E712
        self.category.choices = [(c.code, category_label(c)) for c in categories]
        clauses = RuleClause.select().where(RuleClause.active == True).order_by(RuleClause.code)  # noqa: E712
        self.basis.choices = [('', '—')] + [(c.code, f'{c.code} {clause_title(c)}') for c in clauses]
        self.scenario_map = {c.code: json.loads(c.scenario_fields or '[]') for c in categories}

    def scenario_fields(self):
        return [self[name] for name in SCENARIO_FIELDS]

    def filing_data(self, channel):
        """The payload of `file_complaint` (without its evidence: see `evidence_given`)."""
        return {'category': self.category.data, 'facts': self.facts.data,
                'scenario': {name: self[name].data for name in SCENARIO_FIELDS if self[name].data},
                'demand': demand_of(self), 'basis': self.basis.data or None,
                'external': self.external.data or [], 'channel': channel}

    def evidence_given(self):
        """(pasted-text items, uploads) of the evidence fields; empty when none was given."""
        kind = self.evidence_kind.data
        description = self.evidence_description.data or ''
        items = []
        if (self.evidence_text.data or '').strip():
            items.append({'kind': kind, 'text': self.evidence_text.data, 'description': description})
        upload = self.evidence_file.data
        uploads = [(kind, description, upload.filename, upload.stream)] if upload and upload.filename else []
        return items, uploads

    def put_errors(self, err):
        """A refused filing's messages next to the fields: the evidence's (`evidence.<n>.<field>`,
        `file`) next to the evidence fields, the others next to theirs."""
        for key, message in err.fields.items():
            if key == 'evidence':
                name = 'evidence_file'
            elif key.startswith('evidence.') or key == 'file':
                name = EVIDENCE_FIELDS.get(key.rsplit('.', 1)[-1], 'evidence_file')
            else:
                continue
            self[name].errors = list(self[name].errors or []) + [message]
        put_field_errors(self, err)
