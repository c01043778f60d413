"""What the desk announces, exactly once: the transactional outbox, notifications (inbox, e-mail,
SMS) and signed webhooks to the marketplace with their retries and delivery log.

It may import `desk.core`, `desk.parties` and the case tables (`desk.cases.models`).
"""
