"""The preview: the real email HTML in a browser view at desktop or phone width, as any contact, plus its text."""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import QSize, QTimer, QUrl
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.modules.editor import store
from app.modules.editor.api import RenderedMessage, RenderError, TemplateInvalid, compile_document, preview_values
from app.modules.editor.brand import BrandKit
from app.modules.editor.document import Document
from app.modules.editor.ui.contact_source import SAMPLE_CONTACT, ContactSource, PreviewContact
from app.modules.editor.ui.glyphs import glyph
from app.modules.editor.ui.preview_send import TestSender
from app.modules.editor.ui.prop_editors import SegmentedField
from app.ui import theme
from app.ui.background import BackgroundWork
from app.ui.widgets import label

log = logging.getLogger(__name__)
WIDTHS = {"desktop": 680, "mobile": 375}
RENDER_DELAY_MS = 350


def render_preview(document: Document, brand: BrandKit, contact: PreviewContact, subject: str,
                   asset_base: str) -> RenderedMessage:
    """Compile and render the email for one contact, exactly as a campaign would (on a worker thread)."""
    compiled = compile_document(document, subject=subject, brand=brand, asset_base=asset_base)
    return compiled.render(contact.as_record(), **preview_values(contact.email))


def _web_view() -> QWidget:
    """QtWebEngine is imported only now: the editor page opens without paying for a browser engine."""
    try:
        from PySide6.QtWebEngineCore import QWebEngineSettings
        from PySide6.QtWebEngineWidgets import QWebEngineView
    except ImportError:
        from PySide6.QtWidgets import QTextBrowser

        fallback = QTextBrowser()
        fallback.setObjectName("PreviewFallback")
        return fallback
    view = QWebEngineView()
    view.setObjectName("PreviewWebView")
    settings = view.settings()
    # Emails never run scripts in mail clients; the preview must not either.
    settings.setAttribute(QWebEngineSettings.WebAttribute.JavascriptEnabled, False)
    settings.setAttribute(QWebEngineSettings.WebAttribute.LocalContentCanAccessFileUrls, True)
    return view


