"""Preferences pages of the delivery module: SMTP accounts (with "Test connection") and sender identities (with
"Create DKIM key" and the DNS record to publish). Saving, testing and key generation run off the GUI thread."""

from __future__ import annotations

import contextlib
import datetime as dt
import time
import zoneinfo
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QSignalBlocker, Qt, QTime
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QTimeEdit,
    QVBoxLayout,
    QWidget,
)

from app.modules.delivery import api
from app.modules.delivery.messages import (
    ConnectionReport,
    CreateDkimKey,
    DkimKeyInfo,
    RemoveAccount,
    SaveAccount,
    SaveIdentity,
    TestAccount,
)
from app.modules.delivery.throttle import DAY_NAMES, WarmupRamp
from app.ui.background import BackgroundWork
from app.ui.widgets import Notice, label

TLS_CHOICES = (("starttls", "STARTTLS (port 587)"), ("ssl", "Implicit TLS (port 465)"),
               ("none", "None (only to this computer, 127.0.0.1)"))
NEW = -1


class FormError(ValueError):
    """What the user typed cannot be saved; the message says which field and why."""

    def __init__(self, message: str, field: QWidget | None = None) -> None:
        super().__init__(message)
        self.field = field


def _number(edit: QLineEdit, what: str, *, whole: bool = True, low: float = 1,
            high: float = 10**9) -> float | int | None:
    """An optional number typed in ``edit`` (empty: None)."""
    text = edit.text().strip().replace(",", "").replace("_", "")
    if not text:
        return None
    try:
        value: float | int = int(text) if whole else float(text)
    except ValueError:
        raise FormError(f"{what} must be a {'whole ' if whole else ''}number, not “{edit.text()}”.",
                           edit) from None
    if not low <= value <= high:
        raise FormError(f"{what} must be between {low:g} and {high:g}.", edit)
    return value


def _scrolled(inner: QWidget) -> QScrollArea:
    area = QScrollArea()
    area.setWidget(inner)
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    return area


