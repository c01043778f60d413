"""Deadlines applied by a real `rq worker --with-scheduler` against a real Redis (SPEC §4:
"the timer is exact and durable").

The deadline is an SLA warning: with a first-response target of 15 min + 3 s, a case's
`sla_check_at` (the warning, 15 minutes ahead of the target) falls 3 s after filing.
`deadlines.schedule` enqueues the exact-time job for that second; the first test sees the
worker apply it within 5 s of its time. The second deletes the scheduled job from Redis (a
lost job, a Redis restart) and lets the minute cron's sweep apply it instead.

Skipped unless DESK_TEST_REDIS_URL is set. The worker runs in another process with the real
clock, so the tests poll the database with a time bound.
"""
import datetime as dt

import pytest
from rq import Queue
from rq.cron import CronScheduler
from rq.job import Job
from rq.registry import ScheduledJobRegistry

from desk.agent_desk.models import SlaEvent, SlaPolicy
from desk.core import clock, tasks
from tests import builders as b
from tests.support import ROOT, START_TIMEOUT, diagnostics, finished_jobs, poll, scheduler_ready

pytestmark = pytest.mark.redis

AHEAD = 3           # seconds from filing to the deadline
LATENESS = 5        # seconds the exact-time job may take past its time


def warning(complaint):
    return (SlaEvent
            .select()
            .where((SlaEvent.complaint == complaint.id) & (SlaEvent.kind == 'warned'))
            .first())


@pytest.fixture
def file_case(app, make_app, redis_url):
    """file_case() -> a case filed through an app with Redis (so its deadline is scheduled),
    whose SLA warning falls AHEAD seconds from now."""
    SlaPolicy.update(first_response_seconds=15 * 60 + AHEAD, resolution_seconds=None).where(
        SlaPolicy.tier == 'L2').execute()
    redis_app = make_app(REDIS_URL=redis_url)

    def file():
        with redis_app.test_request_context('/api/v1/complaints'):
            complaint = b.case('O-1')
        assert complaint.sla_check_at == complaint.created_at + dt.timedelta(seconds=AHEAD)
        return complaint
    return file


def scheduled_job_id(complaint):
    epoch = int(complaint.sla_check_at.replace(tzinfo=dt.timezone.utc).timestamp())
    return f'deadline-sla-{complaint.id}-{epoch}'


def test_the_exact_time_job_applies_a_deadline_within_seconds(app, redis_conn, worker,  # noqa: F811
                                                              file_case):
    scheduler_ready(redis_conn, worker)
    complaint = file_case()
    job_id = scheduled_job_id(complaint)
    registry = ScheduledJobRegistry(tasks.QUEUE, connection=redis_conn)
    assert job_id in registry.get_job_ids(), 'no exact-time job was scheduled'
    assert registry.get_scheduled_time(job_id) == complaint.sla_check_at.replace(tzinfo=dt.timezone.utc)

    due = complaint.sla_check_at
    applied = poll(lambda: warning(complaint), due + dt.timedelta(seconds=LATENESS), redis_conn, worker)
    assert applied, f'not applied within {LATENESS}s of its time\n' + diagnostics(redis_conn, worker)
    assert due <= applied.at <= due + dt.timedelta(seconds=LATENESS)
    assert poll(lambda: job_id in finished_jobs(redis_conn), clock.now() + dt.timedelta(seconds=LATENESS),
                redis_conn, worker), 'the exact-time job did not finish'
    assert b.reload(complaint).sla_check_at == complaint.first_response_due_at, \
        'the next deadline (the breach) is set'


def test_a_lost_job_is_made_good_by_the_cron_sweep(app, redis_conn, worker, file_case,  # noqa: F811
                                                   monkeypatch):
    scheduler_ready(redis_conn, worker)
    complaint = file_case()
    job_id = scheduled_job_id(complaint)
    registry = ScheduledJobRegistry(tasks.QUEUE, connection=redis_conn)
    assert job_id in registry.get_job_ids()
    registry.remove(job_id, delete_job=True)                     # the job is lost
    assert not Job.exists(job_id, connection=redis_conn)

    due = complaint.sla_check_at
    assert not poll(lambda: False, due, redis_conn, worker)       # let the deadline pass
    assert warning(complaint) is None, 'nothing but the sweep is left to apply it'

    monkeypatch.chdir(ROOT)  # as the Procfile runs `rq cron web/cron.py`
    cron = CronScheduler(connection=redis_conn)
    cron.load_config_from_file('web/cron.py')
    enqueued = [job.func_name for job in cron.enqueue_jobs()]
    assert 'desk.jobs.sweep_deadlines' in enqueued

    applied = poll(lambda: warning(complaint), clock.now() + dt.timedelta(seconds=START_TIMEOUT),
                   redis_conn, worker)
    assert applied, 'the cron sweep did not apply the deadline\n' + diagnostics(redis_conn, worker)
    assert applied.at >= due
    swept = poll(lambda: 'desk.jobs.sweep_deadlines' in finished_jobs(redis_conn).values(),
                 clock.now() + dt.timedelta(seconds=START_TIMEOUT), redis_conn, worker)
    assert swept, 'the sweep job did not finish\n' + diagnostics(redis_conn, worker)
    assert 'desk.jobs.apply_deadline' not in finished_jobs(redis_conn).values()
    assert Queue(tasks.QUEUE, connection=redis_conn).failed_job_registry.count == 0
