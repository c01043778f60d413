"""What one generated complaint looks like: its story (state and timeline), its deadline
columns, the merchant's proposals, remedies and violations, and for cases in an agent queue
its SLA clocks — consistent with what the desk's own services would have written.

Pure functions of an order row, the settings and a random generator: no database access,
so the generator builds a whole batch in memory and writes it with a few INSERTs.

A scenario names a story (`closed_negotiated`: the merchant proposed, the buyer accepted,
the rating window passed). Each story needs its filing time in some window relative to now
(a case still negotiating was filed within the merchant's 24 hours); `Planner.plan` returns
None when the order's own complaint window (delivery to 15 days after confirmation) cannot
hold it, and the generator offers that scenario to a later order.
"""
import datetime as dt
import json
from types import SimpleNamespace
from typing import NamedTuple

from complaint_texts import (
    AGENT_MESSAGES,
    BUYER_MESSAGES,
    CARD_ERRORS,
    CLOSERS,
    FACTS,
    INTERNAL_NOTES,
    KB_ARTICLES,
    MERCHANT_MESSAGES,
    OPENERS,
    PROPOSAL_NOTES,
    RESOLUTION_NOTES,
    RULING_REASONS,
    WITHDRAW_REASONS,
)

from desk.agent_desk.sla import WARN_BEFORE, queue_rank
from desk.cases.complaints import EXTERNAL_PRIORITY, LARGE_AMOUNT_FEN, PROOF_AMOUNT_FEN
from desk.cases.models import FAR_FUTURE

MINUTE = dt.timedelta(minutes=1)
HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)

#: Share of all complaints per scenario, before the agent queues (which are sized apart).
SCENARIOS = {
    'closed_negotiated': 0.400, 'closed_ruled': 0.100, 'closed_platform': 0.135,
    'closed_helped': 0.100, 'withdrawn': 0.060, 'resolved_negotiated': 0.060,
    'resolved_ruled': 0.020, 'resolved_platform': 0.020, 'negotiating': 0.025,
    'awaiting_buyer': 0.010, 'self_service': 0.010,
}
QUEUE_OWNED_SHARE = 0.6    # of a department's queue: claimed (in_progress / in_arbitration)
QUEUE_OVERDUE_SHARE = 0.15  # of a department's queue: a target breached, queue_rank 0

#: How likely each category is for a goods type (the marketplace's complaint mix).
CATEGORY_WEIGHTS = {
    'game_card': {'recharge_not_arrived': 2, 'card_invalid': 10, 'not_as_described': 3, 'fake_delivery': 3,
                  'refund_delay': 2, 'account_security': 0.5, 'system_fault': 0.5, 'service_attitude': 1,
                  'inquiry': 2},
    'phone_recharge': {'recharge_not_arrived': 12, 'not_as_described': 1, 'fake_delivery': 1, 'refund_delay': 3,
                       'account_security': 0.3, 'system_fault': 0.7, 'service_attitude': 1, 'inquiry': 2},
    'gift_card': {'recharge_not_arrived': 1, 'card_invalid': 9, 'not_as_described': 3, 'fake_delivery': 3,
                  'refund_delay': 2, 'account_security': 0.3, 'system_fault': 0.5, 'service_attitude': 1,
                  'inquiry': 2},
    'game_account': {'not_as_described': 5, 'fake_delivery': 3, 'refund_delay': 2, 'account_security': 8,
                     'system_fault': 0.5, 'service_attitude': 1, 'inquiry': 1.5},
    'other': {'recharge_not_arrived': 1, 'card_invalid': 1, 'not_as_described': 6, 'fake_delivery': 2,
              'refund_delay': 3, 'account_security': 0.5, 'system_fault': 1, 'service_attitude': 1.5,
              'inquiry': 2},
}
DEMANDS = {  # category -> [(demand type, weight)]
    'recharge_not_arrived': [('full_refund', 7), ('reissue', 3)],
    'card_invalid': [('reissue', 5), ('full_refund', 5)],
    'not_as_described': [('full_refund', 6), ('partial_refund', 4)],
    'fake_delivery': [('full_refund', 8), ('compensation', 2)],
    'refund_delay': [('full_refund', 10)],
    'account_security': [('full_refund', 5), ('compensation', 3), ('other', 2)],
    'system_fault': [('compensation', 6), ('fix', 4)],
    'service_attitude': [('other', 7), ('compensation', 3)],
    'inquiry': [('other', 10)],
}
CHANNELS = [('app', 55), ('web', 20), ('api', 15), ('phone', 5), ('wechat', 4), ('qq', 1)]
STARS = [(5, 50), (4, 25), (3, 10), (2, 8), (1, 7)]

