"""Every builder of domain data the tests share: buyers, merchants and their orders, order and
complaint bodies, logins and agents, cases and disputes, evidence files, and small readers of
what the services recorded (SLA events, notices, the outbox, timeline kinds).

The rule: a builder goes through the services, as the marketplace, a buyer, a merchant or an
agent would. `case()` is filed by `complaints.file_complaint`; `dispute()` is filed, answered
by the merchant, escalated by the buyer and claimed, so the `in_arbitration` case it returns
is one the application really reaches, with its timers, events and notices. Orders go
through the marketplace's order service (`order()`, `push_order()`); buyers and merchants are
reference rows that service creates on first sight, and `buyer()`/`merchant()` insert them as
it would, for the tests that need one before (or without) an order.

The one raw door into a case is `force_state(complaint, state, **columns)`: a plain UPDATE of
the complaint's row, no lifecycle check, no compare-and-set, no event, timer or notice. A test
that truly needs a state (or a deadline column) the services would not give it cheaply uses
it and says so; builders built on it carry it in their name (`forced_dispute`). The two other
raw writers are named the same way: `forced_evidence` (an item the evidence windows would
refuse, or at a chosen time) and `forced_history` (hundreds of items and events in bulk).

Fixtures stay in conftest.py; HTTP plumbing (clients, `ok`/`error`/`act`, forms, races) is in
tests/support.py.
"""
import datetime as dt
import hashlib
import io
import json

from desk.agent_desk.models import DepartmentSetting, SlaClock, SlaEvent
from desk.cases import complaints
from desk.cases.models import Complaint, Event, Evidence
from desk.core import clock
from desk.core.money import to_yuan
from desk.credit.models import BuyerCreditEntry
from desk.messaging.models import InboxMessage, Outbox
from desk.parties import accounts
from desk.parties.models import Buyer, Merchant, User
from tests.conftest import PASSWORD

# --- parties and orders ---------------------------------------------------------------------

#: A complete scenario for every default category that needs one (SPEC §3).
SCENARIOS = {
    'recharge_not_arrived': {'receiving_account': '13800001234', 'minutes_late': 90},
    'card_invalid': {'error_message': '卡密已被使用'},
    'refund_delay': {'refund_requested_at': '2026-11-20T10:00:00+08:00'},
    'system_fault': {'occurred_at': '2026-11-23T21:15:00+08:00'},
}

MERCHANT_NAMES = {'m-1': '星耀游戏点卡专营店', 'm-2': '速通话费充值'}


def buyer(ref='b-1', name=None, dedicated_agent=None):
    """Buyer `ref` (created on first use)."""
    found = Buyer.get_or_none(Buyer.ref == ref)
    if found is None:
        found = Buyer.create(ref=ref, display_name=name or f'买家 {ref}', phone='13800001234',
                             dedicated_agent_id=dedicated_agent.id if dedicated_agent else None)
    return found


def merchant(ref='m-1', name=None):
    """Merchant `ref` (created on first use)."""
    found = Merchant.get_or_none(Merchant.ref == ref)
    if found is None:
        found = Merchant.create(ref=ref, name=name or f'商家 {ref}')
    return found


def order(order_no='O-1', buyer_ref='b-1', merchant_ref='m-1', amount_fen=4990,
          paid_at=None, delivered_at=None, confirmed_at=None):
    """Order `order_no` of buyer `buyer_ref` at merchant `merchant_ref` (both created on first
    use, their names and phone kept), pushed through the marketplace's order service: a
    game card paid a day before now (well inside the complaint window) unless told. Times
    are naive UTC; the service keeps whole seconds."""
    known_buyer, known_merchant = buyer(buyer_ref), merchant(merchant_ref)
    return push_order(order_no,
                      buyer={'ref': buyer_ref, 'name': known_buyer.display_name, 'phone': known_buyer.phone},
                      merchant={'ref': merchant_ref, 'name': known_merchant.name},
                      product='腾讯Q币 100元', sku=None, goods_type='game_card', amount=to_yuan(amount_fen),
                      paid_at=_utc(paid_at or clock.now() - dt.timedelta(days=1)),
                      delivered_at=_utc(delivered_at), confirmed_at=_utc(confirmed_at),
                      payment_method='alipay', region=None)


