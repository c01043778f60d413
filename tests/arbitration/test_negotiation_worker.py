"""Negotiation with Redis: the merchant timer applied by a real `rq worker --with-scheduler`,
and nothing lost while Redis is down (SPEC §4 "the timer is exact and durable", §9 "nothing
is lost when Redis is down").

Skipped unless DESK_TEST_REDIS_URL is set. The worker is a subprocess (as the Procfile starts
it) on the suite's database with a 3-second merchant window; it runs with the real clock, so
the worker tests poll the database with a time bound.
"""
import datetime as dt
import json
import os

import pytest
from rq import Queue
from rq.registry import ScheduledJobRegistry

from arbitration.penalties.models import Violation
from desk.agent_desk.models import SlaEvent
from desk.cases.models import Complaint, Proposal, Remedy
from desk.core import clock, deadlines, tasks
from desk.messaging import outbox
from desk.messaging.models import InboxMessage, Outbox, WebhookDelivery
from tests import builders as b
from tests.arbitration.test_negotiation import parties  # noqa: F401  (a fixture)
from tests.support import (
    START_TIMEOUT,
    act,
    diagnostics,
    file_ok,
    finished_jobs,
    isolated_client,
    poll,
    scheduler_ready,
)
from tests.webhook_receiver import SECRET, verify

pytestmark = pytest.mark.redis

WINDOW = 3            # seconds the merchant has in these tests
LATENESS = 5          # seconds the timer may apply after its deadline
DOWN = 'redis://127.0.0.1:1/0'   # nothing listens on port 1


@pytest.fixture
def worker(spawn, redis_url):
    """The `worker` of conftest.py with a 3 s merchant window (overrides it in this module)."""
    return spawn('worker', 'worker', '--with-scheduler', '-w', 'web.worker.DeskWorker', '--url', redis_url,
                 '--name', f'desk-negotiation-{os.getpid()}', tasks.QUEUE,
                 DESK_MERCHANT_RESPONSE_SECONDS=str(WINDOW))


# --- the real worker applies the merchant timer ----------------------------------------------

def test_a_silent_merchant_is_timed_out_by_the_worker_within_seconds(make_app, parties, redis_url,  # noqa: F811
                                                                     redis_conn, worker):
    scheduler_ready(redis_conn, worker)
    redis_app = make_app(REDIS_URL=redis_url, MERCHANT_RESPONSE_SECONDS=WINDOW)
    client = isolated_client(redis_app)
    ticket = file_ok(client, parties['buyer'])['ticket_no']
    complaint = Complaint.get(Complaint.ticket_no == ticket)
    due = complaint.merchant_due_at
    assert due == complaint.created_at + dt.timedelta(seconds=WINDOW)
    assert complaint.merchant_remind_at is None          # no reminder fits into 3 seconds
    epoch = int(due.replace(tzinfo=dt.timezone.utc).timestamp())
    job_id = f'deadline-merchant_due-{complaint.id}-{epoch}'
    assert job_id in ScheduledJobRegistry(tasks.QUEUE, connection=redis_conn).get_job_ids()

    timed_out = poll(lambda: Complaint.get_by_id(complaint.id).state == 'pending_agent',
                     due + dt.timedelta(seconds=LATENESS), redis_conn, worker)
    assert timed_out, f'not pending_agent within {LATENESS}s of {due}\n' + diagnostics(redis_conn, worker)
    (violation,) = Violation.select().where(Violation.complaint == complaint.id)
    assert (violation.code, violation.merchant_id) == ('no_response', complaint.merchant_id)
    assert due <= violation.at <= due + dt.timedelta(seconds=LATENESS)
    assert SlaEvent.select().where((SlaEvent.complaint == complaint.id) & (SlaEvent.kind == 'started')).count() == 2

    # the notifications the worker's timer wrote go out through the worker too
    told = poll(lambda: InboxMessage.select().where((InboxMessage.user == parties['staff_user'].id)
                                                    & (InboxMessage.title.contains(ticket))).count() >= 2,
                clock.now() + dt.timedelta(seconds=LATENESS * 2), redis_conn, worker)
    assert told, diagnostics(redis_conn, worker)
    assert 'desk.jobs.apply_deadline' in finished_jobs(redis_conn).values()
    assert Queue(tasks.QUEUE, connection=redis_conn).failed_job_registry.count == 0, \
        diagnostics(redis_conn, worker)


def test_a_proposal_in_time_is_not_timed_out_by_the_worker(make_app, parties, redis_url,  # noqa: F811
                                                           redis_conn, worker):
    scheduler_ready(redis_conn, worker)
    redis_app = make_app(REDIS_URL=redis_url, MERCHANT_RESPONSE_SECONDS=WINDOW)
    client = isolated_client(redis_app)
    ticket = file_ok(client, parties['buyer'])['ticket_no']
    response = act(client, parties['merchant'], ticket, 'propose',
                     {'type': 'reissue', 'message': '马上补发'})
    assert response.status_code == 200, response.get_json()
    complaint = Complaint.get(Complaint.ticket_no == ticket)
    due = complaint.created_at + dt.timedelta(seconds=WINDOW)
    # the exact-time job still fires at the old deadline and must find nothing to do
    ran = poll(lambda: 'desk.jobs.apply_deadline' in finished_jobs(redis_conn).values(),
               due + dt.timedelta(seconds=LATENESS), redis_conn, worker)
    assert ran, diagnostics(redis_conn, worker)
    complaint = Complaint.get_by_id(complaint.id)
    assert complaint.state == 'awaiting_buyer'
    assert Violation.select().where(Violation.complaint == complaint.id).count() == 0


