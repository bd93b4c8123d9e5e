"""The designer's side panel: the selected step's settings (template, subject, durations, conditions, trigger),
built per step kind; every change is sent as new props for the designer to push as an undoable edit."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QTime, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QStackedWidget,
    QTimeEdit,
    QVBoxLayout,
    QWidget,
)

from app.modules.campaigns.automation_graph import (
    KINDS,
    TRIGGER_TYPES,
    WAIT_UNITS,
    Graph,
    Node,
    filter_text,
    node_title,
)

ZONES = ("", "UTC", "Europe/London", "Europe/Paris", "Europe/Berlin", "America/New_York", "America/Chicago",
         "America/Los_Angeles", "Asia/Tokyo", "Australia/Sydney")
# The operators of the contacts module's segment rules, by what a field holds (its rule language; it judges them).
RULE_OPS: dict[str, tuple[str, ...]] = {
    "text": ("equals", "not_equals", "contains", "not_contains", "starts_with", "is_empty", "is_not_empty"),
    "number": ("=", "!=", ">", ">=", "<", "<=", "is_empty", "is_not_empty"),
    "date": ("on", "before", "after", "in_last_days", "not_in_last_days", "anniversary_today", "is_empty",
             "is_not_empty"),
    "boolean": ("is_true", "is_false"),
    "choice": ("is", "is_not", "is_empty", "is_not_empty"),
    "tag": ("has", "has_not"),
    "list": ("member", "not_member", "subscribed", "unsubscribed", "unconfirmed"),
    "engagement": ("opened_in_last_days", "not_opened_in_last_days", "clicked_in_last_days",
                   "not_clicked_in_last_days", "never_opened", "never_clicked"),
}
OP_TEXT = {"not_equals": "is not", "equals": "is", "has": "has tag", "has_not": "does not have tag",
           "member": "is on list", "not_member": "is not on list", "in_last_days": "in the last (days)",
           "not_in_last_days": "not in the last (days)", "opened_in_last_days": "opened in the last (days)",
           "not_opened_in_last_days": "did not open in the last (days)",
           "clicked_in_last_days": "clicked in the last (days)",
           "not_clicked_in_last_days": "did not click in the last (days)"}


@dataclass
class Choices:
    """What the pickers offer, read off the GUI thread: (id, name) pairs and field keys."""

    templates: list[tuple[int, str]] = field(default_factory=list)
    lists: list[tuple[int, str]] = field(default_factory=list)
    segments: list[tuple[int, str]] = field(default_factory=list)
    campaigns: list[tuple[int, str]] = field(default_factory=list)
    identities: list[tuple[int, str]] = field(default_factory=list)
    fields: list[tuple[str, str, str]] = field(default_factory=list)  # key, label, type

    def names(self) -> dict[str, dict[Any, str]]:
        return {"templates": dict(self.templates), "lists": dict(self.lists), "segments": dict(self.segments),
                "campaigns": dict(self.campaigns)}


def _combo(name: str, editable: bool = False) -> QComboBox:
    box = QComboBox()
    box.setObjectName(name)
    box.setEditable(editable)
    return box


def _fill(box: QComboBox, items: list[tuple[Any, str]], current: Any, empty: str = "") -> None:
    box.blockSignals(True)
    box.clear()
    if empty:
        box.addItem(empty, None)
    for value, text in items:
        box.addItem(text, value)
    index = box.findData(current)
    if index < 0 and current not in (None, "") and box.isEditable():
        box.setEditText(str(current))
    else:
        box.setCurrentIndex(max(0, index))
    box.blockSignals(False)


def _value(box: QComboBox) -> Any:
    if box.isEditable():
        index = box.findText(box.currentText())
        data = box.itemData(index) if index >= 0 else None
        return data if data not in (None, "") else box.currentText().strip()
    return box.currentData()


class PropertyPanel(QWidget):
    changed = Signal(str, dict)  # node id, new props

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("WorkflowProperties")
        self.setMinimumWidth(280)
        self.choices = Choices()
        self.graph = Graph()
        self.node: Node | None = None
        self._loading = False
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        self.heading = QLabel("Settings")
        self.heading.setProperty("role", "section")
        self.hint = QLabel("Select a step to change its settings.")
        self.hint.setProperty("role", "muted")
        self.hint.setWordWrap(True)
        column.addWidget(self.heading)
        column.addWidget(self.hint)
        self.title = QLineEdit()
        self.title.setObjectName("StepTitle")
        self.title.setPlaceholderText("Name on the card (optional)")
        self.title.textEdited.connect(self._emit)
        column.addWidget(self.title)
        self.stack = QStackedWidget()
        column.addWidget(self.stack)
        column.addStretch(1)
        self.pages: dict[str, QWidget] = {}
        self._build_trigger()
        self._build_send()
        self._build_wait()
        self._build_branch()
        self._build_simple()
        self.show_node(None, Graph())

    # -- pages

    def _page(self, kind: str) -> QFormLayout:
        page = QWidget()
        form = QFormLayout(page)
        form.setContentsMargins(0, 8, 0, 0)
        self.pages[kind] = page
        self.stack.addWidget(page)
        return form

    def _watch(self, *widgets: QWidget) -> None:
        for widget in widgets:
            if isinstance(widget, QComboBox):
                widget.currentIndexChanged.connect(self._emit)
                if widget.isEditable():
                    widget.editTextChanged.connect(self._emit)
            elif isinstance(widget, QLineEdit):
                widget.textEdited.connect(self._emit)
            elif isinstance(widget, QSpinBox):
                widget.valueChanged.connect(self._emit)
            elif isinstance(widget, QTimeEdit):
                widget.timeChanged.connect(self._emit)

    def _build_trigger(self) -> None:
        form = self._page("trigger")
        self.trigger_type = _combo("TriggerType")
        for key, text in TRIGGER_TYPES.items():
            self.trigger_type.addItem(text, key)
        self.trigger_list = _combo("TriggerList")
        self.trigger_tag = QLineEdit()
        self.trigger_tag.setObjectName("TriggerTag")
        self.trigger_field = _combo("TriggerField", editable=True)
        self.trigger_hour = QSpinBox()
        self.trigger_hour.setRange(0, 23)
        self.trigger_hour.setSuffix(":00")
        self.trigger_zone = _combo("TriggerZone", editable=True)
        self.trigger_event = _combo("TriggerEvent", editable=True)
        self.trigger_event.addItems(["order_completed", "cart_abandoned", "signed_up", "trial_started"])
        self.trigger_filters = QLineEdit()
        self.trigger_filters.setObjectName("TriggerFilters")
        self.trigger_filters.setPlaceholderText("value > 50, category = shoes")
        self.trigger_campaign = _combo("TriggerCampaign")
        self.trigger_url = QLineEdit()
        self.trigger_url.setPlaceholderText("any link (or part of its address)")
        form.addRow("Starts when", self.trigger_type)
        self._trigger_rows: dict[str, list[tuple[str, QWidget]]] = {
            "list_joined": [("List", self.trigger_list)],
            "tag_added": [("Tag", self.trigger_tag)],
            "anniversary": [("Date field", self.trigger_field), ("Checked daily at", self.trigger_hour),
                            ("Time zone", self.trigger_zone)],
            "event": [("Event name", self.trigger_event), ("Only when", self.trigger_filters)],
            "link_clicked": [("Campaign", self.trigger_campaign), ("Link contains", self.trigger_url)],
        }
        for rows in self._trigger_rows.values():
            for text, widget in rows:
                form.addRow(text, widget)
        self._trigger_form = form
        self.trigger_type.currentIndexChanged.connect(self._trigger_rows_visible)
        self._watch(self.trigger_type, self.trigger_list, self.trigger_tag, self.trigger_field, self.trigger_hour,
                    self.trigger_zone, self.trigger_event, self.trigger_filters, self.trigger_campaign,
                    self.trigger_url)

    def _trigger_rows_visible(self) -> None:
        current = self.trigger_type.currentData()
        for kind, rows in self._trigger_rows.items():
            for _text, widget in rows:
                self._trigger_form.setRowVisible(widget, kind == current)

    def _build_send(self) -> None:
        form = self._page("send_email")
        self.template = _combo("StepTemplate")
        self.subject = QLineEdit()
        self.subject.setObjectName("StepSubject")
        self.subject.setPlaceholderText("Welcome, {{ contact.first_name | default('friend') }}")
        self.preheader = QLineEdit()
        self.identity = _combo("StepIdentity")
        form.addRow("Template", self.template)
        form.addRow("Subject", self.subject)
        form.addRow("Preheader", self.preheader)
        form.addRow("From", self.identity)
        self._watch(self.template, self.subject, self.preheader, self.identity)

    def _build_wait(self) -> None:
        form = self._page("wait")
        self.wait_mode = _combo("WaitMode")
        self.wait_mode.addItem("For a while", "duration")
        self.wait_mode.addItem("Until a time of day", "until")
        self.wait_amount = QSpinBox()
        self.wait_amount.setObjectName("WaitAmount")
        self.wait_amount.setRange(1, 9999)
        self.wait_unit = _combo("WaitUnit")
        for unit in WAIT_UNITS:
            self.wait_unit.addItem(unit, unit)
        self.wait_time = QTimeEdit()
        self.wait_time.setDisplayFormat("HH:mm")
        self.wait_zone = _combo("WaitZone", editable=True)
        form.addRow("Wait", self.wait_mode)
        form.addRow("How long", self.wait_amount)
        form.addRow("", self.wait_unit)
        form.addRow("Until", self.wait_time)
        form.addRow("Time zone", self.wait_zone)
        self._wait_form = form
        self.wait_mode.currentIndexChanged.connect(self._wait_rows_visible)
        self._watch(self.wait_mode, self.wait_amount, self.wait_unit, self.wait_time, self.wait_zone)

    def _wait_rows_visible(self) -> None:
        until = self.wait_mode.currentData() == "until"
        for widget in (self.wait_amount, self.wait_unit):
            self._wait_form.setRowVisible(widget, not until)
        for until_widget in (self.wait_time, self.wait_zone):
            self._wait_form.setRowVisible(until_widget, until)

    def _build_branch(self) -> None:
        form = self._page("branch")
        self.condition = _combo("BranchCondition")
        self.condition.addItem("Engagement with an email", "engagement")
        self.condition.addItem("Member of a segment", "segment")
        self.condition.addItem("A contact field, tag or list", "rules")
        self.what = _combo("BranchWhat")
        self.what.addItem("opened", "opened")
        self.what.addItem("clicked", "clicked")
        self.email_step = _combo("BranchStep")
        self.days = QSpinBox()
        self.days.setRange(1, 3650)
        self.days.setSuffix(" days")
        self.segment = _combo("BranchSegment")
        self.rule_field = _combo("RuleField", editable=True)
        self.rule_op = _combo("RuleOp")
        self.rule_field.currentIndexChanged.connect(lambda _i: self._fill_ops(self.rule_op.currentData()))
        self.rule_value = QLineEdit()
        self.rule_value.setObjectName("RuleValue")
        form.addRow("Look at", self.condition)
        form.addRow("Contact", self.what)
        form.addRow("Which email", self.email_step)
        form.addRow("Within", self.days)
        form.addRow("Segment", self.segment)
        form.addRow("Field", self.rule_field)
        form.addRow("Is", self.rule_op)
        form.addRow("Value", self.rule_value)
        self._branch_form = form
        self.condition.currentIndexChanged.connect(self._branch_rows_visible)
        self._watch(self.condition, self.what, self.email_step, self.days, self.segment, self.rule_field,
                    self.rule_op, self.rule_value)

    def _family(self, field_key: Any) -> str:
        key = str(field_key or "")
        if key in ("tag", "list", "engagement"):
            return key
        if key.startswith("field:"):
            types = {k: t for k, _label, t in self.choices.fields}
            return types.get(key.removeprefix("field:"), "text")
        return "text"

    def _fill_ops(self, current: Any) -> None:
        """The operators that apply to the chosen field (keeping the current one when it still applies)."""
        ops = RULE_OPS.get(self._family(_value(self.rule_field)), RULE_OPS["text"])
        self.rule_op.blockSignals(True)
        self.rule_op.clear()
        for op in ops:
            self.rule_op.addItem(OP_TEXT.get(op, op.replace("_", " ")), op)
        self.rule_op.setCurrentIndex(max(0, self.rule_op.findData(current)))
        self.rule_op.blockSignals(False)

    def _branch_rows_visible(self) -> None:
        current = self.condition.currentData()
        for widget in (self.what, self.email_step, self.days):
            self._branch_form.setRowVisible(widget, current == "engagement")
        self._branch_form.setRowVisible(self.segment, current == "segment")
        for rule_widget in (self.rule_field, self.rule_op, self.rule_value):
            self._branch_form.setRowVisible(rule_widget, current == "rules")

    def _build_simple(self) -> None:
        form = self._page("tag")
        self.tag = QLineEdit()
        self.tag.setObjectName("StepTag")
        form.addRow("Tag", self.tag)
        self._watch(self.tag)
        form = self._page("update_field")
        self.field_key = _combo("StepField", editable=True)
        self.field_value = QLineEdit()
        self.field_value.setObjectName("StepFieldValue")
        form.addRow("Field", self.field_key)
        form.addRow("New value", self.field_value)
        self._watch(self.field_key, self.field_value)
        form = self._page("move_list")
        self.list_action = _combo("ListAction")
        self.list_action.addItem("Subscribe to", "add")
        self.list_action.addItem("Remove from", "remove")
        self.list_target = _combo("ListTarget")
        form.addRow("Action", self.list_action)
        form.addRow("List", self.list_target)
        self._watch(self.list_action, self.list_target)
        form = self._page("exit")
        note = QLabel("The contact leaves the automation here.")
        note.setWordWrap(True)
        form.addRow(note)

    # -- loading a node and reading the widgets back

    def show_node(self, node: Node | None, graph: Graph) -> None:  # noqa: PLR0915 - one field after another
        self.node, self.graph = node, graph
        self._loading = True
        try:
            visible = node is not None
            self.stack.setVisible(visible)
            self.title.setVisible(visible)
            if node is None:
                self.heading.setText("Settings")
                self.hint.setText("Select a step to change its settings, or drag a new one from the left.")
                return
            self.heading.setText(KINDS[node.kind].title if node.kind in KINDS else node.kind)
            self.hint.setText(KINDS[node.kind].help + "." if node.kind in KINDS else "")
            self.title.setText(str(node.props.get("title") or ""))
            p = node.props
            key = "tag" if node.kind in ("add_tag", "remove_tag") else node.kind
            self.stack.setCurrentWidget(self.pages[key])
            c = self.choices
            zones = [(z, z or "The contact's own (or UTC)") for z in ZONES]
            if node.kind == "trigger":
                self.trigger_type.setCurrentIndex(max(0, self.trigger_type.findData(p.get("type"))))
                _fill(self.trigger_list, c.lists, p.get("list_id"), "Choose a list…")
                self.trigger_tag.setText(str(p.get("tag") or ""))
                _fill(self.trigger_field, [(k, f"{label} ({k})") for k, label, t in c.fields if t == "date"],
                      p.get("field"))
                self.trigger_hour.setValue(int(p.get("hour", 9)))
                _fill(self.trigger_zone, [(z, z or "UTC") for z in ZONES[1:]], p.get("time_zone") or "UTC")
                self.trigger_event.setEditText(str(p.get("name") or ""))
                self.trigger_filters.setText(", ".join(f if isinstance(f, str) else filter_text(f)
                                                       for f in p.get("filters") or []))
                _fill(self.trigger_campaign, c.campaigns, p.get("campaign_id"), "Choose a campaign…")
                self.trigger_url.setText(str(p.get("url_contains") or ""))
                self._trigger_rows_visible()
            elif node.kind == "send_email":
                _fill(self.template, c.templates, p.get("template_id"), "Choose a template…")
                self.subject.setText(str(p.get("subject") or ""))
                self.preheader.setText(str(p.get("preheader") or ""))
                _fill(self.identity, c.identities, p.get("identity_id"), "The default sender")
            elif node.kind == "wait":
                self.wait_mode.setCurrentIndex(max(0, self.wait_mode.findData(p.get("mode", "duration"))))
                self.wait_amount.setValue(int(p.get("amount") or 1))
                self.wait_unit.setCurrentIndex(max(0, self.wait_unit.findData(p.get("unit", "days"))))
                hour, minute = (int(x) for x in str(p.get("time") or "09:00").split(":")[:2])
                self.wait_time.setTime(QTime(hour, minute))
                _fill(self.wait_zone, zones, p.get("time_zone") or "")
                self._wait_rows_visible()
            elif node.kind == "branch":
                self.condition.setCurrentIndex(max(0, self.condition.findData(p.get("condition", "engagement"))))
                self.what.setCurrentIndex(max(0, self.what.findData(p.get("what", "opened"))))
                emails = [(n.id, node_title(n) + (f": {n.props.get('subject')}" if n.props.get("subject") else ""))
                          for n in graph.nodes if n.kind == "send_email"]
                _fill(self.email_step, [("", "Any email (any campaign)"), *emails], p.get("step_id") or "")
                self.days.setValue(int(p.get("days") or 3))
                _fill(self.segment, c.segments, p.get("segment_id"), "Choose a segment…")
                rule = _first_rule(p.get("rules"))
                fields = [(f"field:{k}", f"{label} ({k})") for k, label, _t in c.fields]
                fields += [("tag", "Tag"), ("list", "List"), ("email", "Email"), ("first_name", "First name"),
                           ("language", "Language"), ("engagement", "Engagement")]
                _fill(self.rule_field, fields, rule.get("field"))
                self._fill_ops(rule.get("op", "equals"))
                self.rule_value.setText("" if rule.get("value") is None else str(rule.get("value")))
                self._branch_rows_visible()
            elif node.kind in ("add_tag", "remove_tag"):
                self.tag.setText(str(p.get("tag") or ""))
            elif node.kind == "update_field":
                _fill(self.field_key, [(k, f"{label} ({k})") for k, label, _t in c.fields], p.get("field"))
                self.field_value.setText("" if p.get("value") is None else str(p.get("value")))
            elif node.kind == "move_list":
                self.list_action.setCurrentIndex(max(0, self.list_action.findData(p.get("action", "add"))))
                _fill(self.list_target, c.lists, p.get("list_id"), "Choose a list…")
        finally:
            self._loading = False

    def read_props(self) -> dict[str, Any]:  # noqa: PLR0911, PLR0912 - one shape per kind
        node = self.node
        assert node is not None
        base = {**node.props}
        title = self.title.text().strip()
        if title:
            base["title"] = title
        else:
            base.pop("title", None)
        if node.kind == "trigger":
            kind = self.trigger_type.currentData()
            out: dict[str, Any] = {"type": kind, **({"title": title} if title else {})}
            if kind == "list_joined":
                out["list_id"] = self.trigger_list.currentData()
            elif kind == "tag_added":
                out["tag"] = self.trigger_tag.text().strip()
            elif kind == "anniversary":
                out.update(field=_value(self.trigger_field), hour=self.trigger_hour.value(),
                           time_zone=_value(self.trigger_zone) or "UTC")
            elif kind == "event":
                text = self.trigger_filters.text()
                out.update(name=self.trigger_event.currentText().strip(),
                           filters=[part.strip() for part in text.split(",") if part.strip()])
            elif kind == "link_clicked":
                out.update(campaign_id=self.trigger_campaign.currentData(),
                           url_contains=self.trigger_url.text().strip())
            return out
        if node.kind == "send_email":
            return {**base, "template_id": self.template.currentData(), "subject": self.subject.text(),
                    "preheader": self.preheader.text(), "identity_id": self.identity.currentData()}
        if node.kind == "wait":
            return {**base, "mode": self.wait_mode.currentData(), "amount": self.wait_amount.value(),
                    "unit": self.wait_unit.currentData(), "time": self.wait_time.time().toString("HH:mm"),
                    "time_zone": _value(self.wait_zone) or ""}
        if node.kind == "branch":
            value: Any = self.rule_value.text().strip()
            if value.replace(".", "", 1).isdigit():
                value = float(value) if "." in value else int(value)
            return {**base, "condition": self.condition.currentData(), "what": self.what.currentData(),
                    "step_id": self.email_step.currentData() or "", "days": self.days.value(),
                    "segment_id": self.segment.currentData(),
                    "rules": {"match": "all", "rules": [{"field": _value(self.rule_field),
                                                         "op": self.rule_op.currentData(), "value": value}]}}
        if node.kind in ("add_tag", "remove_tag"):
            return {**base, "tag": self.tag.text().strip()}
        if node.kind == "update_field":
            return {**base, "field": _value(self.field_key), "value": self.field_value.text()}
        if node.kind == "move_list":
            return {**base, "action": self.list_action.currentData(), "list_id": self.list_target.currentData()}
        return base

    def _emit(self, *_args: Any) -> None:
        if self._loading or self.node is None:
            return
        props = self.read_props()
        if props != self.node.props:
            self.changed.emit(self.node.id, props)


def _first_rule(rules: Any) -> dict[str, Any]:
    if isinstance(rules, dict):
        if "field" in rules:
            return rules
        inner = rules.get("rules") or []
        if inner and isinstance(inner[0], dict):
            return inner[0]
    return {}
