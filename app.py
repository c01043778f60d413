"""Arbiter Desk (仲裁台): the application factory. `python app.py` serves it.

This is the composition root, and the one file that shows what the application is made of:
the settings, the database, the three floors — `desk` (the platform), `arbitration` (the
dispute side) and `web` (every adapter) — each wired by its own `init_app`, the periodic jobs
and the tables. Nothing imports this module but the entry points (`web.worker`, `web.cron`,
gunicorn, the tests).
"""
import os

from flask import Flask

import arbitration
import desk
import web
from arbitration import jobs as arbitration_jobs
from arbitration.penalties import standing
from config import load_config
from desk import jobs as desk_jobs
from desk.core import tasks
from desk.core.db import database, default_sqlite_url, init_database
from desk.parties import accounts

#: Every table, in dependency order: what the migrations must build (a test compares).
ALL_MODELS = list(desk.MODELS + arbitration.MODELS)

#: Periodic work ticked by the development thread, or by `rq cron web/cron.py`:
#: (job function, interval in seconds).
PERIODIC_JOBS = [
    (desk_jobs.purge_login_failures, 3600),
    (desk_jobs.relay_outbox, 60),
    (desk_jobs.sweep_deadlines, 60),
    (desk_jobs.assign_waiting, 60),
    (desk_jobs.recover_buyer_credit, 86400),
    (standing.schedule_upcoming_job, 3600),
    (arbitration_jobs.refresh_merchant_health, 86400),
    (arbitration_jobs.purge_orphan_files, 86400),
]


def create_app(overrides=None):
    settings = load_config(overrides)
    app = Flask(__name__, instance_path=os.path.join(os.path.dirname(os.path.abspath(__file__)), 'instance'),
                static_folder='web/static')
    app.config.update(settings)
    app.config.update(
        TESTING=settings['ENV'] == 'testing',
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE='Lax',
        SESSION_COOKIE_SECURE=settings['ENV'] == 'production',
        REMEMBER_COOKIE_HTTPONLY=True,
        MAX_CONTENT_LENGTH=max(settings['MAX_UPLOAD_BYTES'], settings['EVIDENCE_MAX_BYTES']) + 1024 * 1024,
        WTF_CSRF_TIME_LIMIT=None,
        FLASK_ADMIN_SWATCH='default',
    )
    os.makedirs(app.instance_path, exist_ok=True)
    app.config['DATA_DIR'] = settings['DATA_DIR'] or os.path.join(app.instance_path, 'evidence')
    if settings['ENV'] == 'testing':
        accounts.use_fast_hashing()

    init_database(settings['DATABASE_URL'] or default_sqlite_url(app.instance_path))

    @app.before_request
    def _open_db():
        database.connect(reuse_if_open=True)

    @app.teardown_appcontext
    def _close_db(exc):
        if not database.is_closed() and not database.in_transaction():
            database.close()

    tasks.init_app(app, PERIODIC_JOBS)
    desk.init_app(app)
    arbitration.init_app(app)
    web.init_app(app)
    return app


if __name__ == '__main__':
    application = create_app()
    port = int(os.environ.get('PORT', '5000'))
    application.run(host='127.0.0.1', port=port, debug=False)
