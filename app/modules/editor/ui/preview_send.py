""""Send test…": the previewed message goes to an address through the delivery module, when it is installed."""

from __future__ import annotations

import importlib
import re
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QInputDialog, QLineEdit, QWidget

from app.modules.editor.api import RenderedMessage
from app.modules.editor.ui.contact_source import PreviewContact
from app.ui.background import BackgroundWork

UNAVAILABLE = "Sending a test needs the delivery module"
ADDRESS_KEY = "editor.test_address"
_ENDRAW = re.compile(r"\{%-?\s*endraw", re.IGNORECASE)


def send_command() -> Any:
    """The delivery module's SendTestMessage command class, or None when delivery is not installed."""
    try:
        messages = importlib.import_module("app.modules.delivery.messages")
    except ImportError:
        return None
    return getattr(messages, "SendTestMessage", None)


def as_literal(rendered: str) -> str:
    """Already-rendered text, protected from a second template pass (contact data stays data)."""
    return "{% raw %}" + _ENDRAW.sub("{&#37; endraw", rendered) + "{% endraw %}"


class TestSender(QObject):
    """Emits ``finished(text, kind)`` with the server's answer in words."""

    __test__ = False
    finished = Signal(str, str)

    def __init__(self, ctx: Any, work: BackgroundWork, parent: QWidget) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.work = work
        self.command = send_command()
        handled = self.command is not None and ctx.bus.has_handler(self.command)
        self.available = handled
        self.reason = "" if handled else UNAVAILABLE

    def ask_and_send(self, contact: PreviewContact, rendered: RenderedMessage | None) -> bool:
        if not self.available or rendered is None:
            return False
        parent = self.parent()
        address, ok = QInputDialog.getText(parent if isinstance(parent, QWidget) else None, "Send a test",
                                           "Send this preview to:", QLineEdit.EchoMode.Normal,
                                           str(self.ctx.settings.get(ADDRESS_KEY, "")))
        if not ok or not address.strip():
            return False
        return self.send(address.strip(), contact, rendered)

    def send(self, address: str, contact: PreviewContact, rendered: RenderedMessage) -> bool:
        self.ctx.settings.set(ADDRESS_KEY, address)
        command = self.command(to=address, subject=as_literal(rendered.subject), html=as_literal(rendered.html),
                               text=as_literal(rendered.text), contact=contact.as_record())

        def done(result: Any) -> None:
            ok = bool(getattr(result, "ok", True))
            reply = str(getattr(result, "reply", ""))
            self.finished.emit(f"Test sent to {address}: {reply}" if ok else
                               f"The server refused the test to {address}: {reply}", "info" if ok else "error")

        return self.work.submit(lambda: self.ctx.bus.execute(command), done,
                                lambda error: self.finished.emit(f"Could not send the test: {error}", "error"))
