"""Buyer complaint credit (SPEC §7): the ledger and its effects on filing, and the supervisors'
pre-screen of complaints from buyers with low credit.

It may import every other package of `desk`.
"""
