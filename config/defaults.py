"""Every setting of Arbiter Desk, its type, default and meaning.

Each can be overridden by an environment variable named `DESK_<NAME>` (for example
`DESK_DATABASE_URL`). The README's configuration table is printed from this list by
`python -m config`; a test keeps the two equal.
"""
from typing import NamedTuple, Optional

#: Used only when DESK_ENV=development; any other environment refuses to start with it.
DEVELOPMENT_SECRET_KEY = 'development-only-secret-do-not-use-in-production'


class Setting(NamedTuple):
    name: str
    kind: type
    default: object
    doc: str
    choices: Optional[tuple] = None


SETTINGS = [
    Setting('ENV', str, 'development',
            'development, production or testing; outside development a real secret is required',
            ('development', 'production', 'testing')),
    Setting('SECRET_KEY', str, None,
            'signs sessions and buyer links; required (and not the development key) outside development'),
    Setting('INTEGRATION_SECRET', str, None,
            'shared with the marketplace to sign buyer portal links (/buyer/complain?token=…); '
            'unset means the secret key'),
    Setting('DATABASE_URL', str, None,
            'peewee URL; unset means a SQLite file `desk.sqlite3` in the instance folder; '
            'postgresql://user@host/db for production'),
    Setting('REDIS_URL', str, None,
            'unset: jobs run inline and a background thread ticks timers; set: RQ workers and rq cron'),
    Setting('TIMEZONE', str, 'Asia/Shanghai', 'time zone times are shown and interpreted in'),
    Setting('DATA_DIR', str, None,
            'where evidence files are stored (content-addressed, outside the web root); '
            'unset means `evidence/` in the instance folder'),
    Setting('DEFAULT_LOCALE', str, 'zh', 'interface language when the user chose none', ('zh', 'en')),
    Setting('MERCHANT_RESPONSE_SECONDS', int, 86400, 'merchant window to answer a complaint'),
    Setting('BUYER_RESPONSE_SECONDS', int, 259200, 'buyer window to answer a proposal'),
    Setting('EVIDENCE_SECONDS', int, 172800, 'evidence period after the platform steps in'),
    Setting('EDIT_SECONDS', int, 86400, 'how long a buyer may edit facts and demand'),
    Setting('RATING_SECONDS', int, 604800, 'rating window after resolution'),
    Setting('APPEAL_SECONDS', int, 604800, 'appeal window after a ruling'),
    Setting('AUTO_REFUND_MAX_FEN', int, 0,
            'merchant silence refunds orders up to this amount (fen) in full without an agent; 0 = off'),
    Setting('COMPLAINT_WINDOW_DAYS', int, 15, 'days after confirmation in which a complaint may be filed'),
    Setting('LOGIN_MAX_FAILURES', int, 5, 'failed logins per account before it is locked for a while'),
    Setting('LOGIN_MAX_FAILURES_PER_IP', int, 20, 'failed logins from one address before it is locked'),
    Setting('LOGIN_LOCK_SECONDS', int, 900, 'how long a throttled account or address waits'),
    Setting('MAX_UPLOAD_BYTES', int, 20 * 1024 * 1024, 'largest CSV import accepted'),
    Setting('EVIDENCE_MAX_BYTES', int, 20 * 1024 * 1024, 'largest evidence file accepted (413 above it)'),
    Setting('EVIDENCE_STORAGE', str, 'local',
            'where evidence bytes live: `local` (files under DESK_DATA_DIR); other backends '
            'plug in behind arbitration.storage', ('local',)),
    Setting('ORPHAN_GRACE_SECONDS', int, 86400,
            'evidence files no row refers to (left by a failed upload) and stray temporary '
            'upload files are deleted by the daily sweep once older than this'),
    Setting('TICK_SECONDS', int, 5, 'how often the in-process ticker runs periodic work without Redis'),
    Setting('WEBHOOK_TIMEOUT_SECONDS', int, 10, 'how long a webhook receiver may take to answer'),
    Setting('SMTP_URL', str, None, 'smtp://user:pass@host:port for e-mail; unset prints e-mail to the log'),
]
