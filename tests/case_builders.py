"""Builders shared by the agent-desk tests (SLA, deadlines, assignment, queue): platform
cases filed through the service, agents with a status and a capacity, the assignment mode of
a department, and readers for SLA events and notifications.

Fixtures stay in conftest.py; these are plain functions the test modules import.
"""
import json

from desk.agent_desk.models import DepartmentSetting, SlaClock, SlaEvent
from desk.cases import complaints
from desk.cases.models import Complaint
from desk.messaging.models import InboxMessage, Outbox
from desk.parties import accounts
from desk.parties.models import User
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

    from desk.cases.models import Evidence
    from desk.core import clock
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
    from desk.agent_desk import assignment
    h.order(order_no, buyer_ref=buyer_ref, merchant_ref=merchant_ref, amount_fen=amount_fen)
    buyer = buyer_login(buyer_ref)
    filed = complaints.file_complaint(buyer, h.body(order_no, category=category))
    negotiation.propose(merchant_login(merchant_ref), reload(filed),
                        {'type': 'reissue', 'message': '可以补发一张新卡。'})
    negotiation.escalate(buyer, reload(filed), {'reason': '补发的卡也无效。'})
    if agent is not None:
        assignment.claim(agent, reload(filed))
    return reload(filed)


def heavy(complaint, items=200, events=1000):
    """Load `complaint` with `items` evidence items (half each party: images, video, PDF and
    pasted text) and `events` more timeline events (a valid hash chain), in bulk."""
    import datetime as dt
    import hashlib
    import json as _json

    from desk.cases.models import Blob, Event, Evidence
    from desk.cases.models import Complaint as _Complaint
    from desk.cases.timeline import _digest
    from desk.core import clock
    now = clock.now()
    mimes = ('image/png', 'image/jpeg', 'video/mp4', 'application/pdf', None)
    blobs, rows = {}, []
    for n in range(items):
        mime = mimes[n % len(mimes)]
        party = ('buyer', 'merchant')[n % 2]
        digest = hashlib.sha256(f'{complaint.id}-{n}'.encode()).hexdigest()
        if mime:
            blobs[digest] = {'sha256': digest, 'size': 1000 + n, 'mime': mime, 'created_at': now}
        rows.append({'complaint': complaint.id, 'party': party, 'kind': ('error_screenshot', 'delivery_log',
                                                                         'screen_recording', 'payment_proof',
                                                                         'chat_log')[n % 5],
                     'description': f'证据 {n}', 'blob': digest if mime else None,
                     'text': None if mime else '买家: 卡密无效\n商家: 已核实发放记录 ' * 5,
                     'filename': f'evidence-{n}.{(mime or "text/plain").split("/")[1]}',
                     'mime': mime or 'text/plain', 'size': 1000 + n, 'sha256': digest,
                     'created_at': now - dt.timedelta(minutes=items - n)})
    Blob.insert_many(list(blobs.values())).execute()
    for start in range(0, len(rows), 100):
        Evidence.insert_many(rows[start:start + 100]).execute()
    last = (Event.select(Event.seq, Event.hash).where(Event.complaint == complaint.id)
            .order_by(Event.seq.desc()).first())
    seq, prev = last.seq, last.hash
    batch = []
    for n in range(events):
        seq += 1
        data = {'body': f'第 {n} 条消息:请提供更多证据。', 'author': 'agent'}
        public = n % 3 != 0
        kind = 'message' if public else 'internal_note'
        digest = _digest(complaint.id, seq, now, None, 'agent', kind, public, data, prev)
        batch.append({'complaint': complaint.id, 'seq': seq, 'at': now, 'actor': None, 'actor_role': 'agent',
                      'kind': kind, 'public': public, 'data': _json.dumps(data, ensure_ascii=False, sort_keys=True),
                      'prev_hash': prev, 'hash': digest})
        prev = digest
    for start in range(0, len(batch), 200):
        Event.insert_many(batch[start:start + 200]).execute()
    _Complaint.update(timeline_length=seq, timeline_head=prev).where(_Complaint.id == complaint.id).execute()
    return reload(complaint)
