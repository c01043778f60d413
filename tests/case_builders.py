"""Builders shared by the agent-desk tests (SLA, deadlines, assignment, queue): platform
cases filed through the service, agents with a status and a capacity, the assignment mode of
a department, and readers for SLA events and notifications.

Fixtures stay in conftest.py; these are plain functions the test modules import.
"""
import json

from desk import accounts, complaints
from desk.complaint_models import Complaint, InboxMessage, Outbox
from desk.models import User
from desk.queue_models import DepartmentSetting, SlaClock, SlaEvent
from tests import complaint_helpers as h
from tests.conftest import PASSWORD


def buyer_login(ref='b-1'):
    """The login of buyer `ref` (buyer and user created on first use)."""
    h.buyer(ref)
    username = f'buyer-{ref}'
    user = User.get_or_none(User.username == username)
    return user or accounts.create_user(username, PASSWORD, 'buyer', buyer_ref=ref)


def case(order_no, category='service_attitude', buyer_ref='b-1', amount_fen=4990, merchant_ref='m-1',
         **body):
    """File a complaint on a new order `order_no` through the service; the fresh Complaint.

    The default category (客服服务态度) takes the platform path: L2, department cs, straight
    to `pending_agent` with its SLA clocks running. `account_security` is L1 in ops, an
    amount of 5000.00 or more makes any platform case L1.
    """
    h.order(order_no, buyer_ref=buyer_ref, merchant_ref=merchant_ref, amount_fen=amount_fen)
    filed = complaints.file_complaint(buyer_login(buyer_ref), h.body(order_no, category=category, **body))
    return reload(filed)


def reload(complaint):
    return Complaint.get_by_id(complaint.id)


def agent(users, username, role='agent', department='cs', status='online', capacity=10):
    """An agent (or senior agent) with a status and a capacity."""
    user = users(role, username=username, department=department, capacity=capacity)
    User.update(status=status).where(User.id == user.id).execute()
    user.status = status
    return user


def set_mode(department, mode):
    (DepartmentSetting
     .insert(department=department, mode=mode)
     .on_conflict(conflict_target=[DepartmentSetting.department],
                  update={DepartmentSetting.mode: mode})
     .execute())


def clock_of(complaint, target):
    return SlaClock.get((SlaClock.complaint == complaint.id) & (SlaClock.target == target))


def sla_events(complaint, target=None):
    """[(target, kind)] of `complaint` in the order they were recorded."""
    query = SlaEvent.select().where(SlaEvent.complaint == complaint.id)
    if target:
        query = query.where(SlaEvent.target == target)
    return [(e.target, e.kind) if target is None else e.kind for e in query.order_by(SlaEvent.id)]


def sla_event(complaint, target, kind):
    """The one event `kind` of `target` (fails when there are none or several)."""
    found = list(SlaEvent.select().where((SlaEvent.complaint == complaint.id) &
                                         (SlaEvent.target == target) & (SlaEvent.kind == kind)))
    assert len(found) == 1, f'{len(found)} {kind} events for {target}'
    return found[0]


def notices(user, complaint=None):
    """Templates of the inbox messages `user` received (oldest first), optionally for one case."""
    query = (InboxMessage
             .select(InboxMessage, Outbox)
             .join(Outbox)
             .where(InboxMessage.user == user.id)
             .order_by(InboxMessage.id))
    if complaint is not None:
        query = query.where(InboxMessage.complaint == complaint.id)
    return [json.loads(m.outbox.payload)['template'] for m in query]


def evidence(complaint, party, kind='other', at=None, text='聊天记录:商家称卡密已发放。'):
    """A pasted-text evidence item of `party` on `complaint` (written directly: the evidence
    service is built separately); `at` defaults to now."""
    import hashlib

    from desk import clock
    from arbitration.evidence_models import Evidence
    data = text.encode()
    return Evidence.create(complaint=complaint.id if hasattr(complaint, 'id') else complaint,
                           party=party, kind=kind, text=text, mime='text/plain', size=len(data),
                           sha256=hashlib.sha256(data).hexdigest(), created_at=at or clock.now())


def merchant_login(ref='m-1'):
    """A staff login of merchant `ref` (merchant and user created on first use)."""
    h.merchant(ref)
    username = f'staff-{ref}'
    user = User.get_or_none(User.username == username)
    return user or accounts.create_user(username, PASSWORD, 'merchant_staff', merchant_ref=ref)


def dispute(order_no, agent=None, category='not_as_described', amount_fen=10000, buyer_ref='b-1',
            merchant_ref='m-1'):
    """A merchant-path complaint taken to the platform the real way: filed, a proposal by the
    merchant, escalated by the buyer; claimed by `agent` when given (→ in_arbitration with
    its evidence period open), else left pending_agent. The fresh Complaint."""
    from arbitration import negotiation
    from desk import assignment
    h.order(order_no, buyer_ref=buyer_ref, merchant_ref=merchant_ref, amount_fen=amount_fen)
    buyer = buyer_login(buyer_ref)
    filed = complaints.file_complaint(buyer, h.body(order_no, category=category))
    negotiation.propose(merchant_login(merchant_ref), reload(filed),
                        {'type': 'reissue', 'message': '可以补发一张新卡。'})
    negotiation.escalate(buyer, reload(filed), {'reason': '补发的卡也无效。'})
    if agent is not None:
        assignment.claim(agent, reload(filed))
    return reload(filed)