def _utc(value):
    """A naive UTC datetime as the ISO text the order service reads (None stays None)."""
    return None if value is None else value.replace(tzinfo=dt.timezone.utc).isoformat()


def order_body(buyer='b-1', merchant='m-1', **fields):
    """A valid `PUT /api/v1/orders/<no>` body. `buyer`/`merchant` are refs (or the whole
    value to send); keyword arguments replace fields, None drops one."""
    if isinstance(buyer, str):
        buyer = {'ref': buyer, 'name': '王伟', 'phone': '13812341234'}
    if isinstance(merchant, str):
        merchant = {'ref': merchant, 'name': MERCHANT_NAMES.get(merchant, '商家 ' + merchant)}
    body = {
        'buyer': buyer,
        'merchant': merchant,
        'product': '王者荣耀 点券 600',
        'sku': 'WZ-600',
        'goods_type': 'game_card',
        'amount': '49.90',
        'paid_at': '2026-11-24T09:30:00+08:00',
        'delivered_at': '2026-11-24T09:31:00+08:00',
        'payment_method': 'alipay',
        'region': '广东',
    }
    for key in ('buyer', 'merchant'):
        if body[key] is None:
            del body[key]
    for key, value in fields.items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value
    return body


def push_order(order_no, buyer='b-1', merchant='m-1', **fields):
    """Create an order through the same service the integration uses; returns the Order."""
    from desk.orders.orders import upsert_order
    integration = User.get_or_none(User.username == '_integration')
    if integration is None:
        integration = accounts.create_user('_integration', 'integration-pass-1', 'integration')
    found, _created = upsert_order(integration, order_no, order_body(buyer, merchant, **fields))
    return found


def body(order_no='O-1', category='not_as_described', **overrides):
    """A valid POST /api/v1/complaints body for `category`."""
    data = {'order_no': order_no, 'category': category,
            'facts': '面值与商品页描述不一致,到账 50 元而非 100 元。',
            'scenario': dict(SCENARIOS.get(category, {}) if isinstance(category, str) else {}),
            'demand': {'type': 'full_refund'}}
    data.update(overrides)
    return data


# --- people ---------------------------------------------------------------------------------

def buyer_user(users, ref='b-1', **kwargs):
    """A new buyer login (from the `users` fixture) for buyer `ref` (created if missing)."""
    buyer(ref)
    return users('buyer', buyer_ref=ref, **kwargs)


def staff_user(users, ref='m-1', **kwargs):
    """A new merchant staff login (from the `users` fixture) for merchant `ref` (created if
    missing)."""
    merchant(ref)
    return users('merchant_staff', merchant_ref=ref, **kwargs)


def person(users, role, username=None, **kwargs):
    """A new user of `role` (from the `users` fixture): a buyer is a login of b-1, merchant
    staff one of m-1 (buyer and merchant created if missing)."""
    if role == 'buyer':
        buyer('b-1')
        kwargs.setdefault('buyer_ref', 'b-1')
    if role == 'merchant_staff':
        merchant('m-1')
        kwargs.setdefault('merchant_ref', 'm-1')
    return users(role, username=username, **kwargs)


def buyer_login(ref='b-1'):
    """The login `buyer-<ref>` of buyer `ref` (buyer and user created on first use)."""
    buyer(ref)
    username = f'buyer-{ref}'
    user = User.get_or_none(User.username == username)
    return user or accounts.create_user(username, PASSWORD, 'buyer', buyer_ref=ref)


def merchant_login(ref='m-1'):
    """The staff login `staff-<ref>` of merchant `ref` (merchant and user created on first use)."""
    merchant(ref)
    username = f'staff-{ref}'
    user = User.get_or_none(User.username == username)
    return user or accounts.create_user(username, PASSWORD, 'merchant_staff', merchant_ref=ref)


def agent(users, username, role='agent', department='cs', status='online', capacity=10):
    """An agent (or senior agent) with a status and a capacity."""
    user = users(role, username=username, department=department, capacity=capacity)
    User.update(status=status).where(User.id == user.id).execute()
    user.status = status
    return user


