"""Recording merchant violations (SPEC §7). Points count for 365 days; the penalty issue
builds standing, appeals and fines on these rows."""
import datetime as dt

from desk import clock

from arbitration.models import Violation

#: code -> (points, fine in fen): the defaults of SPEC §7.
DEFAULT_RULES = {
    'no_response': (2, 0),
    'arbitration_lost': (3, 0),
    'not_as_described': (4, 0),
    'fake_delivery': (12, 50000),
    'complaint_spike': (6, 0),
}
VALID_DAYS = 365


def record_violation(merchant_id, code, complaint=None, reason=None, now=None):
    """Record a violation once per (complaint, code); returns the row."""
    now = now or clock.now()
    if complaint is not None:
        existing = Violation.get_or_none((Violation.complaint == complaint.id) & (Violation.code == code))
        if existing is not None:
            return existing
    points, fine = DEFAULT_RULES[code]
    return Violation.create(merchant=merchant_id, complaint=complaint.id if complaint else None,
                            code=code, points=points, fine_fen=fine, at=now, reason=reason,
                            expires_at=now + dt.timedelta(days=VALID_DAYS))
