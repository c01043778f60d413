"""Notifications: what each event tells whom, and the channels that carry it.

Services call `notify()` inside their transaction; it writes one outbox row. Delivery (see
`desk.messaging.outbox`) writes an inbox message per recipient in the recipient's language and then
sends e-mail (SMTP when `DESK_SMTP_URL` is set, else printed to the log) and SMS (a provider
interface; the development provider logs).
"""
import logging
import smtplib
from email.message import EmailMessage
from urllib.parse import urlsplit

from flask import current_app
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l

from desk.core import clock
from desk.core.errors import NotFound
from desk.messaging import outbox
from desk.messaging.models import InboxMessage
from desk.parties.models import User

log = logging.getLogger('desk.messaging.notifications')

#: template key -> (title, body); params are filled with %-formatting after translation.
TEMPLATES = {
    'complaint_filed_buyer': (_l('Complaint %(ticket)s received'),
                              _l('We received your complaint about order %(order_no)s. %(promise)s')),
    'complaint_filed_merchant': (_l('New complaint %(ticket)s'),
                                 _l('A buyer complained about order %(order_no)s (%(category)s). '
                                    'Answer with a proposal before %(due)s.')),
    'complaint_filed_staff': (_l('New complaint %(ticket)s in your queue'),
                              _l('%(category)s, tier %(tier)s, order %(order_no)s.')),
    'complaint_message': (_l('New message on %(ticket)s'), _l('%(author)s wrote: %(excerpt)s')),
    'complaint_withdrawn': (_l('Complaint %(ticket)s withdrawn'),
                            _l('The buyer withdrew the complaint about order %(order_no)s.')),
    'complaint_edited': (_l('Complaint %(ticket)s updated'),
                         _l('The buyer updated the facts or demand of the complaint.')),
    'complaint_escalated': (_l('Complaint %(ticket)s needs an agent'),
                            _l('The knowledge-base answer did not help; the case is in the queue.')),
    'sla_warning_first_response': (_l('%(ticket)s: first response due in 15 minutes'),
                                   _l('The first-response target of %(ticket)s is about to pass.')),
    'sla_warning_resolution': (_l('%(ticket)s: resolution due in 15 minutes'),
                               _l('The resolution target of %(ticket)s is about to pass.')),
    'sla_breached_first_response': (_l('%(ticket)s is overdue for a first response'),
                                    _l('The first-response target of %(ticket)s passed; the case is at the top of the queue.')),
    'sla_breached_resolution': (_l('%(ticket)s is overdue for resolution'),
                                _l('The resolution target of %(ticket)s passed; the case is at the top of the queue.')),
    'complaint_claimed': (_l('An agent is handling %(ticket)s'),
                          _l('%(agent)s has taken your complaint and will keep you informed.')),
    'complaint_assigned': (_l('%(ticket)s was assigned to you'),
                           _l('%(category)s, tier %(tier)s. %(reason)s')),
    'merchant_reminder': (_l('%(ticket)s: about %(hours)d hours left to answer'),
                          _l('Answer the complaint with a proposal before %(due)s, or the platform steps in.')),
    'merchant_timeout_buyer': (_l('The platform is taking over %(ticket)s'),
                               _l('The merchant did not answer in time; the platform is handling your complaint.')),
    'merchant_timeout_merchant': (_l('%(ticket)s: the time to answer ran out'),
                                  _l('You did not answer within 24 hours; the platform has taken over the case.')),
    'proposal_received': (_l('The merchant answered %(ticket)s'),
                          _l('Accept or reject the proposal before %(due)s; after that it counts as accepted.')),
    'proposal_accepted': (_l('%(ticket)s: the buyer accepted your proposal'),
                          _l('Carry out what you proposed; the marketplace executes the remedy.')),
    'proposal_rejected': (_l('%(ticket)s: the buyer rejected your proposal'),
                          _l('The buyer says: %(reason)s. You may propose again within 24 hours.')),
    'complaint_escalated_party': (_l('The platform steps in on %(ticket)s'),
                                  _l('An agent will review the case and the evidence of both sides.')),
    'complaint_urged': (_l('The buyer urges %(ticket)s'), _l('The buyer is waiting for an answer.')),
    'remedy_unconfirmed': (_l('Remedy %(remedy)s of %(ticket)s is unconfirmed'),
                           _l('The marketplace has not confirmed the remedy within 24 hours.')),
    # merchant standing (arbitration.penalties.standing): one per change of level, timed restriction
    # or deposit hold; params: points, level, until, min_points, balance
    'standing_warning': (_l('Standing: warning (%(points)s active points)'),
                         _l('Your shop is demoted in search while it holds %(min_points)s or more active '
                            'penalty points.')),
    'standing_no_listing': (_l('No new listings until %(until)s'),
                            _l('Your shop has %(points)s active penalty points: it may not publish new '
                               'listings until %(until)s and is demoted in search.')),
    'standing_suspended': (_l('Shop suspended until %(until)s'),
                           _l('Your shop has %(points)s active penalty points: it is suspended until %(until)s.')),
    'standing_cleared': (_l('Shop cleared from the marketplace'),
                         _l('Your shop has %(points)s active penalty points and has been cleared. Expiry of '
                            'points does not lift this; only a successful appeal of a violation can.')),
    'standing_lowered': (_l('Your shop\'s standing was lowered'),
                         _l('Your shop has %(points)s active penalty points; see your standing for the '
                            'restrictions that apply.')),
    'standing_improved': (_l('Your shop\'s standing improved'),
                          _l('Your shop has %(points)s active penalty points; restrictions that no longer '
                             'apply were lifted.')),
    'standing_normal': (_l('Your shop\'s standing is back to normal'),
                        _l('Your shop has %(points)s active penalty points; no restriction from penalty '
                           'points applies any more.')),
    'standing_restriction_ended': (_l('A restriction on your shop ended'),
                                   _l('The time-limited restriction is over. Your shop keeps its level '
                                      '(%(points)s active penalty points) and the restrictions that last as '
                                      'long as the level.')),
    'standing_deposit_hold': (_l('Shop suspended: the deposit is short'),
                              _l('Your deposit balance is %(balance)s yuan. The shop stays suspended until '
                                 'the deposit is topped up.')),
    'standing_deposit_released': (_l('Deposit covered: the suspension is lifted'),
                                  _l('Your deposit balance is %(balance)s yuan; the suspension for the '
                                     'deposit is lifted.')),
}

