"""Satisfaction ratings, the supervisor review of dissatisfied ratings, reopening, and the
timers of a resolved case (SPEC §6, §3a rows `rate`, `review`, `reopen`, `close_timeout`).

- `rate`: only the case's buyer, while `rating_due_at` lies ahead, once per resolution round
  (a round is one `resolved_at`: a reopened or appealed case that is resolved again can be
  rated again; every rating is kept). The rating snapshots the owning agent and department
  (or the merchant when an agreement resolved the case without an agent). A 1–2 rating opens
  a `Review` (due in 24 h), tells the supervisors and fires the `rating.dissatisfied` webhook.
  Its breach is the deadline `review_overdue` (`Review.overdue_check_at`): still open after
  its due time, the review is marked breached and the supervisors are told, once.
- `review`: a supervisor records a finding and one or more actions on the open review:
  `uphold`, `reopen` (to a senior agent), `compensate` (a coupon through `remedies.create`),
  `coach` (a note the agent sees). `buyer_unreasonable` marks the rating excluded from CSAT,
  with who, when and why.
- `reopen`: the lifecycle action behind the review's reopen (a supervisor may also take it
  directly): back to `in_arbitration` / `in_progress` with a senior owner.
- Timers (`RatingFollowup`): rating reminders on day 3 and day 6 while unrated, and
  `close_timeout` (resolved → closed) once the rating and appeal windows are over.
"""
import datetime as dt
import json

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from peewee import IntegrityError

from desk.agent_desk import sla
from desk.agent_desk.assignment import open_load
from desk.cases import lifecycle, remedies, timeline, transitions
from desk.cases.access import AGENT_ROLES, buyer_users
from desk.cases.models import Complaint
from desk.cases.timeline import record
from desk.cases.transitions import check, transition
from desk.core import clock, deadlines
from desk.core.db import atomic
from desk.core.errors import Conflict, Invalid
from desk.core.labels import state_label
from desk.core.money import parse_yuan, to_yuan
from desk.core.text_input import clean_text, required_text
from desk.core.times import format_local, to_iso
from desk.messaging import notifications
from desk.messaging.notifications import notify
from desk.messaging.webhooks import publish
from desk.orders.models import Order
from desk.parties.accounts import supervisor_ids
from desk.parties.models import User
from desk.satisfaction.models import FINDINGS, REVIEW_ACTIONS, TAGS, Rating, RatingFollowup, Review

COMMENT_MAX = 500
NOTE_MAX = 2000
REVIEW_SLA = dt.timedelta(hours=24)
LATE_AFTER = dt.timedelta(seconds=1)  # late is after due_at; in whole seconds, from due_at + 1 s
REMIND_AFTER = (dt.timedelta(days=3), dt.timedelta(days=6))
DISSATISFIED = 2   # stars at or below: a review opens
#: Timeline events after which the case is resolved (its rating and appeal windows open).
RESOLUTION_KINDS = ('ruled', 'resolved', 'accepted', 'buyer_timeout', 'merchant_timeout', 'appeal_ruled')

NOTICES = {
    'rating_reminder': (_l('How did we handle %(ticket)s?'),
                        _l('Rate the handling of your complaint before %(due)s: it takes ten seconds.')),
    'review_opened': (_l('Dissatisfied rating on %(ticket)s'),
                      _l('The buyer gave %(stars)d star(s). Review it before %(due)s.')),
    'review_coaching': (_l('Coaching note on %(ticket)s'),
                        _l('Your supervisor reviewed a rating of yours: %(note)s')),
    'case_reopened': (_l('%(ticket)s was reopened and assigned to you'),
                      _l('A supervisor reopened the case after a review: %(reason)s')),
    'case_reopened_buyer': (_l('%(ticket)s has been reopened'),
                            _l('After reviewing your rating, a senior agent will handle your complaint again.')),
    'review_overdue': (_l('Review of %(ticket)s is overdue'),
                       _l('The review of the dissatisfied rating on %(ticket)s was due at %(due)s and is '
                          'still open. Take it from the rating review queue.')),
}
#: Where a supervisor takes the open reviews (web/consoles/ratings.py, ReviewQueueView).
REVIEW_QUEUE = '/admin/reviews/'


# --- guards ---------------------------------------------------------------------------------

def rating_of_round(complaint):
    if complaint.resolved_at is None:
        return None
    return (Rating
            .select()
            .where((Rating.complaint == complaint.id) & (Rating.resolved_at == complaint.resolved_at))
            .first())


