"""The agent desk: department queues and their order, claiming and automatic assignment, SLA
clocks and events, business time, and the supervisors' SLA board.

It may import `desk.core`, `desk.parties`, `desk.messaging` and `desk.cases`.
"""
