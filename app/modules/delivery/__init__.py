"""Delivery: accounts, the local outbox, the background sender, bounces (issue 4; not built yet)."""