def _guard_rating_window(complaint, user, now):
    if complaint.rating_due_at is None or now >= complaint.rating_due_at:
        return _('The rating window has closed.')
    rated = getattr(complaint, 'prefetched_rated', None)
    if rated is None:
        rated = rating_of_round(complaint) is not None
    if rated:
        return _('You have already rated this resolution.')
    return None


def open_review(complaint):
    return (Review
            .select()
            .where((Review.complaint == complaint.id) & (Review.state == 'open'))
            .order_by(Review.id)
            .first())


def _guard_open_review(complaint, user, now):
    prefetched = getattr(complaint, 'prefetched_review', _UNKNOWN)
    if (open_review(complaint) if prefetched is _UNKNOWN else prefetched) is None:
        return _('There is no open review on this case.')
    return None


_UNKNOWN = object()


def _prefetch_guards(complaints):
    """What the rate and review guards read, for a whole listed page in two queries
    (`allowed_actions` runs them for every row)."""
    ids = [c.id for c in complaints]
    if not ids:
        return
    rated = {(complaint_id, at) for complaint_id, at in
             Rating.select(Rating.complaint, Rating.resolved_at).where(Rating.complaint.in_(ids)).tuples()}
    reviews = {}
    for review in (Review.select().where(Review.complaint.in_(ids) & (Review.state == 'open'))
                   .order_by(Review.id.desc())):
        reviews[review.complaint_id] = review  # the oldest open one wins, as open_review reads
    for c in complaints:
        c.prefetched_rated = c.resolved_at is not None and (c.id, c.resolved_at) in rated
        c.prefetched_review = reviews.get(c.id)


# --- rate -----------------------------------------------------------------------------------

def parse_rating(data):
    if not isinstance(data, dict):
        raise Invalid(_('The body must be a JSON object.'))
    fields = {}
    stars = data.get('stars')
    if isinstance(stars, bool) or not isinstance(stars, int) or not 1 <= stars <= 5:
        fields['stars'] = _('a whole number from 1 to 5')
    tags = data.get('tags')
    if tags is None:
        tags = []
    if not isinstance(tags, list) or any(not isinstance(t, str) or t not in TAGS for t in tags):
        fields['tags'] = _('a list of %(c)s', c=', '.join(TAGS))
        tags = []
    comment = clean_text(data.get('comment'), 'comment', COMMENT_MAX, fields, required=False)
    if fields:
        raise Invalid(_('The rating has invalid fields.'), fields=fields)
    return stars, list(dict.fromkeys(tags)), comment or None


def attribution(complaint):
    """(agent id, merchant id) the rating belongs to: the owning agent, else the merchant."""
    if complaint.owner_id:
        owner = User.get_or_none(User.id == complaint.owner_id)
        if owner is not None and owner.role in AGENT_ROLES:
            return owner.id, None
    return None, complaint.merchant_id


def rate(actor, complaint, data):
    """The buyer rates the handling of the current resolution round."""
    now = clock.now()
    check(complaint, actor, 'rate', now)
    stars, tags, comment = parse_rating(data)
    agent_id, merchant_id = attribution(complaint)
    with atomic():
        transition(complaint, 'rate')
        round_ = Rating.select().where(Rating.complaint == complaint.id).count() + 1
        try:
            with atomic():
                rating = Rating.create(
                    complaint=complaint.id, round=round_, resolved_at=complaint.resolved_at,
                    stars=stars, tags=json.dumps(tags), comment=comment, agent=agent_id,
                    merchant=merchant_id, department=complaint.department, rated_by=actor.id,
                    rated_at=now)
        except IntegrityError:
            raise Conflict(_('You have already rated this resolution.')) from None
        RatingFollowup.update(remind_at=None).where(RatingFollowup.complaint == complaint.id).execute()
        review = None
        if stars <= DISSATISFIED:
            due = now + REVIEW_SLA
            late = due + LATE_AFTER
            review = Review.create(rating=rating.id, complaint=complaint.id, opened_at=now,
                                   due_at=due, overdue_check_at=late, agent=agent_id)
            deadlines.schedule('review_overdue', review.id, late)
        record(complaint, actor, 'rated', {'rating': rating.id, 'round': round_, 'stars': stars,
                                           'tags': tags, 'comment': comment,
                                           'review': review.id if review else None},
               actor_role='buyer')
        if review is not None:
            notify('review_opened', supervisor_ids(), {'ticket': complaint.ticket_no, 'stars': stars,
                                                     'due': format_local(review.due_at)}, complaint)
            agent = User.get_or_none(User.id == agent_id) if agent_id else None
            publish('rating.dissatisfied', {
                'ticket_no': complaint.ticket_no, 'stars': stars, 'tags': tags, 'round': round_,
                'agent': agent.username if agent else None, 'department': complaint.department,
                'review_id': review.id}, complaint)
    return complaint