def set_mode(department, mode):
    """The assignment mode of `department` (manual, round_robin, least_loaded)."""
    (DepartmentSetting
     .insert(department=department, mode=mode)
     .on_conflict(conflict_target=[DepartmentSetting.department],
                  update={DepartmentSetting.mode: mode})
     .execute())


def set_credit(value, ref='b-1'):
    """Bring buyer `ref` (created if missing) to credit `value` the way the ledger would: an
    entry dated long ago (outside any window a credit rule looks at) and the cached copy."""
    found = buyer(ref)
    BuyerCreditEntry.create(buyer=found.id, delta=value - found.credit, credit_after=value, reason='malicious',
                            key=f'test:{ref}:{value}:{clock.now().isoformat()}',
                            at=clock.now() - dt.timedelta(days=400))
    Buyer.update(credit=value).where(Buyer.id == found.id).execute()


# --- cases ----------------------------------------------------------------------------------

def reload(complaint):
    """The complaint as the database holds it now."""
    return Complaint.get_by_id(complaint.id)


def case(order_no, category='service_attitude', buyer_ref='b-1', amount_fen=4990, merchant_ref='m-1',
         **body_fields):
    """File a complaint on a new order `order_no` through the service; the fresh Complaint.

    The default category (客服服务态度) takes the platform path: L2, department cs, straight
    to `pending_agent` with its SLA clocks running. `account_security` is L1 in ops, an
    amount of 5000.00 or more makes any platform case L1; `not_as_described` takes the
    merchant path (`negotiating`, the merchant's 24 hours running).
    """
    order(order_no, buyer_ref=buyer_ref, merchant_ref=merchant_ref, amount_fen=amount_fen)
    filed = complaints.file_complaint(buyer_login(buyer_ref), body(order_no, category=category, **body_fields))
    return reload(filed)


def dispute(order_no, agent=None, category='not_as_described', amount_fen=10000, buyer_ref='b-1',
            merchant_ref='m-1'):
    """A merchant-path complaint taken to the platform the real way: filed, a proposal by the
    merchant, escalated by the buyer; claimed by `agent` when given (→ in_arbitration with
    its evidence period open), else left pending_agent. The fresh Complaint."""
    from arbitration import negotiation
    from desk.agent_desk import assignment
    order(order_no, buyer_ref=buyer_ref, merchant_ref=merchant_ref, amount_fen=amount_fen)
    filer = buyer_login(buyer_ref)
    filed = complaints.file_complaint(filer, body(order_no, category=category))
    negotiation.propose(merchant_login(merchant_ref), reload(filed),
                        {'type': 'reissue', 'message': '可以补发一张新卡。'})
    negotiation.escalate(filer, reload(filed), {'reason': '补发的卡也无效。'})
    if agent is not None:
        assignment.claim(agent, reload(filed))
    return reload(filed)


def force_state(complaint, state, **columns):
    """Write `state` (None keeps the current one) and `columns` straight into the complaint's
    row; the fresh Complaint. `complaint` is a Complaint or a ticket number.

    This bypasses the lifecycle on purpose: a raw UPDATE with no transition check, no
    compare-and-set (the version does not move), no timeline event, timer, queue flag or
    notice. It is the one raw door into a case: a test uses it where the services would take
    many steps (or cannot go yet), and its name at the call site says so.
    """
    if isinstance(complaint, str):
        complaint = Complaint.get(Complaint.ticket_no == complaint)
    changes = dict(columns)
    if state is not None:
        changes['state'] = state
    if changes:
        Complaint.update(**changes).where(Complaint.id == complaint.id).execute()
    return reload(complaint)


def forced_dispute(order_no='O-1', evidence_due_in=dt.timedelta(hours=48), buyer_ref='b-1',
                   merchant_ref='m-1', **columns):
    """A merchant-path complaint filed through the service, then *forced* into
    `in_arbitration` with its evidence period ending `evidence_due_in` from now (and any other
    `columns`): no proposal, no escalation, no owner. For the evidence tests, which only need
    a case in its period; `dispute()` is the honest one."""
    filed = case(order_no, category='not_as_described', buyer_ref=buyer_ref, merchant_ref=merchant_ref)
    return force_state(filed, 'in_arbitration', evidence_due_at=clock.now() + evidence_due_in, **columns)


