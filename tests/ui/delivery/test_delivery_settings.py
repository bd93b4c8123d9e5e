"""The SMTP accounts and sender identities preferences pages, offscreen on a real kernel with real SMTP servers."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication

from app.kernel.boot import Kernel, start_kernel
from app.kernel.paths import AppPaths
from app.modules.contacts.module import MODULE as CONTACTS
from app.modules.delivery import api
from app.modules.delivery.module import MODULE as DELIVERY
from app.modules.delivery.ui.settings_pages import NEW, AccountsPage, IdentitiesPage
from app.ui.bridge import QtBridge
from app.ui.context import UiContext
from app.ui.preferences import PreferencesDialog
from tests.conftest import MemoryKeyring
from tests.integration.delivery.conftest import FAST
from tests.integration.delivery.servers import ScriptedSmtpServer

TIMEOUT = 15_000


@pytest.fixture
def kernel(tmp_path: Path) -> Iterator[Kernel]:
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "settings.json").write_text(json.dumps(FAST))
    started = start_kernel(AppPaths.inside(folder), modules=[CONTACTS, DELIVERY], secrets_backend=MemoryKeyring(),
                           log_to_file=False)
    yield started
    started.close()


@pytest.fixture
def ctx(qapp: QApplication, kernel: Kernel) -> Iterator[UiContext]:
    bridge = QtBridge(kernel.bus)
    yield UiContext.for_kernel(kernel, bridge)
    bridge.close()


@pytest.fixture
def accounts_page(qtbot, ctx: UiContext) -> Iterator[AccountsPage]:  # type: ignore[no-untyped-def]
    page = AccountsPage(ctx)
    qtbot.addWidget(page)
    qtbot.waitUntil(lambda: page.chooser.count() >= 2, timeout=TIMEOUT)  # the built-in outbox and "New…"
    yield page
    page.shutdown()


def choose_new(page: AccountsPage | IdentitiesPage) -> None:
    page.chooser.setCurrentIndex(page.chooser.findData(NEW))


def fill_account(page: AccountsPage, name: str, port: str) -> None:
    choose_new(page)
    page.name.setText(name)
    page.host.setText("127.0.0.1")
    page.tls.setCurrentIndex(page.tls.findData("none"))
    page.port.setText(port)


def test_an_account_is_added_with_its_limits_and_password_in_the_keyring(accounts_page: AccountsPage,
                                                                          kernel: Kernel, qtbot) -> None:  # type: ignore[no-untyped-def]
    page = accounts_page
    fill_account(page, "Relay", "2525")
    page.username.setText("mailer")
    page.password.setText("s3cret")
    page.per_hour.setText("1,000")
    page.weight.setValue(3)
    page.warmup.setChecked(True)
    page.window_on.setChecked(True)
    page.days["sat"].setChecked(False)
    page.days["sun"].setChecked(False)
    page.zone.setCurrentText("Europe/Paris")
    page.save.click()
    qtbot.waitUntil(lambda: any(a.name == "Relay" for a in api.accounts(kernel.db)), timeout=TIMEOUT)
    account = next(a for a in api.accounts(kernel.db) if a.name == "Relay")
    assert (account.port, account.per_hour, account.weight, account.warmup) == (2525, 1000, 3, True)
    assert account.send_window == {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "17:00",
                                   "time_zone": "Europe/Paris"}
    assert kernel.secrets.get(f"smtp:{account.id}") == "s3cret"
    qtbot.waitUntil(lambda: page.chooser.currentText().startswith("Relay — 127.0.0.1:2525"), timeout=TIMEOUT)
    assert page.password.text() == ""  # never shown again
    assert "unchanged" in page.password.placeholderText()
    assert page.warmup_state.text() == "Warm-up day 1: at most 50 messages today, then 100 tomorrow."


@pytest.mark.parametrize(("port", "words"), [("70000", "from 1 to 65535, not 70000"),
                                             ("smtp", "from 1 to 65535, not “smtp”")])
def test_a_bad_port_is_explained_next_to_the_form_and_nothing_is_saved(accounts_page: AccountsPage, kernel: Kernel,
                                                                       qtbot, port: str, words: str) -> None:  # type: ignore[no-untyped-def]
    fill_account(accounts_page, "Broken", port)
    accounts_page.save.click()
    assert accounts_page.notice.isVisibleTo(accounts_page)
    assert accounts_page.notice.kind == "error"
    assert words in accounts_page.notice.text.text()
    assert not any(a.name == "Broken" for a in api.accounts(kernel.db))


def test_plain_text_to_another_server_is_refused_inline(accounts_page: AccountsPage) -> None:
    fill_account(accounts_page, "Far away", "25")
    accounts_page.host.setText("smtp.example.com")
    accounts_page.save.click()
    assert "only sends to this computer" in accounts_page.notice.text.text()


def test_test_connection_shows_the_steps_or_the_reason(accounts_page: AccountsPage, kernel: Kernel, qtbot) -> None:  # type: ignore[no-untyped-def]
    page = accounts_page
    with ScriptedSmtpServer() as server:
        fill_account(page, "Local relay", str(server.port))
        page.test.click()  # saves the new account first, then tests it in a background job
        qtbot.waitUntil(lambda: "The account works." in page.result.toPlainText(), timeout=TIMEOUT)
        assert f"connected to 127.0.0.1:{server.port}" in page.result.toPlainText()
        assert "plain text (allowed only to this computer)" in page.result.toPlainText()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    fill_account(page, "Nobody home", str(closed))
    page.test.click()
    qtbot.waitUntil(lambda: "✗" in page.result.toPlainText(), timeout=TIMEOUT)
    assert f"127.0.0.1 on port {closed}" in page.result.toPlainText()
    assert "Connect call failed" in page.result.toPlainText()
    assert page.notice.kind == "error"
    assert page.test.isEnabled()


def test_an_identity_gets_a_dkim_key_and_its_dns_record_to_copy(qtbot, ctx: UiContext, kernel: Kernel,  # type: ignore[no-untyped-def]
                                                               qapp: QApplication) -> None:
    page = IdentitiesPage(ctx)
    qtbot.addWidget(page)
    qtbot.waitUntil(lambda: page.chooser.count() >= 2, timeout=TIMEOUT)
    choose_new(page)
    page.from_email.setText("not an address")
    page.save.click()
    assert "news@example.com" in page.notice.text.text()  # says what an address looks like
    page.from_name.setText("Spring Shop")
    page.from_email.setText("news@shop.example")
    page.postal.setPlainText("1 Rue de la Paix, Paris")
    page.create_key.click()
    qtbot.waitUntil(lambda: page.dns_value.toPlainText().startswith("v=DKIM1; k=rsa; p="), timeout=30_000)
    assert page.dns_name.text() == "postroom._domainkey.shop.example"
    identity = next(i for i in api.identities(kernel.db) if i.from_email == "news@shop.example")
    assert (identity.from_name, identity.dkim_selector) == ("Spring Shop", "postroom")
    page.copy_value.click()
    assert qapp.clipboard().text() == page.dns_value.toPlainText()
    assert page.create_key.text() == "Replace DKIM key"
    page.shutdown()


def test_the_preferences_dialog_lists_both_pages(qtbot, ctx: UiContext) -> None:  # type: ignore[no-untyped-def]
    dialog = PreferencesDialog(ctx)
    qtbot.addWidget(dialog)
    assert {"smtp-accounts", "sender-identities"} <= set(dialog.pages)
    assert isinstance(dialog.pages["smtp-accounts"], AccountsPage)
    assert dialog.apply()  # nothing changed: nothing to save, no complaint
    for page in dialog.pages.values():
        if hasattr(page, "shutdown"):
            page.shutdown()


def test_the_built_in_outbox_keeps_its_address_but_takes_limits_and_a_window(accounts_page: AccountsPage,
                                                                             kernel: Kernel, qtbot) -> None:  # type: ignore[no-untyped-def]
    page = accounts_page
    page.chooser.setCurrentIndex(0)
    assert page.chooser.currentText().startswith("Built-in outbox")
    assert not page.host.isEnabled()
    assert not page.remove.isEnabled()
    page.per_second.setText("20")
    page.window_on.setChecked(True)
    page.save.click()
    qtbot.waitUntil(lambda: api.accounts(kernel.db)[0].per_second == 20, timeout=TIMEOUT)
    outbox = api.accounts(kernel.db)[0]
    assert (outbox.is_local_outbox, outbox.host, outbox.port, outbox.tls) == (True, "127.0.0.1", 0, "none")
    assert outbox.send_window is not None
    assert outbox.send_window["start"] == "09:00"
