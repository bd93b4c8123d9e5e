"""The segment builder: nested AND/OR groups of conditions, checked as you edit, counted live off the GUI thread."""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThreadPool, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from app.modules.contacts.messages import ListsChanged
from app.modules.contacts.segment_rules import validate_rules
from app.modules.contacts.segments import (
    SegmentCatalog,
    SegmentError,
    count_segment,
    event_names,
    save_segment,
    segment_catalog,
)
from app.modules.contacts.ui.segment_rows import GroupFrame
from app.ui import theme

log = logging.getLogger(__name__)

COUNT_DELAY_MS = 300  # typing pauses this long before the database is asked
_PROBLEM = re.compile(r"^Condition ([\d.]+)(?: \([^)]*\))?:? ?(.*)$")


def _stylesheet() -> str:
    c = theme.colors()
    # Nested groups alternate two backgrounds; rows sit on a third, so inputs keep a visible edge in both themes.
    group, nested, row = (c.window, c.sidebar, c.alt_base) if c.dark else (c.alt_base, c.sidebar, c.base)
    return f"""
QFrame#SegmentGroup {{ background: {group}; border: 1px solid {c.border}; border-left: 3px solid {c.accent};
    border-radius: 8px; }}
QFrame#SegmentGroup[depth="2"], QFrame#SegmentGroup[depth="4"] {{ background: {nested}; }}
QFrame#SegmentCondition {{ background: {row}; border: 1px solid {c.border}; border-radius: 6px; }}
QFrame#SegmentCondition[invalid="true"] {{ border: 1px solid {c.danger}; }}
QFrame#SegmentGroup QLabel, QFrame#SegmentCondition QLabel {{ background: transparent; border: none; }}
QLabel#SegmentConnector {{ color: {c.accent}; font-weight: 600; font-size: 8pt; padding-left: 14px; }}
QLabel#SegmentProblem, QLabel#SegmentProblems {{ color: {c.danger}; }}
QLabel#SegmentCount {{ font-size: 15pt; font-weight: 600; }}
QLabel#SegmentCount[state="waiting"] {{ color: {c.muted}; font-size: 10.5pt; font-weight: 400; }}
QLabel#SegmentCount[state="error"] {{ color: {c.danger}; font-size: 10.5pt; font-weight: 400; }}
QLabel#SegmentCountNote, QLabel#SegmentEmpty {{ color: {c.muted}; }}
QToolButton#SegmentRemove {{ border: none; padding: 2px; }}
QToolButton#SegmentRemove:hover {{ background: {c.danger_soft}; border-radius: 4px; }}
"""


def _plural(count: int) -> str:
    return f"{count:,} contact" if count == 1 else f"{count:,} contacts"


class _Relay(QObject):
    """Carries results from worker threads to the GUI thread (a queued signal)."""

    finished = Signal(str, int, object, str)  # kind, generation, result, error


