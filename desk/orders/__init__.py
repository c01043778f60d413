"""The marketplace's orders as the desk keeps them: the idempotent upsert the integration pushes,
visibility per party, and the CSV import job.

It may import `desk.core` and `desk.parties`.
"""