# --- reopen ---------------------------------------------------------------------------------

def pick_senior(complaint, username=None):
    """The senior agent a reopened case goes to: the one named, else the least-loaded
    active senior of the case's department other than its current owner."""
    if username:
        senior = User.get_or_none((User.username == str(username)) & (User.active == True))  # noqa: E712
        if senior is None or senior.role != 'senior_agent':
            raise Invalid(_('Reopen to an active senior agent.'), fields={'to': _('not a senior agent')})
        return senior
    seniors = list(User.select().where((User.role == 'senior_agent') & (User.active == True) &  # noqa: E712
                                       (User.department == complaint.department) &
                                       (User.id != (complaint.owner_id or 0))))
    if not seniors:
        raise Conflict(_('No senior agent of the department can take the reopened case.'))
    return min(seniors, key=lambda u: (open_load(u.id), u.id))


def _reopen(actor, complaint, senior, reason, now, review=None):
    state = lifecycle.worked_state(complaint.path)
    before = complaint.owner_id
    transition(complaint, 'reopen', state, owner=senior.id, department=senior.department,
          assigned_at=now, rating_due_at=None, appeal_due_at=None, evidence_due_at=None)
    sla.start(complaint, now)  # the reopened case runs against fresh targets (the old events stay)
    RatingFollowup.delete().where(RatingFollowup.complaint == complaint.id).execute()
    previous = User.get_or_none(User.id == before) if before else None
    record(complaint, actor, 'reopened', {'from': previous.username if previous else None,
                                          'to': senior.username, 'agent': senior.display_name,
                                          'reason': reason, 'review': review.id if review else None,
                                          'state': state})
    notify('case_reopened', [senior.id], {'ticket': complaint.ticket_no, 'reason': reason}, complaint)
    notify('case_reopened_buyer', buyer_users(complaint), {'ticket': complaint.ticket_no}, complaint,
           link=f'/buyer/complaints/{complaint.ticket_no}')
    publish('complaint.state_changed', {'ticket_no': complaint.ticket_no, 'state': state,
                                        'reason': 'reopened'}, complaint)


def reopen(actor, complaint, data):
    """A supervisor sends a resolved case back to work with a senior owner."""
    now = clock.now()
    check(complaint, actor, 'reopen', now)
    data = data if isinstance(data, dict) else {}
    reason = required_text(data, 'reason', NOTE_MAX, missing=_('Say why the case is reopened.'))
    senior = pick_senior(complaint, data.get('to'))
    with atomic():
        _reopen(actor, complaint, senior, reason, now)
    return complaint


# --- review ---------------------------------------------------------------------------------

def parse_review(complaint, data):
    if not isinstance(data, dict):
        raise Invalid(_('The body must be a JSON object.'))
    fields = {}
    finding = data.get('finding')
    if finding not in FINDINGS:
        fields['finding'] = _('one of %(c)s', c=', '.join(FINDINGS))
    actions = data.get('actions')
    if (not isinstance(actions, list) or not actions or
            any(not isinstance(a, str) or a not in REVIEW_ACTIONS for a in actions)):
        fields['actions'] = _('one or more of %(c)s', c=', '.join(REVIEW_ACTIONS))
        actions = []
    actions = list(dict.fromkeys(actions))
    if 'uphold' in actions and ({'reopen', 'compensate'} & set(actions)):
        fields['actions'] = _('uphold cannot go with reopen or compensate')
    note = clean_text(data.get('note'), 'note', NOTE_MAX, fields,
                      missing=(_('a finding of buyer_unreasonable needs a note saying why')
                               if finding == 'buyer_unreasonable' else None))
    coupon = None
    if 'compensate' in actions:
        try:
            coupon = parse_yuan(data.get('amount'), 'amount', allow_zero=False)
        except Invalid as err:
            fields.update(err.fields or {'amount': err.message})
        else:
            order = Order.get_by_id(complaint.order_id)
            if coupon > order.amount_fen:
                fields['amount'] = _('at most %(a)s', a=to_yuan(order.amount_fen))
    elif data.get('amount') not in (None, ''):
        fields['amount'] = _('only a compensation has an amount')
    if fields:
        raise Invalid(_('The review has invalid fields.'), fields=fields)
    return finding, actions, note, coupon


