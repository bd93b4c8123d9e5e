"""Postroom: desktop email marketing for small teams."""

__version__ = "0.1.0"
APP_NAME = "Postroom"
APP_ID = "postroom"
