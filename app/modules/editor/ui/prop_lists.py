"""Editors for properties that are lists of rows: social profiles, and the rule of a conditional block."""

from __future__ import annotations

import copy
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QComboBox, QGridLayout, QLineEdit, QPushButton, QToolButton, QVBoxLayout, QWidget

from app.modules.editor.blocks import SOCIAL_NETWORKS, PropField
from app.modules.editor.conditions import OPERATORS, UNARY, field_key
from app.modules.editor.textpart import social_label
from app.modules.editor.ui.glyphs import glyph
from app.modules.editor.ui.prop_editors import TYPING_DELAY_MS, EditorServices, FieldEditor
from app.modules.editor.validation import STANDARD_FIELDS


def _remove_button(tip: str) -> QToolButton:
    button = QToolButton()
    button.setIcon(glyph("delete", "muted"))
    button.setAutoRaise(True)
    button.setToolTip(tip)
    return button


class _Rows(FieldEditor):
    """Rows of widgets in a grid with an "Add" button; edits are sent a moment after typing stops."""

    add_text = "Add"

    def __init__(self, field: PropField, services: EditorServices, parent: QWidget | None = None) -> None:
        super().__init__(field, services, parent)
        self._rows: list[Any] = []
        self._timer = QTimer(self, singleShot=True, interval=TYPING_DELAY_MS)
        self._timer.timeout.connect(self.flush)
        column = QVBoxLayout()
        column.setSpacing(6)
        self.header = QVBoxLayout()
        column.addLayout(self.header)
        self.grid_host = QWidget()
        self.grid = QGridLayout(self.grid_host)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setHorizontalSpacing(4)
        self.grid.setVerticalSpacing(4)
        column.addWidget(self.grid_host)
        self.add_button = QPushButton(glyph("plus", "text"), self.add_text)
        self.add_button.setObjectName(f"Add-{field.key}")
        self.add_button.clicked.connect(self._add)
        column.addWidget(self.add_button)
        self.row.addLayout(column, 1)
        self._sent: Any = None

    def flush(self) -> None:
        self._timer.stop()
        value = self.value()
        if value != self._sent:
            self._sent = copy.deepcopy(value)
            self.changed.emit(value)

    def _clear_grid(self) -> None:
        while self.grid.count():
            item = self.grid.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        self._rows = []

    def _add(self) -> None:
        raise NotImplementedError


class LinksField(_Rows):
    """Social profiles: network and address per row."""

    add_text = "Add a profile"

    def value(self) -> list[dict[str, str]]:
        return [{"network": network.currentData(), "url": url.text().strip()} for network, url in self._rows]

    def set_value(self, value: Any) -> None:
        links = [link for link in (value or []) if isinstance(link, dict)]
        self._sent = copy.deepcopy(links)
        if links == self.value():
            return
        self._clear_grid()
        for link in links:
            self._append(str(link.get("network", "website")), str(link.get("url", "")))

    def _append(self, network: str, url: str) -> None:
        number = len(self._rows)
        combo = QComboBox()
        combo.setObjectName(f"Network-{number}")
        for name in SOCIAL_NETWORKS:
            combo.addItem(social_label(name), name)
        combo.setCurrentIndex(max(0, combo.findData(network)))
        edit = QLineEdit(url)
        edit.setObjectName(f"NetworkUrl-{number}")
        edit.setPlaceholderText("https://…")
        remove = _remove_button("Remove this profile")
        combo.activated.connect(lambda _i: self.flush())
        edit.textEdited.connect(lambda _t: self._timer.start())
        edit.editingFinished.connect(self.flush)
        remove.clicked.connect(lambda _=False, row=(combo, edit): self._remove(row))
        self.grid.addWidget(combo, number, 0)
        self.grid.addWidget(edit, number, 1)
        self.grid.addWidget(remove, number, 2)
        self.grid.setColumnStretch(1, 1)
        self._rows.append((combo, edit))

    def _add(self) -> None:
        used = {combo.currentData() for combo, _ in self._rows}
        network = next((name for name in SOCIAL_NETWORKS if name not in used), "website")
        self._append(network, "https://")
        self.flush()

    def _remove(self, row: tuple[QComboBox, QLineEdit]) -> None:
        links = [link for pair, link in zip(self._rows, self.value(), strict=True) if pair is not row]
        self.set_value(links)
        self._sent = None
        self.flush()


