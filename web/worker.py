"""The RQ worker class for Arbiter Desk: `rq worker -w web.worker.DeskWorker …` — the worker's
entry point, which is why it may import `app`.

A `SimpleWorker`: jobs run in the worker process itself, not in a process forked per job.
Our jobs are short (a delivery, a batch of deadlines) and open and close their own database
connection (`desk.core.tasks.job`), so a fork per job bought no isolation worth its cost — it
capped a worker at ~25 jobs a second (bench/README.md, webhooks). Job timeouts still apply
(RQ's signal-based death penalty in the main thread); a job that kills the process is
retried from the outbox or the next sweep, like any lost job. The app is built once, here,
and handed to the jobs (`tasks.bind_worker_app`).
"""
from rq.worker import SimpleWorker

from app import create_app
from desk.core import tasks


class DeskWorker(SimpleWorker):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not tasks.has_worker_app():
            tasks.bind_worker_app(create_app())