class SegmentBuilder(QWidget):
    """Edit a segment's rules; a count of matching contacts follows every change."""

    saved = Signal(int, str)  # segment id, name
    counted = Signal(object)  # the new count (int), or None when the rules cannot be counted

    def __init__(self, ui_context: Any, parent: QWidget | None = None, rules: dict[str, Any] | None = None,
                 name: str = "") -> None:
        super().__init__(parent)
        self.setObjectName("SegmentBuilder")
        self.ctx = ui_context
        self.db = ui_context.kernel.db
        self.bus = ui_context.bus
        self.catalog: SegmentCatalog = segment_catalog(self.db)  # a few small tables: quick
        self.event_names: list[str] = []
        self.count: int | None = None
        self.problems: list[str] = []
        self._generation = 0
        # The pool is created before the relay, so on deletion it waits for running work while the relay lives.
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)  # counts queue behind each other; stale ones are dropped
        self._relay = _Relay(self)
        self._relay.finished.connect(self._finished)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(COUNT_DELAY_MS)
        self._timer.timeout.connect(self._count_now)
        self._build(name)
        self.set_rules(rules or {"match": "all", "rules": []})
        self.root.changed.connect(self._rules_edited)
        self.name_edit.textChanged.connect(lambda _t: self._update_save())
        self.save_button.clicked.connect(self.save)
        self._start("events", lambda: event_names(self.db))
        ui_context.bridge.subscribe(ListsChanged, lambda _e: self._start("catalog", lambda: segment_catalog(self.db)),
                                    owner=self)
        theme_controller = getattr(ui_context, "theme", None)
        if theme_controller is not None:
            theme_controller.changed.connect(self._restyle)

    @Slot()
    def _restyle(self) -> None:
        self.setStyleSheet(_stylesheet())

    def _build(self, name: str) -> None:
        self.setStyleSheet(_stylesheet())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 14, 16, 12)
        layout.setSpacing(10)
        top = QHBoxLayout()
        top.addWidget(QLabel("Segment name"))
        self.name_edit = QLineEdit(name)
        self.name_edit.setObjectName("SegmentName")
        self.name_edit.setPlaceholderText("e.g. Engaged customers")
        self.name_edit.setMaxLength(200)
        top.addWidget(self.name_edit, 1)
        layout.addLayout(top)
        self.scroll_area = QScrollArea()
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setFrameShape(QFrame.Shape.NoFrame)
        holder = QWidget()
        holder_layout = QVBoxLayout(holder)
        holder_layout.setContentsMargins(0, 0, 0, 0)
        self.root = GroupFrame(self, 1)
        holder_layout.addWidget(self.root)
        holder_layout.addStretch(1)
        self.scroll_area.setWidget(holder)
        layout.addWidget(self.scroll_area, 1)
        self.problems_label = QLabel()
        self.problems_label.setObjectName("SegmentProblems")
        self.problems_label.setWordWrap(True)
        self.problems_label.hide()
        layout.addWidget(self.problems_label)
        footer = QHBoxLayout()
        self.count_label = QLabel("Counting…")
        self.count_label.setObjectName("SegmentCount")
        self.count_note = QLabel("match these rules now")
        self.count_note.setObjectName("SegmentCountNote")
        self.status_label = QLabel()
        self.status_label.setObjectName("SegmentCountNote")
        self.save_button = QPushButton("Save segment")
        self.save_button.setObjectName("SegmentSave")
        self.save_button.setDefault(True)
        footer.addWidget(self.count_label)
        footer.addWidget(self.count_note)
        footer.addStretch(1)
        footer.addWidget(self.status_label)
        footer.addWidget(self.save_button)
        layout.addLayout(footer)

    # -- rules -----------------------------------------------------------------------------------------

    def rules(self) -> dict[str, Any]:
        """The rules as shown, as JSON data."""
        return self.root.to_rules()

    def name(self) -> str:
        return self.name_edit.text().strip()

    def set_rules(self, rules: dict[str, Any]) -> None:
        """Replace what is shown with ``rules`` (rebuilds every row and group)."""
        for item in list(self.root.items):
            self.root._remove(item)
        self.root.load(rules)
        self._rules_edited()

    def _rules_edited(self) -> None:
        self.status_label.clear()  # "Saved" no longer describes what is shown
        self._refresh()

    def _refresh(self) -> None:
        """Check the rules, show problems on their rows, and count again after a pause."""
        self.problems = validate_rules(self.rules(), self.catalog.fields, tags=self.catalog.tags,
                                       lists=self.catalog.lists)
        rows = self.root.rows_by_path()
        inline: dict[str, str] = {}
        general: list[str] = []
        for problem in self.problems:
            match = _PROBLEM.match(problem)
            if match and match.group(1) in rows:
                inline.setdefault(match.group(1), match.group(2) or problem)
            else:
                general.append(problem)
        for path, row in rows.items():
            row.show_problem(inline.get(path, ""))
        self.problems_label.setText("\n".join(general))
        self.problems_label.setVisible(bool(general))
        self._generation += 1  # whatever is being counted now is stale
        if self.problems:
            self._timer.stop()
            self._show_count(None, "Fix the problems shown to see a count")
        else:
            self._show_count(None, "Counting…")
            self._timer.start()
        self._update_save()

    def _update_save(self) -> None:
        self.save_button.setEnabled(bool(self.name()) and not self.problems)
        self.save_button.setToolTip("" if self.name() else "Give the segment a name first")

    # -- background work ---------------------------------------------------------------------------------

    def _start(self, kind: str, work: Callable[[], Any]) -> None:
        generation, relay = self._generation, self._relay

        def run() -> None:
            try:
                result, error = work(), ""
            except SegmentError as exc:
                result, error = exc, str(exc)
            except Exception as exc:
                result, error = exc, f"{type(exc).__name__}: {exc}"
            with contextlib.suppress(RuntimeError):  # the builder was closed meanwhile: nobody is waiting
                relay.finished.emit(kind, generation, result, error)

        if kind == "count":
            self._pool.clear()  # an older count not started yet would only be thrown away
        self._pool.start(run)

    def _count_now(self) -> None:
        rules = self.rules()
        self._start("count", lambda: count_segment(self.db, rules))

    @Slot(str, int, object, str)
    def _finished(self, kind: str, generation: int, result: Any, error: str) -> None:
        if kind == "events" and not error:
            self.event_names = list(result)
            for row in self.root.rows_by_path().values():
                row.update_event_names(self.event_names)
        elif kind == "catalog" and not error:
            self.catalog = result
            for row in self.root.rows_by_path().values():
                row.catalog = result  # rows offer new tags and lists the next time their field changes
            self._refresh()
        elif kind == "count" and generation == self._generation:
            if error:
                log.warning("segment count failed: %s", error)
                self._show_count(None, f"Could not count: {error}", failed=True)
            else:
                self._show_count(int(result), _plural(int(result)))
        elif kind == "save":
            self._saved(result, error)
        elif error:
            log.warning("segment builder: %s failed: %s", kind, error)

    def _show_count(self, count: int | None, text: str, failed: bool = False) -> None:
        self.count = count
        self.count_label.setText(text)
        self.count_label.setProperty("state", "error" if failed else ("" if count is not None else "waiting"))
        self.count_label.style().unpolish(self.count_label)
        self.count_label.style().polish(self.count_label)
        self.count_note.setVisible(count is not None)
        if count is not None or failed:
            self.counted.emit(count)

    # -- saving --------------------------------------------------------------------------------------------

    def save(self) -> None:
        """Save under the name shown (off the GUI thread); ``saved`` is emitted when it is stored."""
        if not self.name():
            self.status_label.setText("Give the segment a name first.")
            self.name_edit.setFocus()
            return
        name, rules = self.name(), self.rules()
        self.save_button.setEnabled(False)
        self.status_label.setText("Saving…")
        self._start("save", lambda: save_segment(self.db, self.bus, name, rules))

    def _saved(self, result: Any, error: str) -> None:
        self._update_save()
        if isinstance(result, SegmentError):
            self.status_label.setText("Not saved.")
            self.problems_label.setText("\n".join(result.problems))
            self.problems_label.show()
        elif error:
            log.warning("saving a segment failed: %s", error)
            self.status_label.setText(f"Not saved: {error}")
        else:
            self.status_label.setText(f"Saved “{result.name}”.")
            self.saved.emit(result.id, result.name)

    def wait_for_background(self, msecs: int = 5000) -> bool:
        """Block until background work is done (for closing and for tests)."""
        return self._pool.waitForDone(msecs)


class SegmentBuilderDialog(QDialog):
    """The builder in a window: closes when the segment is saved."""

    saved = Signal(int, str)

    def __init__(self, ui_context: Any, parent: QWidget | None = None, rules: dict[str, Any] | None = None,
                 name: str = "") -> None:
        super().__init__(parent)
        self.setObjectName("SegmentBuilderDialog")
        self.setWindowTitle(f"Edit segment — {name}" if name else "New segment")
        self.resize(900, 580)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 8)
        self.builder = SegmentBuilder(ui_context, self, rules, name)
        layout.addWidget(self.builder, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        buttons.setContentsMargins(16, 0, 16, 0)
        layout.addWidget(buttons)
        self.builder.saved.connect(self._on_saved)

    def _on_saved(self, segment_id: int, name: str) -> None:
        self.saved.emit(segment_id, name)
        self.accept()
