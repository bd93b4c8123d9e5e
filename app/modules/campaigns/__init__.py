"""Campaigns: audience, scheduling, A/B tests and automations (issue 6; not built yet)."""