def review(actor, complaint, data):
    """The supervisor's finding and actions on the open review of a dissatisfied rating."""
    now = clock.now()
    check(complaint, actor, 'review', now)
    finding, actions, note, coupon = parse_review(complaint, data)
    item = open_review(complaint)
    rating = Rating.get_by_id(item.rating_id)
    if 'coach' in actions and not rating.agent_id:
        raise Invalid(_('The rating belongs to no agent: there is nobody to coach.'),
                      fields={'actions': _('coach needs an agent')})
    if 'reopen' in actions and lifecycle.row(complaint.state, 'reopen') is None:
        raise Conflict(_('Only a resolved case can be reopened; this one is %(s)s.',
                         s=state_label(complaint.state, 'message')))
    senior = pick_senior(complaint, (data or {}).get('to')) if 'reopen' in actions else None
    with atomic():
        if senior is not None:
            _reopen(actor, complaint, senior, note, now, review=item)
        else:
            transition(complaint, 'review')
        done = dict(state='done', finding=finding, actions=json.dumps(actions), note=note,
                    coupon_fen=coupon, reopened_to=senior.id if senior else None,
                    reviewer=actor.id, reviewed_at=now, overdue_check_at=None,
                    coach_note=note if 'coach' in actions else None)
        if now > item.due_at:
            done['breached'] = True  # otherwise left as is: the breach check may have set it
        updated = (Review
                   .update(**done)
                   .where((Review.id == item.id) & (Review.state == 'open'))
                   .execute())
        if not updated:
            raise Conflict(_('This review was completed by someone else meanwhile.'))
        if finding == 'buyer_unreasonable':
            (Rating
             .update(excluded=True, excluded_by=actor.id, excluded_reason=note, excluded_at=now)
             .where(Rating.id == rating.id)
             .execute())
        if 'compensate' in actions:
            remedies.create(complaint, 'compensation', coupon, 'review', actor)
        record(complaint, actor, 'reviewed', {
            'review': item.id, 'rating': rating.id, 'finding': finding, 'actions': actions,
            'note': note, 'coupon_fen': coupon, 'excluded': finding == 'buyer_unreasonable',
            'reopened_to': senior.username if senior else None}, public=False)
        if 'coach' in actions:
            notify('review_coaching', [rating.agent_id], {'ticket': complaint.ticket_no, 'note': note},
                   complaint)
    return complaint


# --- timers -----------------------------------------------------------------------------------

def _after_event(complaint, event):
    """Open or stop the timers of a resolved case as its timeline moves."""
    if event.kind in RESOLUTION_KINDS and complaint.state == lifecycle.RESOLVED and complaint.resolved_at:
        close_at = max(t for t in (complaint.rating_due_at, complaint.appeal_due_at, complaint.resolved_at)
                       if t is not None)
        remind_at = complaint.resolved_at + REMIND_AFTER[0] if complaint.rating_due_at else None
        if remind_at is not None and remind_at >= complaint.rating_due_at:
            remind_at = None
        (RatingFollowup
         .insert(complaint=complaint.id, resolved_at=complaint.resolved_at, remind_at=remind_at,
                 reminders_sent=0, close_at=close_at)
         .on_conflict(conflict_target=[RatingFollowup.complaint],
                      update={RatingFollowup.resolved_at: complaint.resolved_at,
                              RatingFollowup.remind_at: remind_at, RatingFollowup.reminders_sent: 0,
                              RatingFollowup.close_at: close_at})
         .execute())
        deadlines.schedule('rating_remind', complaint.id, remind_at)
        deadlines.schedule('close_timeout', complaint.id, close_at)
    elif event.kind == 'appealed':
        RatingFollowup.delete().where(RatingFollowup.complaint == complaint.id).execute()


