"""Webhooks in the staff backoffice: the subscriptions of the integration accounts (admins)
and the delivery log with a manual re-send (supervisors and admins).

Subscriptions are created through `desk.messaging.webhooks.subscribe`; the signing secret is shown
once, on the page that creates it, and never listed. A re-send is `desk.messaging.webhooks.resend`:
a fresh attempt now, whose outcome the log then shows.
"""
import json

from flask import flash, redirect, request, url_for
from flask_admin import BaseView, expose
from flask_admin.contrib.peewee.filters import FilterEqual
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup, escape

from desk.core.errors import DomainError, Invalid
from desk.messaging import webhooks
from desk.messaging.models import WebhookDelivery, WebhookSubscription
from desk.parties.models import User
from web.auth import is_safe_next
from web.consoles.access import AdminOnly, RoleAccess
from web.consoles.base import DeskModelView

DELIVERY_STATES = (('pending', _l('Pending')), ('delivered', _l('Delivered')), ('failed', _l('Failed')))


class SupervisorsAndAdmins(RoleAccess):
    allowed_roles = ('supervisor', 'admin')


def _events(subscription):
    try:
        return json.loads(subscription.events or '[]')
    except ValueError:
        return []


class WebhookSubscriptionView(AdminOnly, BaseView):
    """Where each integration account wants events, and which events."""

    def _render(self, created=None, errors=None, values=None, status=200):
        subscriptions = (WebhookSubscription
                         .select(WebhookSubscription, User)
                         .join(User)
                         .order_by(WebhookSubscription.id.desc()))
        integrations = list(webhooks.integration_users().order_by(User.username))
        return self.render('admin/webhook_subscriptions.html', subscriptions=subscriptions,
                           events_of=_events, integrations=integrations, all_events=webhooks.EVENTS,
                           created=created, errors=errors or {}, values=values or {}), status

    @expose('/')
    def index(self):
        return self._render()

    @expose('/create', methods=['POST'])
    def create(self):
        form = request.form
        events = form.getlist('events')
        if '*' in events:
            events = ['*']
        values = {'user': form.get('user', ''), 'url': (form.get('url') or '').strip(), 'events': events}
        user = User.get_or_none(User.id == int(values['user'])) if values['user'].isdigit() else None
        try:
            if user is None:
                raise Invalid(_('The subscription is invalid.'),
                              fields={'user': _('choose an integration account')})
            created = webhooks.subscribe(user, values['url'], events)
        except Invalid as err:
            flash(err.message, 'error')
            return self._render(errors=err.fields, values=values, status=err.status)
        flash(_('Subscription created. Copy the signing secret now: it is shown only this once.'), 'success')
        return self._render(created=created)


def _state_label(view, context, model, name):
    labels = dict(DELIVERY_STATES)
    css = {'pending': 'warning', 'delivered': 'success', 'failed': 'danger'}.get(model.state, 'light')
    return Markup(f'<span class="badge badge-{css}" data-delivery-state="{escape(model.state)}">'
                  f'{escape(labels.get(model.state, model.state))}</span>')


def _subscription(view, context, model, name):
    sub = model.subscription
    return Markup(f'{escape(sub.user.username)}<div class="small text-muted">{escape(sub.url)}</div>')


def _error(view, context, model, name):
    return (model.last_error or '')[:200]


class WebhookDeliveryView(SupervisorsAndAdmins, DeskModelView):
    """The delivery log, latest first: state, attempts, last answer; re-send by hand."""
    can_create = can_edit = can_delete = False
    can_view_details = True
    simple_list_pager = True  # no COUNT(*) over a long log on every page
    page_size = 50
    list_template = 'admin/webhook_delivery_list.html'
    column_list = ('id', 'created_at', 'event', 'subscription', 'state', 'attempts', 'last_status',
                   'last_error', 'next_attempt_at', 'delivered_at')
    column_details_list = column_list + ('idempotency_key', 'payload')
    column_labels = {'id': _l('No.'), 'created_at': _l('Created'), 'event': _l('Event'),
                     'subscription': _l('Subscriber'), 'state': _l('State'), 'attempts': _l('Attempts'),
                     'last_status': _l('Last HTTP status'), 'last_error': _l('Last error'),
                     'next_attempt_at': _l('Next attempt'), 'delivered_at': _l('Delivered'),
                     'idempotency_key': _l('Idempotency key'), 'payload': _l('Payload')}
    column_formatters = {'state': _state_label, 'subscription': _subscription, 'last_error': _error}
    column_formatters_detail = {'state': _state_label, 'subscription': _subscription}
    column_filters = (
        FilterEqual(WebhookDelivery.state, _l('State'), options=DELIVERY_STATES),
        FilterEqual(WebhookDelivery.event, _l('Event'), options=[(e, e) for e in webhooks.EVENTS]),
    )
    column_default_sort = ('id', True)
    column_sortable_list = ('id', 'created_at', 'attempts')

    def get_query(self):
        return (WebhookDelivery
                .select(WebhookDelivery, WebhookSubscription, User)
                .join(WebhookSubscription)
                .join(User))

    @expose('/resend/<int(max=2147483647):delivery_id>', methods=['POST'])
    def resend(self, delivery_id):
        try:
            delivered = webhooks.resend(current_user, delivery_id)
        except DomainError as err:
            flash(err.message, 'error')
        else:
            delivery = WebhookDelivery.get_by_id(delivery_id)
            if delivered:
                flash(_('Delivery %(id)d was re-sent and the receiver accepted it.', id=delivery_id), 'success')
            else:
                flash(_('Delivery %(id)d was re-sent but failed again (%(error)s); it will be retried.',
                        id=delivery_id, error=delivery.last_error or delivery.last_status or '?'), 'error')
        target = request.form.get('next') or ''
        return redirect(target if is_safe_next(target) else url_for('.index_view'))


def register(admin):
    category = _l('Integration')
    admin.add_view(WebhookSubscriptionView(name=_l('Webhook subscriptions'), endpoint='webhook_subscriptions',
                                           url='webhooks', category=category))
    admin.add_view(WebhookDeliveryView(WebhookDelivery, name=_l('Webhook deliveries'),
                                       endpoint='webhook_deliveries', url='webhook-deliveries',
                                       category=category))
