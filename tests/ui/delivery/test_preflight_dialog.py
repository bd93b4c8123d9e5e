"""The preflight dialog, offscreen on a real kernel: it runs the checks in a job, errors keep Send disabled,
warnings need the tick, and Cancel stops a check that is still running."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QApplication, QDialog

from app.kernel.boot import Kernel, start_kernel
from app.kernel.paths import AppPaths
from app.modules.contacts.module import MODULE as CONTACTS
from app.modules.delivery.messages import MessageContent, RunPreflight, SaveAccount, SaveIdentity
from app.modules.delivery.module import MODULE as DELIVERY
from app.modules.delivery.ui.preflight_dialog import FindingRow, PreflightDialog
from app.ui.bridge import QtBridge
from app.ui.context import UiContext
from tests.conftest import MemoryKeyring
from tests.integration.delivery.preflight_servers import DnsServer
from tests.integration.delivery.test_preflight import GOOD_HTML, NO_SPAMASSASSIN

TIMEOUT = 15_000


@pytest.fixture
def dns() -> Iterator[DnsServer]:
    with DnsServer(silent=True) as server:  # a resolver that never answers: the DNS step takes its whole budget
        yield server


@pytest.fixture
def kernel(tmp_path: Path, dns: DnsServer) -> Iterator[Kernel]:
    folder = tmp_path / "data"
    folder.mkdir()
    settings = {**NO_SPAMASSASSIN, "delivery.preflight.nameservers": ["127.0.0.1"],
                "delivery.preflight.dns_port": dns.port, "delivery.preflight.dns_seconds": 3.0}
    (folder / "settings.json").write_text(json.dumps(settings))
    started = start_kernel(AppPaths.inside(folder), modules=[CONTACTS, DELIVERY], secrets_backend=MemoryKeyring(),
                           log_to_file=False)
    yield started
    started.close()


@pytest.fixture
def ui(qapp: QApplication, kernel: Kernel) -> Iterator[UiContext]:
    bridge = QtBridge(kernel.bus)
    yield UiContext.for_kernel(kernel, bridge)
    bridge.close()


def command(kernel: Kernel, html: str, **options: Any) -> RunPreflight:
    account = kernel.bus.execute(SaveAccount(name="Provider", host="smtp.provider.test", port=587, tls="starttls"))
    identity = kernel.bus.execute(SaveIdentity(from_email="news@shop.test", postal_address="1 Rue de la Paix"))
    return RunPreflight(content=MessageContent(subject="Spring", html=html), account_id=account,
                        identity_id=identity, **options)


def open_dialog(qtbot: Any, ui: UiContext, preflight: RunPreflight) -> PreflightDialog:
    dialog = PreflightDialog(ui, preflight)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def rows(dialog: PreflightDialog) -> list[FindingRow]:
    return dialog.list.findChildren(FindingRow)


def test_errors_keep_send_disabled(qtbot: Any, ui: UiContext, kernel: Kernel) -> None:
    dialog = open_dialog(qtbot, ui, command(kernel, "<p>Hi</p>", offline=True))
    assert not dialog.send.isEnabled()  # nothing to send before the checks are done
    qtbot.waitUntil(lambda: dialog.report is not None, timeout=TIMEOUT)
    assert not dialog.report.ok  # type: ignore[union-attr]
    assert "must be fixed" in dialog.title.text()
    shown = rows(dialog)
    assert shown[0].finding.level == "error"  # errors first
    assert {r.finding.check for r in shown if r.finding.level == "error"} == {"unsubscribe", "postal_address"}
    assert not dialog.send.isEnabled()
    assert dialog.accept_warnings.isHidden()
    dialog.accept_warnings.setChecked(True)  # even ticked: errors block
    assert not dialog.send.isEnabled()
    dialog.send.click()
    assert dialog.result() != QDialog.DialogCode.Accepted
    dialog.cancel.click()
    assert dialog.result() == QDialog.DialogCode.Rejected


def test_warnings_need_the_tick_before_sending(qtbot: Any, ui: UiContext, kernel: Kernel) -> None:
    big = GOOD_HTML + "<p>" + "Spring offers for everyone. " * 4000 + "</p>"
    dialog = open_dialog(qtbot, ui, command(kernel, big, offline=True))
    qtbot.waitUntil(lambda: dialog.report is not None, timeout=TIMEOUT)
    report = dialog.report
    assert report is not None
    assert report.ok
    assert {f.check for f in report.warnings} == {"size", "dkim"}
    assert "warnings to read" in dialog.title.text()
    assert dialog.accept_warnings.isVisible()
    assert not dialog.send.isEnabled()
    assert dialog.send.text() == "Send anyway"
    dialog.accept_warnings.setChecked(True)
    assert dialog.send.isEnabled()
    dialog.send.click()
    assert dialog.result() == QDialog.DialogCode.Accepted


def test_cancel_stops_a_check_that_is_still_running(qtbot: Any, ui: UiContext, kernel: Kernel,
                                                    dns: DnsServer) -> None:
    dialog = open_dialog(qtbot, ui, command(kernel, GOOD_HTML, check_links=False))
    qtbot.waitUntil(lambda: bool(dns.queries), timeout=TIMEOUT)  # waiting on the silent DNS server now
    qtbot.waitUntil(lambda: "Checking DNS" in dialog.step.text(), timeout=TIMEOUT)
    assert dialog.running
    assert dialog.progress.isVisible()
    dialog.cancel.click()
    assert dialog.result() == QDialog.DialogCode.Rejected
    assert dialog.report is None
    qtbot.waitUntil(lambda: not dialog.running, timeout=TIMEOUT)


def test_a_dns_record_to_publish_can_be_copied(qtbot: Any, qapp: QApplication) -> None:
    from app.modules.delivery.messages import PreflightFinding

    record = "v=DKIM1; k=rsa; p=" + "A" * 300
    row = FindingRow(PreflightFinding(level="error", check="dkim", message="The DKIM record differs.",
                                      detail=record))
    qtbot.addWidget(row)
    assert row.copy is not None
    row.copy.click()
    assert qapp.clipboard().text() == record
    plain = FindingRow(PreflightFinding(level="ok", check="size", message="Size 2 KB.", detail="HTML 2,000 bytes"))
    qtbot.addWidget(plain)
    assert plain.copy is None