def _remind(complaint_id, now):
    follow = RatingFollowup.get_by_id(complaint_id)
    complaint = Complaint.get_by_id(complaint_id)
    if (complaint.state != lifecycle.RESOLVED or complaint.rating_due_at is None or now >= complaint.rating_due_at
            or rating_of_round(complaint) is not None):
        RatingFollowup.update(remind_at=None).where(RatingFollowup.complaint == complaint_id).execute()
        return
    sent = follow.reminders_sent + 1
    notify('rating_reminder', buyer_users(complaint),
           {'ticket': complaint.ticket_no, 'due': format_local(complaint.rating_due_at)}, complaint,
           link=f'/buyer/complaints/{complaint.ticket_no}', sms=True)
    following = follow.resolved_at + REMIND_AFTER[sent] if sent < len(REMIND_AFTER) else None
    if following is not None and following >= complaint.rating_due_at:
        following = None
    (RatingFollowup
     .update(reminders_sent=sent, remind_at=following)
     .where(RatingFollowup.complaint == complaint_id)
     .execute())
    deadlines.schedule('rating_remind', complaint_id, following)


def _close(complaint_id, now):
    """close_timeout: resolved → closed once the rating and appeal windows are over."""
    complaint = Complaint.get_by_id(complaint_id)
    if complaint.state != lifecycle.RESOLVED:
        RatingFollowup.update(close_at=None).where(RatingFollowup.complaint == complaint_id).execute()
        return
    later = max((t for t in (complaint.rating_due_at, complaint.appeal_due_at) if t is not None and t > now),
                default=None)
    if later is not None:
        RatingFollowup.update(close_at=later).where(RatingFollowup.complaint == complaint_id).execute()
        deadlines.schedule('close_timeout', complaint_id, later)
        return
    transition(complaint, 'close_timeout', lifecycle.CLOSED, closed_at=now)
    RatingFollowup.update(close_at=None, remind_at=None).where(
        RatingFollowup.complaint == complaint_id).execute()
    record(complaint, None, 'close_timeout', {'state': complaint.state})
    publish('complaint.state_changed', {'ticket_no': complaint.ticket_no, 'state': complaint.state,
                                        'reason': 'close_timeout'}, complaint)


def _review_overdue(review_id, now):
    """review_overdue: the review is still open at its due time. It is marked breached, the
    supervisors are told (inbox and e-mail) and the case's timeline gets an internal event.

    Idempotent: the compare-and-set on the open state and the pending check lets one run
    through; it clears the check, so a second run (the sweep after the exact-time job)
    finds nothing due. A review done in time had its check cleared when it was done.

    Late means after `due_at`, as for `review` and the queue's overdue flag: a review done in
    its due second is on time, so the check is armed a second later — and a check armed at
    `due_at` itself (migration 0017) waits for the next sweep instead of marking it then.
    """
    item = Review.get_by_id(review_id)
    marked = (Review
              .update(breached=True, overdue_check_at=None)
              .where((Review.id == review_id) & (Review.state == 'open') & (Review.due_at < now) &
                     (Review.overdue_check_at == item.overdue_check_at) & (Review.overdue_check_at <= now))
              .execute())
    if not marked:
        Review.update(overdue_check_at=None).where(
            (Review.id == review_id) & (Review.state != 'open')).execute()
        return
    complaint = Complaint.get_by_id(item.complaint_id)
    record(complaint, None, 'review_overdue', {'review': item.id, 'rating': item.rating_id,
                                               'due_at': to_iso(item.due_at)}, public=False)
    notify('review_overdue', supervisor_ids(), {'ticket': complaint.ticket_no, 'due': format_local(item.due_at)},
           complaint, link=REVIEW_QUEUE)


def init_app(app):
    notifications.TEMPLATES.update(NOTICES)
    transitions.GUARDS.update({'rating_window': _guard_rating_window, 'open_review': _guard_open_review})
    transitions.add_guard_prefetch(_prefetch_guards)
    transitions.ACTIONS.update({'rate': rate, 'review': review, 'reopen': reopen})
    timeline.add_listener(_after_event)
    deadlines.register('rating_remind', RatingFollowup, RatingFollowup.remind_at, _remind)
    deadlines.register('close_timeout', RatingFollowup, RatingFollowup.close_at, _close)
    deadlines.register('review_overdue', Review, Review.overdue_check_at, _review_overdue)


def agent_record(agent_id, limit=10):
    """The agent's recent ratings (for the review queue)."""
    return list(Rating
                .select(Rating, Complaint.ticket_no)
                .join(Complaint)
                .where(Rating.agent == agent_id)
                .order_by(Rating.rated_at.desc())
                .limit(limit))

