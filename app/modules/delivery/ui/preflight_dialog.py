"""The preflight dialog: runs ``RunPreflight`` in a background job (progress, cancel), lists what it found, and
lets the user send only when nothing blocks it and, if there are warnings, after ticking that they accept them.

Any page that starts a send opens it first (the campaigns page does)::

    from app.modules.delivery.ui.preflight_dialog import PreflightDialog

    command = RunPreflight(content=..., variants=..., audience=..., identity_id=..., account_id=...)
    if PreflightDialog.confirm(ui_context, command, parent=self):
        ...  # start the send

``confirm`` blocks in the dialog's own event loop (the window stays responsive) and returns True only when the
user chose to send. ``dialog.report`` holds the ``PreflightReport`` once the checks finished.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QFrame,
    QHBoxLayout,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.kernel.jobs import JobCancelled, JobHandle
from app.modules.delivery.messages import PREFLIGHT_LEVELS, PreflightFinding, PreflightReport, RunPreflight
from app.modules.delivery.preflight import watched
from app.ui.widgets import TintedIcon, label

POLL_MS = 100
# Icon and colour (a theme colour name) per level.
LOOK = {"error": ("error", "danger"), "warning": ("warning", "warning"), "unknown": ("question", "muted"),
        "ok": ("check", "success")}
_COPYABLE = ("spf", "dkim", "dmarc", "spamassassin")  # details that are DNS records or rule lists
CHECK_NAMES = {"unsubscribe": "Unsubscribe link", "postal_address": "Postal address", "spf": "SPF", "dkim": "DKIM",
               "dmarc": "DMARC", "size": "Size", "links": "Links", "spamassassin": "Spam score",
               "template": "Template", "audience": "Audience", "account": "Account"}


class _Watch:
    """Between the job and the dialog: the checks report their step here; the dialog reads it and can cancel."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.handle: JobHandle | None = None
        self.step = "Starting…"
        self.done, self.total = 0, 0
        self.cancel_asked = False

    @property
    def cancelled(self) -> bool:
        with self.lock:
            return self.cancel_asked or bool(self.handle and self.handle.cancelled)

    def check(self) -> None:
        if self.cancelled:
            raise JobCancelled("preflight")

    def report(self, done: int, total: int | None = None, text: str = "", *, force: bool = False) -> None:
        with self.lock:
            self.done, self.total, self.step = done, total or 0, text or self.step
            handle = self.handle
        if handle is not None:
            handle.report(done, total, text, force=force)

    def cancel(self) -> None:
        with self.lock:
            self.cancel_asked = True
            handle = self.handle
        if handle is not None:
            handle.cancel()


class FindingRow(QFrame):
    """One finding: its icon, what was checked, the sentence, and the details behind a tooltip."""

    def __init__(self, finding: PreflightFinding) -> None:
        super().__init__()
        self.setObjectName(f"PreflightFinding_{finding.level}")
        self.finding = finding
        icon, tint = LOOK.get(finding.level, LOOK["unknown"])
        row = QHBoxLayout(self)
        row.setContentsMargins(4, 6, 4, 6)
        row.setSpacing(10)
        row.addWidget(TintedIcon(icon, 20, tint), 0, Qt.AlignmentFlag.AlignTop)
        name = label(CHECK_NAMES.get(finding.check, finding.check), "muted")
        name.setFixedWidth(110)
        row.addWidget(name, 0, Qt.AlignmentFlag.AlignTop)
        text = label(finding.message, "danger" if finding.level == "error" else "", wrap=True, selectable=True)
        if finding.detail:
            text.setToolTip(finding.detail)
        row.addWidget(text, 1)
        self.copy: QToolButton | None = None
        if finding.detail and finding.level in ("error", "warning") and finding.check in _COPYABLE:
            # The details are often a DNS record to publish: too long to read in a row, easy to paste.
            self.copy = QToolButton()
            self.copy.setText("Copy details")
            self.copy.setToolTip(finding.detail)
            self.copy.setAutoRaise(True)
            self.copy.clicked.connect(lambda: QGuiApplication.clipboard().setText(finding.detail))
            row.addWidget(self.copy, 0, Qt.AlignmentFlag.AlignTop)


