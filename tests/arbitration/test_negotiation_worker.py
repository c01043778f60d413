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
import signal
import subprocess
import time

import pytest
from rq import Queue
from rq.job import Job
from rq.registry import FinishedJobRegistry, ScheduledJobRegistry
from rq.scheduler import RQScheduler

from desk.core import clock, deadlines, tasks
from desk.messaging import outbox
from desk.cases.models import Complaint
from desk.messaging.models import InboxMessage, Outbox
from desk.core.db import database
from desk.messaging.models import WebhookDelivery
from desk.agent_desk.models import SlaEvent
from tests import complaint_helpers as h
from tests.support import isolated_client
from tests.arbitration.test_negotiation import parties  # noqa: F401  (fixture)
from tests.desk.messaging.test_webhooks import SECRET, Receiver, verify
from tests.web.test_worker import diagnostics, redis_conn, rq_command  # noqa: F401  (fixture)

from desk.cases.models import Proposal, Remedy
from arbitration.penalties.models import Violation
from tests.support import ROOT

pytestmark = pytest.mark.redis

WINDOW = 3            # seconds the merchant has in these tests
LATENESS = 5          # seconds the timer may apply after its deadline
START_TIMEOUT = 30    # seconds for the worker to start and take the scheduler lock
DOWN = 'redis://127.0.0.1:1/0'   # nothing listens on port 1


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def worker(settings, redis_url, redis_conn, tmp_path):  # noqa: F811
    """A real `rq worker --with-scheduler -w web.worker.DeskWorker` with a 3 s merchant window."""
    env = dict(os.environ,
               DESK_ENV='testing', DESK_SECRET_KEY=settings['SECRET_KEY'],
               DESK_DATABASE_URL=settings['DATABASE_URL'], DESK_DATA_DIR=settings['DATA_DIR'],
               DESK_REDIS_URL=redis_url, DESK_MERCHANT_RESPONSE_SECONDS=str(WINDOW),
               PYTHONUNBUFFERED='1')
    log = open(tmp_path / 'worker.log', 'w+')
    proc = subprocess.Popen(
        rq_command('worker', '--with-scheduler', '-w', 'web.worker.DeskWorker', '--url', redis_url,
                   '--name', f'desk-negotiation-{os.getpid()}', tasks.QUEUE),
        cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    proc.log = log
    yield proc
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    log.close()


def poll(condition, until, redis_conn, proc):  # noqa: F811
    """Poll `condition()` (reading the database) every 0.1 s until the wall-clock time
    `until` (naive UTC); returns its last value."""
    while True:
        database.connect(reuse_if_open=True)
        value = condition()
        if value or clock.now() > until:
            return value
        assert proc.poll() is None, 'rq exited early\n' + diagnostics(redis_conn, proc)
        time.sleep(0.1)


def wait_for_scheduler(redis_conn, proc):  # noqa: F811
    key = RQScheduler.get_locking_key(tasks.QUEUE)
    ready = poll(lambda: redis_conn.exists(key), clock.now() + dt.timedelta(seconds=START_TIMEOUT),
                 redis_conn, proc)
    assert ready, 'the worker never started its scheduler\n' + diagnostics(redis_conn, proc)


def finished(redis_conn):  # noqa: F811
    ids = FinishedJobRegistry(tasks.QUEUE, connection=redis_conn).get_job_ids()
    return [job.func_name for job in Job.fetch_many(ids, connection=redis_conn) if job]


# --- the real worker applies the merchant timer ----------------------------------------------

def test_a_silent_merchant_is_timed_out_by_the_worker_within_seconds(make_app, parties, redis_url,  # noqa: F811
                                                                     redis_conn, worker):
    wait_for_scheduler(redis_conn, worker)
    redis_app = make_app(REDIS_URL=redis_url, MERCHANT_RESPONSE_SECONDS=WINDOW)
    client = isolated_client(redis_app)
    ticket = h.file_ok(client, parties['buyer'])['ticket_no']
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
    assert 'desk.jobs.apply_deadline' in finished(redis_conn)
    assert Queue(tasks.QUEUE, connection=redis_conn).failed_job_registry.count == 0, \
        diagnostics(redis_conn, worker)


def test_a_proposal_in_time_is_not_timed_out_by_the_worker(make_app, parties, redis_url,  # noqa: F811
                                                           redis_conn, worker):
    wait_for_scheduler(redis_conn, worker)
    redis_app = make_app(REDIS_URL=redis_url, MERCHANT_RESPONSE_SECONDS=WINDOW)
    client = isolated_client(redis_app)
    ticket = h.file_ok(client, parties['buyer'])['ticket_no']
    response = h.act(client, parties['merchant'], ticket, 'propose',
                     {'type': 'reissue', 'message': '马上补发'})
    assert response.status_code == 200, response.get_json()
    complaint = Complaint.get(Complaint.ticket_no == ticket)
    due = complaint.created_at + dt.timedelta(seconds=WINDOW)
    # the exact-time job still fires at the old deadline and must find nothing to do
    ran = poll(lambda: 'desk.jobs.apply_deadline' in finished(redis_conn),
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

    filed = down.post('/api/v1/complaints', json=h.body(), headers=parties['buyer'])
    assert filed.status_code == 201, filed.get_json()
    ticket = filed.get_json()['ticket_no']
    clock.advance(hours=1)
    proposed = h.act(down, parties['merchant'], ticket, 'propose',
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
    from desk.messaging import webhooks
    from desk.jobs import relay_outbox
    webhooks.subscribe(users('integration'), receiver.url(), ['*'], secret=SECRET)
    down = isolated_client(make_app(REDIS_URL=DOWN))
    filed = down.post('/api/v1/complaints', json=h.body(), headers=parties['buyer'])
    assert filed.status_code == 201, filed.get_json()
    ticket = filed.get_json()['ticket_no']
    assert h.act(down, parties['merchant'], ticket, 'propose',
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
                  f'finished jobs: {finished(redis_conn)}\n' + diagnostics(redis_conn, worker))
    assert InboxMessage.select().count() == 3
    assert receiver.events() == ['complaint.filed', 'proposal.created']
