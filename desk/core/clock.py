"""The one source of "now" for services and jobs.

Inside the desk every datetime is naive UTC (that is what the database stores); conversion
to the configured time zone happens only at the edges (templates, API output). Tests freeze
and move time with `freeze`/`advance` instead of sleeping.
"""
import datetime as _dt

_frozen = None


def now():
    """Current time as naive UTC, or the frozen time in tests."""
    if _frozen is not None:
        return _frozen
    return _dt.datetime.now(_dt.timezone.utc).replace(tzinfo=None, microsecond=0)


def freeze(at):
    """Stop the clock at `at` (naive UTC, or aware which is converted)."""
    global _frozen
    if at.tzinfo is not None:
        at = at.astimezone(_dt.timezone.utc).replace(tzinfo=None)
    _frozen = at


def advance(seconds=0, **kwargs):
    """Move a frozen clock forward by `seconds` (or any timedelta keywords)."""
    if _frozen is None:
        raise RuntimeError('advance() needs a frozen clock; call freeze() first')
    freeze(_frozen + _dt.timedelta(seconds=seconds, **kwargs))


def unfreeze():
    global _frozen
    _frozen = None