#: Complaint columns the generator writes (besides id, ticket_no and the timeline head).
COMPLAINT_COLUMNS = (
    'order', 'buyer', 'merchant', 'category', 'path', 'tier', 'department', 'state', 'version',
    'owner', 'filed_by', 'facts', 'scenario', 'demand_type', 'demand_fen', 'basis', 'channel',
    'external_12315', 'external_heimao', 'priority', 'needs_payment_proof', 'override_reason',
    'created_at', 'updated_at', 'resolved_at', 'closed_at', 'merchant_due_at', 'buyer_due_at',
    'evidence_due_at', 'first_response_due_at', 'resolution_due_at', 'rating_due_at',
    'appeal_due_at', 'edit_until', 'in_queue', 'queue_rank', 'next_due_at', 'sla_check_at',
    'first_response_at', 'assigned_at', 'merchant_remind_at', 'merchant_answered_at', 'proposal_count',
    'urge_count', 'last_urged_at')
#: The merchant's reminders before the 24-hour deadline (arbitration.negotiation).
REMINDERS_BEFORE = (dt.timedelta(hours=12), dt.timedelta(hours=2))
REMEDY_CONFIRM_WITHIN = dt.timedelta(hours=24)
VIOLATION_DAYS = 365


class OrderRow(NamedTuple):
    id: int
    buyer_id: int
    merchant_id: int
    product: str
    goods_type: str
    amount_fen: int
    paid_at: dt.datetime
    delivered_at: dt.datetime
    confirmed_at: dt.datetime
    receiving_account: str


class Agent(NamedTuple):
    id: int
    username: str
    display_name: str
    role: str


class Settings(NamedTuple):
    """Everything a plan depends on, read once from the app's config and tables."""
    now: dt.datetime
    zone: object                # the desk's time zone (tickets and texts are local)
    categories: dict            # code -> (path, tier, department, [scenario fields])
    clauses: dict               # category -> [rule clause codes]
    policies: dict              # tier -> (first response seconds, resolution seconds)
    calendar: object            # desk.agent_desk.business_calendar.Calendar
    seconds: dict               # WINDOW, EDIT, MERCHANT, BUYER, EVIDENCE, RATING, APPEAL
    agents: dict                # department -> {'any': [Agent], 'senior': [Agent]}


class Plan(NamedTuple):
    complaint: dict             # COMPLAINT_COLUMNS -> value
    events: list                # [(at, actor_id, actor_role, kind, public, data)]
    clocks: list                # [dict of SlaClock columns without complaint]
    sla_events: list            # [dict of SlaEvent columns without complaint]
    proposals: list             # [dict of Proposal columns without complaint]
    remedies: list              # [dict of Remedy columns without complaint and id]
    violations: list            # [dict of Violation columns without complaint]


class RemedyRef(NamedTuple):
    """Stands for the id of the plan's n-th remedy in event data until ids are reserved."""
    index: int


def weighted(rng, pairs):
    values, weights = zip(*pairs)
    return rng.choices(values, weights)[0]


def between(rng, start, end):
    """A whole-second moment in [start, end] (start when the window is empty)."""
    span = int((end - start).total_seconds())
    return start + dt.timedelta(seconds=rng.randint(0, span)) if span > 0 else start


def backward(rng, window, lo, hi, lag_min, lag_max):
    """(end, start) with end in `window`, start = end - lag in [lo, hi], lag in [lag_min,
    lag_max]; None when no such pair exists."""
    end_lo, end_hi = max(window[0], lo + lag_min), min(window[1], hi + lag_max)
    if end_lo > end_hi:
        return None
    end = between(rng, end_lo, end_hi)
    lag_lo, lag_hi = max(lag_min, end - hi), min(lag_max, end - lo)
    if lag_lo > lag_hi:
        return None
    return end, end - _lag(rng, lag_lo, lag_hi)


def _lag(rng, low, high):
    span = int((high - low).total_seconds())
    return low + dt.timedelta(seconds=rng.randint(0, span)) if span > 0 else low


class Story:
    """A complaint's timeline under construction: events in time order, never after now."""

    def __init__(self, now):
        self.now = now
        self.events = []
        self.last = None
        self.proposals, self.remedies, self.violations = [], [], []

    def add(self, at, kind, role, actor=None, data=None, public=True):
        at = min(max(at, self.last or at), self.now).replace(microsecond=0)
        self.last = at
        self.events.append((at, actor, role, kind, public, data or {}))
        return at