# --- Redis down: nothing is lost --------------------------------------------------------------

def test_with_redis_down_filing_and_proposing_work_and_the_outbox_catches_up(
        make_app, parties, users, redis_url, redis_conn, receiver, frozen):  # noqa: F811
    from desk.messaging import webhooks
    webhooks.subscribe(users('integration'), receiver.url(), ['*'], secret=SECRET)
    down = isolated_client(make_app(REDIS_URL=DOWN))

    filed = down.post('/api/v1/complaints', json=b.body(), headers=parties['buyer'])
    assert filed.status_code == 201, filed.get_json()
    ticket = filed.get_json()['ticket_no']
    clock.advance(hours=1)
    proposed = act(down, parties['merchant'], ticket, 'propose',
                     {'type': 'refund', 'amount': '20.00', 'message': '同意退款 20 元'})
    assert proposed.status_code == 200, proposed.get_json()
    assert proposed.get_json()['state'] == 'awaiting_buyer'

    rows = list(Outbox.select().order_by(Outbox.id))
    topics = [(r.topic, json.loads(r.payload).get('event') or json.loads(r.payload).get('template')) for r in rows]
    assert topics == [('notify', 'complaint_filed_buyer'), ('notify', 'complaint_filed_merchant'),
                      ('webhook', 'complaint.filed'), ('notify', 'proposal_received'),
                      ('webhook', 'proposal.created')]
    assert all(r.state == 'pending' for r in rows)
    assert InboxMessage.select().count() == 0
    assert WebhookDelivery.select().count() == 0 and receiver.requests == []

    # Redis is back: the periodic relay (what `rq cron` enqueues every minute) delivers it all
    up = make_app(REDIS_URL=redis_url)
    with up.app_context():
        assert outbox.relay() == 3                      # the filing's rows (an hour old) ...
        clock.advance(seconds=outbox.RELAY_GRACE_SECONDS - 1)
        assert outbox.relay() == 0                      # ... fresh rows are left to their own job ...
        clock.advance(seconds=1)
        assert outbox.relay() == 2                      # ... until the grace period is over
        assert outbox.relay() == 0
    assert all(r.state == 'sent' and r.attempts == 1 for r in Outbox.select())
    assert InboxMessage.select().count() == 3
    assert InboxMessage.select().where(InboxMessage.title.contains(ticket)).count() == 3
    assert receiver.events() == ['complaint.filed', 'proposal.created']
    assert all(verify(SECRET, r['headers'], r['body']) for r in receiver.requests)
    assert {d.state for d in WebhookDelivery.select()} == {'delivered'}

    # the buyer's 72 h were never scheduled in Redis: the sweep applies them all the same
    with up.app_context():
        clock.advance(hours=72)
        deadlines.advance_due()
        clock.advance(seconds=outbox.RELAY_GRACE_SECONDS)
        outbox.relay()
    complaint = Complaint.get(Complaint.ticket_no == ticket)
    assert complaint.state == 'resolved'
    assert Proposal.get(Proposal.complaint == complaint.id).accepted_by_timeout
    assert [(r.kind, r.amount_fen, r.source) for r in Remedy.select()] == [('refund', 2000, 'timeout')]
    assert receiver.events()[2:] == ['remedy.created', 'complaint.state_changed']
    assert Outbox.select().where(Outbox.state != 'sent').count() == 0


def test_with_redis_down_the_real_worker_relays_once_redis_is_back(
        make_app, parties, users, redis_url, redis_conn, receiver, worker):  # noqa: F811
    """The same outage, recovered by the real worker running the relay job the cron enqueues."""
    from desk.jobs import relay_outbox
    from desk.messaging import webhooks
    webhooks.subscribe(users('integration'), receiver.url(), ['*'], secret=SECRET)
    down = isolated_client(make_app(REDIS_URL=DOWN))
    filed = down.post('/api/v1/complaints', json=b.body(), headers=parties['buyer'])
    assert filed.status_code == 201, filed.get_json()
    ticket = filed.get_json()['ticket_no']
    assert act(down, parties['merchant'], ticket, 'propose',
                 {'type': 'reissue', 'message': '补发'}).status_code == 200
    pending = Outbox.select().where(Outbox.state == 'pending').count()
    assert pending == 5
    # the outage lasted longer than the relay's grace period
    Outbox.update(created_at=clock.now() - dt.timedelta(seconds=outbox.RELAY_GRACE_SECONDS + 1)).execute()

    up = make_app(REDIS_URL=redis_url)
    tasks.queue(up).enqueue(relay_outbox)

    def caught_up():  # the POSTs follow the commit that marks their outbox row sent
        return (Outbox.select().where(Outbox.state == 'pending').count() == 0
                and [d.state for d in WebhookDelivery.select()] == ['delivered', 'delivered'])

    done = poll(caught_up, clock.now() + dt.timedelta(seconds=START_TIMEOUT), redis_conn, worker)
    assert done, (f'outbox: {[(r.id, r.state, r.attempts, r.last_error) for r in Outbox.select()]}\n'
                  f'finished jobs: {finished_jobs(redis_conn).values()}\n' + diagnostics(redis_conn, worker))
    assert InboxMessage.select().count() == 3
    assert receiver.events() == ['complaint.filed', 'proposal.created']
