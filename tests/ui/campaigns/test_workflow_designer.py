"""The workflow designer, offscreen on a real kernel: a three-step automation is built by dragging steps from the
palette onto the canvas and connecting them by dragging from each step's outlet, edited in the side panel, undone
and redone, saved, and found stored as drawn; the Automations page lists it and activates it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from app.kernel.boot import Kernel
from app.modules.campaigns.automation_graph import Graph, validate
from app.modules.campaigns.automation_reads import list_automations
from app.modules.campaigns.ui.automations_page import AutomationsPage
from app.modules.campaigns.ui.workflow_canvas import CARD_H, CARD_W, NodeItem
from app.ui.bridge import QtBridge
from app.ui.context import UiContext
from tests.conftest import MemoryKeyring
from tests.integration.campaigns.campaign_world import add_people, boot, outbox_by_recipient, template
from tests.ui.editor.conftest import send_drop

TIMEOUT = 15_000


@pytest.fixture
def kernel(tmp_path: Path) -> Iterator[Kernel]:
    started = boot(tmp_path / "data", MemoryKeyring())
    add_people(started, [("ann@example.com", "Ann", "Europe/Paris")])
    template(started, "Welcome email")
    yield started
    started.close()


@pytest.fixture
def page(qapp: QApplication, qtbot: Any, kernel: Kernel) -> Iterator[AutomationsPage]:
    bridge = QtBridge(kernel.bus)
    widget = AutomationsPage(UiContext.for_kernel(kernel, bridge))
    qtbot.addWidget(widget)
    widget.resize(1400, 900)
    widget.show()
    qtbot.waitExposed(widget)
    qtbot.waitUntil(lambda: widget.loaded and bool(widget.choices.templates), timeout=TIMEOUT)
    yield widget
    widget.shutdown()
    bridge.close()


def viewport_point(page: AutomationsPage, item: NodeItem, local: QPointF) -> QPoint:
    return page.designer.view.mapFromScene(item.mapToScene(local))


def drag_port(page: AutomationsPage, source: str, target: str, branch_x: float = CARD_W / 2) -> None:
    """Press on ``source``'s outlet, move over ``target`` and release there, as a user drags a connection."""
    designer = page.designer
    viewport = designer.view.viewport()
    start = viewport_point(page, designer.scene.nodes[source], QPointF(branch_x, CARD_H))
    end = viewport_point(page, designer.scene.nodes[target], QPointF(CARD_W / 2, CARD_H / 2))
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    for step in range(1, 6):
        QTest.mouseMove(viewport, start + (end - start) * step / 5)
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, end)


def select(page: AutomationsPage, node_id: str) -> None:
    designer = page.designer
    item = designer.scene.nodes[node_id]
    QTest.mouseClick(designer.view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     viewport_point(page, item, QPointF(CARD_W / 2, CARD_H / 2)))
    assert designer.panel.node is not None
    assert designer.panel.node.id == node_id


