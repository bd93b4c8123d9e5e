"""The segment builder's tree: a condition row (field, operator, value) and a group of rows joined by AND or OR."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from app.modules.contacts.segment_rules import MAX_DEPTH, OPERATOR_LABELS, STANDARD_FIELDS, operators_for, value_kind
from app.modules.contacts.segments import SegmentCatalog
from app.modules.contacts.ui.segment_values import EventEditor, ValueEditor, remove_button, select_data

SPECIAL_LABELS = {"tag": "Tag", "list": "List", "status": "Suppression", "engagement": "Email engagement",
                  "event": "Event"}


class ConditionRow(QFrame):
    """``[field] [operator] [value] [x]``; the operators follow the field and the editor follows the operator."""

    changed = Signal()
    removed = Signal(object)

    def __init__(self, catalog: SegmentCatalog, event_names: list[str], rule: dict[str, Any] | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("SegmentCondition")
        self.catalog = catalog
        self.event_names = event_names
        self.editor: ValueEditor | EventEditor | None = None
        outer = QVBoxLayout(self)
        outer.setContentsMargins(10, 6, 6, 6)
        outer.setSpacing(2)
        row = QHBoxLayout()
        row.setSpacing(6)
        self.field = QComboBox()
        self.field.setObjectName("SegmentField")
        self._fill_fields()
        self.op = QComboBox()
        self.op.setObjectName("SegmentOperator")
        self.value_slot = QHBoxLayout()
        self.value_slot.setContentsMargins(0, 0, 0, 0)
        self.remove = remove_button("Remove this condition")
        for combo in (self.field, self.op):
            combo.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Fixed)
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        row.addWidget(self.field)
        row.addWidget(self.op)
        row.addLayout(self.value_slot)
        row.addStretch(1)
        row.addWidget(self.remove, 0, Qt.AlignmentFlag.AlignTop)
        outer.addLayout(row)
        self.wide_slot = QVBoxLayout()  # an event's editor is too wide for one line: it goes under the field
        self.wide_slot.setContentsMargins(24, 0, 30, 0)
        outer.addLayout(self.wide_slot)
        self.problem = QLabel()
        self.problem.setObjectName("SegmentProblem")
        self.problem.setWordWrap(True)
        self.problem.hide()
        outer.addWidget(self.problem)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self.field.currentIndexChanged.connect(lambda _i: self._field_changed())
        self.op.currentIndexChanged.connect(lambda _i: self._op_changed())
        self.remove.clicked.connect(lambda: self.removed.emit(self))
        if rule:
            self.set_rule(rule)
        else:
            self._field_changed()

    def _fill_fields(self) -> None:
        groups: list[list[tuple[str, str]]] = [
            [(label, key) for key, (label, _type) in STANDARD_FIELDS.items()],
            [(f.label or f.key, f"field:{f.key}") for f in self.catalog.fields],
            [(SPECIAL_LABELS[k], k) for k in ("tag", "list", "status")],
            [(SPECIAL_LABELS[k], k) for k in ("engagement", "event")],
        ]
        for group in groups:
            if not group:
                continue
            if self.field.count():
                self.field.insertSeparator(self.field.count())
            for text, data in group:
                self.field.addItem(text, data)

    def family(self) -> str:
        field = str(self.field.currentData())
        if field in STANDARD_FIELDS:
            return STANDARD_FIELDS[field][1]
        if field.startswith("field:"):
            found = next((f for f in self.catalog.fields if f"field:{f.key}" == field), None)
            return found.type if found else "custom"
        return field

    def _field_changed(self) -> None:
        previous = self.op.currentData()
        with QSignalBlocker(self.op):
            self.op.clear()
            for op in operators_for(self.family()):
                self.op.addItem(OPERATOR_LABELS[op], op)
            select_data(self.op, previous)
        self._op_changed()

    def _op_changed(self) -> None:
        kind = value_kind(str(self.op.currentData()))
        current = self.editor.kind if isinstance(self.editor, ValueEditor) else ("event" if self.editor else None)
        field_choice = self.field.currentData()
        if kind != current or kind in ("choice", "choices", "tag", "list") or not self.editor:
            self._set_editor(kind, field_choice)
        self.changed.emit()

    def _set_editor(self, kind: str, field: Any) -> None:
        if self.editor is not None:
            self.value_slot.removeWidget(self.editor)
            self.wide_slot.removeWidget(self.editor)
            self.editor.setParent(None)
            self.editor.deleteLater()
        if kind == "event":
            self.editor = EventEditor(self.event_names)
            self.editor.changed.connect(self.changed.emit)
            self.wide_slot.addWidget(self.editor)
            return
        choices = {"tag": list(self.catalog.tags), "list": list(self.catalog.lists)}.get(kind)
        if choices is None:
            found = next((f for f in self.catalog.fields if f"field:{f.key}" == field), None)
            choices = list(found.choices) if found else []
        self.editor = ValueEditor(kind, choices)
        self.editor.changed.connect(self.changed.emit)
        self.value_slot.addWidget(self.editor)

    def set_rule(self, rule: dict[str, Any]) -> None:
        field = str(rule.get("field", "email"))
        with QSignalBlocker(self.field):
            select_data(self.field, field, f"{field.removeprefix('field:')} (missing)")
        self._field_changed()
        op = rule.get("op")
        with QSignalBlocker(self.op):
            select_data(self.op, op, f"{op} (unknown)")
        self._op_changed()
        if self.editor is not None:
            self.editor.set_value(rule.get("value"))

    def to_rule(self) -> dict[str, Any]:
        rule: dict[str, Any] = {"field": self.field.currentData(), "op": self.op.currentData()}
        value = self.editor.value() if self.editor is not None else None
        if value is not None:
            rule["value"] = value
        return rule

    def show_problem(self, text: str) -> None:
        self.problem.setText(text)
        self.problem.setVisible(bool(text))
        self.setProperty("invalid", bool(text))
        self.style().unpolish(self)
        self.style().polish(self)

    def update_event_names(self, names: list[str]) -> None:
        self.event_names = names
        if isinstance(self.editor, EventEditor):
            self.editor.set_event_names(names)


class GroupFrame(QFrame):
    """A group of conditions and nested groups joined by AND (all) or OR (any)."""

    changed = Signal()
    removed = Signal(object)

    def __init__(self, builder: Any, depth: int, parent: QWidget | None = None) -> None:
        """``builder`` supplies ``catalog`` and ``event_names`` for new rows (the SegmentBuilder)."""
        super().__init__(parent)
        self.builder = builder
        self.level = depth
        self.items: list[ConditionRow | GroupFrame] = []
        self._connectors: list[QLabel] = []
        self.setObjectName("SegmentGroup")
        self.setProperty("depth", str(depth))
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(12, 8, 10, 10)
        outer.setSpacing(6)
        header = QHBoxLayout()
        header.addWidget(QLabel("Contacts matching" if depth == 1 else "Match"))
        self.match = QComboBox()
        self.match.setObjectName("SegmentMatch")
        self.match.addItem("all of these conditions (AND)", "all")
        self.match.addItem("any of these conditions (OR)", "any")
        header.addWidget(self.match)
        header.addStretch(1)
        if depth > 1:
            self.remove = remove_button("Remove this group and everything in it")
            self.remove.clicked.connect(lambda: self.removed.emit(self))
            header.addWidget(self.remove)
        outer.addLayout(header)
        self.body = QVBoxLayout()
        self.body.setSpacing(4)
        outer.addLayout(self.body)
        self.empty = QLabel("No conditions yet: everyone matches." if depth == 1 else
                            "No conditions in this group yet: it matches everyone.")
        self.empty.setObjectName("SegmentEmpty")
        outer.addWidget(self.empty)
        buttons = QHBoxLayout()
        self.add_condition_button = QPushButton("+ Add condition")
        self.add_condition_button.setObjectName("SegmentAddCondition")
        self.add_group_button = QPushButton("+ Add group")
        self.add_group_button.setObjectName("SegmentAddGroup")
        self.add_group_button.setEnabled(depth < MAX_DEPTH)
        self.add_group_button.setToolTip("A nested group of conditions joined by AND or OR" if depth < MAX_DEPTH
                                         else f"Groups nest at most {MAX_DEPTH} deep")
        buttons.addWidget(self.add_condition_button)
        buttons.addWidget(self.add_group_button)
        buttons.addStretch(1)
        outer.addLayout(buttons)
        self.match.currentIndexChanged.connect(lambda _i: self._relayout())
        # clicked() passes a bool, which must not become the rule argument
        self.add_condition_button.clicked.connect(lambda: self.add_condition())  # noqa: PLW0108
        self.add_group_button.clicked.connect(lambda: self.add_group())  # noqa: PLW0108

    def add_condition(self, rule: dict[str, Any] | None = None) -> ConditionRow:
        row = ConditionRow(self.builder.catalog, self.builder.event_names, rule, self)
        self._adopt(row)
        return row

    def add_group(self, rules: dict[str, Any] | None = None) -> GroupFrame:
        group = GroupFrame(self.builder, self.level + 1, self)
        if rules is not None:
            group.load(rules)
        else:
            group.add_condition()
        self._adopt(group)
        return group

    def _adopt(self, item: ConditionRow | GroupFrame) -> None:
        item.changed.connect(self.changed.emit)
        item.removed.connect(self._remove)
        self.items.append(item)
        self._relayout()

    def _remove(self, item: ConditionRow | GroupFrame) -> None:
        self.items.remove(item)
        self.body.removeWidget(item)
        item.setParent(None)
        item.deleteLater()
        self._relayout()

    def _relayout(self) -> None:
        """Children with an AND/OR label between each two, so the logic reads top to bottom."""
        for connector in self._connectors:
            self.body.removeWidget(connector)
            connector.deleteLater()
        self._connectors.clear()
        word = "AND" if self.match.currentData() == "all" else "OR"
        for index, item in enumerate(self.items):
            if index:
                connector = QLabel(word)
                connector.setObjectName("SegmentConnector")
                self._connectors.append(connector)
                self.body.addWidget(connector)
            self.body.addWidget(item)
        self.empty.setVisible(not self.items)
        self.changed.emit()

    def load(self, rules: dict[str, Any]) -> None:
        index = self.match.findData(rules.get("match", "all"))
        self.match.setCurrentIndex(max(index, 0))
        for rule in rules.get("rules", []) if isinstance(rules.get("rules"), list) else []:
            if isinstance(rule, dict) and "rules" in rule:
                self.add_group(rule)
            elif isinstance(rule, dict):
                self.add_condition(rule)

    def to_rules(self) -> dict[str, Any]:
        rules = [item.to_rules() if isinstance(item, GroupFrame) else item.to_rule() for item in self.items]
        return {"match": self.match.currentData(), "rules": rules}

    def rows_by_path(self, prefix: str = "") -> dict[str, ConditionRow]:
        """Each condition row under the path validate_rules uses for it ("2", "3.1", ...)."""
        found: dict[str, ConditionRow] = {}
        for index, item in enumerate(self.items, start=1):
            path = f"{prefix}.{index}" if prefix else str(index)
            if isinstance(item, GroupFrame):
                found.update(item.rows_by_path(path))
            else:
                found[path] = item
        return found
