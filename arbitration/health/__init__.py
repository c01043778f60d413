"""Merchant health (SPEC §7): the figures of each merchant over a rolling window, daily
snapshots, the admin-editable policy and the trusted badge.

It may import `desk` and `arbitration.penalties`; never `web`.
"""
