"""Value editors of the segment builder: text, numbers, ranges, dates, days, choices, tags, lists and events."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QDate, QSignalBlocker, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QCompleter,
    QDateEdit,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.modules.contacts.segment_rules import EVENT_PROPERTY_OPS, OPERATOR_LABELS
from app.ui import icons, theme


def _combo(items: list[tuple[str, Any]], name: str = "") -> QComboBox:
    combo = QComboBox()
    if name:
        combo.setObjectName(name)
    for text, data in items:
        combo.addItem(text, data)
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
    return combo


def select_data(combo: QComboBox, data: Any, fallback_text: str | None = None) -> None:
    """Select the item holding ``data``; an unknown value is added (as ``fallback_text``) rather than lost."""
    index = combo.findData(data)
    if index < 0 and fallback_text is not None:
        combo.addItem(fallback_text, data)
        index = combo.count() - 1
    if index >= 0:
        combo.setCurrentIndex(index)


def remove_button(tooltip: str) -> QToolButton:
    button = QToolButton()
    button.setObjectName("SegmentRemove")
    button.setIcon(icons.line_icon("close", theme.colors().muted))
    button.setToolTip(tooltip)
    button.setAutoRaise(True)
    return button


class NumberBox(QDoubleSpinBox):
    """A spin box that shows 50 as "50" and 12.5 as "12.5" (not "50.00")."""

    def textFromValue(self, value: float) -> str:
        return self.locale().toString(value, "g", 15)


class ValueEditor(QWidget):
    """The value part of a condition; ``kind`` is segments.value_kind of the operator."""

    changed = Signal()

    def __init__(self, kind: str, choices: list[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kind = kind
        self.setObjectName("SegmentValue")
        layout = self._row = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        self.inputs: list[QWidget] = []
        self._chosen: list[str] = []
        if kind == "text":
            self._add(QLineEdit(), "textChanged").setPlaceholderText("value")
        elif kind == "number":
            self._add(self._number(), "valueChanged")
        elif kind == "range":
            self._add(self._number(), "valueChanged")
            layout.addWidget(QLabel("and"))
            self._add(self._number(100.0), "valueChanged")
        elif kind == "date":
            edit = QDateEdit(QDate.currentDate())
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd")
            self._add(edit, "dateChanged")
        elif kind == "days":
            spin = QSpinBox()
            spin.setRange(0, 36_500)
            spin.setValue(30)
            spin.setSuffix(" days")
            self._add(spin, "valueChanged")
        elif kind in ("choice", "tag", "list"):
            placeholder = {"tag": "(no tags yet)", "list": "(no lists yet)"}.get(kind, "(no choices)")
            combo = _combo([(c, c) for c in choices] or [(placeholder, None)])
            self._add(combo, "currentIndexChanged")
        elif kind == "choices":
            self._choices_button(choices)
        layout.addStretch(1)

    def _add(self, widget: Any, signal: str) -> Any:
        getattr(widget, signal).connect(lambda *_: self.changed.emit())
        self._row.addWidget(widget)
        self.inputs.append(widget)
        return widget

    @staticmethod
    def _number(value: float = 0.0) -> QDoubleSpinBox:
        spin = NumberBox()
        spin.setRange(-1e12, 1e12)
        spin.setDecimals(2)
        spin.setValue(value)
        spin.setMinimumWidth(90)
        return spin

    def _choices_button(self, choices: list[str]) -> None:
        button = QToolButton()
        button.setObjectName("SegmentChoices")
        button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(button)
        for choice in choices:
            action = menu.addAction(choice)
            action.setCheckable(True)
            action.toggled.connect(lambda _on: self._choices_toggled())
        button.setMenu(menu)
        self.inputs.append(button)
        self._row.addWidget(button)
        self._choices_toggled()

    def _choices_toggled(self) -> None:
        button = self.inputs[0]
        assert isinstance(button, QToolButton)
        self._chosen = [a.text() for a in button.menu().actions() if a.isChecked()]
        button.setText(", ".join(self._chosen) or "choose…")
        self.changed.emit()

    def value(self) -> Any:  # noqa: PLR0911 - one per kind of editor
        if self.kind == "none":
            return None
        first = self.inputs[0]
        if self.kind == "text":
            return first.text()  # type: ignore[attr-defined]
        if self.kind == "number":
            return _plain_number(first.value())  # type: ignore[attr-defined]
        if self.kind == "range":
            return [_plain_number(w.value()) for w in self.inputs]  # type: ignore[attr-defined]
        if self.kind == "date":
            return first.date().toString("yyyy-MM-dd")  # type: ignore[attr-defined]
        if self.kind == "days":
            return first.value()  # type: ignore[attr-defined]
        if self.kind == "choices":
            return list(self._chosen)
        return first.currentData()  # type: ignore[attr-defined]

    def set_value(self, value: Any) -> None:
        if value is None or not self.inputs:
            return
        first = self.inputs[0]
        if self.kind == "text":
            first.setText(str(value))  # type: ignore[attr-defined]
        elif self.kind in ("number", "days") and isinstance(value, int | float):
            first.setValue(value)  # type: ignore[attr-defined]
        elif self.kind == "range" and isinstance(value, list) and len(value) == 2:
            for widget, number in zip(self.inputs, value, strict=True):
                widget.setValue(float(number))  # type: ignore[attr-defined]
        elif self.kind == "date":
            date = QDate.fromString(str(value), "yyyy-MM-dd")
            if date.isValid():
                first.setDate(date)  # type: ignore[attr-defined]
        elif self.kind == "choices" and isinstance(value, list):
            for action in first.menu().actions():  # type: ignore[attr-defined]
                action.setChecked(action.text() in value)
        elif self.kind in ("choice", "tag", "list"):
            select_data(first, value, f"{value} (missing)")  # type: ignore[arg-type]


def _plain_number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


class PropertyFilter(QWidget):
    """``product equals Shoe`` inside an event condition."""

    changed = Signal()
    removed = Signal(object)

    def __init__(self, item: dict[str, Any] | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("where"))
        self.prop = QLineEdit()
        self.prop.setPlaceholderText("property, e.g. product")
        self.op = _combo([(OPERATOR_LABELS[o], o) for o in EVENT_PROPERTY_OPS])
        self.value = QLineEdit()
        self.value.setPlaceholderText("value")
        remove = remove_button("Remove this filter")
        for widget in (self.prop, self.op, self.value, remove):
            layout.addWidget(widget)
        layout.addStretch(1)
        if item:
            self.prop.setText(str(item.get("property", "")))
            select_data(self.op, item.get("op"))
            self.value.setText(str(item.get("value", "")))
        self.prop.textChanged.connect(lambda _t: self.changed.emit())
        self.op.currentIndexChanged.connect(lambda _i: self.changed.emit())
        self.value.textChanged.connect(lambda _t: self.changed.emit())
        remove.clicked.connect(lambda: self.removed.emit(self))

    def to_rule(self) -> dict[str, Any]:
        op = self.op.currentData()
        text = self.value.text()
        value: Any = text
        if op in ("=", "!=", ">", ">=", "<", "<="):
            try:
                value = _plain_number(float(text.replace(",", ".")))
            except ValueError:
                value = text  # left as typed: validation says a number is needed
        return {"property": self.prop.text().strip(), "op": op, "value": value}


class EventEditor(QWidget):
    """An event condition: its name, how often, how recently, and filters on its properties."""

    changed = Signal()

    def __init__(self, event_names: list[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("SegmentEvent")
        outer = self._lines = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(4)
        row = QHBoxLayout()
        self.name = QComboBox()
        self.name.setObjectName("SegmentEventName")
        self.name.setEditable(True)
        self.name.addItems(event_names)
        self.name.setCurrentText(event_names[0] if event_names else "")
        line = self.name.lineEdit()
        if line is not None:
            line.setPlaceholderText("event name, e.g. order_completed")
        self.name.setMinimumWidth(180)
        self.count = QSpinBox()
        self.count.setRange(1, 1_000_000)
        self.count.setPrefix("at least ")
        self.count.setSuffix(" time(s)")
        self.days = QSpinBox()
        self.days.setRange(0, 36_500)
        self.days.setSpecialValueText("at any time")
        self.days.setPrefix("in the last ")
        self.days.setSuffix(" days")
        self.add_filter = QToolButton()
        self.add_filter.setText("+ Filter")
        self.add_filter.setToolTip("Only count events whose properties match")
        for widget in (self.name, self.count, self.days, self.add_filter):
            row.addWidget(widget)
        row.addStretch(1)
        outer.addLayout(row)
        self.filters: list[PropertyFilter] = []
        self.name.currentTextChanged.connect(lambda _t: self.changed.emit())
        self.count.valueChanged.connect(lambda _v: self.changed.emit())
        self.days.valueChanged.connect(lambda _v: self.changed.emit())
        self.add_filter.clicked.connect(lambda: self.add_property_filter())  # noqa: PLW0108 - clicked passes a bool

    def set_event_names(self, names: list[str]) -> None:
        current = self.name.currentText()
        with QSignalBlocker(self.name):
            self.name.clear()
            self.name.addItems(names)
            self.name.setCurrentText(current)
        completer = QCompleter(names, self.name)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.name.setCompleter(completer)

    def add_property_filter(self, item: dict[str, Any] | None = None) -> PropertyFilter:
        row = PropertyFilter(item, self)
        row.changed.connect(self.changed.emit)
        row.removed.connect(self._remove_filter)
        self.filters.append(row)
        self._lines.addWidget(row)
        self.changed.emit()
        return row

    def _remove_filter(self, row: PropertyFilter) -> None:
        self.filters.remove(row)
        row.setParent(None)
        row.deleteLater()
        self.changed.emit()

    def value(self) -> dict[str, Any]:
        value: dict[str, Any] = {"name": self.name.currentText().strip(), "min_count": self.count.value()}
        if self.days.value() > 0:
            value["in_last_days"] = self.days.value()
        if self.filters:
            value["where"] = [row.to_rule() for row in self.filters]
        return value

    def set_value(self, value: Any) -> None:
        if not isinstance(value, dict):
            return
        self.name.setCurrentText(str(value.get("name", "")))
        self.count.setValue(int(value.get("min_count", 1) or 1))
        self.days.setValue(int(value.get("in_last_days") or 0))
        for item in value.get("where", []):
            self.add_property_filter(item)
