"""The complaint (工单) and everything that belongs to one: its tables (`models`), the lifecycle
table and kernel, filing and the generic actions, who may see a case (`access`), the timeline,
remedies, the named queries of lists, and the counts each home page shows.

It may import `desk.core`, `desk.parties`, `desk.orders.orders`, `desk.messaging` and `desk.agent_desk`.
"""
