"""The import wizard driven end to end, offscreen: drop a file, change the mapping, import, read the report."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QFileDialog, QWizard
from sqlalchemy import select

from app.kernel.boot import Kernel, start_kernel
from app.kernel.paths import AppPaths
from app.modules.contacts.models import Contact, CustomField, MailingList, Subscription
from app.modules.contacts.module import MODULE
from app.modules.contacts.ui.import_wizard import (
    PAGE_FILE,
    PAGE_MAPPING,
    PAGE_OPTIONS,
    PAGE_RESULT,
    ImportWizard,
    open_import_wizard,
)
from app.ui.bridge import QtBridge
from app.ui.context import UiContext
from tests.conftest import MemoryKeyring
from tests.qt_compat import drag_position

TIMEOUT = 20_000


@pytest.fixture
def contacts_kernel(tmp_path: Path) -> Iterator[Kernel]:
    started = start_kernel(AppPaths.inside(tmp_path / "data"), modules=[MODULE], secrets_backend=MemoryKeyring(),
                           log_to_file=False)
    yield started
    started.close()


@pytest.fixture
def ctx(qapp: QApplication, contacts_kernel: Kernel) -> Iterator[UiContext]:
    bridge = QtBridge(contacts_kernel.bus)
    yield UiContext.for_kernel(contacts_kernel, bridge)
    bridge.close()
    bridge.deleteLater()


@pytest.fixture
def wizard(qtbot: Any, ctx: UiContext) -> Iterator[ImportWizard]:
    dialog = ImportWizard(ctx)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    yield dialog
    dialog.run_page.cancel()
    qtbot.waitUntil(lambda: not dialog.run_page.running, timeout=TIMEOUT)
    dialog.close()


def drop(target: Any, path: Path) -> tuple[bool, bool]:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    point = QPointF(target.width() / 2, target.height() / 2)
    buttons, modifiers = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    enter = QDragEnterEvent(drag_position(point), Qt.DropAction.CopyAction, mime, buttons, modifiers)
    QApplication.sendEvent(target, enter)
    move = QDragMoveEvent(drag_position(point), Qt.DropAction.CopyAction, mime, buttons, modifiers)
    QApplication.sendEvent(target, move)
    dropped = QDropEvent(point, Qt.DropAction.CopyAction, mime, buttons, modifiers)
    QApplication.sendEvent(target, dropped)
    return enter.isAccepted(), dropped.isAccepted()


def next_page(wizard: ImportWizard) -> None:
    button = wizard.button(QWizard.WizardButton.CommitButton)
    if not button.isVisible():
        button = wizard.button(QWizard.WizardButton.NextButton)
    assert button.isEnabled()
    button.click()


def test_drop_map_import_and_save_rejected_rows(qtbot: Any, tmp_path: Path, wizard: ImportWizard,
                                                contacts_kernel: Kernel, monkeypatch: pytest.MonkeyPatch) -> None:
    with contacts_kernel.db.transaction() as session:
        session.add(CustomField(key="city", label="City", type="text", choices=[]))
    path = tmp_path / "spring fair.csv"
    path.write_text("E-mail;First name;Last name;Town;Notes\nann@example.com;Ann;Lee;Lyon;met at stand\n"
                    "bo@example.com;Bo;Kim;Nantes;\nnot-an-address;X;Y;Z;\nann@example.com;;Lee;;again\n"
                    "cy@example.com;Cy;;Paris;\n", encoding="utf-8-sig")
    assert wizard.currentId() == PAGE_FILE
    assert drop(wizard, path) == (True, True)
    assert wizard.path == path
    assert wizard.file_page.encoding.currentText() == "UTF-8 with BOM (detected)"
    assert wizard.file_page.delimiter.currentText() == "Semicolon (detected)"

    next_page(wizard)
    assert wizard.currentId() == PAGE_MAPPING
    page = wizard.mapping_page
    assert page.mapping() == {0: "email", 1: "first_name", 2: "last_name"}
    assert not page.warning.isVisible()
    town = page.combo_for(3)
    assert town is not None
    assert town.currentText() == "Don't import"
    town.setCurrentIndex(town.findData("field:city"))
    assert page.mapping()[3] == "field:city"
    assert page.counter.text() == "4 of 5 columns will be imported."

    next_page(wizard)
    assert wizard.currentId() == PAGE_OPTIONS
    options = wizard.options_page
    options.list_name.setCurrentText("Spring fair")
    assert options.list_hint.text() == "A new list \u201cSpring fair\u201d is created."
    options.tags.setText("fair, 2024")

    next_page(wizard)  # "Import"
    qtbot.waitUntil(lambda: wizard.currentId() == PAGE_RESULT, timeout=TIMEOUT)
    result = wizard.result_page
    counts = {name: int(widget.text().replace(",", "")) for name, widget in result.counts.items()}
    assert counts["read"] == 5
    assert counts["created"] == 3
    assert counts["duplicates_in_file"] == 1
    assert counts["invalid"] == 1
    assert result.rejected.rowCount() == 1
    assert result.rejected.item(0, 0).text() == "4"
    assert "not a valid email address" in result.rejected.item(0, 1).text()

    target = tmp_path / "rejected.csv"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *_args, **_kw: (str(target), "CSV files (*.csv)"))
    result.save_button.click()
    assert "Saved 1 rejected rows" in result.saved.text()
    with target.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0][:3] == ["Row", "Reason", "E-mail"]
    assert rows[1][0] == "4"

    with contacts_kernel.db.read() as session:
        people = {c.email_key: (c.first_name, dict(c.fields)) for c in session.scalars(select(Contact))}
        members = set(session.scalars(select(Contact.email_key).join(Subscription).join(MailingList)
                                      .where(MailingList.name == "Spring fair")))
    assert people["ann@example.com"] == ("Ann", {"city": "Lyon"})
    assert members == {"ann@example.com", "bo@example.com", "cy@example.com"}


def test_a_binary_file_is_explained_on_the_first_page(qtbot: Any, tmp_path: Path, wizard: ImportWizard) -> None:
    path = tmp_path / "contacts.csv"
    path.write_bytes(b"PK\x03\x04" + bytes(range(256)) * 8)
    assert drop(wizard, path) == (True, True)
    assert wizard.file_page.error.isVisible()
    assert "this is not a text CSV file" in wizard.file_page.error.text()
    assert not wizard.button(QWizard.WizardButton.NextButton).isEnabled()


def test_without_an_email_column_the_wizard_says_so_and_waits(qtbot: Any, tmp_path: Path,
                                                              wizard: ImportWizard) -> None:
    path = tmp_path / "names.csv"
    path.write_text("Who,Name\nann@example.com,Ann\n", encoding="utf-8")
    assert wizard.load_file(path)
    next_page(wizard)
    page = wizard.mapping_page
    assert page.warning.isVisible()
    assert not wizard.button(QWizard.WizardButton.NextButton).isEnabled()
    who = page.combo_for(0)
    assert who is not None
    who.setCurrentIndex(who.findData("email"))
    assert not page.warning.isVisible()
    assert wizard.button(QWizard.WizardButton.NextButton).isEnabled()


def test_open_import_wizard_reads_the_given_file(qtbot: Any, tmp_path: Path, ctx: UiContext) -> None:
    path = tmp_path / "hubspot.csv"
    path.write_text("Record ID,First Name,Last Name,Email,Lifecycle Stage,Marketing contact status\n"
                    "1,Ann,Lee,ann@example.com,Lead,Marketing contact\n", encoding="utf-8")
    dialog = open_import_wizard(ctx, None, path)
    qtbot.waitExposed(dialog)
    assert dialog.isVisible()
    assert "HubSpot export" in dialog.file_page.detected.text()
    assert dialog.mapping_page.mapping()[3] == "email"
    dialog.close()
