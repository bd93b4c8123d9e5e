"""Small parts of the Contacts page: the notice strip, the empty states, and which dropped files are spreadsheets."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QMimeData, Qt
from PySide6.QtWidgets import QHBoxLayout, QPushButton, QStyle, QVBoxLayout, QWidget

from app.ui import icons, theme
from app.ui.widgets import label

SPREADSHEET_SUFFIXES = (".csv", ".tsv", ".txt")


def csv_paths(mime: QMimeData) -> list[Path]:
    """Local files in a drag that look like spreadsheets (CSV, TSV or text exports)."""
    if not mime.hasUrls():
        return []
    paths = [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]
    return [path for path in paths if path.suffix.lower() in SPREADSHEET_SUFFIXES]


def merge_ranges(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """(first, count) row ranges, sorted and with overlaps joined (a row selected twice counts once)."""
    merged: list[tuple[int, int]] = []
    for first, count in sorted(ranges):
        if merged and first <= merged[-1][0] + merged[-1][1]:
            start, size = merged[-1]
            merged[-1] = (start, max(size, first + count - start))
        else:
            merged.append((first, count))
    return merged


class EmptyState(QWidget):
    """What the centre shows instead of an empty grid: a picture, a sentence, and the one useful button."""

    def __init__(self, action: Callable[[], None], *, title: str = "",
                 text: str = "", button: str = "Import a spreadsheet…", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ContactsEmptyState")
        column = QVBoxLayout(self)
        column.setContentsMargins(40, 40, 40, 40)
        column.setSpacing(12)
        column.addStretch(1)
        picture = label("")
        picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        picture.setPixmap(icons.line_icon("contacts", theme.colors().muted).pixmap(64, 64))
        column.addWidget(picture)
        self.title = label(title or "No contacts yet — import a spreadsheet or drop a CSV here",
                           object_name="SectionTitle", wrap=True)
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        column.addWidget(self.title)
        self.text = label(text or "Exports from Mailchimp, HubSpot, Google Contacts and Outlook are recognised; "
                          "you choose which columns go where before anything is saved.", "muted", wrap=True)
        self.text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        column.addWidget(self.text)
        self.button = QPushButton(self.style().standardIcon(QStyle.StandardPixmap.SP_DialogOpenButton), button)
        self.button.setObjectName("ContactsEmptyStateButton")
        self.button.clicked.connect(lambda _checked=False: action())
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.button)
        row.addStretch(1)
        column.addLayout(row)
        column.addStretch(2)