class Planner:
    def __init__(self, settings, rng):
        self.s = settings
        self.rng = rng
        self.now = settings.now
        self.by_path = {}
        for code, (path, _tier, _dept, _fields) in settings.categories.items():
            self.by_path.setdefault(path, []).append(code)
        self.by_department = {}
        for code, (path, _tier, dept, _fields) in settings.categories.items():
            self.by_department.setdefault(dept, []).append(code)

    # --- the order's window and the complaint's basics ------------------------------------

    def window(self, order):
        """(earliest, latest) filing time the order allows: after delivery, within the
        complaint window, and before now."""
        base = order.confirmed_at or order.delivered_at or order.paid_at
        earliest = (order.delivered_at or order.paid_at) + 2 * MINUTE
        latest = min(self.now - MINUTE, base + dt.timedelta(seconds=self.s.seconds['WINDOW']))
        return earliest.replace(microsecond=0), latest.replace(microsecond=0)

    def category(self, order, codes):
        weights = CATEGORY_WEIGHTS.get(order.goods_type, CATEGORY_WEIGHTS['other'])
        pairs = [(code, weights.get(code, 0) + 0.05) for code in codes]
        return weighted(self.rng, pairs)

    def tier(self, order, code):
        path, tier, _dept, _fields = self.s.categories[code]
        if path != 'self_service' and order.amount_fen >= LARGE_AMOUNT_FEN:
            return 'L1'
        return tier

    def basics(self, order, code, created, tier=None, path=None):
        """The columns every complaint has, as filing sets them."""
        rng = self.rng
        cat_path, _tier, dept, fields = self.s.categories[code]
        tier = tier or self.tier(order, code)
        demand_type = weighted(rng, DEMANDS[code])
        demand_fen = None
        if demand_type == 'full_refund':
            demand_fen = order.amount_fen
        elif demand_type in ('partial_refund', 'compensation'):
            demand_fen = max(1, order.amount_fen * rng.randint(10, 60) // 100)
        external = [e for e, p in (('12315', 0.015), ('heimao', 0.01)) if rng.random() < p]
        clauses = self.s.clauses.get(code, [])
        return {
            'order': order.id, 'buyer': order.buyer_id, 'merchant': order.merchant_id,
            'category': code, 'path': path or cat_path, 'tier': tier, 'department': dept,
            'version': 1, 'owner': None, 'filed_by': None,
            'facts': self.facts(order, code, created),
            'scenario': json.dumps(self.scenario(order, fields, created), ensure_ascii=False),
            'demand_type': demand_type, 'demand_fen': demand_fen,
            'basis': rng.choice(clauses) if clauses and rng.random() < 0.4 else None,
            'channel': weighted(rng, CHANNELS),
            'external_12315': '12315' in external, 'external_heimao': 'heimao' in external,
            'priority': EXTERNAL_PRIORITY if external else 0,
            'needs_payment_proof': order.amount_fen >= PROOF_AMOUNT_FEN, 'override_reason': None,
            'created_at': created, 'updated_at': created, 'resolved_at': None, 'closed_at': None,
            'merchant_due_at': None, 'buyer_due_at': None, 'evidence_due_at': None,
            'first_response_due_at': None, 'resolution_due_at': None, 'rating_due_at': None,
            'appeal_due_at': None, 'edit_until': created + dt.timedelta(seconds=self.s.seconds['EDIT']),
            'in_queue': False, 'queue_rank': 2, 'next_due_at': FAR_FUTURE, 'sla_check_at': None,
            'first_response_at': None, 'assigned_at': None, 'merchant_remind_at': None,
            'merchant_answered_at': None, 'proposal_count': 0, 'urge_count': 0, 'last_urged_at': None,
        }

    def local(self, when):
        return when.replace(tzinfo=dt.timezone.utc).astimezone(self.s.zone)

    def facts(self, order, code, created):
        rng = self.rng
        paid = self.local(order.paid_at)
        account = order.receiving_account or ('1' + rng.choice('3578') + str(rng.randrange(10 ** 9)).zfill(9))
        text = rng.choice(FACTS[code]).format(
            product=order.product, amount=f'{order.amount_fen / 100:.2f}',
            when=f'{paid.month}月{paid.day}日 {paid:%H:%M}', account=account[:3] + '****' + account[-4:],
            minutes=rng.choice([25, 40, 60, 90, 120, 180, 300]), error=rng.choice(CARD_ERRORS),
            days=rng.randint(2, 9))
        return rng.choice(OPENERS) + text + rng.choice(CLOSERS)

    def scenario(self, order, fields, created):
        rng = self.rng
        values = {}
        for name in fields:
            if name == 'receiving_account':
                values[name] = order.receiving_account or '1' + str(rng.randrange(10 ** 10)).zfill(10)
            elif name == 'minutes_late':
                values[name] = rng.choice([30, 45, 60, 120, 240, 600])
            elif name == 'error_message':
                values[name] = rng.choice(CARD_ERRORS)
            elif name.endswith('_at'):
                moment = between(rng, order.paid_at, created)
                values[name] = self.local(moment).isoformat()
        return values

    # --- timeline pieces ------------------------------------------------------------------

    def filed(self, story, row, state):
        story.add(row['created_at'], 'filed', 'buyer', data={
            'category': row['category'], 'tier': row['tier'], 'state': state, 'channel': row['channel'],
            'demand': {'type': row['demand_type'], 'amount_fen': row['demand_fen']},
            'dedicated_owner': None})
        if row['external_12315'] or row['external_heimao']:
            external = [e for e, flag in (('12315', row['external_12315']), ('heimao', row['external_heimao'])) if flag]
            story.add(row['created_at'], 'marked_external', 'buyer', data={'external': external})

    def chat(self, story, start, end, count, parties=('buyer', 'merchant_staff'), agent=None):
        """`count` public messages between `start` and `end`, alternating `parties`."""
        moments = sorted(between(self.rng, start, end) for _ in range(count))
        for i, at in enumerate(moments):
            role = parties[i % len(parties)]
            if role == 'buyer':
                story.add(at, 'message', 'buyer', data={'body': self.rng.choice(BUYER_MESSAGES), 'author': '买家'})
            elif role == 'merchant_staff':
                story.add(at, 'message', 'merchant_staff',
                          data={'body': self.rng.choice(MERCHANT_MESSAGES), 'author': '商家客服'})
            else:
                story.add(at, 'message', agent.role, agent.id,
                          data={'body': self.rng.choice(AGENT_MESSAGES), 'author': agent.display_name})

    def propose(self, story, row, order, at):
        """The merchant's answer, as arbitration.negotiation.propose records it."""
        kind, amount = {'full_refund': ('refund', order.amount_fen), 'partial_refund': ('refund', row['demand_fen']),
                        'reissue': ('reissue', None), 'compensation': ('compensation', row['demand_fen'])
                        }.get(row['demand_type'], ('reject', None))
        seq = len(story.proposals) + 1
        message = self.rng.choice(PROPOSAL_NOTES)
        at = story.add(at, 'proposed', 'merchant_staff', data={'proposal': seq, 'type': kind, 'amount_fen': amount,
                                                               'message': message})
        proposal = {'seq': seq, 'kind': kind, 'amount_fen': amount, 'message': message, 'state': 'pending',
                    'created_by': None, 'created_at': at, 'answered_at': None, 'buyer_reason': None,
                    'accepted_by_timeout': False}
        story.proposals.append(proposal)
        row.update(proposal_count=seq, merchant_answered_at=row['merchant_answered_at'] or at,
                   merchant_due_at=None, merchant_remind_at=None)
        return proposal

    def accept(self, story, row, order, proposal, at, by_timeout=False):
        at = story.add(at, 'buyer_timeout' if by_timeout else 'accepted', 'system' if by_timeout else 'buyer',
                       data={'proposal': proposal['seq'], 'type': proposal['kind']})
        proposal.update(state='accepted', answered_at=at, accepted_by_timeout=by_timeout)
        if proposal['kind'] != 'reject':
            self.remedy(story, row, order, proposal['kind'], proposal['amount_fen'],
                        'timeout' if by_timeout else 'agreement', at, 'system' if by_timeout else 'buyer')

    def remedy(self, story, row, order, kind, amount, source, at, role, actor=None):
        """A remedy (desk.cases.remedies.create) and, mostly, the marketplace's confirmation."""
        index = len(story.remedies)
        at = story.add(at, 'remedy_created', role, actor, data={
            'remedy': RemedyRef(index), 'kind': kind, 'amount_fen': amount, 'source': source})
        remedy = {'order': order.id, 'kind': kind, 'amount_fen': amount, 'source': source, 'state': 'pending',
                  'idempotency_key': f'remedy-{self.rng.getrandbits(96):024x}', 'created_at': at,
                  'confirmed_at': None, 'confirm_due_at': None}
        confirmed = at + _lag(self.rng, 2 * MINUTE, 6 * HOUR)
        if confirmed <= self.now and self.rng.random() < 0.98:
            confirmed = story.add(confirmed, 'remedy_confirmed', 'integration',
                                  data={'remedy': RemedyRef(index), 'kind': kind})
            remedy.update(state='confirmed', confirmed_at=confirmed)
        elif at + REMEDY_CONFIRM_WITHIN > self.now:
            remedy['confirm_due_at'] = at + REMEDY_CONFIRM_WITHIN  # still waiting; the alert is ahead
        story.remedies.append(remedy)

    def violation(self, story, code, at):
        points = {'no_response': 2}[code]
        story.violations.append({'code': code, 'points': points, 'fine_fen': 0, 'at': at,
                                 'expires_at': at + dt.timedelta(days=VIOLATION_DAYS), 'state': 'active',
                                 'reason': None})

    def urge(self, story, row, start, end, share):
        if self.rng.random() < share:
            at = story.add(between(self.rng, start, end), 'urged', 'buyer', data={'count': 1})
            row.update(urge_count=1, last_urged_at=at)

    def merchant_window(self, row, start):
        """merchant_due_at and the next reminder still ahead (start_merchant_window)."""
        due = start + dt.timedelta(seconds=self.s.seconds['MERCHANT'])
        remind = next((due - before for before in REMINDERS_BEFORE if due - before > self.now), None)
        row.update(merchant_due_at=due, merchant_remind_at=remind)

    def escalation(self, story, row, order, created, taken, timeout):
        """How a merchant-path case reached the platform at `taken`: the merchant's silence
        (a no_response violation) or a party stepping in after a proposal."""
        if timeout:
            self.chat(story, created, taken, self.rng.choice([0, 1]), parties=('buyer',))
            story.add(taken, 'merchant_timeout', 'system', data={'outcome': 'platform'})
            self.violation(story, 'no_response', taken)
        else:
            proposed = between(self.rng, created + 5 * MINUTE, min(taken - MINUTE, created + 23 * HOUR))
            proposal = self.propose(story, row, order, proposed)
            story.add(taken, 'escalated', 'buyer', data={'reason': '商家方案不合理,申请平台介入'})
            proposal.update(state='superseded', answered_at=taken)

    def rating(self, story, row, resolved, closes):
        """Maybe a rating between `resolved` and `closes` (when the window ends)."""
        if self.rng.random() < 0.2:
            at = between(self.rng, resolved + MINUTE, min(closes - MINUTE, self.now))
            if at <= self.now:
                story.add(at, 'rated', 'buyer', data={'stars': weighted(self.rng, STARS)})
                return True
        return False

    def agent(self, department, tier):
        pool = self.s.agents[department]
        return self.rng.choice(pool['senior'] if tier == 'L1' and pool['senior'] else pool['any'])

    def claim(self, story, row, agent, at, state):
        row.update(owner=agent.id, assigned_at=at, first_response_at=at)
        story.add(at, 'claimed', agent.role, agent.id, data={
            'owner': agent.username, 'agent': agent.display_name, 'state': state, 'reason': None})

    def finish(self, row, story, clocks=(), sla_events=()):
        row['version'] = len(story.events)
        row['updated_at'] = story.last
        return Plan(row, story.events, list(clocks), list(sla_events), story.proposals, story.remedies,
                    story.violations)

    # --- scenarios --------------------------------------------------------------------------

    def plan(self, order, scenario):
        lo, hi = self.window(order)
        if hi <= lo:
            return None
        if scenario.startswith('queue:'):
            return self.queue_case(order, lo, hi, scenario.split(':', 1)[1])
        if scenario == 'sla_due':
            return self.sla_due_case(order, lo, hi)
        if scenario == 'merchant_due':
            return self.merchant_due_case(order, lo, hi)
        return getattr(self, scenario)(order, lo, hi)

    def negotiating(self, order, lo, hi):
        merchant = dt.timedelta(seconds=self.s.seconds['MERCHANT'])
        start, end = max(lo, self.now - merchant + 2 * MINUTE), min(hi, self.now - MINUTE)
        if start > end:
            return None
        created = between(self.rng, start, end)
        row = self.basics(order, self.category(order, self.by_path['merchant']), created)
        story = Story(self.now)
        self.filed(story, row, 'negotiating')
        self.chat(story, created, self.now, self.rng.choice([0, 0, 1, 2]))
        self.urge(story, row, created, self.now, 0.15)
        row['state'] = 'negotiating'
        self.merchant_window(row, created)
        return self.finish(row, story)

    def merchant_due_case(self, order, lo, hi):
        """A merchant-path case whose 24 hours end within the minute before now, the merchant
        silent and reminded: what `bench/deadlines.py merchant` times to pending_agent."""
        merchant = dt.timedelta(seconds=self.s.seconds['MERCHANT'])
        created = self.now - merchant - _lag(self.rng, dt.timedelta(0), MINUTE)
        if not lo <= created <= hi:
            return None
        row = self.basics(order, self.category(order, self.by_path['merchant']), created)
        story = Story(self.now)
        self.filed(story, row, 'negotiating')
        self.chat(story, created, self.now - MINUTE, self.rng.choice([0, 0, 1]), parties=('buyer',))
        row.update(state='negotiating', merchant_due_at=created + merchant, merchant_remind_at=None)
        return self.finish(row, story)

    def awaiting_buyer(self, order, lo, hi):
        merchant = dt.timedelta(seconds=self.s.seconds['MERCHANT'])
        buyer = dt.timedelta(seconds=self.s.seconds['BUYER'])
        start, end = max(lo, self.now - buyer - merchant + 10 * MINUTE), min(hi, self.now - 10 * MINUTE)
        if start > end:
            return None
        created = between(self.rng, start, end)
        proposed = between(self.rng, max(created + 5 * MINUTE, self.now - buyer + 2 * MINUTE),
                           min(created + merchant - MINUTE, self.now - MINUTE))
        row = self.basics(order, self.category(order, self.by_path['merchant']), created)
        story = Story(self.now)
        self.filed(story, row, 'negotiating')
        self.chat(story, created, proposed, self.rng.choice([0, 0, 1]), parties=('merchant_staff', 'buyer'))
        proposal = self.propose(story, row, order, proposed)
        self.chat(story, proposed, self.now, self.rng.choice([0, 0, 1]), parties=('buyer',))
        row.update(state='awaiting_buyer', buyer_due_at=proposal['created_at'] + buyer)
        return self.finish(row, story)

    def self_service(self, order, lo, hi):
        start, end = max(lo, self.now - 3 * DAY), min(hi, self.now - MINUTE)
        if start > end:
            return None
        created = between(self.rng, start, end)
        row = self.basics(order, 'inquiry', created)
        story = Story(self.now)
        self.filed(story, row, 'self_service')
        story.add(created, 'kb_answered', 'system', data={'article': self.rng.choice(KB_ARTICLES)})
        row.update(state='self_service')
        return self.finish(row, story)

    def closed_helped(self, order, lo, hi):
        found = backward(self.rng, (lo, self.now), lo, hi, MINUTE, 2 * HOUR)
        if found is None:
            return None
        helped, created = found
        row = self.basics(order, 'inquiry', created)
        story = Story(self.now)
        self.filed(story, row, 'self_service')
        story.add(created, 'kb_answered', 'system', data={'article': self.rng.choice(KB_ARTICLES)})
        story.add(helped, 'helped', 'buyer', data={'state': 'closed'})
        row.update(state='closed', resolved_at=helped, closed_at=helped)
        return self.finish(row, story)

    def withdrawn(self, order, lo, hi):
        found = backward(self.rng, (lo, self.now), lo, hi, 5 * MINUTE, 5 * DAY)
        if found is None:
            return None
        withdrawn, created = found
        code = self.category(order, list(self.s.categories))
        row = self.basics(order, code, created)
        first_state = {'merchant': 'negotiating', 'platform': 'pending_agent',
                       'self_service': 'self_service'}[row['path']]
        story = Story(self.now)
        self.filed(story, row, first_state)
        parties = ('buyer', 'merchant_staff') if row['path'] == 'merchant' else ('buyer',)
        self.chat(story, created, withdrawn, self.rng.choice([0, 0, 1, 2]), parties=parties)
        story.add(withdrawn, 'withdrawn', 'buyer', data={'reason': self.rng.choice(WITHDRAW_REASONS)})
        row.update(state='withdrawn', closed_at=withdrawn)
        return self.finish(row, story)

    def _resolved_window(self, closed):
        rating = dt.timedelta(seconds=self.s.seconds['RATING'])
        if closed:
            return (dt.datetime.min + DAY, self.now - rating - MINUTE)
        return (self.now - rating + 2 * MINUTE, self.now - MINUTE)

    def _settle(self, story, row, resolved, closed, appeal):
        """After the resolution: rating, and closing once the windows are over."""
        rating = dt.timedelta(seconds=self.s.seconds['RATING'])
        appeal_window = dt.timedelta(seconds=self.s.seconds['APPEAL']) if appeal else dt.timedelta()
        closes = resolved + max(rating, appeal_window)
        rated = self.rating(story, row, resolved, resolved + rating)
        row['resolved_at'] = resolved
        if closed:
            story.add(closes, 'closed', 'system', data={'state': 'closed'})
            row.update(state='closed', closed_at=closes)
        else:
            row.update(state='resolved', rating_due_at=None if rated else resolved + rating,
                       appeal_due_at=resolved + appeal_window if appeal else None)

    def closed_negotiated(self, order, lo, hi, closed=True):
        buyer = dt.timedelta(seconds=self.s.seconds['BUYER'])
        found = backward(self.rng, self._resolved_window(closed), lo, hi, 20 * MINUTE, 4 * DAY)
        if found is None:
            return None
        accepted, created = found
        by_timeout = accepted - created > buyer + HOUR and self.rng.random() < 0.3
        proposed = accepted - buyer if by_timeout else \
            between(self.rng, created + 10 * MINUTE, min(accepted - 5 * MINUTE, created + 23 * HOUR))
        row = self.basics(order, self.category(order, self.by_path['merchant']), created)
        story = Story(self.now)
        self.filed(story, row, 'negotiating')
        self.chat(story, created, proposed, self.rng.choice([0, 0, 0, 1]), parties=('merchant_staff', 'buyer'))
        proposal = self.propose(story, row, order, proposed)
        self.accept(story, row, order, proposal, accepted, by_timeout)
        self._settle(story, row, accepted, closed, appeal=False)
        return self.finish(row, story)

    def resolved_negotiated(self, order, lo, hi):
        return self.closed_negotiated(order, lo, hi, closed=False)

    def closed_ruled(self, order, lo, hi, closed=True):
        merchant = dt.timedelta(seconds=self.s.seconds['MERCHANT'])
        found = backward(self.rng, self._resolved_window(closed), lo, hi, 4 * HOUR, 6 * DAY)
        if found is None:
            return None
        ruled, created = found
        row = self.basics(order, self.category(order, self.by_path['merchant']), created)
        story = Story(self.now)
        self.filed(story, row, 'negotiating')
        span = ruled - created
        timeout = span > merchant * 2 and self.rng.random() < 0.5
        taken = created + merchant if timeout else between(self.rng, created + HOUR, created + span / 3)
        self.escalation(story, row, order, created, taken, timeout)
        agent = self.agent(row['department'], row['tier'])
        claimed = between(self.rng, taken + MINUTE, taken + (ruled - taken) / 4)
        self.claim(story, row, agent, claimed, 'in_arbitration')
        evidence_due = claimed + dt.timedelta(seconds=self.s.seconds['EVIDENCE'])
        if self.rng.random() < 0.6:
            story.add(claimed + 5 * MINUTE, 'evidence_requested', agent.role, agent.id, data={
                'party': self.rng.choice(['merchant', 'buyer']), 'items': '发货日志、充值记录截图',
                'due': self.local(evidence_due).isoformat()})
        self.chat(story, claimed, ruled, self.rng.choice([0, 0, 1]))
        if self.rng.random() < 0.3:
            story.add(between(self.rng, claimed, ruled), 'internal_note', agent.role, agent.id,
                      data={'body': self.rng.choice(INTERNAL_NOTES), 'author': agent.display_name}, public=False)
        outcome = self.rng.choice(['buyer', 'buyer', 'merchant', 'split'])
        amount = {'buyer': order.amount_fen, 'split': max(1, order.amount_fen // 2), 'merchant': None}[outcome]
        ruled = story.add(ruled, 'ruled', agent.role, agent.id, data={
            'outcome': outcome, 'responsibility': {'buyer': 'merchant', 'merchant': 'buyer', 'split': 'both'}[outcome],
            'remedy': 'refund' if amount else 'none', 'amount_fen': amount,
            'clause': row['basis'] or self.rng.choice(self.s.clauses.get(row['category']) or ['R-GEN-02']),
            'reasoning': self.rng.choice(RULING_REASONS)})
        if amount:
            self.remedy(story, row, order, 'refund', amount, 'ruling', ruled, agent.role, agent.id)
        self._settle(story, row, ruled, closed, appeal=True)
        return self.finish(row, story)

    def resolved_ruled(self, order, lo, hi):
        return self.closed_ruled(order, lo, hi, closed=False)

    def closed_platform(self, order, lo, hi, closed=True):
        found = backward(self.rng, self._resolved_window(closed), lo, hi, 30 * MINUTE, 3 * DAY)
        if found is None:
            return None
        resolved, created = found
        row = self.basics(order, self.category(order, self.by_path['platform']), created)
        first, _res = self.s.policies[row['tier']]
        story = Story(self.now)
        self.filed(story, row, 'pending_agent')
        agent = self.agent(row['department'], row['tier'])
        claimed = between(self.rng, created + MINUTE, min(created + dt.timedelta(seconds=first * 1.2),
                                                          created + (resolved - created) / 2))
        self.claim(story, row, agent, claimed, 'in_progress')
        self.chat(story, claimed, resolved, self.rng.choice([0, 1, 1]), parties=('agent', 'buyer'), agent=agent)
        if self.rng.random() < 0.2:
            story.add(between(self.rng, claimed, resolved), 'internal_note', agent.role, agent.id,
                      data={'body': self.rng.choice(INTERNAL_NOTES), 'author': agent.display_name}, public=False)
        kind = {'full_refund': 'refund', 'partial_refund': 'refund', 'compensation': 'compensation'}.get(row['demand_type'])
        resolved = story.add(resolved, 'resolved', agent.role, agent.id, data={
            'remedy': kind or 'none', 'amount_fen': row['demand_fen'] if kind else None,
            'note': self.rng.choice(RESOLUTION_NOTES)})
        if kind and row['demand_fen']:
            self.remedy(story, row, order, kind, row['demand_fen'], 'ruling', resolved, agent.role, agent.id)
        self._settle(story, row, resolved, closed, appeal=False)
        return self.finish(row, story)

    def resolved_platform(self, order, lo, hi):
        return self.closed_platform(order, lo, hi, closed=False)

    # --- cases in an agent queue, with their SLA clocks ------------------------------------

    def queue_case(self, order, lo, hi, department, owned=None, overdue=None, resolution_due=None):
        """A case in `department`'s queue. With `resolution_due`: a claimed case whose
        resolution clock falls due then and that no sweep has looked at yet."""
        rng = self.rng
        code = self.category(order, self.by_department[department])
        path = self.s.categories[code][0]
        via_self_service = path == 'self_service'  # not_helped: to an agent as an L2 platform case
        tier = 'L2' if via_self_service else self.tier(order, code)
        first, resolution = (dt.timedelta(seconds=s) for s in self.s.policies[tier])
        owned = rng.random() < QUEUE_OWNED_SHARE if owned is None else owned
        overdue = rng.random() < QUEUE_OVERDUE_SHARE if overdue is None else overdue
        now = self.now
        if resolution_due is not None:
            owned, window = True, (resolution_due - resolution,) * 2
        elif not owned:
            window = (now - 2 * DAY, now - first - MINUTE) if overdue else (now - first + MINUTE, now - MINUTE)
        else:
            window = (now - 4 * DAY, now - resolution - MINUTE) if overdue else (now - resolution + 2 * MINUTE, now - 2 * MINUTE)
        merchant_timeout = path == 'merchant' and rng.random() < 0.5
        lag = {'platform': (dt.timedelta(), dt.timedelta()), 'self_service': (2 * MINUTE, DAY),
               'merchant': (HOUR, 3 * DAY)}[path]
        if merchant_timeout:
            lag = (dt.timedelta(seconds=self.s.seconds['MERCHANT']),) * 2
        found = backward(rng, window, lo, hi, *lag)
        if found is None:
            return None
        taken, created = found
        row = self.basics(order, code, created, tier=tier, path='platform' if via_self_service else None)
        story = Story(now)
        self.filed(story, row, {'merchant': 'negotiating', 'platform': 'pending_agent',
                                'self_service': 'self_service'}[path])
        if path == 'merchant':
            self.escalation(story, row, order, created, taken, merchant_timeout)
        elif via_self_service:
            story.add(created, 'kb_answered', 'system', data={'article': rng.choice(KB_ARTICLES)})
            story.add(taken, 'not_helped', 'buyer', data={'state': 'pending_agent'})
        clocks = {'first_response': Clock('first_response', taken, taken + first),
                  'resolution': Clock('resolution', taken, taken + resolution)}
        state = 'pending_agent'
        agent = None
        if owned:
            agent = self.agent(department, tier)
            latest = min(taken + first - MINUTE, now - MINUTE)
            claimed = between(rng, min(taken + MINUTE, latest), latest)
            state = 'in_arbitration' if path == 'merchant' else 'in_progress'
            self.claim(story, row, agent, claimed, state)
            clocks['first_response'].achieve(claimed)
            self.chat(story, claimed, now, rng.choice([0, 1, 2]), parties=('agent', 'buyer'), agent=agent)
            if state == 'in_arbitration':
                evidence_due = claimed + dt.timedelta(seconds=self.s.seconds['EVIDENCE'])
                story.add(claimed + 5 * MINUTE, 'evidence_requested', agent.role, agent.id, data={
                    'party': rng.choice(['merchant', 'buyer']), 'items': '发货日志、充值记录截图',
                    'due': self.local(evidence_due).isoformat()})
                if evidence_due > now:
                    row['evidence_due_at'] = evidence_due
            if rng.random() < 0.3:
                story.add(between(rng, claimed, now), 'internal_note', agent.role, agent.id,
                          data={'body': rng.choice(INTERNAL_NOTES), 'author': agent.display_name}, public=False)
        for c in clocks.values():
            if resolution_due is None:
                c.run_until(now)
        self.urge(story, row, taken, now, 0.1)
        row.update(state=state, in_queue=True, **queue_columns(clocks.values(), row))
        return self.finish(row, story, [c.row() for c in clocks.values()],
                           sla_events(clocks.values(), department, agent))

    def sla_due_case(self, order, lo, hi):
        """A claimed case whose resolution clock is due for its check right now: a warning
        (the target passes within 15 minutes) or, for one in five, a breach no sweep has
        recorded yet — the backlog a sweep leaves when it did not run for a while
        (`bench/deadlines.py`)."""
        if self.rng.random() < 0.2:
            due = self.now - _lag(self.rng, MINUTE, 30 * MINUTE)
        else:
            due = self.now + _lag(self.rng, MINUTE, 14 * MINUTE)
        return self.queue_case(order, lo, hi, self.rng.choice(sorted(self.s.agents)), resolution_due=due)


class Clock:
    """One SLA target of a queue case, as `desk.agent_desk.sla` keeps it, with its event history."""

    def __init__(self, target, started, due):
        self.target, self.started, self.due = target, started, due
        self.state, self.warned, self.finished = 'running', False, None
        self.history = [('started', started)]  # (kind, at)

    def achieve(self, at):
        if self.due - WARN_BEFORE <= at:
            self.warned = True
            self.history.append(('warned', self.due - WARN_BEFORE))
        self.state, self.finished = 'achieved', at
        self.history.append(('achieved', at))

    def run_until(self, now):
        """What the minute sweep would have recorded by `now` on a running clock."""
        if self.state != 'running':
            return
        if self.due - WARN_BEFORE <= now:
            self.warned = True
            self.history.append(('warned', self.due - WARN_BEFORE))
        if self.due <= now:
            self.state = 'breached'
            self.history.append(('breached', self.due))

    def row(self):
        return {'target': self.target, 'state': self.state, 'started_at': self.started, 'due_at': self.due,
                'paused_at': None, 'paused_seconds': 0, 'warned': self.warned, 'finished_at': self.finished}


def queue_columns(clocks, row):
    """The complaint's queue and timer columns from its clocks, exactly as `sla.refresh`."""
    running = [c for c in clocks if c.state == 'running']
    breached = [c for c in clocks if c.state == 'breached' and c.finished is None]
    checks = [c.due - WARN_BEFORE if not c.warned else c.due for c in running]
    due = {c.target: c.due for c in running + breached}
    return {'next_due_at': min((c.due for c in running + breached), default=FAR_FUTURE),
            'queue_rank': queue_rank(SimpleNamespace(priority=row['priority'], tier=row['tier']), bool(breached)),
            'sla_check_at': min(checks, default=None),
            'first_response_due_at': due.get('first_response'), 'resolution_due_at': due.get('resolution')}


def sla_events(clocks, department, agent):
    """SlaEvent rows of the clocks' history; the owner is the agent once the case was claimed."""
    claimed_at = next((c.finished for c in clocks if c.target == 'first_response' and c.state == 'achieved'), None)
    rows = []
    for c in clocks:
        for kind, at in c.history:
            owner = agent.id if agent is not None and claimed_at is not None and at >= claimed_at else None
            rows.append({'target': c.target, 'kind': kind, 'at': at, 'owner': owner,
                         'department': department, 'due_at': c.due})
    rows.sort(key=lambda r: r['at'])
    return rows
