"""The standing's exact-time job in a real Redis: scheduled for the second a violation
expires (once within two hours of it), the same job id when scheduled again, and the job
itself, run at that second, drops the level.

Skipped unless DESK_TEST_REDIS_URL is set. The job is performed in this process (no worker:
tests/desk/core/test_deadline_worker.py covers the worker picking scheduled jobs up)."""
import datetime as dt

import pytest
from rq.job import Job
from rq.registry import ScheduledJobRegistry

from arbitration.penalties import standing
from arbitration.penalties.models import MerchantStanding, Violation
from desk.core import clock, tasks
from tests import builders as b
from tests.conftest import T0

pytestmark = pytest.mark.redis
YEAR = dt.timedelta(days=365)


def test_the_exact_time_job_expires_on_its_second(app, make_app, redis_url, redis_conn, frozen):  # noqa: F811
    redis_app = make_app(REDIS_URL=redis_url)
    merchant = b.merchant('m-1')
    expiry = T0 + dt.timedelta(hours=1)
    Violation.create(merchant=merchant.id, code='fake_delivery', points=12, fine_fen=0,
                     at=expiry - YEAR, expires_at=expiry, state='active')
    later = b.merchant('m-2')
    Violation.create(merchant=later.id, code='fake_delivery', points=12, fine_fen=0,
                     at=T0, expires_at=T0 + YEAR, state='active')
    with redis_app.test_request_context('/'):
        standing.recompute([merchant.id, later.id])
    registry = ScheduledJobRegistry(tasks.QUEUE, connection=redis_conn)
    epoch = int(expiry.replace(tzinfo=dt.timezone.utc).timestamp())
    job_id = f'deadline-standing_due-{merchant.id}-{epoch}'
    assert registry.get_job_ids() == [job_id], 'the expiry a year ahead is not scheduled yet'
    assert registry.get_scheduled_time(job_id) == expiry.replace(tzinfo=dt.timezone.utc)
    with redis_app.test_request_context('/'):
        assert standing.schedule_upcoming() == 1
    assert registry.get_job_ids() == [job_id], 'scheduled again: the same job'

    clock.freeze(expiry - dt.timedelta(seconds=1))
    job = Job.fetch(job_id, connection=redis_conn)
    with redis_app.app_context():
        assert job.func(*job.args) is False, 'a second early: nothing'
    clock.freeze(expiry)
    with redis_app.app_context():
        assert job.func(*job.args) is True
    assert (MerchantStanding.get_by_id(merchant.id).level, MerchantStanding.get_by_id(later.id).level) == (0, 1)
