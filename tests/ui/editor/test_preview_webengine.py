"""The preview in a real browser view: as a chosen contact, at desktop and phone widths, with its text part."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import PySide6.QtWebEngineWidgets  # noqa: F401 - must be imported before the QApplication exists (PITFALLS)
import pytest
from PySide6.QtWidgets import QApplication

from app.kernel.boot import Kernel, start_kernel
from app.kernel.paths import AppPaths
from app.modules.contacts.module import MODULE as CONTACTS
from app.modules.editor import store
from app.modules.editor.module import MODULE as EDITOR
from app.modules.editor.ui.editor_page import EditorPage
from app.ui.bridge import QtBridge
from app.ui.context import UiContext
from tests.conftest import MemoryKeyring
from tests.ui.editor.conftest import TIMEOUT

# Read when the first browser view starts (as root the engine refuses to start with its sandbox on).
os.environ.setdefault("QTWEBENGINE_DISABLE_SANDBOX", "1")

# Offscreen there is no GPU: the engine says so once and draws in software.
pytestmark = [pytest.mark.webengine, pytest.mark.qt_log_ignore(
    "This plugin does not support", "QRhiGles2", "Failed to create RHI", "QVulkanInstance", "GBM is not supported",
    "Release of profile requested", "GPUInfo not initialized")]


@pytest.fixture
def both_kernel(tmp_path: Path) -> Iterator[Kernel]:
    started = start_kernel(AppPaths.inside(tmp_path / "data"), modules=[CONTACTS, EDITOR],
                           secrets_backend=MemoryKeyring(), log_to_file=False)
    from app.modules.contacts.addresses import email_hash
    from app.modules.contacts.models import Contact

    with started.db.transaction() as session:
        for first in ("Ada", "Grace"):
            email = f"{first.lower()}@example.com"
            session.add(Contact(email=email, email_key=email, email_hash=email_hash(email), first_name=first,
                                last_name="Tester", fields={}))
    yield started
    started.close()


@pytest.fixture
def preview_page(qtbot: Any, qapp: QApplication, both_kernel: Kernel) -> Iterator[EditorPage]:
    bridge = QtBridge(both_kernel.bus)
    page = EditorPage(UiContext.for_kernel(both_kernel, bridge))
    qtbot.addWidget(page)
    page.resize(1300, 850)
    page.show()
    qtbot.waitUntil(lambda: page.library.loaded, timeout=TIMEOUT)
    info = store.find_template(page.db, "Welcome")
    assert info is not None
    page.open_template(info.id)
    qtbot.waitUntil(lambda: page.in_designer, timeout=TIMEOUT)
    yield page
    page.close()
    page.shutdown()
    bridge.close()


def test_the_preview_shows_the_email_as_the_chosen_contact(qtbot: Any, preview_page: EditorPage) -> None:
    dialog = preview_page.designer.open_preview()
    qtbot.waitUntil(lambda: dialog.contact.count() == 3 and dialog.renders > 0, timeout=TIMEOUT)
    assert "Alex" in dialog.rendered.html  # the sample contact first

    dialog.find.setText("gra")
    dialog.search_contacts()
    qtbot.waitUntil(lambda: dialog.rendered is not None and "Grace" in dialog.rendered.html, timeout=TIMEOUT)
    assert dialog.contact.currentText() == "Grace Tester <grace@example.com>"
    assert "Grace" in dialog.text.toPlainText()
    assert dialog.rendered.subject == "Welcome"

    view = dialog.view
    with qtbot.waitSignal(view.loadFinished, timeout=TIMEOUT):
        dialog.render()
    shown: list[str] = []
    view.page().toPlainText(shown.append)
    qtbot.waitUntil(lambda: bool(shown), timeout=TIMEOUT)
    assert "Grace" in shown[0]
    assert view.width() == 680
    dialog.set_width("mobile")
    assert view.width() == 375

    # Live: an edit in the Designer shows in the open preview.
    designer = preview_page.designer
    heading = next(b for b in designer.document.blocks() if b.type == "heading")
    designer.session.set_block_props(heading.id, {"text": "Fresh words for {{ contact.first_name }}"})
    qtbot.waitUntil(lambda: "Fresh words for Grace" in dialog.rendered.html, timeout=TIMEOUT)
    dialog.close()


def test_send_test_needs_the_delivery_module(qtbot: Any, preview_page: EditorPage) -> None:
    from app.modules.delivery.messages import SendTestMessage, TestSendResult

    dialog = preview_page.designer.open_preview()
    assert not dialog.send_button.isEnabled()
    assert dialog.send_button.toolTip() == "Sending a test needs the delivery module"
    dialog.close()

    sent: list[SendTestMessage] = []

    def stand_in(command: SendTestMessage) -> TestSendResult:  # delivery itself is tested in its own module
        sent.append(command)
        return TestSendResult(ok=True, reply="250 queued")

    dispose = preview_page.ctx.bus.handle(SendTestMessage, stand_in)
    try:
        from app.modules.editor.ui.preview import PreviewDialog

        fresh = PreviewDialog(preview_page.ctx, preview_page.work, preview_page.contacts, preview_page)
        fresh.set_document(preview_page.designer.document, name="Welcome")
        assert fresh.send_button.isEnabled()
        qtbot.waitUntil(lambda: fresh.rendered is not None, timeout=TIMEOUT)
        with qtbot.waitSignal(fresh.sender.finished, timeout=TIMEOUT) as answer:
            assert fresh.sender.send("me@example.com", fresh._current_contact(), fresh.rendered)
        assert answer.args == ["Test sent to me@example.com: 250 queued", "info"]
        assert sent[0].to == "me@example.com"
        assert sent[0].html.startswith("{% raw %}")  # rendered once here; contact data stays data
        assert "Alex" in sent[0].html
        fresh.close()
        fresh.release()
    finally:
        dispose()