LOCALES = {'zh': 'zh_Hans_CN', 'en': 'en'}


def notify(template, recipients, params, complaint=None, link=None, sms=False):
    """Queue a notification to the users `recipients` (ids or User objects)."""
    return notify_many([(template, recipients, params, complaint, link, sms)])[0]


def notify_many(items):
    """`notify` for many notifications at once: items are (template, recipients, params,
    complaint, link, sms) tuples; one outbox row each (one multi-row INSERT), None where
    there is nobody to tell. Returns the rows (or None) in order."""
    rows, slots = [], []
    for template, recipients, params, complaint, link, sms in items:
        ids = sorted({r if isinstance(r, int) else r.id for r in recipients if r is not None})
        if not ids:
            slots.append(None)
            continue
        if template not in TEMPLATES:
            raise KeyError(template)
        slots.append(len(rows))
        rows.append(('notify', {'template': template, 'recipients': ids, 'params': params,
                                'link': link, 'sms': sms}, complaint))
    written = outbox.emit_many(rows)
    return [written[slot] if slot is not None else None for slot in slots]


def render(template, params, language):
    title, body = TEMPLATES[template]
    with force_locale(LOCALES.get(language, 'zh_Hans_CN')):
        return str(title) % params, str(body) % params


def _deliver_notify(row, payload):
    """Outbox handler: inbox rows now (in the delivery transaction), e-mail/SMS after it."""
    followups = []
    users = User.select().where(User.id.in_(payload['recipients']) & (User.active == True))  # noqa: E712
    default = current_app.config['DEFAULT_LOCALE']
    for user in users:
        title, body = render(payload['template'], payload['params'], user.locale or default)
        InboxMessage.insert(user=user.id, outbox=row.id, complaint=row.complaint_id, title=title,
                            body=body, link=payload.get('link')).on_conflict_ignore().execute()
        if user.email:
            followups.append(lambda to=user.email, t=title, b=body: send_email(to, t, b))
        if payload.get('sms') and user.buyer_id:
            phone = user.buyer.phone
            if phone:
                followups.append(lambda p=phone, t=title: sms_backend().send(p, t))
    return followups


def init_app(app):
    outbox.register_handler('notify', _deliver_notify)


def send_email(to, subject, body):
    """SMTP when configured, otherwise the message is printed to the log (development)."""
    url = current_app.config.get('SMTP_URL')
    if not url:
        log.info('e-mail to %s: %s\n%s', to, subject, body)
        return
    parts = urlsplit(url)
    message = EmailMessage()
    message['From'] = parts.username or 'desk@localhost'
    message['To'] = to
    message['Subject'] = subject
    message.set_content(body)
    smtp_class = smtplib.SMTP_SSL if parts.scheme == 'smtps' else smtplib.SMTP
    with smtp_class(parts.hostname, parts.port or (465 if parts.scheme == 'smtps' else 25), timeout=10) as smtp:
        if parts.username:
            smtp.login(parts.username, parts.password or '')
        smtp.send_message(message)


class LoggingSms:
    """The development SMS provider: writes the message to the log."""

    def send(self, phone, text):
        log.info('SMS to %s: %s', phone, text)


def sms_backend():
    return current_app.extensions.get('desk_sms') or LoggingSms()


def unread_count(user):
    return (InboxMessage
            .select()
            .where((InboxMessage.user == user.id) & (InboxMessage.read_at.is_null()))
            .count())


def inbox_for(user, limit=100):
    return (InboxMessage
            .select()
            .where(InboxMessage.user == user.id)
            .order_by(InboxMessage.id.desc())
            .limit(limit))


def mark_read(user, message_id=None):
    """Mark one of the user's messages (or all of them) read; another's message is not found."""
    query = InboxMessage.update(read_at=clock.now()).where(
        (InboxMessage.user == user.id) & InboxMessage.read_at.is_null())
    if message_id is None:
        return query.execute()
    message = InboxMessage.get_or_none((InboxMessage.id == message_id) & (InboxMessage.user == user.id))
    if message is None:
        raise NotFound(_l('No such message.'))
    query.where(InboxMessage.id == message_id).execute()
    return message
