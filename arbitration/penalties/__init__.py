"""Merchant penalties (SPEC §7): violations, points and standing levels kept exact in time,
the deposit ledger, manual violations, penalty appeals and the complaint spike.

It may import `desk` and the rest of `arbitration`; never `web`.
"""
