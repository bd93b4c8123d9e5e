"""Delivery: sender identities, SMTP accounts, a durable per-recipient outbox, the built-in local outbox."""
