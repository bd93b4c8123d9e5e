"""Preferences > Bounce mailbox, offscreen on a real kernel and a private Dovecot: the fields are stored (the
password in the keyring), "Test connection" and "Fetch now" run as jobs and say how it went."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import imapclient
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from app.kernel.boot import Kernel, start_kernel
from app.kernel.paths import AppPaths
from app.modules.contacts.module import MODULE as CONTACTS
from app.modules.delivery.module import MODULE as DELIVERY
from app.modules.delivery.ui.bounce_settings import BounceMailboxPage
from app.ui.bridge import QtBridge
from app.ui.context import UiContext
from app.ui.preferences import PreferencesDialog
from tests.conftest import MemoryKeyring
from tests.integration.delivery.conftest import FAST
from tests.integration.delivery.imap_server import ImapServer, private_dovecot
from tests.unit.delivery.bounce_samples import dsn

TIMEOUT = 20_000


@pytest.fixture
def keyring() -> MemoryKeyring:
    return MemoryKeyring()


@pytest.fixture
def kernel(tmp_path: Path, keyring: MemoryKeyring) -> Iterator[Kernel]:
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "settings.json").write_text(json.dumps(FAST))
    started = start_kernel(AppPaths.inside(folder), modules=[CONTACTS, DELIVERY], secrets_backend=keyring,
                           log_to_file=False)
    yield started
    started.close()


@pytest.fixture
def ui(qapp: QApplication, kernel: Kernel) -> Iterator[UiContext]:
    bridge = QtBridge(kernel.bus)
    yield UiContext.for_kernel(kernel, bridge)
    bridge.close()


@pytest.fixture
def page(qtbot: Any, ui: UiContext) -> Iterator[BounceMailboxPage]:
    widget = BounceMailboxPage(ui)
    qtbot.addWidget(widget)
    yield widget
    qtbot.waitUntil(lambda: widget.running is None, timeout=TIMEOUT)
    widget.shutdown()


@pytest.fixture
def imap(tmp_path: Path) -> Iterator[ImapServer]:
    with private_dovecot(tmp_path / "imap") as server:
        yield server


def fill(page: BounceMailboxPage, server: ImapServer, *, host: str = "127.0.0.1") -> None:
    page.host.setText(host)
    page.tls.setCurrentIndex(page.tls.findData("none"))
    page.port.setValue(server.port)
    page.user.setText(server.user)
    page.password.setText(server.password)
    page.poll.setValue(0)


def test_defaults_then_test_connection_and_fetch_now(qtbot: Any, page: BounceMailboxPage, kernel: Kernel,
                                                    keyring: MemoryKeyring, imap: ImapServer) -> None:
    assert (page.folder.text(), page.processed.text(), page.quarantine.text()) == (
        "INBOX", "Postroom/Processed", "Postroom/Quarantine")
    assert (page.tls.currentData(), page.port.value(), page.poll.value()) == ("ssl", 993, 5)
    page.tls.setCurrentIndex(page.tls.findData("starttls"))
    assert page.port.value() == 143  # the usual port follows the choice
    qtbot.waitUntil(lambda: page.password.placeholderText() == "not stored yet", timeout=TIMEOUT)

    fill(page, imap)
    qtbot.mouseClick(page.test_button, Qt.MouseButton.LeftButton)
    assert not page.fetch_button.isEnabled()  # one job at a time
    qtbot.waitUntil(lambda: page.notice.text.text().startswith("It works:"), timeout=TIMEOUT)
    assert f"logged in as {imap.user}" in page.notice.text.text()
    assert page.fetch_button.isEnabled()
    # Testing saved the settings; the password is in the keyring only, and the field is emptied.
    assert kernel.settings.get("delivery.bounces.port", 0) == imap.port
    assert keyring.get_password("postroom", "imap:bounces") == imap.password
    assert page.password.text() == ""
    assert "stored in the keyring" in page.password.placeholderText()
    assert imap.password not in (Path(kernel.paths.config_dir) / "settings.json").read_text()

    client = imapclient.IMAPClient("127.0.0.1", port=imap.port, ssl=False)
    client.login(imap.user, imap.password)
    client.append("INBOX", dsn("bob@example.com", "5.1.1", "550 5.1.1 unknown"))
    client.logout()
    qtbot.mouseClick(page.fetch_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.notice.text.text().startswith("Read "), timeout=TIMEOUT)
    assert page.notice.text.text() == ("Read 1 message(s): 1 bounce(s), 0 complaint(s), 0 not a bounce, 0 quarantined; "
                                  "1 address(es) suppressed.")


def test_bad_input_is_explained_and_nothing_is_stored(qtbot: Any, page: BounceMailboxPage, kernel: Kernel,
                                                     imap: ImapServer) -> None:
    fill(page, imap, host="imap.example.com")
    with pytest.raises(ValueError, match=r"plain text is allowed only to 127\.0\.0\.1"):
        page.apply()
    qtbot.mouseClick(page.test_button, Qt.MouseButton.LeftButton)
    assert page.notice.text.text().startswith("Not saved: imap.example.com needs TLS")
    assert page.notice.kind == "error"
    assert kernel.settings.get_optional("delivery.bounces.host") is None

    fill(page, imap)
    page.password.setText("wrong")
    qtbot.mouseClick(page.test_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.notice.text.text().startswith("It does not work:"), timeout=TIMEOUT)
    assert f"refused the login for {imap.user}" in page.notice.text.text()


def test_an_empty_form_stores_nothing_and_the_page_is_in_preferences(qtbot: Any, page: BounceMailboxPage,
                                                                      ui: UiContext, kernel: Kernel) -> None:
    page.apply()
    assert kernel.settings.get_optional("delivery.bounces.host") is None
    dialog = PreferencesDialog(ui)
    qtbot.addWidget(dialog)
    titles = [dialog.page_list.item(row).text() for row in range(dialog.page_list.count())]
    assert "Bounce mailbox" in titles
    assert isinstance(dialog.pages["bounce-mailbox"], BounceMailboxPage)
    dialog.pages["bounce-mailbox"].shutdown()  # type: ignore[attr-defined]
