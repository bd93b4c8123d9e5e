"""Preferences > Bounce mailbox: where bounces and complaints arrive (IMAP), with "Test connection" and
"Fetch now" run as background jobs and their outcome shown in words."""

from __future__ import annotations

import contextlib
from concurrent.futures import Future
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.kernel.jobs import JobCancelled
from app.modules.delivery import bounce_mailbox
from app.modules.delivery.bounce_service import watched
from app.modules.delivery.messages import (
    BounceMailboxInfo,
    ConnectionReport,
    FetchBounces,
    FetchReport,
    SaveBounceMailbox,
    TestBounceMailbox,
)
from app.ui.background import BackgroundWork
from app.ui.widgets import Notice, label

TLS_CHOICES = (("ssl", "TLS from the start (port 993)"), ("starttls", "STARTTLS (port 143)"),
               ("none", "None: only for a server on 127.0.0.1"))
DEFAULT_PORTS = {"ssl": 993, "starttls": 143}


class _Watcher(QObject):
    """Carries a job's future back to the GUI thread."""

    finished = Signal(object, object)

    def watch(self, future: Future[Any], what: str) -> None:
        def done(f: Future[Any]) -> None:
            with contextlib.suppress(RuntimeError):  # the dialog closed while the job ran
                self.finished.emit(what, f)

        future.add_done_callback(done)


