"""The Automations page: every automation with its state, trigger and contacts inside; the selected one's steps with
how many contacts wait at and passed each; New, Duplicate, Delete, Activate, Pause; and the designer to draw one."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QMessageBox,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.modules.campaigns.automation_graph import Graph, drip, node_title, step_names, summary, trigger_summary
from app.modules.campaigns.automation_reads import AutomationInfo, AutomationStats, automation_stats, list_automations
from app.modules.campaigns.messages import (
    AutomationDeleted,
    AutomationSaved,
    AutomationsProgressed,
    CampaignError,
    DeleteAutomation,
    DuplicateAutomation,
    SetAutomationState,
)
from app.modules.campaigns.ui.workflow_designer import WorkflowDesigner
from app.modules.campaigns.ui.workflow_panel import Choices
from app.ui import theme
from app.ui.background import BackgroundWork
from app.ui.widgets import Notice, card, label

_ID = Qt.ItemDataRole.UserRole
COLUMNS = ("Automation", "State", "Trigger", "Inside", "Entered")
STATE_TEXT = {"draft": "Draft", "active": "Active", "paused": "Paused"}


def load_choices(db: Any) -> Choices:
    from app.modules.campaigns import api as campaigns_api
    from app.modules.contacts import api as contacts_api
    from app.modules.delivery import api as delivery_api
    from app.modules.editor import api as editor_api

    return Choices(
        templates=[(t.id, t.name) for t in editor_api.list_templates(db)],
        lists=[(item.id, item.name) for item in contacts_api.lists(db)],
        segments=[(item.id, item.name) for item in contacts_api.segments(db)],
        campaigns=[(c.id, c.name) for c in campaigns_api.list_campaigns(db)],
        identities=[(i.id, f"{i.from_name} <{i.from_email}>" if i.from_name else i.from_email)
                    for i in delivery_api.identities(db)],
        fields=[(f.key, f.label, f.type) for f in contacts_api.custom_fields(db)])


def load_rows(db: Any) -> list[tuple[AutomationInfo, AutomationStats]]:
    return [(info, automation_stats(db, info.id)) for info in list_automations(db)]


def starter_graph() -> Graph:
    """What "New" opens: the trigger alone, waiting for steps to be dragged below it."""
    return drip([], {"type": "list_joined", "list_id": None})


class AutomationsPage(QWidget):
    def __init__(self, ctx: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("AutomationsPage")
        self._ctx = ctx
        self._reads = BackgroundWork(self, name="automations-read")
        self.choices = Choices()
        self.rows: list[tuple[AutomationInfo, AutomationStats]] = []
        self.loaded = False
        self.designer = WorkflowDesigner(ctx, self._reads)
        self.designer.back_requested.connect(self.show_list)
        self._reload_soon = QTimer(self, singleShot=True, interval=250)
        self.designer.saved.connect(lambda _id: self._reload_soon.start())
        self._build()
        self._reload_soon.timeout.connect(self.reload)
        for event in (AutomationSaved, AutomationDeleted, AutomationsProgressed):
            ctx.bridge.subscribe(event, lambda _e: self._reload_soon.start(), owner=self)
        self._reads.submit(lambda: load_choices(ctx.db), self._got_choices)
        self.reload()

    # -- layout

    def _build(self) -> None:  # noqa: PLR0915 - the list, its buttons and the detail card, top to bottom
        self.notice = Notice(self, boxed=True)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("AutomationList")
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.setShowGrid(False)
        self.table.setAlternatingRowColors(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        self.table.setColumnWidth(0, 200)
        self.table.itemSelectionChanged.connect(self._selected)
        self.table.itemDoubleClicked.connect(lambda _item: self.open_selected())
        buttons = QHBoxLayout()
        self.new_button = self._button("New automation", self.new_automation, "AutomationNew")
        self.open_button = self._button("Open designer", self.open_selected, "AutomationOpen")
        self.duplicate_button = self._button("Duplicate", self._duplicate)
        self.delete_button = self._button("Delete", self._delete)
        self.activate_button = self._button("Activate", lambda: self._set_state("active"), "AutomationActivate")
        self.pause_button = self._button("Pause", lambda: self._set_state("paused"), "AutomationPause")
        self.new_button.setDefault(True)
        for button in (self.new_button, self.open_button, self.duplicate_button, self.delete_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.activate_button)
        buttons.addWidget(self.pause_button)
        self.empty, empty = card("no automations")
        empty.addWidget(label("No automations yet", object_name="CardTitle"))
        empty.addWidget(label("An automation starts when something happens — a contact joins a list, gets a tag, "
                              "has a birthday, places an order or clicks a link — and then sends emails, waits, "
                              "checks conditions and updates the contact, step by step. A drip sequence is simply "
                              "emails and waits one after another.", "muted", wrap=True))
        starters = QHBoxLayout()
        blank = self._button("Draw one from scratch", self.new_automation, "AutomationBlank")
        series = self._button("Start from a welcome series", self.new_welcome_series, "AutomationStarter")
        starters.addWidget(series)
        starters.addWidget(blank)
        starters.addStretch(1)
        empty.addLayout(starters)

        self.detail_box, detail = card("automation")
        self.detail_title = label("", object_name="CardTitle", wrap=True)
        self.detail_text = label("", "muted", wrap=True, selectable=True)
        self.steps = QTableWidget(0, 4)
        self.steps.setObjectName("AutomationSteps")
        self.steps.setHorizontalHeaderLabels(["Step", "Waiting", "Passed", "Results"])
        self.steps.verticalHeader().setVisible(False)
        self.steps.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.steps.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.steps.setShowGrid(False)
        steps_header = self.steps.horizontalHeader()
        steps_header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        steps_header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        detail.addWidget(self.detail_title)
        detail.addWidget(self.detail_text)
        detail.addWidget(self.steps, 1)

        left = QWidget()
        column = QVBoxLayout(left)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.empty)
        column.addWidget(self.table, 1)
        self.empty_space = QWidget()
        column.addWidget(self.empty_space, 1)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(self.detail_box)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([620, 420])

        self.list_view = QWidget()
        page = QVBoxLayout(self.list_view)
        page.setContentsMargins(28, 20, 28, 20)
        page.setSpacing(10)
        page.addWidget(label("Automations", object_name="PageTitle"))
        page.addWidget(label("Emails and actions that follow each contact on their own schedule: a welcome series, "
                             "a birthday message, a follow-up after an order. Each person's progress is kept, so "
                             "quitting or pausing never repeats or skips a step.", "muted", wrap=True))
        page.addWidget(self.notice)
        page.addLayout(buttons)
        page.addWidget(split, 1)

        self.stack = QStackedWidget()
        self.stack.addWidget(self.list_view)
        self.stack.addWidget(self.designer)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.stack)
        self._selected()

    def _button(self, text: str, slot: Any, name: str = "") -> QPushButton:
        button = QPushButton(text)
        if name:
            button.setObjectName(name)
        button.clicked.connect(slot)
        return button

    # -- reading

    def reload(self) -> None:
        self._reads.submit_latest("rows", lambda: load_rows(self._ctx.db), self._got_rows, self._failed)

    def _got_choices(self, choices: Choices) -> None:
        self.choices = choices
        self.designer.set_choices(choices)
        if self.rows:
            self._got_rows(self.rows)  # names instead of ids in the list

    def _got_rows(self, rows: list[tuple[AutomationInfo, AutomationStats]]) -> None:
        selected = self.selected_id()
        self.rows = rows
        self.table.setRowCount(len(rows))
        c = theme.colors()
        names = self.choices.names()
        for row, (info, stats) in enumerate(rows):
            cells = (info.name, STATE_TEXT.get(info.state, info.state), trigger_summary(info.trigger, names),
                     f"{info.active_contacts:,}", f"{stats.entered:,}")
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(_ID, info.id)
                if column == 1:
                    item.setForeground(c.q({"active": "success", "paused": "warning"}.get(info.state, "muted")))
                if column >= 3:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(row, column, item)
            if info.id == selected:
                self.table.selectRow(row)
        self.empty.setVisible(not rows)
        self.empty_space.setVisible(not rows)
        self.table.setVisible(bool(rows))
        if rows and not self.table.selectedItems():
            self.table.selectRow(0)
        self.loaded = True
        self._selected()

    def _failed(self, error: BaseException) -> None:
        text = str(error) if isinstance(error, CampaignError | ValueError) else f"{type(error).__name__}: {error}"
        self.notice.show_text(text, "error")

    def selected_id(self) -> int | None:
        items = self.table.selectedItems()
        return int(items[0].data(_ID)) if items else None

    def _current(self) -> tuple[AutomationInfo, AutomationStats] | None:
        wanted = self.selected_id()
        return next(((i, s) for i, s in self.rows if i.id == wanted), None)

    def _selected(self) -> None:
        current = self._current()
        state = current[0].state if current else ""
        for button in (self.open_button, self.duplicate_button, self.delete_button):
            button.setEnabled(current is not None)
        self.activate_button.setEnabled(current is not None and state != "active")
        self.pause_button.setEnabled(state == "active")
        self._show_detail()

    def _show_detail(self) -> None:
        current = self._current()
        self.detail_box.setVisible(current is not None)
        if current is None:
            return
        info, stats = current
        entry = "once" if info.reentry == "once" else f"again after {info.reentry_days} days"
        self.detail_title.setText(info.name)
        names: dict[str, Any] = dict(self.choices.names())
        self.detail_text.setText(f"{STATE_TEXT.get(info.state, info.state)} · starts when: "
                                 f"{trigger_summary(info.trigger, names)} · "
                                 f"contacts enter {entry}.\n{stats.active:,} inside now, {stats.done:,} finished, "
                                 f"{stats.exited:,} left at an exit.")
        graph = Graph.from_json(info.graph)
        names["steps"] = step_names(graph)
        self.steps.setRowCount(len(stats.steps))
        for row, step in enumerate(stats.steps):
            node = graph.node(step.step_id)
            title = f"{node_title(node)} — {summary(node, names)}" if node else step.step_id
            results = ", ".join(f"{k} {v:,}" for k, v in sorted(step.results.items()))
            for column, text in enumerate((title, f"{step.waiting:,}", f"{step.passed:,}", results)):
                item = QTableWidgetItem(text)
                if column in (1, 2):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.steps.setItem(row, column, item)

    # -- actions

    def _free_name(self, base: str) -> str:
        taken = {info.name.casefold() for info, _ in self.rows}
        name, n = base, 2
        while name.casefold() in taken:
            name, n = f"{base} {n}", n + 1
        return name

    def new_automation(self) -> None:
        self.designer.open(None, self._free_name("New automation"), starter_graph().to_json())
        self.stack.setCurrentWidget(self.designer)

    def new_welcome_series(self) -> None:
        """A drip to complete: joined a list, a welcome email, two days, a second email."""
        graph = drip([("send_email", {"subject": "Welcome, {{ contact.first_name | default('friend') }}"}),
                      ("wait", {"amount": 2, "unit": "days"}),
                      ("send_email", {"subject": "A few tips to get started"})],
                     {"type": "list_joined", "list_id": None})
        self.designer.open(None, self._free_name("Welcome series"), graph.to_json())
        self.stack.setCurrentWidget(self.designer)

    def open_selected(self) -> None:
        current = self._current()
        if current is None:
            return
        info = current[0]
        self.designer.open(info.id, info.name, info.graph, state=info.state, reentry=info.reentry,
                           reentry_days=info.reentry_days)
        self.stack.setCurrentWidget(self.designer)

    def show_list(self) -> None:
        if not self.designer.confirm_discard():
            return
        self.stack.setCurrentWidget(self.list_view)
        self.reload()

    @property
    def in_designer(self) -> bool:
        return self.stack.currentWidget() is self.designer

    def _execute(self, command: Any, done_text: str = "") -> None:
        def done(_result: Any) -> None:
            if done_text:
                self.notice.show_text(done_text)
            self.reload()

        self._reads.submit(lambda: self._ctx.bus.execute(command), done, self._failed)

    def _duplicate(self) -> None:
        automation_id = self.selected_id()
        if automation_id is not None:
            self._execute(DuplicateAutomation(automation_id=automation_id), "Duplicated (as a draft).")

    def _delete(self) -> None:
        current = self._current()
        if current is None:
            return
        info, stats = current
        inside = f" {stats.active:,} contacts are inside it and will stop where they are." if stats.active else ""
        answer = QMessageBox.question(self, "Delete automation", f"Delete “{info.name}”?{inside}",
                                      QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
        if answer == QMessageBox.StandardButton.Yes:
            self._execute(DeleteAutomation(automation_id=info.id), f"Deleted {info.name}.")

    def _set_state(self, state: str) -> None:
        current = self._current()
        if current is not None:
            verb = "Activated: new contacts enter as the trigger fires." if state == "active" else \
                "Paused: contacts inside wait where they are until you activate it again."
            self._execute(SetAutomationState(automation_id=current[0].id, state=state), verb)

    def shutdown(self) -> None:
        self._reads.close()
