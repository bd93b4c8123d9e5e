"""The merge fields a template can use, and the menu that inserts them where the user is typing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtWidgets import QMenu, QWidget

from app.modules.editor.validation import RECORD_FIELDS, STANDARD_FIELDS, URL_NAMES

FALLBACKS = {"first_name": "there"}
TITLES = {"email": "Email address", "first_name": "First name", "last_name": "Last name", "language": "Language",
          "time_zone": "Time zone", "name": "Name", "postal_address": "Postal address",
          "unsubscribe_url": "Unsubscribe link", "preferences_url": "Preferences link",
          "webview_url": "Web view link"}


@dataclass(frozen=True)
class MergeField:
    group: str
    title: str
    tag: str


def _title(name: str) -> str:
    return TITLES.get(name, name.replace("_", " ").capitalize())


def merge_fields(custom: list[str]) -> list[MergeField]:
    """Standard contact fields, custom ones, campaign and sender fields, and the links every email has."""
    found = []
    for name in STANDARD_FIELDS:
        fallback = FALLBACKS.get(name, "")
        found.append(MergeField("Contact", _title(name), f'{{{{ contact.{name} | default("{fallback}") }}}}'))
    for name in custom:
        if name not in STANDARD_FIELDS:
            found.append(MergeField("Custom fields", _title(name), f'{{{{ contact.{name} | default("") }}}}'))
    for record, names in RECORD_FIELDS.items():
        for name in names:
            found.append(MergeField(record.capitalize(), _title(name), f"{{{{ {record}.{name} }}}}"))
    found.extend(MergeField("Links", _title(name), f"{{{{ {name} }}}}") for name in URL_NAMES)
    return found


def merge_menu(parent: QWidget, custom: list[str], insert: Callable[[str], None]) -> QMenu:
    """A menu of merge fields grouped by kind; choosing one calls ``insert`` with its tag."""
    menu = QMenu(parent)
    menu.setObjectName("MergeFieldMenu")
    menu.setToolTipsVisible(True)
    group = ""
    for item in merge_fields(custom):
        if item.group != group:
            group = item.group
            menu.addSection(group)
        action = menu.addAction(item.title, lambda tag=item.tag: insert(tag))
        action.setToolTip(item.tag)
        action.setData(item.tag)
    if not custom:
        hint = menu.addAction("No custom fields yet (import contacts with extra columns)")
        hint.setEnabled(False)
    return menu