def test_a_three_step_automation_is_built_by_dragging_and_connecting(page: AutomationsPage, qtbot: Any,
                                                                     kernel: Kernel) -> None:
    qtbot.mouseClick(page.new_button, Qt.MouseButton.LeftButton)
    assert page.in_designer
    designer = page.designer
    designer.view.set_zoom(1.0)
    trigger = designer.graph.trigger
    assert trigger is not None
    designer.view.centerOn(trigger.x + CARD_W / 2, trigger.y + 260)

    # Three steps dragged from the palette, one below the other.
    below = designer.view.mapFromScene(QPointF(trigger.x + CARD_W / 2, trigger.y + CARD_H / 2))
    added = []
    for row, kind in enumerate(("send_email", "wait", "add_tag"), start=1):
        point = QPointF(below.x(), below.y() + 130 * row)
        accepted, dropped = send_drop(designer.view.viewport(), designer.step_palette.tiles[kind].mime(), point)
        assert accepted
        assert dropped
        added.append(designer.graph.nodes[-1])
        assert added[-1].kind == kind
    assert len(designer.graph.nodes) == 4
    send, wait, tag = (node.id for node in added)

    # Connected by dragging from each outlet to the next card.
    drag_port(page, trigger.id, send)
    drag_port(page, send, wait)
    drag_port(page, wait, tag)
    assert sorted((e.source, e.target) for e in designer.graph.edges) == sorted(
        [(trigger.id, send), (send, wait), (wait, tag)])

    # Undo takes the last connection away, redo puts it back.
    designer.undo_stack.undo()
    assert (wait, tag) not in {(e.source, e.target) for e in designer.graph.edges}
    designer.undo_stack.redo()
    assert (wait, tag) in {(e.source, e.target) for e in designer.graph.edges}

    # Settings in the side panel.
    select(page, trigger.id)
    panel = designer.panel
    panel.trigger_type.setCurrentIndex(panel.trigger_type.findData("tag_added"))
    qtbot.keyClicks(panel.trigger_tag, "vip")
    select(page, send)
    panel.template.setCurrentIndex(panel.template.findText("Welcome email"))
    qtbot.keyClicks(panel.subject, "Welcome {{ contact.first_name }}")
    select(page, wait)
    panel.wait_amount.setValue(2)
    select(page, tag)
    qtbot.keyClicks(panel.tag, "welcomed")
    assert validate(designer.graph) == []
    assert designer.problems_title.text() == "✓ Ready to activate."

    # A card moved by dragging it.
    card = designer.scene.nodes[tag]
    before = card.pos()
    grab = viewport_point(page, card, QPointF(40, 20))
    QTest.mousePress(designer.view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, grab)
    for step in range(1, 5):
        QTest.mouseMove(designer.view.viewport(), grab + QPoint(30 * step, 0))
    QTest.mouseRelease(designer.view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                       grab + QPoint(120, 0))
    moved = designer.graph.node(tag)
    assert moved is not None
    assert moved.x == pytest.approx(before.x() + 120, abs=20)

    designer.name.setText("Welcome series")
    qtbot.mouseClick(designer.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not designer.dirty and designer.automation_id is not None, timeout=TIMEOUT)

    stored = list_automations(kernel.db)
    assert [a.name for a in stored] == ["Welcome series"]
    graph = Graph.from_json(stored[0].graph)
    assert [(n.kind, n.props.get("tag") or n.props.get("subject") or n.props.get("amount")) for n in graph.order()] \
        == [("trigger", "vip"), ("send_email", "Welcome {{ contact.first_name }}"), ("wait", 2),
            ("add_tag", "welcomed")]
    assert graph.node(send).props["template_id"] == page.choices.templates[0][0]  # type: ignore[union-attr]
    assert stored[0].trigger == {"type": "tag_added", "tag": "vip"}

    # Test mode from the designer: Ann goes through at once and receives the "[Test]" email.
    designer.run_test("ann@example.com")
    qtbot.waitUntil(lambda: designer.notice.text.text().startswith("Test for ann@example.com"), timeout=TIMEOUT)
    assert [s.kind for s in designer.last_test] == ["send_email", "wait", "add_tag"]
    qtbot.waitUntil(lambda: outbox_by_recipient(kernel).get("ann@example.com") is not None, timeout=TIMEOUT)
    assert [m.subject for m in outbox_by_recipient(kernel)["ann@example.com"]] == ["[Test] Welcome Ann"]

    # Back on the list, it can be activated.
    designer.back_requested.emit()
    assert not page.in_designer
    qtbot.waitUntil(lambda: page.table.rowCount() == 1, timeout=TIMEOUT)
    page.table.selectRow(0)
    qtbot.mouseClick(page.activate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: list_automations(kernel.db)[0].state == "active", timeout=TIMEOUT)
    qtbot.waitUntil(lambda: page.table.item(0, 1).text() == "Active", timeout=TIMEOUT)


def test_deleting_a_step_and_its_connections_is_undoable(page: AutomationsPage, qtbot: Any) -> None:
    qtbot.mouseClick(page.new_button, Qt.MouseButton.LeftButton)
    designer = page.designer
    designer.add_after_selected("wait")  # double-click on a tile: below the last step, connected to it
    designer.add_after_selected("exit")
    assert [n.kind for n in designer.graph.order()] == ["trigger", "wait", "exit"]
    wait = designer.graph.order()[1].id
    select(page, wait)
    QTest.keyClick(designer.view, Qt.Key.Key_Delete)
    assert [n.kind for n in designer.graph.nodes] == ["trigger", "exit"]
    assert designer.graph.edges == []
    assert any("not connected to the trigger" in designer.problems.item(i).text()
               for i in range(designer.problems.count()))
    designer.undo_stack.undo()
    assert [n.kind for n in designer.graph.order()] == ["trigger", "wait", "exit"]
    assert len(designer.graph.edges) == 2
