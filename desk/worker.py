"""The RQ worker class for Arbiter Desk: `rq worker -w desk.worker.DeskWorker …`.

It builds the app once in the worker's main process; each forked job process inherits it
(database connections are opened per job, inside the fork, by `desk.tasks.job`).
"""
from rq.worker import Worker

from desk.tasks import worker_app


class DeskWorker(Worker):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        worker_app()
