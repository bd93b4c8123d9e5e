"""A page of the main window: built on first visit, with a readable error panel in place of one that fails."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtWidgets import QVBoxLayout, QWidget

from app.ui.widgets import ErrorPanel

log = logging.getLogger(__name__)


def _holder() -> QWidget:
    holder = QWidget()
    QVBoxLayout(holder).setContentsMargins(0, 0, 0, 0)
    return holder


@dataclass
class PageEntry:
    """One sidebar entry. ``holder`` sits in the stack from the start; the page itself arrives later."""

    key: str
    title: str
    icon: str
    factory: Callable[[], object]
    tooltip: str = ""
    opens_files: tuple[str, ...] = ()
    holder: QWidget = field(default_factory=_holder)
    widget: QWidget | None = None

    def ensure_built(self, log_file: Path) -> QWidget:
        if self.widget is None:
            self.widget = self._build(log_file)
            layout = self.holder.layout()
            assert layout is not None  # _holder() always gives it one
            layout.addWidget(self.widget)
        return self.widget

    def shutdown(self) -> None:
        """Let a built page stop its threads and timers (optional ``shutdown()`` on the page widget)."""
        stop = getattr(self.widget, "shutdown", None)
        if callable(stop):
            try:
                stop()
            except Exception:
                log.exception("page %s failed to shut down", self.key)

    def rebuild(self, log_file: Path) -> QWidget:
        if self.widget is not None:
            self.widget.deleteLater()
            self.widget = None
        return self.ensure_built(log_file)

    def _build(self, log_file: Path) -> QWidget:
        try:
            widget = self.factory()
            if not isinstance(widget, QWidget):
                raise TypeError(f"the page factory returned {type(widget).__name__}, not a widget")
        except Exception as exc:
            # A module's broken page must cost the user that page only, never the window.
            log.exception("page %s could not be built", self.key)
            reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            panel = ErrorPanel(f"The {self.title} page could not be opened", reason,
                               f"The details are in the log file {log_file}.",
                               retry=lambda: self.rebuild(log_file))
            holder = QWidget()
            column = QVBoxLayout(holder)
            column.setContentsMargins(28, 24, 28, 24)
            column.addWidget(panel)
            column.addStretch(1)
            return holder
        return widget
