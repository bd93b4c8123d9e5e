"""The Preferences dialog: the General page (theme, database, folders) and one page per module."""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import QSize
from PySide6.QtWidgets import (
    QAbstractButton,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.ui import theme
from app.ui.context import UiContext
from app.ui.widgets import ErrorPanel, label

log = logging.getLogger(__name__)
DATABASE_KEY = "database.url"


class GeneralPage(QWidget):
    """Settings the shell itself owns."""

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._ctx = ctx
        settings = ctx.settings
        self.theme_box = QComboBox()
        for mode in theme.MODES:
            self.theme_box.addItem(theme.MODE_LABELS[mode], mode)
        self.theme_box.setCurrentIndex(max(0, self.theme_box.findData(settings.get(theme.THEME_KEY, "system"))))

        self.database_edit = QLineEdit(settings.get(DATABASE_KEY, ""))
        self.database_edit.setPlaceholderText(ctx.paths.default_database_url())
        self.database_edit.setClearButtonEnabled(True)
        self.database_edit.setMinimumWidth(360)

        form = QFormLayout(self)
        form.setContentsMargins(4, 4, 4, 4)
        form.setVerticalSpacing(10)
        form.setHorizontalSpacing(16)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        form.addRow(label("General", object_name="SectionTitle"))
        form.addRow("Theme:", self.theme_box)
        form.addRow("Database:", self.database_edit)
        note = label(
            "Leave empty for the SQLite file in the data folder, or enter a PostgreSQL URL to share one database "
            f"with your team. Takes effect the next time Postroom starts. In use now: {ctx.db.display_url()}",
            "muted", wrap=True, selectable=True)
        note.setMinimumWidth(360)
        form.addRow("", note)
        form.addRow("Data folder:", label(str(ctx.paths.data_dir), "muted", selectable=True))
        form.addRow("Log file:", label(str(ctx.paths.log_file), "muted", selectable=True))

    def apply(self) -> None:
        url = self.database_edit.text().strip()
        if url:
            from sqlalchemy.engine import make_url
            from sqlalchemy.exc import ArgumentError

            try:
                make_url(url)
            except ArgumentError as exc:
                raise ValueError(f"“{url}” is not a database URL ({exc})") from exc
            self._ctx.settings.set(DATABASE_KEY, url)
        else:
            self._ctx.settings.remove(DATABASE_KEY)
        mode = self.theme_box.currentData()
        self._ctx.settings.set(theme.THEME_KEY, mode)
        if self._ctx.theme is not None:
            self._ctx.theme.set_mode(mode)


class PreferencesDialog(QDialog):
    """A list of pages on the left; OK and Apply call each page's ``apply()``."""

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("PreferencesDialog")
        self.setWindowTitle("Preferences")
        self.resize(760, 480)
        self._ctx = ctx
        self.page_list = QListWidget()
        self.page_list.setFixedWidth(170)
        self.page_list.setObjectName("PreferencesPages")
        self.stack = QStackedWidget()
        self.pages: dict[str, QWidget] = {}
        self._add_page("general", "General", GeneralPage(ctx))
        for spec in ctx.kernel.registry.settings_pages:
            self._add_page(spec.key, spec.title, self._build(spec.title, spec.factory))
        self.page_list.currentRowChanged.connect(self.stack.setCurrentIndex)
        self.page_list.setCurrentRow(0)

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
                                        | QDialogButtonBox.StandardButton.Apply)
        self.buttons.clicked.connect(self._on_button)
        body = QHBoxLayout()
        body.setSpacing(16)
        body.addWidget(self.page_list)
        body.addWidget(self.stack, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 16, 16, 12)
        layout.addLayout(body, 1)
        layout.addWidget(self.buttons)

    def _build(self, title: str, factory: Any) -> QWidget:
        try:
            widget = factory(self._ctx)
            if not isinstance(widget, QWidget):
                raise TypeError(f"the settings page factory returned {type(widget).__name__}, not a widget")
        except Exception as exc:
            log.exception("settings page %s could not be built", title)
            return ErrorPanel(f"The {title} settings could not be opened", f"{type(exc).__name__}: {exc}",
                              f"The details are in the log file {self._ctx.paths.log_file}.")
        return widget

    def _add_page(self, key: str, title: str, widget: QWidget) -> None:
        self.pages[key] = widget
        item = QListWidgetItem(title)
        item.setSizeHint(QSize(0, 32))
        self.page_list.addItem(item)
        holder = QWidget()
        column = QVBoxLayout(holder)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(widget)
        column.addStretch(1)
        self.stack.addWidget(holder)

    def apply(self) -> bool:
        """Apply every page; on the first failure show it, select that page and return False."""
        for row, (key, page) in enumerate(self.pages.items()):
            apply = getattr(page, "apply", None)
            if not callable(apply):
                continue
            try:
                apply()
            except Exception as exc:
                log.warning("preferences page %s refused to apply: %s", key, exc)
                self.page_list.setCurrentRow(row)
                QMessageBox.warning(self, "Preferences", f"{self.page_list.item(row).text()}: {exc}")
                return False
        return True

    def _on_button(self, button: QAbstractButton) -> None:
        role = self.buttons.buttonRole(button)
        if role == QDialogButtonBox.ButtonRole.ApplyRole:
            self.apply()
        elif role == QDialogButtonBox.ButtonRole.AcceptRole:
            if self.apply():
                self.accept()
        elif role == QDialogButtonBox.ButtonRole.RejectRole:
            self.reject()
