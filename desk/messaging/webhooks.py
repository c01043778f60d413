"""Webhooks to the marketplace: subscriptions, signed deliveries, retries, the delivery log.

`publish(event, data)` is called inside a service's transaction and writes an outbox row
(when an active subscription wants the event); its delivery creates one `WebhookDelivery`
per subscription that wants the event. Each delivery is POSTed as JSON with
  X-Desk-Event, X-Desk-Timestamp, X-Desk-Idempotency-Key and
  X-Desk-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>" with the secret>,
and retried with exponential backoff (30 s doubling, up to 24 h) through the deadline
machinery (`next_attempt_at`) until the receiver answers 2xx. The idempotency key is the
same on every attempt, so a receiver that sees it twice can ignore the second.
"""
import datetime as dt
import hashlib
import hmac
import json
import logging
import secrets
import urllib.error
import urllib.request

from flask import current_app
from flask_babel import gettext as _

from desk.core import clock, deadlines
from desk.core.db import after_commit, atomic
from desk.core.errors import Forbidden, Invalid, NotFound
from desk.messaging import outbox
from desk.messaging.models import WebhookDelivery, WebhookSubscription
from desk.parties.models import User

log = logging.getLogger(__name__)

EVENTS = ('complaint.filed', 'complaint.state_changed', 'proposal.created', 'complaint.escalated',
          'complaint.ruled', 'remedy.created', 'remedy.confirmed', 'rating.dissatisfied', 'merchant.standing_changed')
FIRST_RETRY_SECONDS = 30
GIVE_UP_AFTER = dt.timedelta(hours=24)


def publish(event, data, complaint=None, key=None):
    """Announce `event` to the subscribed integrations (inside the caller's transaction).

    Nothing is written when no active subscription wants the event (no outbox row, no job).
    """
    return publish_many(event, [(data, complaint, key)])[0]


def publish_many(event, items):
    """`publish` of one event type for many (data, complaint, key) items: the subscriptions
    are read once and the outbox rows written with one INSERT. Returns the rows (or Nones)."""
    if event not in EVENTS:
        raise KeyError(event)
    subscriptions = WebhookSubscription.select(WebhookSubscription.events).where(
        WebhookSubscription.active == True)  # noqa: E712
    if not items or not any(_wants(sub, event) for sub in subscriptions):
        return [None] * len(items)
    return outbox.emit_many([('webhook', {'event': event, 'data': data,
                                          'key': key or secrets.token_hex(16)}, complaint)
                             for data, complaint, key in items])


def _wants(subscription, event):
    try:
        wanted = json.loads(subscription.events or '[]')
    except ValueError:
        return False
    return '*' in wanted or event in wanted


def _fan_out(row, payload):
    """Outbox handler: one delivery per interested subscription, attempted after commit."""
    created = []
    for sub in WebhookSubscription.select().where(WebhookSubscription.active == True):  # noqa: E712
        if not _wants(sub, payload['event']):
            continue
        delivery = WebhookDelivery.create(
            subscription=sub.id, event=payload['event'], next_attempt_at=clock.now(),
            payload=json.dumps({'event': payload['event'], 'data': payload['data']},
                               ensure_ascii=False, sort_keys=True),
            idempotency_key=f"{payload['key']}-{sub.id}"[:80])
        created.append((delivery, sub))
    # the rows just written are posted as they are, not read back (`_post` re-checks the
    # state in its compare-and-set)
    return [lambda d=delivery, s=sub: _post(d, s) for delivery, sub in created]




def sign(secret, timestamp, body):
    """The signature a receiver recomputes: HMAC-SHA256 over "<timestamp>.<body>"."""
    mac = hmac.new(secret.encode(), f'{timestamp}.'.encode() + body, hashlib.sha256)
    return 'sha256=' + mac.hexdigest()


def attempt(delivery_id, now=None):
    """POST one delivery now; on failure schedule the next try (or give up after 24 h)."""
    delivery = WebhookDelivery.get_or_none(WebhookDelivery.id == delivery_id)
    if delivery is None or delivery.state != 'pending':
        return False
    return _post(delivery, WebhookSubscription.get_by_id(delivery.subscription_id), now)