class RuleField(_Rows):
    """"Show to contacts where <field> <comparison> <value>", all or any of the conditions."""

    add_text = "Add a condition"

    def __init__(self, field: PropField, services: EditorServices, parent: QWidget | None = None) -> None:
        super().__init__(field, services, parent)
        self.match = QComboBox()
        self.match.setObjectName("RuleMatch")
        self.match.addItem("All of these are true", "all")
        self.match.addItem("Any of these is true", "any")
        self.match.activated.connect(lambda _i: self.flush())
        self.header.addWidget(self.match)

    def value(self) -> dict[str, Any]:
        conditions = []
        for name, op, value in self._rows:
            condition: dict[str, Any] = {"field": field_key(name.currentText().strip()), "op": op.currentData()}
            if op.currentData() not in UNARY:
                condition["value"] = value.text()
            conditions.append(condition)
        return {"match": self.match.currentData(), "conditions": conditions}

    def set_value(self, value: Any) -> None:
        rule = value if isinstance(value, dict) else {}
        self._sent = copy.deepcopy(rule)
        self.match.setCurrentIndex(max(0, self.match.findData(rule.get("match", "all"))))
        if rule == self.value():
            return
        self._clear_grid()
        for condition in rule.get("conditions", []):
            if isinstance(condition, dict):
                self._append(str(condition.get("field", "")), str(condition.get("op", "equals")),
                             str(condition.get("value", "")))

    def _append(self, name: str, op: str, value: str) -> None:
        number = len(self._rows)
        field_box = QComboBox()
        field_box.setObjectName(f"RuleField-{number}")
        field_box.setEditable(True)
        field_box.addItems([*STANDARD_FIELDS, *(f for f in self.services.custom_fields() if f not in STANDARD_FIELDS)])
        field_box.setCurrentText(field_key(name))
        op_box = QComboBox()
        op_box.setObjectName(f"RuleOp-{number}")
        for key, words in OPERATORS.items():
            op_box.addItem(words, key)
        op_box.setCurrentIndex(max(0, op_box.findData(op)))
        edit = QLineEdit(value)
        edit.setObjectName(f"RuleValue-{number}")
        edit.setPlaceholderText("value")
        edit.setEnabled(op not in UNARY)
        remove = _remove_button("Remove this condition")
        field_box.currentTextChanged.connect(lambda _t: self._timer.start())
        op_box.activated.connect(lambda _i, e=edit, o=op_box: (e.setEnabled(o.currentData() not in UNARY),
                                                               self.flush()))
        edit.textEdited.connect(lambda _t: self._timer.start())
        edit.editingFinished.connect(self.flush)
        remove.clicked.connect(lambda _=False, row=(field_box, op_box, edit): self._remove(row))
        # Two lines per condition: "<field> <comparison>" above, the value below (the panel is narrow).
        self.grid.addWidget(field_box, 2 * number, 0)
        self.grid.addWidget(op_box, 2 * number, 1)
        self.grid.addWidget(remove, 2 * number, 2)
        self.grid.addWidget(edit, 2 * number + 1, 0, 1, 2)
        self.grid.setColumnStretch(0, 1)
        self.grid.setColumnStretch(1, 1)
        self._rows.append((field_box, op_box, edit))

    def _add(self) -> None:
        self._append("language", "equals", "")
        self.flush()

    def _remove(self, row: tuple[QComboBox, QComboBox, QLineEdit]) -> None:
        if len(self._rows) <= 1:
            return  # a rule needs one condition; delete the block to show it to everyone
        kept = [condition for pair, condition in zip(self._rows, self.value()["conditions"], strict=True)
                if pair is not row]
        self.set_value({"match": self.match.currentData(), "conditions": kept})
        self._sent = None
        self.flush()
