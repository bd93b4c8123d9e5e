"""Contacts: contacts, custom fields, lists, tags, consent, suppressions, import, segments (issue 3)."""
