"""The property panel: edits the selected block or section, shows problems beside the field they concern."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.modules.editor.blocks import ALIGNMENTS, BLOCK_TYPES, SECTION_FIELDS, PropField
from app.modules.editor.document import Block, Document, Section
from app.modules.editor.ui.glyphs import glyph
from app.modules.editor.ui.prop_editors import (
    LEVEL_NAMES,
    BoolField,
    ChoiceField,
    EditorServices,
    FieldEditor,
    LineField,
    NumberField,
    RichField,
    SegmentedField,
    TextAreaField,
)
from app.modules.editor.ui.prop_lists import LinksField, RuleField
from app.modules.editor.ui.prop_pickers import ColorField, ImageField
from app.ui import theme
from app.ui.widgets import label

WIDTH_PRESETS = {
    1: [("Full width", [0])],
    2: [("Equal halves", [0, 0]), ("Narrow + wide (1/3 + 2/3)", [33, 67]), ("Wide + narrow (2/3 + 1/3)", [67, 33])],
    3: [("Equal thirds", [0, 0, 0]), ("Wide middle (25/50/25)", [25, 50, 25])],
}
SHORTCUTS = (("Drag a tile", "add a block or section"), ("↑ ↓", "select the previous or next block"),
             ("Alt+↑ ↓", "move the selected block"), ("Ctrl+C / V / D", "copy, paste, duplicate"),
             ("Del", "delete"), ("Ctrl+Z / Ctrl+Shift+Z", "undo, redo"), ("Esc", "select the section"))


EDITORS: dict[str, type[FieldEditor]] = {
    "text": LineField, "url": LineField, "multiline": TextAreaField, "html": TextAreaField, "richtext": RichField,
    "int": NumberField, "bool": BoolField, "choice": ChoiceField, "color": ColorField, "image": ImageField,
    "links": LinksField, "rule": RuleField,
}


def make_editor(field: PropField, services: EditorServices) -> FieldEditor:
    """The editor for a property's kind; heading size and alignment get side-by-side buttons."""
    if field.kind == "int" and field.key == "level":
        return SegmentedField(field, services, [(n, name, "") for n, name in LEVEL_NAMES.items()])
    if field.kind == "choice" and field.choices == ALIGNMENTS:
        return SegmentedField(field, services, [(a, a.capitalize(), f"align-{a}") for a in ALIGNMENTS])
    return EDITORS.get(field.kind, LineField)(field, services)


