"""The Automations page, offscreen on a real kernel: a welcome series started from the empty state is completed,
activated from the designer and paused; the list shows its per-step counts once contacts move; duplicate makes a
draft copy; delete asks first."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox

from app.kernel.boot import Kernel
from app.modules.campaigns.automation_reads import list_automations
from app.modules.campaigns.messages import RunAutomations
from app.modules.campaigns.ui.automations_page import AutomationsPage
from app.modules.contacts import api as contacts_api
from app.modules.contacts.messages import ChangeContact
from app.ui.bridge import QtBridge
from app.ui.context import UiContext
from tests.conftest import MemoryKeyring
from tests.integration.campaigns.campaign_world import add_people, boot, template
from tests.ui.editor.conftest import answer_next_dialog

TIMEOUT = 15_000


@pytest.fixture
def kernel(tmp_path: Path) -> Iterator[Kernel]:
    started = boot(tmp_path / "data", MemoryKeyring())
    add_people(started, [("ann@example.com", "Ann", ""), ("bob@example.com", "Bob", "")], list_name="Members")
    add_people(started, [], list_name="Trial")
    template(started, "Welcome email")
    yield started
    started.close()


@pytest.fixture
def page(qapp: QApplication, qtbot: Any, kernel: Kernel) -> Iterator[AutomationsPage]:
    bridge = QtBridge(kernel.bus)
    widget = AutomationsPage(UiContext.for_kernel(kernel, bridge))
    qtbot.addWidget(widget)
    widget.resize(1300, 860)
    widget.show()
    qtbot.waitUntil(lambda: widget.loaded and bool(widget.choices.templates), timeout=TIMEOUT)
    yield widget
    widget.shutdown()
    bridge.close()


def test_a_welcome_series_from_the_empty_state_runs_and_the_list_counts_its_steps(
        page: AutomationsPage, qtbot: Any, kernel: Kernel) -> None:
    assert page.empty.isVisible()
    qtbot.mouseClick(page.findChild(type(page.new_button), "AutomationStarter"), Qt.MouseButton.LeftButton)
    designer = page.designer
    assert page.in_designer
    assert [n.kind for n in designer.graph.order()] == ["trigger", "send_email", "wait", "send_email"]
    problems = [designer.problems.item(i).text() for i in range(designer.problems.count())]
    assert problems == ["⚠ Choose the list people join.", "⚠ Choose a template to send.",
                        "⚠ Choose a template to send."]
    trial = next(item.id for item in contacts_api.lists(kernel.db) if item.name == "Trial")
    panel = designer.panel
    designer.scene.nodes[designer.graph.order()[0].id].setSelected(True)
    panel.trigger_list.setCurrentIndex(panel.trigger_list.findData(trial))
    for node in [n for n in designer.graph.order() if n.kind == "send_email"]:
        designer.scene.clearSelection()
        designer.scene.nodes[node.id].setSelected(True)
        panel.template.setCurrentIndex(panel.template.findText("Welcome email"))
    assert designer.problems.count() == 0
    assert designer.state_button.text() == "Save and activate"
    qtbot.mouseClick(designer.state_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: designer.state == "active" and not designer.dirty, timeout=TIMEOUT)
    assert [(a.name, a.state) for a in list_automations(kernel.db)] == [("Welcome series", "active")]
    assert designer.state_button.text() == "Pause"

    ann = contacts_api.find_recipient(kernel.db, "ann@example.com")
    assert ann is not None
    kernel.bus.execute(ChangeContact(contact_id=ann.contact_id, join_lists=(trial,)))
    kernel.bus.execute(RunAutomations())
    designer.back_requested.emit()
    qtbot.waitUntil(lambda: page.steps.rowCount() == 3 and page.steps.item(1, 1).text() == "1", timeout=TIMEOUT)
    assert [page.steps.item(r, 2).text() for r in range(3)] == ["1", "1", "0"]  # passed: email, wait; not yet 2nd
    assert page.table.item(0, 3).text() == "1"  # inside

    page.open_selected()
    qtbot.mouseClick(designer.state_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: list_automations(kernel.db)[0].state == "paused", timeout=TIMEOUT)


def test_duplicate_makes_a_draft_copy_and_delete_asks_first(page: AutomationsPage, qtbot: Any,
                                                            kernel: Kernel) -> None:
    page.new_automation()
    page.designer.name.setText("Nurture")
    page.designer.save()
    qtbot.waitUntil(lambda: page.designer.automation_id is not None, timeout=TIMEOUT)
    page.designer.back_requested.emit()
    qtbot.waitUntil(lambda: page.table.rowCount() == 1, timeout=TIMEOUT)
    qtbot.mouseClick(page.duplicate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.table.rowCount() == 2, timeout=TIMEOUT)
    assert sorted((a.name, a.state) for a in list_automations(kernel.db)) == [
        ("Nurture", "draft"), ("Nurture (copy)", "draft")]
    page.table.selectRow(0)
    answer_next_dialog(lambda box: box.button(QMessageBox.StandardButton.No).click())  # type: ignore[attr-defined]
    qtbot.mouseClick(page.delete_button, Qt.MouseButton.LeftButton)
    assert len(list_automations(kernel.db)) == 2
    answer_next_dialog(lambda box: box.button(QMessageBox.StandardButton.Yes).click())  # type: ignore[attr-defined]
    qtbot.mouseClick(page.delete_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.table.rowCount() == 1, timeout=TIMEOUT)
    assert len(list_automations(kernel.db)) == 1
