"""The supervisors' pre-screen queue in the backoffice (/admin/pre-screen/): the complaints of
low-credit buyers waiting for a decision, oldest first, each with its accept and reject
forms. The decisions go through `desk.credit.screening` like the API's; this view only renders and
maps the domain errors to flashed messages.
"""
import json

from flask import flash, redirect, request, url_for
from flask_admin import BaseView, expose
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from desk.cases.access import get_visible
from desk.cases.models import Category, Evidence
from desk.cases.transitions import take_action
from desk.core.errors import DomainError
from desk.credit import ledger as credit
from desk.credit.screening import pending_screening
from web.consoles.access import RoleAccess
from web.consoles.agent_desk import flash_error


class PreScreenView(RoleAccess, BaseView):
    """The pre-screen queue: supervisors only (they alone may decide)."""
    allowed_roles = ('supervisor',)

    @expose('/')
    def index(self):
        rows = pending_screening()
        ids = [c.id for c in rows]
        counts = {}
        if ids:
            for complaint_id in (Evidence.select(Evidence.complaint).where(Evidence.complaint.in_(ids)).tuples()):
                counts[complaint_id[0]] = counts.get(complaint_id[0], 0) + 1
        return self.render('admin/desk/pre_screen.html', rows=rows, names=Category.names(), evidence_counts=counts,
                           scenario=lambda c: json.loads(c.scenario or '{}'), credit_of=credit.credit_of)

    @expose('/<ticket_no>/<decision>', methods=['POST'])
    def decide(self, ticket_no, decision):
        case = get_visible(current_user, ticket_no)
        action = {'accept': 'screen_accept', 'reject': 'screen_reject'}.get(decision)
        if action is None:
            return redirect(url_for('.index'))
        try:
            take_action(current_user, case, action, {'reason': request.form.get('reason', '')})
        except DomainError as err:
            flash_error(err)
        else:
            flash(_('%(t)s was accepted and takes its normal path.', t=case.ticket_no) if action == 'screen_accept'
                  else _('%(t)s was not accepted; the buyer has been told why.', t=case.ticket_no), 'success')
        return redirect(url_for('.index'))


def register(admin):
    admin.add_view(PreScreenView(name=_l('Pre-screen'), endpoint='pre_screen', url='pre-screen'))
