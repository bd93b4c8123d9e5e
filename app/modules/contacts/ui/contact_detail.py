"""The panel right of the contacts table: one contact's fields, lists, tags, consent, suppression and timeline."""

from __future__ import annotations

import datetime as dt
import json

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFormLayout,
    QFrame,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from app.kernel.database import Database
from app.modules.contacts.queries import ActivityEntry, ContactDetail, contact_detail
from app.modules.contacts.ui.contacts_model import STATUS_LABELS, BackgroundReader
from app.ui import theme
from app.ui.widgets import label

ACTIVITY_WORDS = {"sent": "Sent", "opened": "Opened", "clicked": "Clicked", "bounced": "Bounced",
                  "unsubscribed": "Unsubscribed", "complained": "Marked as spam"}
REASON_WORDS = {"unsubscribed": "unsubscribed", "hard_bounce": "hard bounce", "complaint": "spam complaint",
                "manual": "suppressed by hand"}


def _when(moment: dt.datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment is not None else "never"


def describe_activity(entry: ActivityEntry) -> str:
    """One timeline line in words: "Opened campaign 12", "order_completed (product=Mug, 24.00)"."""
    if entry.kind == "event":
        words = entry.name or "event"
        details = [f"{k}={v}" for k, v in list(entry.properties.items())[:4]]
        if entry.value is not None:
            details.append(f"{entry.value:,.2f}")
        return f"{words} ({', '.join(details)})" if details else words
    words = ACTIVITY_WORDS.get(entry.kind, entry.kind)
    if entry.campaign_id is not None:
        words += f" campaign {entry.campaign_id}"
    url = entry.properties.get("url")
    if entry.kind == "clicked" and url:
        words += f": {url}"
    return words


def _fitting(widget: QLabel) -> QLabel:
    """Let a label take the panel's width instead of widening it: a long address must not push a scrollbar."""
    widget.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
    widget.setMinimumWidth(40)
    return widget


class ContactDetailPanel(QScrollArea):
    """Shows the contact given to ``show_contact``; reads in the background and ignores stale answers."""

    shown = Signal(object)  # the ContactDetail now on screen, or None

    def __init__(self, db: Database, reader: BackgroundReader, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ContactDetailPanel")
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setMinimumWidth(240)
        self._db = db
        self._reader = reader
        self._generation = 0
        self.contact_id: int | None = None
        self.detail: ContactDetail | None = None
        self._content = QWidget()
        self._column = QVBoxLayout(self._content)
        self._column.setContentsMargins(16, 14, 16, 14)
        self._column.setSpacing(6)
        self.setWidget(self._content)
        self._show_placeholder("Select a contact to see everything held about them.")

    # -- loading -----------------------------------------------------------------------------------

    def show_contact(self, contact_id: int | None) -> None:
        self.contact_id = contact_id
        self.reload()

    def reload(self) -> None:
        self._generation += 1
        generation = self._generation
        contact_id = self.contact_id
        if contact_id is None:
            self.detail = None
            self._show_placeholder("Select a contact to see everything held about them.")
            self.shown.emit(None)
            return
        self._reader.submit(lambda: contact_detail(self._db, contact_id),
                            lambda detail: self._loaded(generation, detail),
                            lambda error: self._failed(generation, error))

    def _loaded(self, generation: int, detail: ContactDetail | None) -> None:
        if generation != self._generation:
            return
        self.detail = detail
        if detail is None:
            self._show_placeholder("This contact no longer exists (deleted or erased).")
        else:
            self._render(detail)
        self.shown.emit(detail)

    def _failed(self, generation: int, error: BaseException) -> None:
        if generation == self._generation:
            self._show_placeholder(f"This contact could not be read: {error}")

    # -- drawing -----------------------------------------------------------------------------------

    def _clear(self) -> None:
        while self._column.count():
            item = self._column.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.hide()  # deletion waits for the event loop; until then it must not show through
                widget.deleteLater()

    def _show_placeholder(self, text: str) -> None:
        self._clear()
        hint = label(text, "muted", wrap=True)
        hint.setObjectName("ContactDetailPlaceholder")
        hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._column.addStretch(1)
        self._column.addWidget(hint)
        self._column.addStretch(2)

    def _heading(self, text: str) -> None:
        self._column.addSpacing(8)
        self._column.addWidget(label(text, object_name="CardTitle"))

    def _line(self, text: str, role: str = "", color: str = "") -> QLabel:
        widget = _fitting(label(text, role, wrap=True, selectable=True))
        if color:
            widget.setStyleSheet(f"color: {color};")
        self._column.addWidget(widget)
        return widget

    def _render(self, detail: ContactDetail) -> None:
        self._clear()
        self._render_header(detail)
        self._render_details(detail)
        self._render_lists(detail)
        self._heading("Tags")
        self._line(", ".join(detail.tags) if detail.tags else "No tags.", "" if detail.tags else "muted")
        self._render_consents(detail)
        self._render_activity(detail)
        self._column.addStretch(1)

    def _render_header(self, detail: ContactDetail) -> None:
        title = _fitting(label(detail.email, object_name="ContactDetailEmail", wrap=True, selectable=True))
        title.setToolTip(detail.email)
        font = title.font()
        font.setPointSizeF(font.pointSizeF() * 1.25)
        font.setBold(True)
        title.setFont(font)
        self._column.addWidget(title)
        if detail.name:
            self._line(detail.name)
        if detail.suppression is None:
            return
        banner = QFrame()
        banner.setObjectName("PageErrorPanel")
        inner = QVBoxLayout(banner)
        inner.setContentsMargins(10, 8, 10, 8)
        reason = REASON_WORDS.get(detail.suppression.reason, detail.suppression.reason)
        text = f"Suppressed ({reason}) since {_when(detail.suppression.since)}: never mailed again."
        if detail.suppression.detail:
            text += f"\n{detail.suppression.detail}"
        warning = _fitting(label(text, "danger", wrap=True, selectable=True))
        warning.setObjectName("ContactDetailSuppression")
        inner.addWidget(warning)
        self._column.addWidget(banner)

    def _render_details(self, detail: ContactDetail) -> None:
        self._heading("Details")
        form = QFormLayout()
        form.setHorizontalSpacing(12)
        form.setVerticalSpacing(4)
        rows = [("Language", detail.language or "—"), ("Time zone", detail.time_zone or "—"),
                ("Added", _when(detail.created_at)), ("Updated", _when(detail.updated_at)),
                ("Last sent", _when(detail.last_sent_at)), ("Last open", _when(detail.last_open_at)),
                ("Last click", _when(detail.last_click_at)), *detail.fields]
        for name, value in rows:
            form.addRow(label(name, "muted"), _fitting(label(value or "—", wrap=True, selectable=True)))
        holder = QWidget()
        holder.setLayout(form)
        self._column.addWidget(holder)

    def _render_lists(self, detail: ContactDetail) -> None:
        colors = theme.colors()
        self._heading("Lists")
        if not detail.memberships:
            self._line("On no list.", "muted")
        for member in detail.memberships:
            color = {"unsubscribed": colors.muted, "unconfirmed": colors.warning}.get(member.status, colors.success)
            self._line(f"{member.list_name} — {STATUS_LABELS.get(member.status, member.status)} "
                       f"since {_when(member.since)}", color=color)

    def _render_consents(self, detail: ContactDetail) -> None:
        self._heading("Consent history")
        if not detail.consents:
            self._line("No consent recorded.", "muted")
        for consent in detail.consents:
            what = consent.list_name or consent.purpose or "mail"
            how = ", ".join(part for part in (consent.source, consent.method) if part) or "unknown source"
            text = f"{_when(consent.given_at)} · {what} · {how}"
            if consent.text_version:
                text += f" · text {consent.text_version}"
            if consent.withdrawn_at is not None:
                text += f"\nWithdrawn {_when(consent.withdrawn_at)}"
            line = self._line(text, "muted" if consent.withdrawn_at else "")
            if consent.evidence:
                line.setToolTip(consent.evidence)

    def _render_activity(self, detail: ContactDetail) -> None:
        self._heading("Activity")
        if not detail.activities:
            self._line("Nothing yet: sends, opens, clicks and events appear here.", "muted")
        for entry in detail.activities:
            line = self._line(f"{_when(entry.occurred_at)}  {describe_activity(entry)}")
            if entry.properties:
                line.setToolTip(json.dumps(entry.properties, ensure_ascii=False, default=str)[:2000])