class PreflightDialog(QDialog):
    """Checks a send before it starts; ``exec()`` is Accepted only when the user chose to send."""

    def __init__(self, ui_context: Any, command: RunPreflight, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("PreflightDialog")
        self.setWindowTitle("Check before sending")
        self.resize(720, 560)
        self._ctx = ui_context
        self._command = command
        self._watch = _Watch()
        self._future: Future[PreflightReport] | None = None
        self.report: PreflightReport | None = None
        self.error = ""

        self.title = label("Checking the message before it goes out…", object_name="CardTitle", wrap=True)
        self.summary = label("The sending domain's DNS, the links and the spam score take a few seconds.", "muted",
                             wrap=True)
        self.summary.setObjectName("PreflightSummary")
        self.progress = QProgressBar()
        self.progress.setObjectName("PreflightProgress")
        self.progress.setRange(0, 0)
        self.progress.setTextVisible(False)
        self.step = label("", "muted")
        self.list = QWidget()
        self._rows = QVBoxLayout(self.list)
        self._rows.setContentsMargins(0, 0, 0, 0)
        self._rows.setSpacing(2)
        self._rows.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.list)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.findings_area = scroll
        self.accept_warnings = QCheckBox("I have read the warnings and accept them")
        self.accept_warnings.setObjectName("PreflightAcceptWarnings")
        self.accept_warnings.toggled.connect(lambda _on: self._update_buttons())
        self.again = QPushButton("Check again")
        self.again.setObjectName("PreflightAgain")
        self.again.clicked.connect(self.start)
        self.cancel = QPushButton("Cancel")
        self.cancel.setObjectName("PreflightCancel")
        self.cancel.clicked.connect(self.reject)
        self.send = QPushButton("Send")
        self.send.setObjectName("PreflightSend")
        self.send.clicked.connect(self.accept)
        self._layout()
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._poll)
        self.start()

    def _layout(self) -> None:
        buttons = QHBoxLayout()
        buttons.addWidget(self.again)
        buttons.addStretch(1)
        buttons.addWidget(self.cancel)
        buttons.addWidget(self.send)
        column = QVBoxLayout(self)
        column.setContentsMargins(20, 18, 20, 16)
        column.setSpacing(10)
        column.addWidget(self.title)
        column.addWidget(self.summary)
        column.addWidget(self.progress)
        column.addWidget(self.step)
        column.addWidget(self.findings_area, 1)
        column.addWidget(self.accept_warnings)
        column.addLayout(buttons)

    @classmethod
    def confirm(cls, ui_context: Any, command: RunPreflight, parent: QWidget | None = None) -> bool:
        """Open the dialog, wait for the user, and say whether to send."""
        dialog = cls(ui_context, command, parent)
        try:
            return dialog.exec() == QDialog.DialogCode.Accepted
        finally:
            dialog.deleteLater()

    @property
    def running(self) -> bool:
        return self._future is not None and not self._future.done()

    # -- the job

    def start(self) -> None:
        """Run the checks (again) in a background job."""
        if self.running:
            return
        self.report, self.error = None, ""
        self._watch = watch = _Watch()
        bus, command = self._ctx.bus, self._command

        def work(handle: JobHandle) -> PreflightReport:
            with watch.lock:
                watch.handle = handle
                if watch.cancel_asked:
                    handle.cancel()
            with watched(watch):
                result: PreflightReport = bus.execute(command)
            return result

        self._clear_rows()
        self.title.setText("Checking the message before it goes out…")
        self.summary.setText("The sending domain's DNS, the links and the spam score take a few seconds.")
        self.summary.setProperty("role", "muted")
        self._restyle(self.summary)
        self.progress.show()
        self.step.show()
        self.step.setText("Starting…")
        self.accept_warnings.hide()
        self.accept_warnings.setChecked(False)
        self.send.setText("Send")
        self._future = self._ctx.jobs.start("Checking before sending", work,
                                            summary=lambda r: f"{len(r.errors)} error(s), "
                                                              f"{len(r.warnings)} warning(s)")
        self._timer.start()
        self._update_buttons()

    def _poll(self) -> None:
        with self._watch.lock:
            step = self._watch.step
        self.step.setText(step)  # the bar stays a busy bar: the last step (DNS, links, spam score) is the long one
        future = self._future
        if future is None or not future.done():
            return
        self._timer.stop()
        error = future.exception()
        if error is None:
            self.show_report(future.result())
        elif not isinstance(error, JobCancelled):
            self.show_failure(str(error) or type(error).__name__)

    # -- results

    def _clear_rows(self) -> None:
        while self._rows.count() > 1:
            item = self._rows.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()

    def show_report(self, report: PreflightReport) -> None:
        self.report = report
        self.progress.hide()
        self.step.hide()
        self._clear_rows()
        order = {level: i for i, level in enumerate(PREFLIGHT_LEVELS)}
        for finding in sorted(report.findings, key=lambda f: order.get(f.level, len(order))):
            self._rows.insertWidget(self._rows.count() - 1, FindingRow(finding))
        errors, warnings = len(report.errors), len(report.warnings)
        if errors:
            self.title.setText(f"{errors} problem{'s' if errors != 1 else ''} must be fixed before sending")
            self.summary.setText("Fix what is marked in red, then check again." + (
                f" There {'is' if warnings == 1 else 'are'} also {warnings} warning{'s' if warnings != 1 else ''}."
                if warnings else ""))
            self.summary.setProperty("role", "danger")
        elif warnings:
            self.title.setText(f"{warnings} warning{'s' if warnings != 1 else ''} to read before sending")
            self.summary.setText("Nothing blocks the send. Read the warnings; to send anyway, tick the box below.")
            self.summary.setProperty("role", "muted")
        else:
            self.title.setText("Ready to send")
            self.summary.setText("Every check passed." + (" Some could not be run; they are marked with a "
                                                          "question mark." if any(f.level == "unknown" for f in
                                                                                   report.findings) else ""))
            self.summary.setProperty("role", "muted")
        self._restyle(self.summary)
        self.accept_warnings.setVisible(bool(warnings) and not errors)
        self.send.setText("Send anyway" if warnings or errors else "Send")
        self._update_buttons()

    def show_failure(self, message: str) -> None:
        self.error = message
        self.progress.hide()
        self.step.hide()
        self.title.setText("The checks could not be run")
        self.summary.setText(message)
        self.summary.setProperty("role", "danger")
        self._restyle(self.summary)
        self._update_buttons()

    @staticmethod
    def _restyle(widget: QWidget) -> None:
        widget.style().unpolish(widget)
        widget.style().polish(widget)

    def _update_buttons(self) -> None:
        report = self.report
        allowed = (report is not None and report.ok and not self.running
                   and (not report.warnings or self.accept_warnings.isChecked()))
        self.send.setEnabled(allowed)
        self.send.setDefault(allowed)
        self.again.setEnabled(not self.running)

    # -- closing

    def reject(self) -> None:
        """Cancel (or Esc, or closing the window): stops the checks if they are still running."""
        self._stop()
        super().reject()

    def accept(self) -> None:
        if not self.send.isEnabled():
            return
        self._stop()
        super().accept()

    def _stop(self) -> None:
        self._timer.stop()
        if self.running:
            self._watch.cancel()
