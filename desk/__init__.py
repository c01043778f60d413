"""The platform side of Arbiter Desk: accounts, orders, complaints, queues, consoles, API."""
