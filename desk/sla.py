"""Service-level targets per tier (SPEC §3): first response by an agent and resolution.

These are the defaults, 24×7. The SLA engine (clock events, pauses, business hours) builds on
`targets`; filing uses it to promise the buyer a time.
"""
import datetime as dt

#: tier -> (first response seconds, resolution seconds); None = no target.
DEFAULT_POLICIES = {
    'L1': (30 * 60, 4 * 3600),
    'L2': (2 * 3600, 24 * 3600),
    'L3': (None, None),
}


def targets(tier, start):
    """(first_response_due, resolution_due) for a case the platform takes at `start`."""
    first, resolution = DEFAULT_POLICIES[tier]
    return (start + dt.timedelta(seconds=first) if first else None,
            start + dt.timedelta(seconds=resolution) if resolution else None)