class PreviewDialog(QDialog):
    """Non-modal; follows the Designer's document live (``set_document``)."""

    def __init__(self, ctx: Any, work: BackgroundWork, contacts: ContactSource, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("EditorPreview")
        self.setWindowTitle("Preview")
        self.ctx = ctx
        self.work = work
        self.document = Document()
        self.brand = BrandKit()
        self.name = ""
        self.source = contacts
        self.contacts: list[PreviewContact] = [SAMPLE_CONTACT]
        self.rendered: RenderedMessage | None = None
        self.renders = 0
        self._generation = 0
        self.asset_base = store.assets_dir(ctx.paths.data_dir).as_uri() + "/"
        self._timer = QTimer(self, singleShot=True, interval=RENDER_DELAY_MS)
        self._timer.timeout.connect(self.render)

        self._build_picker(contacts)
        self.subject = QLineEdit()
        self.subject.setObjectName("PreviewSubject")
        self.subject.setPlaceholderText("Subject (merge tags allowed)")
        self.subject.textChanged.connect(lambda _t: self._timer.start())
        self.width_choice = SegmentedField(_width_field(), None,  # type: ignore[arg-type]
                                           [("desktop", "Desktop", "desktop"), ("mobile", "Phone", "phone")])
        self.width_choice.set_value("desktop")
        self.width_choice.changed.connect(self.set_width)
        self.sender = TestSender(ctx, work, self)
        self.send_button = QPushButton(glyph("send", "text"), "Send test…")
        self.send_button.setObjectName("SendTest")
        self.send_button.setEnabled(self.sender.available)
        self.send_button.setToolTip(self.sender.reason or "Send this email, as this contact, to an address you choose")
        self.send_button.clicked.connect(lambda: self.sender.ask_and_send(self._current_contact(), self.rendered))
        self.sender.finished.connect(self._show_status)

        self._build_views()
        self._layout()
        self.set_width("desktop")
        self.resize(1000, 820)
        self.search_contacts()

    def _build_picker(self, contacts: ContactSource) -> None:
        self.contact = QComboBox()
        self.contact.setObjectName("PreviewContact")
        self.contact.setMinimumWidth(280)
        self.contact.addItem(SAMPLE_CONTACT.label, 0)
        self.contact.currentIndexChanged.connect(lambda _i: self.render())
        self.find = QLineEdit()
        self.find.setObjectName("PreviewFindContact")
        self.find.setPlaceholderText("Find a contact by address or name")
        self.find.setClearButtonEnabled(True)
        self.find.addAction(glyph("search", "muted"), QLineEdit.ActionPosition.LeadingPosition)
        self.find.setEnabled(contacts.available)
        if not contacts.available:
            self.find.setPlaceholderText("The contacts module is off: previewing as a sample contact")
        self._find_timer = QTimer(self, singleShot=True, interval=250)
        self._find_timer.timeout.connect(self.search_contacts)
        self.find.textEdited.connect(lambda _t: self._find_timer.start())

    def _build_views(self) -> None:
        self.inbox_line = label("", object_name="PreviewInboxLine", wrap=True, selectable=True)
        self.status = label("", "muted", wrap=True, selectable=True)
        self.status.setObjectName("PreviewStatus")
        self.view = _web_view()
        self.frame = QFrame()
        self.frame.setObjectName("PreviewFrame")
        # The view sits in a "device": a thin window at desktop width, a phone's bezel at phone width.
        self.device = QFrame()
        self.device.setObjectName("PreviewDevice")
        device_column = QVBoxLayout(self.device)
        device_column.addWidget(self.view)
        frame_row = QHBoxLayout(self.frame)
        frame_row.setContentsMargins(0, 14, 0, 14)
        frame_row.addStretch(1)
        frame_row.addWidget(self.device)
        frame_row.addStretch(1)
        self.text = QPlainTextEdit()
        self.text.setObjectName("PreviewText")
        self.text.setReadOnly(True)
        mono = QFont("monospace")
        mono.setStyleHint(QFont.StyleHint.Monospace)
        self.text.setFont(mono)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.frame, "Email")
        self.tabs.addTab(self.text, "Plain text")

    def _layout(self) -> None:
        top = QHBoxLayout()
        top.setSpacing(8)
        top.addWidget(QLabel("Preview as"))
        top.addWidget(self.contact, 1)
        top.addWidget(self.find, 1)
        top.addWidget(self.width_choice)
        top.addWidget(self.send_button)
        subject_row = QHBoxLayout()
        subject_row.addWidget(QLabel("Subject"))
        subject_row.addWidget(self.subject, 1)
        column = QVBoxLayout(self)
        column.setContentsMargins(16, 14, 16, 14)
        column.setSpacing(8)
        column.addLayout(top)
        column.addLayout(subject_row)
        column.addWidget(self.inbox_line)
        column.addWidget(self.status)
        column.addWidget(self.tabs, 1)
        colors = theme.colors()
        self.frame.setStyleSheet(f"QFrame#PreviewFrame {{ background: {colors.window}; }}")
        self.inbox_line.setStyleSheet(f"QLabel#PreviewInboxLine {{ background: {colors.base}; border: 1px solid "
                                      f"{colors.border}; border-radius: 8px; padding: 8px 12px; }}")

    # -- inputs ----------------------------------------------------------------------------------------------

    def set_document(self, document: Document, name: str = "") -> None:
        self.document = document
        if name:
            self.name = name
            self.setWindowTitle(f"Preview — {name}")
            if not self.subject.text():
                self.subject.setText(name)
        self._timer.start()

    def set_brand(self, brand: BrandKit) -> None:
        self.brand = brand
        self._timer.start()

    def set_width(self, which: str) -> None:
        self.view.setFixedWidth(WIDTHS.get(which, WIDTHS["desktop"]))
        self.width_choice.set_value(which)
        phone = which == "mobile"
        margins = (12, 36, 12, 36) if phone else (1, 1, 1, 1)
        layout = self.device.layout()
        if layout is not None:
            layout.setContentsMargins(*margins)
        border = theme.colors().border
        self.device.setStyleSheet(
            "QFrame#PreviewDevice { background: #111827; border-radius: 34px; }" if phone else
            f"QFrame#PreviewDevice {{ background: {border}; border-radius: 4px; }}")

    def search_contacts(self) -> None:
        """Fill the picker with the contacts matching the search text (off the GUI thread)."""
        self._find_timer.stop()
        if not self.source.available:
            return
        text = self.find.text()
        self.work.submit(lambda: self.source.search(text), lambda found: self._contacts_found(text, found))

    def _contacts_found(self, text: str, found: list[PreviewContact]) -> None:
        if text != self.find.text():
            return  # the user typed on; a newer search is coming
        chosen = self._current_contact()
        self.contacts = [SAMPLE_CONTACT, *found]
        self.contact.blockSignals(True)
        self.contact.clear()
        self.contact.addItem(SAMPLE_CONTACT.label, 0)
        for number, person in enumerate(found, start=1):
            self.contact.addItem(person.label, number)
        keep = next((n for n, person in enumerate(self.contacts) if n and person.email == chosen.email), None)
        # A search picks its first match, unless the person already shown is among the matches.
        self.contact.setCurrentIndex(keep if keep is not None else (1 if text and found else 0))
        self.contact.blockSignals(False)
        if self._current_contact().email != chosen.email:
            self.render()

    def _current_contact(self) -> PreviewContact:
        number = self.contact.currentData()
        return self.contacts[number] if isinstance(number, int) and number < len(self.contacts) else SAMPLE_CONTACT

    # -- rendering -------------------------------------------------------------------------------------------

    def render(self) -> None:
        self._timer.stop()
        self._generation += 1
        generation = self._generation
        document, brand, person = self.document, self.brand, self._current_contact()
        subject, base = self.subject.text(), self.asset_base
        self.status.setText("Rendering…")
        self.work.submit(lambda: render_preview(document, brand, person, subject, base),
                         lambda message: self._show(generation, message),
                         lambda error: self._failed(generation, error))

    def _show(self, generation: int, message: RenderedMessage) -> None:
        if generation != self._generation:
            return
        self.rendered = message
        self.renders += 1
        muted = theme.colors().muted
        self.inbox_line.setText(f"<b>{_escape(message.subject) or '(no subject)'}</b>"
                                f" &nbsp;<span style='color:{muted}'>{_escape(message.preheader)}</span>")
        self.status.setText("")
        self.status.hide()
        self.view.setHtml(message.html, QUrl(self.asset_base))  # type: ignore[call-arg]
        self.text.setPlainText(message.text)

    def _failed(self, generation: int, error: BaseException) -> None:
        if generation != self._generation:
            return
        if isinstance(error, RenderError):
            text = f"This contact would not receive the email: {error.reason}"
        elif isinstance(error, TemplateInvalid):
            text = "The email has errors: " + "; ".join(str(p) for p in error.problems[:5])
        else:
            log.warning("preview failed", exc_info=error)
            text = f"The preview failed: {error}"
        self._show_status(text, "error")

    def _show_status(self, text: str, kind: str = "info") -> None:
        colors = theme.colors()
        self.status.setStyleSheet(f"color: {colors.danger if kind == 'error' else colors.success};")
        self.status.setText(text)
        self.status.show()

    def release(self) -> None:
        """Let go of the browser view now (its engine must be gone before the application ends)."""
        import shiboken6

        self._timer.stop()
        if shiboken6.isValid(self.view):
            shiboken6.delete(self.view)

    def sizeHint(self) -> QSize:
        return QSize(1000, 820)


def _width_field() -> Any:
    from app.modules.editor.blocks import PropField

    return PropField("preview_width", "Width", "choice", ("desktop", "mobile"))


def _escape(text: str) -> str:
    import html

    return html.escape(text)

