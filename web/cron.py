"""The periodic jobs for `rq cron web/cron.py` (RQ's CronScheduler; it only enqueues,
`rq worker --with-scheduler` runs them). The list itself lives in `app.PERIODIC_JOBS`, the
same list the development ticker uses, so the two can never disagree.
"""
import os
import sys

from rq import cron

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from app import PERIODIC_JOBS  # noqa: E402
from desk.core.tasks import QUEUE  # noqa: E402

for func, seconds in PERIODIC_JOBS:
    cron.register(func, queue_name=QUEUE, interval=seconds)
