"""Uncaught exceptions on any thread: logged, then shown on the GUI thread with details to copy; the app goes on."""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
import traceback
from types import TracebackType
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.ui.widgets import icon_label, label

log = logging.getLogger(__name__)


class ErrorDialog(QDialog):
    """A short message, expandable details (the traceback) and "Copy details". Later errors are appended."""

    def __init__(self, summary: str, details: str, log_hint: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ErrorDialog")
        self.setWindowTitle("Something went wrong")
        self.count = 1
        self.message = label("", wrap=True, selectable=True)
        self.message.setObjectName("ErrorMessage")
        self.details = QPlainTextEdit(readOnly=True)
        self.details.setObjectName("ErrorDetails")
        self.details.setMinimumHeight(220)
        self.details.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.details.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.details.hide()
        self._summary = summary
        self.details.setPlainText(details)

        self.toggle_button = QPushButton("Show details")
        self.toggle_button.setCheckable(True)
        self.toggle_button.toggled.connect(self._toggle_details)
        self.copy_button = QPushButton("Copy details")
        self.copy_button.clicked.connect(self.copy_details)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(self.toggle_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)

        top = QHBoxLayout()
        top.setSpacing(14)
        top.addWidget(icon_label("error", 32, "danger"), 0, Qt.AlignmentFlag.AlignTop)
        words = QVBoxLayout()
        words.addWidget(self.message)
        words.addWidget(label("Postroom kept running, but the last action may not have finished. "
                              + (log_hint or ""), "muted", wrap=True))
        top.addLayout(words, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 18, 20, 14)
        layout.addLayout(top)
        layout.addWidget(self.details, 1)
        layout.addWidget(buttons)
        self.setMinimumWidth(520)
        self._show_summary()

    def reset(self, summary: str, details: str) -> None:
        self.count = 1
        self._summary = summary
        self.details.setPlainText(details)
        self._show_summary()

    def add(self, summary: str, details: str) -> None:
        self.count += 1
        self._summary = summary
        self.details.appendPlainText("\n" + "-" * 60 + "\n" + details)
        self._show_summary()

    def copy_details(self) -> None:
        QGuiApplication.clipboard().setText(self.details.toPlainText())

    def _show_summary(self) -> None:
        more = f" ({self.count} errors so far)" if self.count > 1 else ""
        self.message.setText(f"<b>An unexpected error occurred{more}.</b><br>{_escape(self._summary)}")

    def _toggle_details(self, shown: bool) -> None:
        self.details.setVisible(shown)
        self.toggle_button.setText("Hide details" if shown else "Show details")
        self.adjustSize()


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class ErrorReporter(QObject):
    """Installs ``sys.excepthook`` and ``threading.excepthook``; the dialog is always built on the GUI thread."""

    reported = Signal(str, str)  # summary, details; queued to the GUI thread when raised elsewhere

    def __init__(self, parent_window: QWidget | None = None, log_hint: str = "",
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._window = parent_window
        self._log_hint = log_hint
        self.dialog: ErrorDialog | None = None
        self._previous_sys: Any = None
        self._previous_threading: Any = None
        self.reported.connect(self._show, Qt.ConnectionType.QueuedConnection)

    def set_window(self, window: QWidget | None) -> None:
        self._window = window

    def install(self) -> None:
        self._previous_sys, sys.excepthook = sys.excepthook, self._sys_hook
        self._previous_threading, threading.excepthook = threading.excepthook, self._thread_hook

    def uninstall(self) -> None:
        if self._previous_sys is not None:
            sys.excepthook = self._previous_sys
            self._previous_sys = None
        if self._previous_threading is not None:
            threading.excepthook = self._previous_threading
            self._previous_threading = None

    def _sys_hook(self, kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
        if issubclass(kind, KeyboardInterrupt) and self._previous_sys is not None:
            self._previous_sys(kind, value, tb)
            return
        self.report(kind, value, tb, threading.current_thread().name)

    def _thread_hook(self, args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit or args.exc_value is None:
            return
        thread = args.thread.name if args.thread is not None else "unknown thread"
        self.report(args.exc_type, args.exc_value, args.exc_traceback, thread)

    def report(self, kind: type[BaseException], value: BaseException, tb: TracebackType | None,
               thread: str) -> None:
        """Log the exception and ask the GUI thread to show it; safe on any thread."""
        log.error("uncaught exception on thread %s", thread, exc_info=(kind, value, tb))
        text = str(value)
        summary = f"{kind.__name__}: {text}" if text else kind.__name__
        details = f"Thread: {thread}\n" + "".join(traceback.format_exception(kind, value, tb))
        with contextlib.suppress(RuntimeError):  # the Qt side may be gone (shutting down); the log has it
            self.reported.emit(summary, details)

    @Slot(str, str)
    def _show(self, summary: str, details: str) -> None:
        # One dialog, reused: a burst of errors adds to it instead of burying the window under dialogs.
        if self.dialog is None:
            self.dialog = ErrorDialog(summary, details, self._log_hint, self._window)
        elif self.dialog.isVisible():
            self.dialog.add(summary, details)
            return
        else:
            self.dialog.reset(summary, details)
        self.dialog.show()  # a freshly shown window is already on top; no raise_() needed

    def close_dialog(self) -> None:
        if self.dialog is not None:
            self.dialog.close()
            self.dialog.deleteLater()
            self.dialog = None
