"""The About box: version, the Qt and Python underneath, where the data lives, and the licence."""

from __future__ import annotations

import platform

import PySide6
from PySide6.QtCore import Qt, qVersion
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QGridLayout, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from app import APP_NAME, __version__
from app.ui.context import UiContext
from app.ui.home_page import TAGLINE
from app.ui.resources import app_icon
from app.ui.widgets import label

LICENCE = ("Proprietary software. Built with Qt for Python (PySide6) under the LGPL v3, "
           "SQLAlchemy, Jinja2 and other open-source libraries.")


def about_facts(ctx: UiContext) -> list[tuple[str, str]]:
    return [
        ("Version", __version__),
        ("Qt", f"{qVersion()} (PySide6 {PySide6.__version__})"),
        ("Python", f"{platform.python_version()} ({platform.python_implementation()})"),
        ("Data folder", str(ctx.paths.data_dir)),
        ("Database", ctx.db.display_url()),
    ]


class AboutDialog(QDialog):
    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("AboutDialog")
        self.setWindowTitle(f"About {APP_NAME}")
        logo = QLabel()
        logo.setPixmap(app_icon().pixmap(72, 72))
        words = QVBoxLayout()
        words.setSpacing(4)
        words.addWidget(label(APP_NAME, object_name="PageTitle"))
        words.addWidget(label(TAGLINE, "muted", wrap=True))
        header = QHBoxLayout()
        header.setSpacing(18)
        header.addWidget(logo, 0, Qt.AlignmentFlag.AlignTop)
        header.addLayout(words, 1)

        facts = QGridLayout()
        facts.setHorizontalSpacing(16)
        facts.setVerticalSpacing(6)
        for row, (name, value) in enumerate(about_facts(ctx)):
            facts.addWidget(label(name, "muted"), row, 0, Qt.AlignmentFlag.AlignTop)
            facts.addWidget(label(value, selectable=True, wrap=True), row, 1)
        facts.setColumnStretch(1, 1)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 22, 24, 16)
        layout.setSpacing(16)
        layout.addLayout(header)
        layout.addLayout(facts)
        layout.addWidget(label(LICENCE, "muted", wrap=True))
        layout.addWidget(buttons)
        self.setMinimumWidth(520)