class _Page(QWidget):
    """A chooser (existing entries and "New…"), a form, a notice for problems and results."""

    def __init__(self, ctx: Any, title: str, intro: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._ctx = ctx
        self._work = BackgroundWork(self, name="delivery-settings")
        self._dirty = False
        self.chooser = QComboBox()
        self.chooser.setMinimumWidth(260)
        self.notice = Notice(self, info_ms=0, boxed=True)
        self.form = QFormLayout()
        self.form.setVerticalSpacing(8)
        self.form.setHorizontalSpacing(14)
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        self.form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        body = QWidget()
        column = QVBoxLayout(body)
        column.setContentsMargins(0, 0, 8, 0)
        column.addLayout(self.form)
        column.addStretch(1)
        self.button_row = QHBoxLayout()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(8)
        layout.addWidget(label(title, object_name="SectionTitle"))
        layout.addWidget(label(intro, "muted", wrap=True))
        top = QHBoxLayout()
        top.addWidget(self.chooser, 1)
        self.top = top
        layout.addLayout(top)
        layout.addWidget(self.notice)
        layout.addWidget(_scrolled(body), 1)
        layout.addLayout(self.button_row)
        self.chooser.currentIndexChanged.connect(lambda _i: self._chosen())

    def _watch(self, *widgets: QWidget) -> None:
        """Any edit marks the form as changed (OK/Apply then saves it)."""
        for widget in widgets:
            for signal in ("textChanged", "currentIndexChanged", "toggled", "valueChanged", "timeChanged"):
                if hasattr(widget, signal):
                    getattr(widget, signal).connect(self._changed)
                    break

    def _changed(self, *_args: object) -> None:
        self._dirty = True

    def selected_id(self) -> int | None:
        value = self.chooser.currentData()
        return None if value in (None, NEW) else int(value)

    def show_problem(self, problem: BaseException) -> None:
        field = getattr(problem, "field", None)
        self.notice.show_text(str(problem), "error")
        if isinstance(field, QWidget):
            field.setFocus()

    def _run(self, work: Callable[[], Any], done: Callable[[Any], None]) -> None:
        """``work`` off the GUI thread; its error (a refused save, an unreachable server) shown inline."""
        self._work.submit(work, done, self.show_problem)

    def _chosen(self) -> None:
        raise NotImplementedError

    def command(self) -> Any:
        """The save command the form describes; raises FormError naming the field to fix."""
        raise NotImplementedError

    def saved_text(self, command: Any) -> str:
        raise NotImplementedError

    def save_now(self, then: Callable[[int], None] | None = None) -> None:
        """Save the form on a worker; a problem is shown beside its field instead."""
        try:
            command = self.command()
        except FormError as problem:
            self.show_problem(problem)
            return
        bus = self._ctx.bus

        def saved(saved_id: int) -> None:
            self._dirty = False
            self.notice.show_text(self.saved_text(command), timeout_ms=3000)
            self.reload(select=saved_id)
            if then is not None:
                then(saved_id)

        self._run(lambda: int(bus.execute(command)), saved)

    def apply(self) -> None:
        """OK/Apply in Preferences: save the form if it was changed (the dialog shows a problem)."""
        if not self._dirty:
            return
        self._ctx.bus.execute(self.command())
        self._dirty = False

    def reload(self, select: int | None = None) -> None:
        raise NotImplementedError

    def shutdown(self) -> None:
        self._work.close()

    def closeEvent(self, event: Any) -> None:
        self._work.close()
        super().closeEvent(event)


# -- SMTP accounts ----------------------------------------------------------------------------------------


class AccountsPage(_Page):
    """List, add, change, remove and test SMTP accounts."""

    def __init__(self, ctx: Any, parent: QWidget | None = None) -> None:
        super().__init__(ctx, "SMTP accounts",
                         "Where your messages leave from. Passwords are kept in the system keyring. A send can "
                         "use several accounts: each takes a share by its weight and takes over when another "
                         "fails or reaches its limits.", parent)
        self.setObjectName("DeliveryAccountsPage")
        self._accounts: dict[int, api.AccountInfo] = {}
        self._make_widgets()
        self._build_form()
        self.button_row.addWidget(self.test)
        self.button_row.addStretch(1)
        self.button_row.addWidget(self.save)
        self.save.clicked.connect(lambda _checked=False: self.save_now())
        self.test.clicked.connect(self.test_connection)
        self.remove.clicked.connect(self._remove)
        self.tls.currentIndexChanged.connect(self._tls_changed)
        self.window_on.toggled.connect(self._window_toggled)
        self._watch(self.name, self.host, self.port, self.tls, self.username, self.password, self.per_second,
                    self.per_hour, self.per_day, self.connections, self.weight, self.warmup, self.enabled,
                    self.window_on, *self.days.values(), self.start_time, self.end_time, self.zone)
        self.reload()

    def _make_widgets(self) -> None:
        self.remove = QPushButton("Remove")
        self.top.addWidget(self.remove)
        self.name = QLineEdit()
        self.host = QLineEdit()
        self.host.setPlaceholderText("smtp.example.com")
        self.port = QLineEdit("587")
        self.port.setMaximumWidth(90)
        self.tls = QComboBox()
        for key, text in TLS_CHOICES:
            self.tls.addItem(text, key)
        self.username = QLineEdit()
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.per_second, self.per_hour, self.per_day = QLineEdit(), QLineEdit(), QLineEdit()
        for edit in (self.per_second, self.per_hour, self.per_day):
            edit.setPlaceholderText("no limit")
            edit.setMaximumWidth(76)
        self.connections = QSpinBox()
        self.connections.setRange(1, 50)
        self.connections.setValue(4)
        self.weight = QSpinBox()
        self.weight.setRange(1, 1000)
        self.warmup = QCheckBox("Warm up a new account (a low daily cap that doubles each day)")
        self.warmup.setToolTip("The daily cap starts low (50) and doubles each day up to the limit per day, so "
                               "mailbox providers get to know the account gradually.")
        self.warmup_state = label("", "muted")
        self.enabled = QCheckBox("Enabled")
        self.enabled.setChecked(True)
        self.window_on = QCheckBox("Only send during these hours")
        self.days = {name: QCheckBox(name[:2].title()) for name in DAY_NAMES}
        self.start_time, self.end_time = QTimeEdit(QTime(9, 0)), QTimeEdit(QTime(17, 0))
        for time_edit in (self.start_time, self.end_time):
            time_edit.setDisplayFormat("HH:mm")
        self.zone = QComboBox()
        self.zone.setEditable(True)
        self.zone.addItems(sorted(zoneinfo.available_timezones()))
        self.zone.setCurrentText("UTC")
        self.save = QPushButton("Save account")
        self.save.setProperty("primary", True)
        self.test = QPushButton("Test connection")
        self.result = QPlainTextEdit()
        self.result.setReadOnly(True)
        self.result.setPlaceholderText("The steps of a connection test appear here.")
        self.result.setMaximumHeight(110)

    def _build_form(self) -> None:
        form = self.form
        form.addRow("Name:", self.name)
        server = QHBoxLayout()
        server.addWidget(self.host, 1)
        server.addSpacing(6)
        server.addWidget(label("Port:"))
        server.addWidget(self.port)
        form.addRow("Server:", server)
        form.addRow("Encryption:", self.tls)
        form.addRow("User name:", self.username)
        form.addRow("Password:", self.password)
        limits = QHBoxLayout()
        for text, edit in (("a second", self.per_second), ("an hour", self.per_hour), ("a day", self.per_day)):
            limits.addWidget(edit)
            limits.addWidget(label(text, "muted"))
            limits.addSpacing(6)
        limits.addStretch(1)
        form.addRow("At most:", limits)
        sharing = QHBoxLayout()
        sharing.addWidget(self.connections)
        sharing.addWidget(label("connections", "muted"))
        sharing.addSpacing(16)
        sharing.addWidget(label("Weight:"))
        sharing.addWidget(self.weight)
        sharing.addStretch(1)
        form.addRow("Sending:", sharing)
        form.addRow("", self.warmup)
        form.addRow("", self.warmup_state)
        form.addRow("", self.window_on)
        days = QHBoxLayout()
        for box in self.days.values():
            days.addWidget(box)
        days.addStretch(1)
        form.addRow("Days:", days)
        hours = QHBoxLayout()
        hours.addWidget(self.start_time)
        hours.addWidget(label("to"))
        hours.addWidget(self.end_time)
        hours.addWidget(self.zone, 1)
        form.addRow("Hours:", hours)
        form.addRow("", self.enabled)
        form.addRow("Last test:", self.result)
        self._window_toggled(False)

    # -- loading

    def reload(self, select: int | None = None) -> None:
        db = self._ctx.db
        keep = select if select is not None else self.selected_id()
        self._run(lambda: api.accounts(db), lambda accounts: self._fill(accounts, keep))

    def _fill(self, accounts: list[api.AccountInfo], select: int | None) -> None:
        self._accounts = {a.id: a for a in accounts}
        with QSignalBlocker(self.chooser):
            self.chooser.clear()
            for account in accounts:
                suffix = "" if account.enabled else " (off)"
                where = "on this computer" if account.is_local_outbox else f"{account.host}:{account.port}"
                self.chooser.addItem(f"{account.name} — {where}{suffix}", account.id)
            self.chooser.addItem("New account…", NEW)
            index = self.chooser.findData(select) if select is not None else 0
            self.chooser.setCurrentIndex(max(0, index))
        self._chosen()

    def _chosen(self) -> None:
        account = self._accounts.get(self.selected_id() or NEW)
        self.notice.hide()
        self.result.clear()
        self._show(account)
        self._dirty = False

    def _show(self, account: api.AccountInfo | None) -> None:
        local = bool(account and account.is_local_outbox)
        self.name.setText(account.name if account else "")
        self.host.setText("127.0.0.1" if local else account.host if account else "")
        self.port.setText("auto" if local else str(account.port) if account else "587")
        self.tls.setCurrentIndex(max(0, self.tls.findData(account.tls if account else "starttls")))
        self.username.setText(account.username if account else "")
        self.password.clear()
        self.password.setPlaceholderText("unchanged (kept in the keyring)" if account and account.username
                                         else "")
        for edit, value in ((self.per_second, account.per_second if account else None),
                            (self.per_hour, account.per_hour if account else None),
                            (self.per_day, account.per_day if account else None)):
            edit.setText("" if value is None else f"{value:g}")
        self.connections.setValue(account.connections if account else 4)
        self.weight.setValue(account.weight if account else 1)
        self.warmup.setChecked(bool(account and account.warmup))
        self.warmup_state.setText(self._warmup_words(account))
        self.warmup_state.setVisible(bool(self.warmup_state.text()))
        window = account.send_window if account else None
        self.window_on.setChecked(bool(window))
        days = set((window or {}).get("days") or DAY_NAMES)
        for name, box in self.days.items():
            box.setChecked(name in days)
        self.start_time.setTime(QTime.fromString((window or {}).get("start", "09:00"), "HH:mm"))
        self.end_time.setTime(QTime.fromString((window or {}).get("end", "17:00"), "HH:mm"))
        self.zone.setCurrentText((window or {}).get("time_zone", "UTC"))
        self.enabled.setChecked(account.enabled if account else True)
        for widget in (self.host, self.port, self.tls, self.username, self.password):
            widget.setEnabled(not local)
        self.name.setEnabled(not local)
        self.remove.setEnabled(account is not None and not local)
        self.test.setEnabled(True)

    def _warmup_words(self, account: api.AccountInfo | None) -> str:
        """Where a warming-up account stands today."""
        if account is None or not account.warmup or account.warmup_started_on is None:
            return ""
        settings = self._ctx.settings
        start, factor = settings.get("delivery.warmup_start", 50), settings.get("delivery.warmup_factor", 2.0)
        ramp = WarmupRamp(account.warmup_started_on, int(start), float(factor), account.per_day)
        now = time.time()
        day = (dt.datetime.fromtimestamp(now, dt.UTC).date() - account.warmup_started_on).days + 1
        cap = ramp.cap(now)
        if cap is None or (account.per_day is not None and cap >= account.per_day):
            return f"Warmed up (since {account.warmup_started_on:%d %b %Y}): only the limits above apply."
        return f"Warm-up day {day}: at most {cap:,} messages today, then {ramp.cap(now + 86_400) or cap:,} tomorrow."

    def _tls_changed(self, _index: int) -> None:
        default = {"ssl": "465", "starttls": "587"}.get(self.tls.currentData())
        if default and self.port.text().strip() in ("", "465", "587", "25"):
            self.port.setText(default)

    def _window_toggled(self, on: bool) -> None:
        for widget in (*self.days.values(), self.start_time, self.end_time, self.zone):
            widget.setEnabled(on)

    # -- saving

    def command(self) -> SaveAccount:
        """The form as a SaveAccount; raises FormError naming the field when something is not right."""
        account = self._accounts.get(self.selected_id() or NEW)
        local = bool(account and account.is_local_outbox)
        name = self.name.text().strip()
        if not name:
            raise FormError("Give the account a name.", self.name)
        if local:
            assert account is not None
            host, port, tls = account.host, account.port, account.tls
        else:
            host = self.host.text().strip()
            if not host:
                raise FormError("Enter the SMTP server's host name, for example smtp.example.com.", self.host)
            try:
                port = int(self.port.text().strip())
            except ValueError:
                raise FormError(f"The port must be a number from 1 to 65535, not “{self.port.text()}”.",
                                   self.port) from None
            if not 0 < port < 65536:
                raise FormError(f"The port must be a number from 1 to 65535, not {port}.", self.port)
            tls = str(self.tls.currentData())
            if tls == "none" and host not in ("127.0.0.1", "localhost", "::1"):
                raise FormError("Without encryption Postroom only sends to this computer (127.0.0.1); choose "
                                   "STARTTLS or implicit TLS for another server.", self.tls)
        window = None
        if self.window_on.isChecked():
            days = [name for name, box in self.days.items() if box.isChecked()]
            if not days:
                raise FormError("Tick at least one day to send on, or untick “Only send during these hours”.",
                                   self.days["mon"])
            zone = self.zone.currentText().strip()
            if zone not in zoneinfo.available_timezones():
                raise FormError(f"“{zone}” is not a time zone; pick one from the list (for example "
                                   "Europe/Paris).", self.zone)
            window = {"days": days, "start": self.start_time.time().toString("HH:mm"),
                      "end": self.end_time.time().toString("HH:mm"), "time_zone": zone}
        per_second = _number(self.per_second, "The limit per second", whole=False, low=0.01, high=10_000)
        per_hour = _number(self.per_hour, "The limit per hour")
        per_day = _number(self.per_day, "The limit per day")
        return SaveAccount(name=name, host=host, port=port, tls=tls, username=self.username.text().strip(),
                           password=self.password.text() or None,
                           per_second=float(per_second) if per_second is not None else None,
                           per_hour=int(per_hour) if per_hour is not None else None,
                           per_day=int(per_day) if per_day is not None else None,
                           connections=self.connections.value(), enabled=self.enabled.isChecked(),
                           account_id=account.id if account else None, weight=self.weight.value(),
                           warmup=self.warmup.isChecked(), send_window=window)

    def saved_text(self, command: SaveAccount) -> str:
        return f"Saved “{command.name}”."

    def _remove(self) -> None:
        account_id = self.selected_id()
        if account_id is None:
            return
        name = self._accounts[account_id].name
        if QMessageBox.question(self, "Remove account", f"Remove the SMTP account “{name}” and its password?") \
                != QMessageBox.StandardButton.Yes:
            return
        bus = self._ctx.bus

        def removed(_ok: bool) -> None:
            self.notice.show_text(f"Removed “{name}”.", timeout_ms=3000)
            self.reload()

        self._run(lambda: bus.execute(RemoveAccount(account_id=account_id)), removed)

    # -- testing

    def test_connection(self) -> None:
        """Save first when the form was changed, then connect, secure, log in and quit in a background job."""
        if self._dirty or self.selected_id() is None:
            self.save_now(then=self._test)
        else:
            account_id = self.selected_id()
            assert account_id is not None
            self._test(account_id)

    def _test(self, account_id: int) -> None:
        name = self._accounts[account_id].name if account_id in self._accounts else "the account"
        self.test.setEnabled(False)
        self.result.setPlainText(f"Connecting to {name}…")
        bus = self._ctx.bus
        future = self._ctx.jobs.start(f"Testing the SMTP account {name}",
                                      lambda _handle: bus.execute(TestAccount(account_id=account_id)),
                                      cancellable=False,
                                      summary=lambda r: "connection works" if r.ok else f"failed: {r.error}")

        def failed(error: BaseException) -> None:
            self.test.setEnabled(True)
            self.show_test(ConnectionReport(ok=False, steps=(), error=str(error) or type(error).__name__))

        self._work.submit(future.result, self.show_test, failed)

    def show_test(self, report: ConnectionReport) -> None:
        self.test.setEnabled(True)
        lines = [f"✓ {step}" for step in report.steps]
        if report.ok:
            lines.append("The account works.")
            logged_in = any(step.startswith("logged in") for step in report.steps)
            self.notice.show_text("Connection test passed: " + ("the server accepted the login." if logged_in
                                                                 else "the server answered and is ready."),
                                  timeout_ms=4000)
        else:
            lines.append(f"✗ {report.error}")
            self.notice.show_text(f"Connection test failed: {report.error}", "error")
        self.result.setPlainText("\n".join(lines))


# -- sender identities ------------------------------------------------------------------------------------


class IdentitiesPage(_Page):
    """Add and change sender identities; create a DKIM key for the From domain and show its DNS record."""

    def __init__(self, ctx: Any, parent: QWidget | None = None) -> None:
        super().__init__(ctx, "Sender identities",
                         "Who your messages are from. The postal address goes in every footer (the law asks for "
                         "it); the bounce address receives delivery reports.", parent)
        self.setObjectName("DeliveryIdentitiesPage")
        self._identities: dict[int, api.IdentityInfo] = {}
        self._keys: list[api.DkimKeyRecord] = []
        self.from_name, self.from_email, self.reply_to = QLineEdit(), QLineEdit(), QLineEdit()
        self.from_email.setPlaceholderText("news@example.com")
        self.reply_to.setPlaceholderText("optional")
        self.postal = QPlainTextEdit()
        self.postal.setPlaceholderText("Company name, street, town, country")
        self.postal.setMaximumHeight(70)
        self.bounce = QLineEdit()
        self.bounce.setPlaceholderText("bounces@example.com (default: bounces@ the From domain)")
        self.selector = QLineEdit()
        self.selector.setPlaceholderText("postroom")
        self.selector.setMaximumWidth(160)
        self.create_key = QPushButton("Create DKIM key")
        self.dns_name = QLineEdit()
        self.dns_value = QPlainTextEdit()
        for widget in (self.dns_name, self.dns_value):
            widget.setReadOnly(True)
        self.dns_name.setPlaceholderText("no DKIM key yet for this domain and selector")
        self.dns_value.setMaximumHeight(90)
        self.copy_name, self.copy_value = QPushButton("Copy"), QPushButton("Copy")
        self.save = QPushButton("Save identity")
        self.save.setProperty("primary", True)
        self._build_form()
        self.button_row.addStretch(1)
        self.button_row.addWidget(self.save)
        self.save.clicked.connect(lambda _checked=False: self.save_now())
        self.create_key.clicked.connect(self.create_dkim_key)
        self.copy_name.clicked.connect(lambda: self._copy(self.dns_name.text()))
        self.copy_value.clicked.connect(lambda: self._copy(self.dns_value.toPlainText()))
        self.from_email.textChanged.connect(lambda _t: self._show_key())
        self.selector.textChanged.connect(lambda _t: self._show_key())
        self._watch(self.from_name, self.from_email, self.reply_to, self.postal, self.bounce, self.selector)
        self.reload()

    def _build_form(self) -> None:
        form = self.form
        form.addRow("From name:", self.from_name)
        form.addRow("From address:", self.from_email)
        form.addRow("Reply-to:", self.reply_to)
        form.addRow("Postal address:", self.postal)
        form.addRow("Bounce address:", self.bounce)
        dkim = QHBoxLayout()
        dkim.addWidget(self.selector)
        dkim.addWidget(self.create_key)
        dkim.addStretch(1)
        form.addRow("DKIM selector:", dkim)
        name_row = QHBoxLayout()
        name_row.addWidget(self.dns_name, 1)
        name_row.addWidget(self.copy_name)
        form.addRow("TXT record:", name_row)
        value_row = QHBoxLayout()
        value_row.addWidget(self.dns_value, 1)
        value_row.addWidget(self.copy_value, 0, Qt.AlignmentFlag.AlignTop)
        form.addRow("Value:", value_row)
        form.addRow("", label("Publish this TXT record at your DNS provider; receivers then check the "
                              "signature Postroom adds to every message.", "muted", wrap=True))

    def reload(self, select: int | None = None) -> None:
        db = self._ctx.db
        keep = select if select is not None else self.selected_id()
        self._run(lambda: (api.identities(db), api.dkim_keys(db)), lambda got: self._fill(got[0], got[1], keep))

    def _fill(self, identities: list[api.IdentityInfo], keys: list[api.DkimKeyRecord], select: int | None) -> None:
        self._identities = {i.id: i for i in identities}
        self._keys = keys
        with QSignalBlocker(self.chooser):
            self.chooser.clear()
            for identity in identities:
                who = f"{identity.from_name} <{identity.from_email}>" if identity.from_name else identity.from_email
                self.chooser.addItem(who, identity.id)
            self.chooser.addItem("New identity…", NEW)
            index = self.chooser.findData(select) if select is not None else 0
            self.chooser.setCurrentIndex(max(0, index))
        self._chosen()

    def _chosen(self) -> None:
        identity = self._identities.get(self.selected_id() or NEW)
        self.notice.hide()
        self.from_name.setText(identity.from_name if identity else "")
        self.from_email.setText(identity.from_email if identity else "")
        self.reply_to.setText(identity.reply_to if identity else "")
        self.postal.setPlainText(identity.postal_address if identity else "")
        self.bounce.setText(identity.bounce_address if identity else "")
        self.selector.setText(identity.dkim_selector if identity else "")
        self._show_key()
        self._dirty = False

    def _domain(self) -> str:
        return self.from_email.text().strip().rpartition("@")[2].lower()

    def _show_key(self) -> None:
        domain, selector = self._domain(), self.selector.text().strip() or "postroom"
        with contextlib.suppress(UnicodeError):
            domain = domain.encode("idna").decode("ascii") if domain else ""
        key = next((k for k in self._keys if k.domain == domain and k.selector == selector), None)
        self.dns_name.setText(key.dns_name if key else "")
        self.dns_value.setPlainText(key.dns_value if key else "")
        for button in (self.copy_name, self.copy_value):
            button.setEnabled(key is not None)
        self.create_key.setText("Replace DKIM key" if key else "Create DKIM key")
        self.create_key.setEnabled(bool(domain))

    def command(self) -> SaveIdentity:
        email = self.from_email.text().strip()
        if "@" not in email or email.startswith("@") or email.endswith("@"):
            raise FormError("Enter the address your messages are from, for example news@example.com.",
                               self.from_email)
        for edit, what in ((self.reply_to, "The reply-to address"), (self.bounce, "The bounce address")):
            text = edit.text().strip()
            if text and ("@" not in text or text.endswith("@")):
                raise FormError(f"{what} “{text}” is not an email address.", edit)
        return SaveIdentity(from_email=email, from_name=self.from_name.text().strip(),
                            reply_to=self.reply_to.text().strip(), postal_address=self.postal.toPlainText().strip(),
                            bounce_address=self.bounce.text().strip(), dkim_selector=self.selector.text().strip(),
                            identity_id=self.selected_id())

    def saved_text(self, command: SaveIdentity) -> str:
        return f"Saved the identity {command.from_email}."

    def create_dkim_key(self) -> None:
        """Generate a 2048-bit key for the From domain in a background job; the identity is saved with its
        selector so messages are signed with it."""
        domain = self._domain()
        if not domain:
            self.show_problem(FormError("Enter the From address first: the key is for its domain.",
                                           self.from_email))
            return
        selector = self.selector.text().strip() or "postroom"
        if not self.selector.text().strip():
            self.selector.setText(selector)
        bus, jobs = self._ctx.bus, self._ctx.jobs
        self.create_key.setEnabled(False)
        self.notice.show_text(f"Creating a DKIM key for {domain}…", timeout_ms=0)

        def create(_identity_id: int) -> None:
            future = jobs.start(f"Creating a DKIM key for {domain}",
                                lambda _h: bus.execute(CreateDkimKey(domain=domain, selector=selector)),
                                cancellable=False)

            def failed(error: BaseException) -> None:
                self.create_key.setEnabled(True)
                self.show_problem(error)

            self._work.submit(future.result, self.key_created, failed)

        self.save_now(then=create)

    def key_created(self, info: DkimKeyInfo) -> None:
        self._keys = [k for k in self._keys if (k.domain, k.selector) != (info.domain, info.selector)]
        self._keys.append(api.DkimKeyRecord(info.domain, info.selector, info.dns_name, info.dns_value))
        self._show_key()
        self.notice.show_text(f"Created a DKIM key for {info.domain}. Publish the TXT record below, then "
                              "messages from this identity are signed.", timeout_ms=0)

    def _copy(self, text: str) -> None:
        QGuiApplication.clipboard().setText(text)
        self.notice.show_text("Copied to the clipboard.", timeout_ms=2000)
