"""Who takes part: merchants, buyers as the marketplace knows them, user accounts of every role
(passwords, login throttling, API keys, portal accounts for buyers).

It may import `desk.core`.
"""
