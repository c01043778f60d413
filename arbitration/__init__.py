"""The dispute side of Arbiter Desk: negotiation, evidence, rulings, remedies, penalties.

It may import `desk`'s core (models, clock, errors); `desk` reaches it only through what
`app.py` registers.
"""
