"""The segment builder driven as a person would: combos, buttons, a live count, save, and loading again."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QComboBox, QLabel
from sqlalchemy import insert

from app.kernel.boot import Kernel, start_kernel
from app.kernel.paths import AppPaths
from app.modules.contacts import store
from app.modules.contacts.addresses import email_hash
from app.modules.contacts.messages import ListsChanged
from app.modules.contacts.models import Activity, Contact, ContactTag, CustomField, Tag
from app.modules.contacts.module import MODULE
from app.modules.contacts.segments import count_segment, get_segment
from app.modules.contacts.ui.segment_builder import SegmentBuilder, SegmentBuilderDialog
from app.modules.contacts.ui.segment_rows import ConditionRow, GroupFrame
from app.modules.contacts.ui.segment_values import EventEditor, ValueEditor
from app.ui.bridge import QtBridge
from app.ui.context import UiContext
from tests.conftest import MemoryKeyring

TIMEOUT = 10_000
COUNT = 120


def customer(i: int) -> bool:
    return i % 3 == 0


def pro(i: int) -> bool:
    return i % 4 == 0


def score(i: int) -> int:
    return (i * 37) % 100


@pytest.fixture
def seg_kernel(tmp_path: Path) -> Iterator[Kernel]:
    started = start_kernel(AppPaths.inside(tmp_path / "data"), modules=[MODULE], secrets_backend=MemoryKeyring(),
                           log_to_file=False)
    with started.db.transaction() as session:
        session.add_all([CustomField(key="plan", label="Plan", type="choice", choices=["free", "pro"]),
                         CustomField(key="score", label="Score", type="number", choices=[])])
        session.add_all([Tag(id=1, name="customer"), Tag(id=2, name="vip")])
        session.flush()
        session.execute(insert(Contact), [{
            "id": i, "email": f"p{i}@example.com", "email_key": f"p{i}@example.com",
            "email_hash": email_hash(f"p{i}@example.com"),
            "fields": {"plan": "pro" if pro(i) else "free", "score": score(i)}} for i in range(1, COUNT + 1)])
        session.execute(insert(ContactTag), [{"contact_id": i, "tag_id": 1} for i in range(1, COUNT + 1)
                                             if customer(i)])
        session.execute(insert(Activity), [{"contact_id": 1, "kind": "event", "name": "order_completed",
                                            "occurred_at": dt.datetime(2025, 1, 1), "properties": {}}])
    yield started
    started.close()


@pytest.fixture
def ctx(qapp: QApplication, seg_kernel: Kernel) -> Iterator[UiContext]:
    bridge = QtBridge(seg_kernel.bus)
    yield UiContext.for_kernel(seg_kernel, bridge)
    bridge.close()
    bridge.deleteLater()


@pytest.fixture
def open_builders() -> Iterator[list[SegmentBuilder]]:
    builders: list[SegmentBuilder] = []
    yield builders
    for builder in builders:
        assert builder.wait_for_background()


def make_builder(qtbot: Any, ctx: UiContext, builders: list[SegmentBuilder], **kwargs: Any) -> SegmentBuilder:
    builder = SegmentBuilder(ctx, **kwargs)
    qtbot.addWidget(builder)
    builders.append(builder)
    builder.resize(900, 600)
    builder.show()
    qtbot.waitExposed(builder)
    return builder


def choose(combo: QComboBox, data: Any) -> None:
    index = combo.findData(data)
    assert index >= 0, f"{data!r} is not offered: {[combo.itemData(i) for i in range(combo.count())]}"
    combo.setCurrentIndex(index)


def click(qtbot: Any, button: Any) -> None:
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def wait_for_count(qtbot: Any, builder: SegmentBuilder, text: str) -> None:
    qtbot.waitUntil(lambda: builder.count_label.text() == text, timeout=TIMEOUT)


def test_build_two_levels_count_save_and_reload(qtbot: Any, ctx: UiContext, seg_kernel: Kernel,
                                                open_builders: list[SegmentBuilder]) -> None:
    builder = make_builder(qtbot, ctx, open_builders)
    wait_for_count(qtbot, builder, f"{COUNT} contacts")  # no conditions yet: everyone

    click(qtbot, builder.root.add_condition_button)
    tag_row = builder.root.items[0]
    assert isinstance(tag_row, ConditionRow)
    choose(tag_row.field, "tag")
    assert [tag_row.op.itemText(i) for i in range(tag_row.op.count())] == ["has tag", "does not have tag"]
    assert isinstance(tag_row.editor, ValueEditor)
    choose(tag_row.editor.inputs[0], "customer")
    wait_for_count(qtbot, builder, f"{sum(customer(i) for i in range(1, COUNT + 1))} contacts")

    click(qtbot, builder.root.add_group_button)
    group = builder.root.items[1]
    assert isinstance(group, GroupFrame)
    choose(group.match, "any")
    plan_row = group.items[0]
    assert isinstance(plan_row, ConditionRow)
    choose(plan_row.field, "field:plan")
    choose(plan_row.op, "is")
    assert isinstance(plan_row.editor, ValueEditor)
    choose(plan_row.editor.inputs[0], "pro")
    click(qtbot, group.add_condition_button)
    score_row = group.items[1]
    assert isinstance(score_row, ConditionRow)
    choose(score_row.field, "field:score")
    choose(score_row.op, ">")
    assert isinstance(score_row.editor, ValueEditor)
    score_row.editor.inputs[0].setValue(50)

    expected = sum(customer(i) and (pro(i) or score(i) > 50) for i in range(1, COUNT + 1))
    assert 0 < expected < COUNT // 3
    wait_for_count(qtbot, builder, f"{expected} contacts")
    rules = builder.rules()
    assert rules == {"match": "all", "rules": [
        {"field": "tag", "op": "has", "value": "customer"},
        {"match": "any", "rules": [{"field": "field:plan", "op": "is", "value": "pro"},
                                   {"field": "field:score", "op": ">", "value": 50}]}]}
    assert count_segment(seg_kernel.db, rules) == expected
    connectors = [w.text() for w in builder.findChildren(QLabel, "SegmentConnector") if w.isVisible()]
    assert sorted(connectors) == ["AND", "OR"]

    assert not builder.save_button.isEnabled()  # no name yet
    qtbot.keyClicks(builder.name_edit, "Engaged customers")
    assert builder.save_button.isEnabled()
    with qtbot.waitSignal(builder.saved, timeout=TIMEOUT) as saved:
        click(qtbot, builder.save_button)
    segment_id, name = saved.args
    assert name == "Engaged customers"
    stored = get_segment(seg_kernel.db, "Engaged customers")
    assert stored is not None
    assert (stored.id, stored.rules) == (segment_id, rules)
    wait_for_count(qtbot, builder, f"{expected} contacts")  # saving announced ListsChanged: counted again
    assert builder.status_label.text() == "Saved “Engaged customers”."

    again = make_builder(qtbot, ctx, open_builders, rules=stored.rules, name=stored.name)
    assert again.name_edit.text() == "Engaged customers"
    assert again.rules() == rules
    nested = again.root.items[1]
    assert isinstance(nested, GroupFrame)
    assert nested.match.currentData() == "any"
    assert [row.field.currentText() for row in nested.items if isinstance(row, ConditionRow)] == ["Plan", "Score"]
    wait_for_count(qtbot, again, f"{expected} contacts")


def test_problems_show_on_their_row_and_stop_counting(qtbot: Any, ctx: UiContext,
                                                      open_builders: list[SegmentBuilder]) -> None:
    builder = make_builder(qtbot, ctx, open_builders, name="Buyers")
    click(qtbot, builder.root.add_condition_button)
    row = builder.root.items[0]
    assert isinstance(row, ConditionRow)
    choose(row.field, "event")
    assert isinstance(row.editor, EventEditor)
    qtbot.waitUntil(lambda: builder.event_names == ["order_completed"], timeout=TIMEOUT)  # loaded in the background
    row.editor.name.setCurrentText("")
    assert row.problem.isVisible()
    assert row.problem.text() == '"happened" needs the event\'s name (up to 100 characters)'
    assert builder.count_label.text() == "Fix the problems shown to see a count"
    assert not builder.save_button.isEnabled()

    row.editor.name.setCurrentText("order_completed")
    assert not row.problem.isVisible()
    wait_for_count(qtbot, builder, "1 contact")
    filt = row.editor.add_property_filter()
    filt.prop.setText("product")
    filt.value.setText("Shoe")
    wait_for_count(qtbot, builder, "0 contacts")

    click(qtbot, row.remove)
    assert builder.root.items == []
    wait_for_count(qtbot, builder, f"{COUNT} contacts")


def test_only_the_latest_edit_is_counted(qtbot: Any, ctx: UiContext, open_builders: list[SegmentBuilder]) -> None:
    builder = make_builder(qtbot, ctx, open_builders)
    click(qtbot, builder.root.add_condition_button)
    row = builder.root.items[0]
    assert isinstance(row, ConditionRow)
    choose(row.field, "field:score")
    choose(row.op, ">=")
    assert isinstance(row.editor, ValueEditor)
    shown: list[Any] = []
    builder.counted.connect(shown.append)
    for value in range(0, 100, 10):  # faster than the debounce: one count, for the last value
        row.editor.inputs[0].setValue(value)
    assert builder.count_label.text() == "Counting…"
    expected = sum(score(i) >= 90 for i in range(1, COUNT + 1))
    wait_for_count(qtbot, builder, f"{expected} contacts")
    assert shown == [expected]


def test_the_dialog_saves_and_closes(qtbot: Any, ctx: UiContext, seg_kernel: Kernel) -> None:
    rules = {"match": "all", "rules": [{"field": "tag", "op": "has_not", "value": "customer"}]}
    dialog = SegmentBuilderDialog(ctx, rules=rules, name="Prospects")
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    assert dialog.windowTitle() == "Edit segment — Prospects"
    wait_for_count(qtbot, dialog.builder, f"{sum(not customer(i) for i in range(1, COUNT + 1))} contacts")
    with qtbot.waitSignal(dialog.saved, timeout=TIMEOUT):
        click(qtbot, dialog.builder.save_button)
    assert not dialog.isVisible()
    assert dialog.result() == SegmentBuilderDialog.DialogCode.Accepted
    stored = get_segment(seg_kernel.db, "Prospects")
    assert stored is not None
    assert stored.rules == rules


def test_new_tags_reach_an_open_builder(qtbot: Any, ctx: UiContext, seg_kernel: Kernel,
                                        open_builders: list[SegmentBuilder]) -> None:
    builder = make_builder(qtbot, ctx, open_builders)
    with seg_kernel.db.transaction() as session:
        store.get_or_create_tags(session, ["webinar"])
    seg_kernel.bus.publish(ListsChanged())
    qtbot.waitUntil(lambda: "webinar" in builder.catalog.tags, timeout=TIMEOUT)
    click(qtbot, builder.root.add_condition_button)
    row = builder.root.items[0]
    assert isinstance(row, ConditionRow)
    choose(row.field, "tag")
    assert isinstance(row.editor, ValueEditor)
    choose(row.editor.inputs[0], "webinar")
    wait_for_count(qtbot, builder, "0 contacts")