class BounceMailboxPage(QWidget):
    """The fields of the bounce mailbox; ``apply()`` (OK / Apply) stores them, the password in the keyring."""

    def __init__(self, ctx: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("BounceMailboxPage")
        self.ctx = ctx
        self._build_fields()
        settings = ctx.settings
        # Settings are a cheap read; whether a password is stored asks the keyring, off the GUI thread.
        info = BounceMailboxInfo(**{name: value for name in ("host", "port", "tls", "username", "folder",
                                                             "processed_folder", "quarantine_folder",
                                                             "poll_minutes")
                                    if isinstance(value := settings.get_optional(bounce_mailbox.PREFIX + name),
                                                  type(getattr(BounceMailboxInfo(), name)))})
        self._show(info)
        self.tls.currentIndexChanged.connect(self._tls_changed)
        self._work = BackgroundWork(self, workers=1, name="bounce-settings")
        self._work.submit(lambda: bounce_mailbox.stored(ctx.settings, ctx.kernel.secrets), self._password_known)
        self._watcher = _Watcher(self)
        self._watcher.finished.connect(self._finished)
        self.running: Future[Any] | None = None
        self.test_button.clicked.connect(self.test_connection)
        self.fetch_button.clicked.connect(self.fetch_now)

        self._lay_out()

    def _build_fields(self) -> None:
        self.host = QLineEdit()
        self.host.setPlaceholderText("imap.example.com")
        self.port = QSpinBox()
        self.port.setRange(1, 65535)
        self.tls = QComboBox()
        for key, text in TLS_CHOICES:
            self.tls.addItem(text, key)
        self.user = QLineEdit()
        self.user.setPlaceholderText("bounces@example.com")
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.folder = QLineEdit()
        self.processed = QLineEdit()
        self.quarantine = QLineEdit()
        self.poll = QSpinBox()
        self.poll.setRange(0, 1440)
        self.poll.setSuffix(" min")
        self.poll.setSpecialValueText("only when asked")
        self.test_button = QPushButton("Test connection")
        self.fetch_button = QPushButton("Fetch now")
        self.notice = Notice(self, info_ms=0, boxed=True)  # what a test or a read found


    def _lay_out(self) -> None:
        form = QFormLayout()
        form.setVerticalSpacing(8)
        form.setHorizontalSpacing(14)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        server = QHBoxLayout()
        server.setSpacing(8)
        server.addWidget(self.host, 1)
        server.addWidget(label("Port:"))
        server.addWidget(self.port)
        form.addRow("Server:", server)
        form.addRow("Security:", self.tls)
        form.addRow("User:", self.user)
        form.addRow("Password:", self.password)
        form.addRow("Read folder:", self.folder)
        form.addRow("Processed to:", self.processed)
        form.addRow("Unreadable to:", self.quarantine)
        form.addRow("Check every:", self.poll)
        body = QWidget()
        column = QVBoxLayout(body)
        column.setContentsMargins(0, 0, 8, 0)
        column.addLayout(form)
        column.addStretch(1)
        area = QScrollArea()
        area.setWidget(body)
        area.setWidgetResizable(True)
        area.setFrameShape(QFrame.Shape.NoFrame)
        area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        buttons = QHBoxLayout()
        buttons.addWidget(self.test_button)
        buttons.addWidget(self.fetch_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(8)
        layout.addWidget(label("Bounce mailbox", object_name="SectionTitle"))
        layout.addWidget(label("The IMAP mailbox your bounce address delivers to. Postroom reads delivery reports "
                               "and complaints there, suppresses who bounces hard, bounces softly three times or "
                               "complains, and files every message in a folder; nothing is deleted.", "muted",
                               wrap=True))
        layout.addWidget(area, 1)
        layout.addWidget(self.notice)
        layout.addLayout(buttons)

    def _show(self, info: BounceMailboxInfo) -> None:
        self.host.setText(info.host)
        self.tls.setCurrentIndex(max(0, self.tls.findData(info.tls)))
        self.port.setValue(info.port)
        self.user.setText(info.username)
        self.folder.setText(info.folder)
        self.processed.setText(info.processed_folder)
        self.quarantine.setText(info.quarantine_folder)
        self.poll.setValue(info.poll_minutes)

    def _password_known(self, info: BounceMailboxInfo) -> None:
        self._work.close()  # its one read is done: no idle thread stays behind the dialog
        self.password.setPlaceholderText("stored in the keyring; type to change it" if info.has_password
                                         else "not stored yet")

    def _tls_changed(self) -> None:
        mode = self.tls.currentData()
        if self.port.value() in DEFAULT_PORTS.values() and mode in DEFAULT_PORTS:
            self.port.setValue(DEFAULT_PORTS[mode])

    def command(self) -> SaveBounceMailbox:
        return SaveBounceMailbox(host=self.host.text().strip(), port=self.port.value(), tls=self.tls.currentData(),
                                 username=self.user.text().strip(), password=self.password.text() or None,
                                 folder=self.folder.text().strip(), processed_folder=self.processed.text().strip(),
                                 quarantine_folder=self.quarantine.text().strip(), poll_minutes=self.poll.value())

    def apply(self) -> None:
        """Store the fields; an empty form (no mailbox wanted) stores nothing. Raises with what to change."""
        if not self.host.text().strip() and not self.user.text().strip():
            return
        self.ctx.bus.execute(self.command())
        if self.password.text():
            self.password.clear()
            self._password_known(BounceMailboxInfo(has_password=True))

    # -- test and fetch, as jobs

    def _start(self, what: str, title: str, work: Any, *, cancellable: bool = False) -> None:
        if self.running is not None:
            return
        try:
            self.apply()
        except Exception as exc:
            self._say(f"Not saved: {exc}", ok=False)
            return
        self.test_button.setEnabled(False)
        self.fetch_button.setEnabled(False)
        self._say("Connecting…" if what == "test" else "Reading the bounce mailbox…", ok=True)
        self.running = self.ctx.jobs.start(title, work, cancellable=cancellable)
        self._watcher.watch(self.running, what)

    def test_connection(self) -> None:
        self._start("test", "Test the bounce mailbox", lambda _handle: self.ctx.bus.execute(TestBounceMailbox()))

    def fetch_now(self) -> None:
        def work(handle: Any) -> FetchReport:
            with watched(handle):  # progress in the status bar, and its Cancel stops between chunks
                return self.ctx.bus.execute(FetchBounces())  # type: ignore[no-any-return]

        self._start("fetch", "Read the bounce mailbox", work, cancellable=True)

    @Slot(object, object)
    def _finished(self, what: str, future: Future[Any]) -> None:
        self.running = None
        self.test_button.setEnabled(True)
        self.fetch_button.setEnabled(True)
        error = future.exception()
        if isinstance(error, JobCancelled):
            self._say("Stopped. The messages read until then were acted on and filed; the rest wait for the next "
                      "read.", ok=True)
            return
        if error is not None:
            self._say(f"Failed: {error}", ok=False)
            return
        result = future.result()
        if what == "test" and isinstance(result, ConnectionReport):
            if result.ok:
                self._say("It works: " + "; ".join(result.steps) + ".", ok=True)
            else:
                self._say(f"It does not work: {result.error}", ok=False)
        elif isinstance(result, FetchReport):
            if result.error:
                self._say(f"Not read: {result.error}", ok=False)
            else:
                self._say(bounce_mailbox.describe(result), ok=True)

    def _say(self, text: str, *, ok: bool) -> None:
        self.notice.show_text(text, "info" if ok else "error")

    def shutdown(self) -> None:
        self._work.close()
