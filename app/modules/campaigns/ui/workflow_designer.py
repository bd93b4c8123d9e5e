"""The visual workflow designer: palette, canvas and settings panel around one automation's graph, with undo and redo,
zoom, the validation problems listed under the canvas, a test run on one contact, and save.

Every change replaces the graph by a new one and pushes a ``GraphChange`` holding the graph before and after (graphs
are small values), so undo and redo restore the exact JSON; edits typed into the panel for the same step within two
seconds merge into one undo step.
"""

from __future__ import annotations

import time
from typing import Any

import shiboken6
from PySide6.QtCore import QPointF, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence, QUndoCommand, QUndoStack
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QInputDialog,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.modules.campaigns.automation_graph import KINDS, Edge, Graph, Problem, node_title, validate
from app.modules.campaigns.messages import CampaignError, SaveAutomation, SetAutomationState, TestAutomation
from app.modules.campaigns.ui.workflow_canvas import CARD_H, Palette, WorkflowScene, WorkflowView
from app.modules.campaigns.ui.workflow_panel import Choices, PropertyPanel
from app.ui import theme
from app.ui.widgets import Notice, label

MERGE_SECONDS = 2.0
CARD_GAP = 64.0  # between a step and the one added below it


class GraphChange(QUndoCommand):
    """One undoable change: the whole graph before and after."""

    def __init__(self, designer: WorkflowDesigner, before: dict[str, Any], after: dict[str, Any], text: str, *,
                 select: str = "", merge_key: str = "") -> None:
        super().__init__(text)
        self.designer, self.before, self.after = designer, before, after
        self.select_after, self.select_before = select, designer.scene.selected_node()
        self.merge_key = merge_key
        self.at = time.monotonic()

    def redo(self) -> None:
        self.designer.apply(self.after, self.select_after, reload_panel=not self.merge_key)

    def undo(self) -> None:
        self.designer.apply(self.before, self.select_before or self.select_after, reload_panel=True)

    def id(self) -> int:
        return 1 if self.merge_key else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        if (not isinstance(other, GraphChange) or other.merge_key != self.merge_key
                or other.at - self.at > MERGE_SECONDS):
            return False
        self.after, self.at = other.after, other.at
        return True