def forced_evidence(complaint, party, kind='other', at=None, text='聊天记录:商家称卡密已发放。'):
    """A pasted-text evidence item of `party` on `complaint`, written straight into the table
    at `at` (default now): past the evidence service's windows and notices, for tests of what
    rulings and appeals make of evidence at a given moment."""
    data = text.encode()
    return Evidence.create(complaint=complaint.id if hasattr(complaint, 'id') else complaint,
                           party=party, kind=kind, text=text, mime='text/plain', size=len(data),
                           sha256=hashlib.sha256(data).hexdigest(), created_at=at or clock.now())


def forced_history(complaint, items=200, events=1000):
    """Load `complaint` with `items` evidence items (half each party: images, video, PDF and
    pasted text) and `events` more timeline events (a valid hash chain), written in bulk
    straight into the tables: the volume a long case reaches, in a fraction of a second."""
    from desk.cases.models import Blob
    from desk.cases.timeline import _digest
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
                      'kind': kind, 'public': public, 'data': json.dumps(data, ensure_ascii=False, sort_keys=True),
                      'prev_hash': prev, 'hash': digest})
        prev = digest
    for start in range(0, len(batch), 200):
        Event.insert_many(batch[start:start + 200]).execute()
    Complaint.update(timeline_length=seq, timeline_head=prev).where(Complaint.id == complaint.id).execute()
    return reload(complaint)


# --- evidence files -------------------------------------------------------------------------

def png_bytes(size=(40, 30), color=(200, 30, 30)):
    from PIL import Image
    out = io.BytesIO()
    Image.new('RGB', size, color).save(out, format='PNG')
    return out.getvalue()


def jpeg_with_exif(size=(1200, 800)):
    """A JPEG carrying EXIF (camera make, GPS-like text and an orientation)."""
    from PIL import Image
    image = Image.new('RGB', size, (10, 120, 200))
    exif = Image.Exif()
    exif[0x010F] = 'SecretCam'          # Make
    exif[0x0131] = 'Location 31.2N'     # Software (any text survives in EXIF)
    exif[0x0112] = 1                    # Orientation
    out = io.BytesIO()
    image.save(out, format='JPEG', exif=exif.tobytes())
    return out.getvalue()


#: A 1×1 PNG, spelled out (no Pillow needed).
PNG = (b'\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15'
       b'\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82')
PDF = b'%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n'
HTML = b'<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>'
SVG = (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)">'
       b'<script>alert(document.domain)</script></svg>')
CHAT = '买家: 卡密 ABCD-1234-5678-9012 用不了\n商家: 请提供手机号\n买家: 13812345678\n'.encode()


def upload(file_bytes, name='shot.png', kind='error_screenshot', description='', **extra):
    """A multipart evidence body for the test client."""
    data = {'kind': kind, 'description': description, 'file': (io.BytesIO(file_bytes), name)}
    data.update({k: str(v) for k, v in extra.items()})
    return data


# --- readers --------------------------------------------------------------------------------

def event_kinds(complaint, public_only=False):
    """The kinds of the complaint's timeline events, in order (only the public ones if told)."""
    query = Event.select().where(Event.complaint == complaint.id)
    if public_only:
        query = query.where(Event.public == True)  # noqa: E712
    return [e.kind for e in query.order_by(Event.seq)]


def clock_of(complaint, target):
    """The SLA clock of `complaint` for `target` (first_response, resolution)."""
    return SlaClock.get((SlaClock.complaint == complaint.id) & (SlaClock.target == target))


def sla_events(complaint, target=None):
    """[(target, kind)] of `complaint` in the order they were recorded ([kind] for one target)."""
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


def outbox_templates():
    """Templates of every notification written to the outbox, oldest first."""
    return [json.loads(row.payload).get('template')
            for row in Outbox.select().where(Outbox.topic == 'notify').order_by(Outbox.id)]