def _post(delivery, sub, now=None):
    """The attempt itself, on a pending delivery and its subscription: the signed POST, then
    the outcome recorded with a compare-and-set on the pending state."""
    now = now or clock.now()
    body = delivery.payload.encode()
    timestamp = str(int(dt.datetime.now(dt.timezone.utc).timestamp()))
    request = urllib.request.Request(sub.url, data=body, method='POST', headers={
        'Content-Type': 'application/json', 'X-Desk-Event': delivery.event,
        'X-Desk-Timestamp': timestamp, 'X-Desk-Idempotency-Key': delivery.idempotency_key,
        'X-Desk-Signature': sign(sub.secret, timestamp, body)})
    status, error = None, None
    try:
        with urllib.request.urlopen(request, timeout=current_app.config['WEBHOOK_TIMEOUT_SECONDS']) as response:
            status = response.status
    except urllib.error.HTTPError as err:
        status, error = err.code, f'HTTP {err.code}'
    except (urllib.error.URLError, OSError, ValueError) as err:
        error = str(getattr(err, 'reason', err))[:500]
    with atomic():
        attempts = delivery.attempts + 1
        if status is not None and 200 <= status < 300:
            changes = dict(state='delivered', delivered_at=now, next_attempt_at=None)
        elif now - delivery.created_at >= GIVE_UP_AFTER:
            changes = dict(state='failed', next_attempt_at=None)
        else:
            retry_at = now + dt.timedelta(seconds=FIRST_RETRY_SECONDS * 2 ** (attempts - 1))
            changes = dict(next_attempt_at=min(retry_at, delivery.created_at + GIVE_UP_AFTER))
        (WebhookDelivery
         .update(attempts=attempts, last_status=status, last_error=error, **changes)
         .where((WebhookDelivery.id == delivery.id) & (WebhookDelivery.state == 'pending'))
         .execute())
        if changes.get('next_attempt_at'):
            deadlines.schedule('webhook_retry', delivery.id, changes['next_attempt_at'])
    if error:
        log.warning('webhook %s to %s: %s (attempt %d)', delivery.event, sub.url, error, attempts)
    else:
        log.info('webhook %s to %s: HTTP %s (attempt %d)', delivery.event, sub.url, status, attempts)
    return changes.get('state') == 'delivered'


def _retry_due(delivery_id, now):
    """Deadline handler: the next attempt is due. The attempt itself runs after commit."""
    (WebhookDelivery
     .update(next_attempt_at=None)
     .where((WebhookDelivery.id == delivery_id) & (WebhookDelivery.state == 'pending'))
     .execute())
    after_commit(lambda: attempt(delivery_id))


def resend(actor, delivery_id):
    """Manual re-send from the delivery log (admins and supervisors): a fresh attempt now."""
    if actor.role not in ('admin', 'supervisor'):
        raise Forbidden(_('Only supervisors and admins may re-send webhooks.'))
    delivery = WebhookDelivery.get_or_none(WebhookDelivery.id == delivery_id)
    if delivery is None:
        raise NotFound(_('No such delivery.'))
    with atomic():
        (WebhookDelivery
         .update(state='pending', next_attempt_at=None, created_at=clock.now())
         .where(WebhookDelivery.id == delivery_id)
         .execute())
    return attempt(delivery_id)


def subscribe(user, url, events, secret=None):
    """Add a subscription for an integration user; returns it (with its secret)."""
    fields = {}
    if user.role != 'integration':
        fields['user'] = _('webhooks are for integration accounts')
    if not isinstance(url, str) or not url.startswith(('http://', 'https://')) or len(url) > 500:
        fields['url'] = _('an http(s) URL')
    if not isinstance(events, list) or not events or any(e != '*' and e not in EVENTS for e in events):
        fields['events'] = _('a list of %(e)s or "*"', e=', '.join(EVENTS))
    if fields:
        raise Invalid(_('The subscription is invalid.'), fields=fields)
    with atomic():
        return WebhookSubscription.create(user=user.id, url=url, events=json.dumps(events),
                                          secret=secret or secrets.token_hex(32))


def integration_users():
    return User.select().where((User.role == 'integration') & (User.active == True))  # noqa: E712


def init_app(app):
    outbox.register_handler('webhook', _fan_out)
    deadlines.register('webhook_retry', WebhookDelivery, WebhookDelivery.next_attempt_at, _retry_due)