class WorkflowDesigner(QWidget):
    back_requested = Signal()
    saved = Signal(int)

    def __init__(self, ctx: Any, reads: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("WorkflowDesigner")
        self._ctx = ctx
        self._reads = reads
        self.automation_id: int | None = None
        self.state = "draft"
        self.graph = Graph()
        self.undo_stack = QUndoStack(self)
        self.scene = WorkflowScene(self)
        self.scene.on_add = self.add_step
        self.scene.on_moves = self.move_steps
        self.scene.on_connect = self.connect_steps
        self.scene.on_delete = self.delete_items
        self.view = WorkflowView(self.scene)
        self.step_palette = Palette()
        self.panel = PropertyPanel()
        self.panel.changed.connect(self.edit_step)
        self.scene.selection_changed_to.connect(self._selected)
        for tile in self.step_palette.tiles.values():
            tile.activated.connect(self.add_after_selected)
        self._build()
        self.undo_stack.cleanChanged.connect(self._update_actions)
        self.undo_stack.indexChanged.connect(self._update_actions)
        if ctx is not None and getattr(ctx, "theme", None) is not None:
            ctx.theme.changed.connect(self._restyle)

    # -- layout

    def _build(self) -> None:  # noqa: PLR0915 - a toolbar, three columns and a problem list
        self.notice = Notice(self, boxed=True)
        back = QToolButton()
        back.setText("← Automations")
        back.setAutoRaise(True)
        back.setObjectName("WorkflowBack")
        back.clicked.connect(self.back_requested)
        self.name = QLineEdit()
        self.name.setObjectName("WorkflowName")
        self.name.setPlaceholderText("Name of the automation")
        self.name.setMinimumWidth(220)
        self.name.textEdited.connect(lambda _t: self._update_title())
        self.entry = QComboBox()
        self.entry.setObjectName("WorkflowEntry")
        self.entry.addItem("Enter once", "once")
        self.entry.addItem("Enter again after", "again")
        self.entry_days = QSpinBox()
        self.entry_days.setRange(1, 3650)
        self.entry_days.setSuffix(" days")
        self.entry_days.setValue(30)
        self.entry.currentIndexChanged.connect(self._entry_changed)
        self.entry_days.valueChanged.connect(lambda _v: self._update_title())
        self.state_label = label("", "muted")
        self.undo_button = self._tool("Undo", self.undo_stack.undo)
        self.redo_button = self._tool("Redo", self.undo_stack.redo)
        zoom_out = self._tool("\u2212", lambda: self.view.set_zoom(self.view.zoom / 1.2), "Zoom out (Ctrl+wheel)")
        self.zoom_label = label("100%", "muted")
        self.zoom_label.setFixedWidth(42)
        self.zoom_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        zoom_in = self._tool("+", lambda: self.view.set_zoom(self.view.zoom * 1.2), "Zoom in (Ctrl+wheel)")
        fit = self._tool("Fit", self.view.fit, "Show the whole automation")
        self.view.zoom_changed.connect(lambda z: self.zoom_label.setText(f"{z:.0%}"))
        self.test_button = QPushButton("Test with a contact…")
        self.test_button.setObjectName("WorkflowTest")
        self.test_button.clicked.connect(self._ask_test)
        self.save_button = QPushButton("Save")
        self.save_button.setObjectName("WorkflowSave")
        self.save_button.setDefault(True)
        self.save_button.clicked.connect(self.save)
        self.state_button = QPushButton("Activate")
        self.state_button.setObjectName("WorkflowState")
        self.state_button.setToolTip("Save, then let contacts enter (or pause it: contacts wait where they are)")
        self.state_button.clicked.connect(self.toggle_state)

        bar = QHBoxLayout()
        bar.setSpacing(6)
        bar.addWidget(back)
        bar.addWidget(self.name, 2)
        bar.addWidget(self.state_label)
        bar.addSpacing(10)
        bar.addWidget(self.entry)
        bar.addWidget(self.entry_days)
        bar.addStretch(1)
        for widget in (self.undo_button, self.redo_button, zoom_out, self.zoom_label, zoom_in, fit):
            bar.addWidget(widget)
        bar.addSpacing(10)
        bar.addWidget(self.test_button)
        bar.addWidget(self.save_button)
        bar.addWidget(self.state_button)

        palette_scroll = QScrollArea()
        palette_scroll.setWidgetResizable(True)
        palette_scroll.setWidget(self.step_palette)
        palette_scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        palette_scroll.setFixedWidth(196)
        panel_scroll = QScrollArea()
        panel_scroll.setWidgetResizable(True)
        panel_scroll.setWidget(self.panel)
        panel_scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        panel_scroll.setMinimumWidth(300)
        self.problems = QListWidget()
        self.problems.setObjectName("WorkflowProblems")
        self.problems.setMaximumHeight(92)
        self.problems.itemClicked.connect(self._problem_clicked)
        middle = QWidget()
        centre = QVBoxLayout(middle)
        centre.setContentsMargins(0, 0, 0, 0)
        centre.setSpacing(6)
        centre.addWidget(self.view, 1)
        self.problems_title = label("", "muted")
        centre.addWidget(self.problems_title)
        centre.addWidget(self.problems)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(palette_scroll)
        split.addWidget(middle)
        split.addWidget(panel_scroll)
        split.setStretchFactor(1, 1)
        split.setSizes([196, 760, 320])
        split.setChildrenCollapsible(False)

        page = QVBoxLayout(self)
        page.setContentsMargins(20, 14, 20, 14)
        page.setSpacing(8)
        page.addLayout(bar)
        page.addWidget(self.notice)
        page.addWidget(split, 1)

        for text, keys, slot in (("Undo", QKeySequence.StandardKey.Undo, self.undo_stack.undo),
                                 ("Redo", QKeySequence.StandardKey.Redo, self.undo_stack.redo)):
            action = QAction(text, self.view)
            action.setShortcut(keys)
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            action.triggered.connect(slot)
            self.view.addAction(action)
        save = QAction("Save", self)
        save.setShortcut(QKeySequence.StandardKey.Save)
        save.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        save.triggered.connect(self.save)
        self.addAction(save)
        self._entry_changed()

    def _tool(self, text: str, slot: Any, tip: str = "") -> QToolButton:
        button = QToolButton()
        button.setText(text)
        button.setToolTip(tip or text)
        button.clicked.connect(slot)
        return button

    def _restyle(self) -> None:
        self.step_palette.restyle()
        self.scene.update()

    # -- loading

    def set_choices(self, choices: Choices) -> None:
        self.panel.choices = choices
        self.scene.names = choices.names()
        self.apply(self.graph.to_json(), self.scene.selected_node(), reload_panel=True)

    def open(self, automation_id: int | None, name: str, graph: dict[str, Any], *, state: str = "draft",
             reentry: str = "once", reentry_days: int = 0) -> None:
        self.automation_id, self.state = automation_id, state
        self.name.setText(name)
        self.entry.setCurrentIndex(max(0, self.entry.findData(reentry)))
        self.entry_days.setValue(max(1, reentry_days or 30))
        loaded = Graph.from_json(graph)
        if loaded.trigger is None:
            loaded.add_node("trigger", 0, 0)
        self.undo_stack.clear()
        self.apply(loaded.to_json(), "", reload_panel=True)
        self.undo_stack.setClean()
        self.notice.hide()
        self._update_title()
        QTimer.singleShot(0, self.view.fit)

    # -- the one way the graph changes

    def apply(self, data: dict[str, Any], select: str = "", *, reload_panel: bool = True) -> None:
        self.graph = Graph.from_json(data)
        problems: dict[str, list[str]] = {}
        found = validate(self.graph) + self._rule_problems()
        for problem in found:
            problems.setdefault(problem.node_id, []).append(problem.message)
        self.scene.show_graph(self.graph, problems, select)
        self.problems.clear()
        for problem in found:
            item = QListWidgetItem("⚠ " + problem.message)
            item.setData(Qt.ItemDataRole.UserRole, problem.node_id)
            item.setForeground(theme.colors().q("danger"))
            self.problems.addItem(item)
        self.problems.setVisible(bool(found))
        self.problems_title.setText(f"{len(found)} thing{'s' if len(found) != 1 else ''} to fix before it can be "
                                    "activated:" if found else "✓ Ready to activate." if self.state != "active"
                                    else "✓ No problems.")
        node = self.graph.node(select) if select else None
        if reload_panel or (node is None) != (self.panel.node is None):
            self.panel.show_node(node, self.graph)
        elif node is not None:
            self.panel.node, self.panel.graph = node, self.graph
        self._update_actions()

    def _rule_problems(self) -> list[Problem]:
        """Conditions on fields, tags or lists in the contacts module's rule language, judged by it (a compile
        only: no query runs for an empty set of contacts)."""
        db = getattr(self._ctx, "db", None)
        if db is None:
            return []
        from app.modules.contacts import api as contacts_api

        problems = []
        for node in self.graph.nodes:
            if node.kind == "branch" and node.props.get("condition") == "rules" and node.props.get("rules"):
                try:
                    contacts_api.matching_contacts(db, node.props["rules"], contact_ids=())
                except ValueError as exc:
                    problems.append(Problem(f"“{node_title(node)}”: {exc}", node.id))
        return problems

    def change(self, after: Graph, text: str, select: str = "", merge_key: str = "") -> None:
        self.undo_stack.push(GraphChange(self, self.graph.to_json(), after.to_json(), text, select=select,
                                         merge_key=merge_key))

    def add_step(self, kind: str, where: QPointF) -> str:
        after = self.graph.copy()
        if kind == "trigger" and after.trigger is not None:
            self.notice.show_text("An automation has one trigger.", "error")
            return ""
        node = after.add_node(kind, where.x(), where.y())
        self.change(after, f"Add {KINDS[kind].title}", node.id)
        return node.id

    def add_after_selected(self, kind: str) -> None:
        """Double-clicking a palette tile: the step goes below the selected one and is connected to it."""
        selected = self.graph.node(self.scene.selected_node())
        if selected is None:
            last = max(self.graph.nodes, key=lambda n: n.y, default=None)
            selected = last
        x, y = (selected.x, selected.y + CARD_H + CARD_GAP) if selected else (0.0, 0.0)
        after = self.graph.copy()
        node = after.add_node(kind, x, y)
        if selected is not None and selected.kind != "exit":
            outs = [b for b in KINDS[selected.kind].outputs if after.next_step(selected.id, b) is None]
            if outs:
                after.connect(selected.id, node.id, outs[0])
        self.change(after, f"Add {KINDS[kind].title}", node.id)

    def move_steps(self, moved: dict[str, tuple[float, float]]) -> None:
        after = self.graph.copy()
        for node_id, (x, y) in moved.items():
            node = after.node(node_id)
            if node is not None:
                node.x, node.y = x, y
        self.change(after, "Move", self.scene.selected_node())

    def connect_steps(self, source: str, branch: str, target: str) -> None:
        after = self.graph.copy()
        after.connect(source, target, branch)
        self.change(after, "Connect", target)

    def delete_items(self, node_ids: list[str], edges: list[Edge]) -> None:
        after = self.graph.copy()
        trigger = after.trigger
        if trigger is not None and trigger.id in node_ids:
            node_ids = [n for n in node_ids if n != trigger.id]
            self.notice.show_text("The trigger stays: an automation needs one. Change it in the panel instead.")
        for edge in edges:
            after.disconnect(edge)
        for node_id in node_ids:
            after.remove_node(node_id)
        if after.to_json() != self.graph.to_json():
            self.change(after, "Delete")

    def edit_step(self, node_id: str, props: dict[str, Any]) -> None:
        after = self.graph.copy()
        node = after.node(node_id)
        if node is None:
            return
        node.props = dict(props)
        self.change(after, f"Edit {KINDS[node.kind].title if node.kind in KINDS else node.kind}", node_id,
                    merge_key=f"edit:{node_id}")

    def _selected(self, node_id: str) -> None:
        node = self.graph.node(node_id) if node_id else None
        if node is not self.panel.node:
            self.panel.show_node(node, self.graph)

    def _problem_clicked(self, item: QListWidgetItem) -> None:
        node_id = item.data(Qt.ItemDataRole.UserRole)
        target = self.scene.nodes.get(node_id or "")
        if target is not None:
            self.scene.clearSelection()
            target.setSelected(True)
            self.view.centerOn(target)

    # -- state of the toolbar

    @property
    def dirty(self) -> bool:
        return not self.undo_stack.isClean()

    def _entry_changed(self) -> None:
        self.entry_days.setVisible(self.entry.currentData() == "again")
        self._update_title()

    def _update_title(self, *_args: Any) -> None:
        state = {"draft": "Draft", "active": "Active", "paused": "Paused"}.get(self.state, self.state)
        self.state_label.setText(state + (" · unsaved changes" if self.dirty else ""))
        self.state_button.setText("Pause" if self.state == "active" else "Save and activate" if self.dirty
                                  or self.automation_id is None else "Activate")

    def _update_actions(self, *_args: Any) -> None:
        if not shiboken6.isValid(self.undo_stack) or not shiboken6.isValid(self.undo_button):
            return  # the designer is being destroyed (the stack announces its end)
        self.undo_button.setEnabled(self.undo_stack.canUndo())
        self.redo_button.setEnabled(self.undo_stack.canRedo())
        self.undo_button.setToolTip(f"Undo {self.undo_stack.undoText()}".strip() + " (Ctrl+Z)")
        self.redo_button.setToolTip(f"Redo {self.undo_stack.redoText()}".strip() + " (Ctrl+Shift+Z)")
        self._update_title()

    # -- save and test

    def command(self) -> SaveAutomation:
        return SaveAutomation(name=self.name.text().strip(), graph=self.graph.to_json(),
                              automation_id=self.automation_id, reentry=str(self.entry.currentData()),
                              reentry_days=self.entry_days.value() if self.entry.currentData() == "again" else 0)

    def save(self, then_state: str = "") -> None:
        """Save (on the page's worker); ``then_state`` "active" or "paused" changes the state after the save."""
        command = self.command()
        self.save_button.setEnabled(False)
        self.state_button.setEnabled(False)

        def work() -> tuple[int, str]:
            automation_id = int(self._ctx.bus.execute(command))
            if then_state:
                self._ctx.bus.execute(SetAutomationState(automation_id=automation_id, state=then_state))
            return automation_id, then_state or self.state

        def done(result: tuple[int, str]) -> None:
            self.save_button.setEnabled(True)
            self.state_button.setEnabled(True)
            self.automation_id, self.state = result
            self.undo_stack.setClean()
            self._update_title()
            if then_state == "active":
                text = "Active: contacts enter as the trigger fires."
            elif then_state == "paused":
                text = "Paused: contacts inside wait where they are."
            else:
                text = "Saved." if self.state != "active" else "Saved; the changes apply to the next step each " \
                    "contact takes."
            self.notice.show_text(text)
            self.saved.emit(self.automation_id)

        self._reads.submit(work, done, self._failed)

    def toggle_state(self) -> None:
        self.save("paused" if self.state == "active" else "active")

    def _failed(self, error: BaseException) -> None:
        self.save_button.setEnabled(True)
        self.state_button.setEnabled(True)
        self.test_button.setEnabled(True)
        text = str(error) if isinstance(error, CampaignError | ValueError) else f"{type(error).__name__}: {error}"
        self.notice.show_text(text, "error")

    def _ask_test(self) -> None:
        if self.automation_id is None or self.dirty:
            self.notice.show_text("Save the automation first: the test runs what is saved.", "error")
            return
        email, ok = QInputDialog.getText(self, "Test the automation",
                                         "Run it now for this contact (waits are skipped; emails go to them with "
                                         "“[Test]” before the subject):")
        if ok and email.strip():
            self.run_test(email.strip())

    def run_test(self, email: str) -> None:
        automation_id = self.automation_id
        assert automation_id is not None
        self.test_button.setEnabled(False)

        def work() -> Any:
            from app.modules.contacts import api as contacts_api

            recipient = contacts_api.find_recipient(self._ctx.db, email)
            if recipient is None:
                raise CampaignError(f"No contact has the address {email}.")
            return self._ctx.bus.execute(TestAutomation(automation_id=automation_id, contact_id=recipient.contact_id))

        def done(path: Any) -> None:
            self.test_button.setEnabled(True)
            titles = {n.id: (n.props.get("title") or KINDS[n.kind].title) for n in self.graph.nodes if n.kind in KINDS}
            lines = [f"{i}. {titles.get(s.step_id, s.kind)} — {s.result or 'done'}" for i, s in enumerate(path, 1)]
            self.last_test = list(path)
            self.notice.show_text(f"Test for {email}: " + "; ".join(lines), "info", 0)

        self._reads.submit(work, done, self._failed)

    def confirm_discard(self) -> bool:
        if not self.dirty:
            return True
        answer = QMessageBox.question(self, "Unsaved changes", "This automation has changes that are not saved. "
                                      "Leave without saving?",
                                      QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel)
        return answer == QMessageBox.StandardButton.Discard