class PropertyPanel(QFrame):
    """Shows one of: a block's properties, a section's, or the email's summary when nothing is selected."""

    block_changed = Signal(str, dict)  # block id, changed properties
    section_changed = Signal(str, dict)  # section id, changed properties
    columns_changed = Signal(str, int, list)  # section id, column count, widths
    action_requested = Signal(str)  # "duplicate", "delete", "save-reusable", "up", "down", "brand-kit"
    problem_chosen = Signal(str)  # block id

    def __init__(self, services: EditorServices, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("EditorProperties")
        self.services = services
        self.editors: dict[str, FieldEditor] = {}
        self.errors: dict[str, QLabel] = {}
        self.shown: tuple[str, str] = ("", "")
        self.problems: list[Any] = []
        self.body = QWidget()
        self.body.setObjectName("EditorPropertiesBody")
        self.column = QVBoxLayout(self.body)
        self.column.setContentsMargins(16, 14, 16, 16)
        self.column.setSpacing(10)
        scroller = QScrollArea()
        scroller.setWidget(self.body)
        scroller.setWidgetResizable(True)
        scroller.setFrameShape(QFrame.Shape.NoFrame)
        scroller.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroller)
        self.setMinimumWidth(300)
        self.setMaximumWidth(420)
        self.restyle()
        self.show_email(Document())

    # -- what is shown ---------------------------------------------------------------------------------------

    def _reset(self) -> None:
        for editor in self.editors.values():
            editor.flush()
        while self.column.count():
            item = self.column.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.hide()
                widget.deleteLater()
            elif item is not None and item.layout() is not None:
                _drop_layout(item.layout())
        self.editors, self.errors = {}, {}

    def _header(self, icon: str, title: str, text: str) -> None:
        row = QHBoxLayout()
        picture = QLabel()
        picture.setPixmap(glyph(icon, "accent").pixmap(26, 26))
        row.addWidget(picture)
        heading = label(title, object_name="PropertiesTitle")
        row.addWidget(heading, 1)
        holder = QWidget()
        holder.setLayout(row)
        self.column.addWidget(holder)
        if text:
            self.column.addWidget(label(text, "muted", wrap=True))

    def _field(self, field: PropField, value: Any, on_change: Any) -> None:
        editor = make_editor(field, self.services)
        editor.set_value(value)
        editor.changed.connect(lambda v, key=field.key: on_change({key: v}))
        if field.kind != "bool":
            self.column.addWidget(label(field.label, object_name="FieldLabel"))
        self.column.addWidget(editor)
        if field.help and field.key != "level":  # the size buttons already say Large, Medium, Small
            self.column.addWidget(label(field.help, "muted", wrap=True))
        error = label("", "danger", wrap=True, selectable=True)
        error.setObjectName(f"FieldError-{field.key}")
        error.hide()
        self.column.addWidget(error)
        self.editors[field.key], self.errors[field.key] = editor, error

    def show_block(self, block: Block) -> None:
        if self.shown == ("block", block.id) and self.editors:
            self.refresh_values(block.props)
            return
        self._reset()
        self.shown = ("block", block.id)
        spec = BLOCK_TYPES[block.type]
        self._header(block.type, spec.title, spec.description)
        for field in spec.fields:
            self._field(field, block.props.get(field.key, spec.defaults.get(field.key)),
                        lambda changes, b=block.id: self.block_changed.emit(b, changes))
        self._actions(("up", "up", "Move up"), ("down", "down", "Move down"),
                      ("duplicate", "duplicate", "Duplicate"), ("save-reusable", "bookmark", "Save as reusable…"),
                      ("delete", "delete", "Delete"))
        self.column.addStretch(1)
        self._show_problems()

    def show_section(self, section: Section, position: int, total: int) -> None:
        if self.shown == ("section", section.id) and self.editors:
            self.refresh_values(section.props)
            self._sync_columns(section)
            return
        self._reset()
        self.shown = ("section", section.id)
        self._header(f"section-{len(section.columns)}", f"Section {position} of {total}",
                     "A row of the email with one to three columns; on phones the columns stack.")
        self.column.addWidget(label("Columns", object_name="FieldLabel"))
        self.count_buttons = SegmentedField(PropField("columns", "Columns", "int", minimum=1, maximum=3),
                                            self.services, [(n, f"{n}", f"section-{n}") for n in (1, 2, 3)])
        self.count_buttons.set_value(len(section.columns))
        self.count_buttons.changed.connect(lambda n, s=section.id: self.columns_changed.emit(s, n, [0] * n))
        self.column.addWidget(self.count_buttons)
        self.widths = QComboBox()
        self.widths.setObjectName("ColumnWidths")
        self.widths.activated.connect(lambda _i, s=section.id: self.columns_changed.emit(
            s, len(self.widths.currentData()), list(self.widths.currentData())))
        self.column.addWidget(self.widths)
        self._sync_columns(section)
        for field in SECTION_FIELDS:
            self._field(field, section.props.get(field.key),
                        lambda changes, s=section.id: self.section_changed.emit(s, changes))
        self._actions(("up", "up", "Move up"), ("down", "down", "Move down"),
                      ("duplicate", "duplicate", "Duplicate"), ("save-reusable", "bookmark", "Save as reusable…"),
                      ("delete", "delete", "Delete section"))
        self.column.addStretch(1)

    def _sync_columns(self, section: Section) -> None:
        count = len(section.columns)
        self.count_buttons.set_value(count)
        self.widths.clear()
        for text, widths in WIDTH_PRESETS[count]:
            self.widths.addItem(text, widths)
        current = [column.width for column in section.columns]
        index = self.widths.findData(current)
        if index < 0:
            self.widths.addItem(" / ".join(f"{w}%" for w in section.widths()), current)
            index = self.widths.count() - 1
        self.widths.setCurrentIndex(index)
        self.widths.setVisible(count > 1)

    def show_email(self, document: Document) -> None:
        self._reset()
        self.shown = ("", "")
        blocks = sum(1 for _ in document.blocks())
        summary = f"{len(document.sections)} sections and {blocks} blocks."
        self._header("page", "Email", f"{summary} Pick a block on the canvas to edit it, or drag one in from the left.")
        brand = QPushButton(glyph("palette", "text"), "Brand kit: fonts, colours, width…")
        brand.setObjectName("OpenBrandKit")
        brand.clicked.connect(lambda: self.action_requested.emit("brand-kit"))
        self.column.addWidget(brand)
        self.problem_box = QVBoxLayout()
        self.column.addLayout(self.problem_box)
        self.column.addWidget(label("Keyboard", object_name="FieldLabel"))
        for keys, text in SHORTCUTS:
            self.column.addWidget(label(f"<b>{keys}</b> &nbsp;{text}", "muted", wrap=True))
        self.column.addStretch(1)
        self._show_problems()

    def _actions(self, *actions: tuple[str, str, str]) -> None:
        row = QHBoxLayout()
        row.setSpacing(2)
        for name, icon, tip in actions:
            button = QToolButton()
            button.setObjectName(f"PanelAction-{name}")
            button.setIcon(glyph(icon, "danger" if name == "delete" else "text"))
            button.setIconSize(QSize(18, 18))
            button.setToolTip(tip)
            button.setAutoRaise(True)
            button.clicked.connect(lambda _=False, n=name: self.action_requested.emit(n))
            row.addWidget(button)
        row.addStretch(1)
        holder = QFrame()
        holder.setObjectName("PanelActions")
        holder.setLayout(row)
        self.column.addSpacing(8)
        self.column.addWidget(holder)

    def refresh_values(self, props: dict[str, Any]) -> None:
        """Show values changed elsewhere (undo, another field) without rebuilding or moving the cursor."""
        for key, editor in self.editors.items():
            if key in props and editor.value() != props[key] and not editor.isAncestorOf(self.focusWidget()):
                editor.set_value(props[key])
            if key in props and key in self.errors and not self.errors[key].property("template"):
                self.errors[key].hide()

    def flush(self) -> None:
        for editor in self.editors.values():
            editor.flush()

    def focus_first_field(self) -> None:
        """Enter (or a double click) on a block puts the cursor in its first field."""
        for editor in self.editors.values():
            for child in editor.findChildren(QWidget):
                if child.focusPolicy() & Qt.FocusPolicy.TabFocus and child.isVisibleTo(self):
                    child.setFocus(Qt.FocusReason.OtherFocusReason)
                    return

    # -- problems ------------------------------------------------------------------------------------------

    def show_field_error(self, key: str, message: str) -> None:
        error = self.errors.get(key)
        if error is not None:
            error.setProperty("template", False)
            error.setText(message)
            error.setVisible(bool(message))

    def set_problems(self, problems: list[Any]) -> None:
        """Template problems (syntax with its place, unknown fields) from the background check."""
        self.problems = problems
        self._show_problems()

    def _show_problems(self) -> None:
        kind, item = self.shown
        if kind == "block":
            mine = {}
            for problem in self.problems:
                if problem.block_id == item and problem.prop:
                    key = problem.prop.split("[", 1)[0]
                    mine.setdefault(key, _describe(problem))
            for key, error in self.errors.items():
                if key in mine:
                    error.setProperty("template", True)
                    error.setText(mine[key])
                    error.show()
                elif error.property("template"):
                    error.setProperty("template", False)
                    error.hide()
        elif kind == "" and hasattr(self, "problem_box"):
            _drop_layout(self.problem_box, keep=True)
            if self.problems:
                self.problem_box.addWidget(label(f"{len(self.problems)} thing(s) to fix before sending",
                                                 object_name="FieldLabel"))
            for problem in self.problems[:12]:
                button = QPushButton(glyph("conditional", "danger"), str(problem))
                button.setObjectName("ProblemLink")
                button.setFlat(True)
                button.setStyleSheet("text-align: left;")
                button.clicked.connect(lambda _=False, b=problem.block_id or "": self.problem_chosen.emit(b))
                self.problem_box.addWidget(button)

    def restyle(self) -> None:
        c = theme.colors()
        self.setStyleSheet(
            f"QFrame#EditorProperties {{ background: {c.base}; border-left: 1px solid {c.border}; }}"
            f" QWidget#EditorPropertiesBody {{ background: {c.base}; }}"
            " QLabel#PropertiesTitle { font-size: 13pt; font-weight: 600; }"
            f" QFrame#PanelActions {{ border-top: 1px solid {c.border}; padding-top: 6px; }}"
            f" QLabel#FieldLabel {{ font-weight: 600; color: {c.text}; margin-top: 4px; }}")


def _describe(problem: Any) -> str:
    where = f"line {problem.line}, column {problem.column}: " if problem.line and problem.column else (
        f"line {problem.line}: " if problem.line else "")
    return f"{where}{problem.message}"


def _drop_layout(layout: Any, *, keep: bool = False) -> None:
    while layout.count():
        item = layout.takeAt(0)
        widget = item.widget()
        if widget is not None:
            widget.hide()
            widget.deleteLater()
        elif item.layout() is not None:
            _drop_layout(item.layout())
    if not keep:
        layout.deleteLater()
