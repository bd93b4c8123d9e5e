"""The import wizard's mapping page: one row per column with an "Import as" choice, and a preview of the rows."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHeaderView,
    QLineEdit,
    QSplitter,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QVBoxLayout,
    QWidget,
    QWizardPage,
)

from app.modules.contacts.csvsource import CsvPreview
from app.modules.contacts.importer import MAX_MAPPED_COLUMNS
from app.modules.contacts.presets import BUILTIN_TARGETS, FieldInfo, MappingSuggestion
from app.ui.widgets import label

NEW_FIELD = "__new_field__"
PERSISTENT_COMBOS = 300  # above this many columns a combo opens on click (10,000 combos would freeze the window)
FIELD_TYPE_LABELS = {"text": "Text", "number": "Number", "date": "Date", "boolean": "Yes/no", "choice": "Choice"}
Index = QModelIndex | QPersistentModelIndex


def target_label(target: str, fields: dict[str, FieldInfo]) -> str:
    if not target:
        return "Don't import"
    if target in BUILTIN_TARGETS:
        return BUILTIN_TARGETS[target]
    if target.startswith("field:"):
        info = fields.get(target[6:])
        return f"{info.label} ({FIELD_TYPE_LABELS.get(info.type, info.type).lower()})" if info else target[6:]
    if target.startswith("new_field:"):
        _, name, kind = [*target.split(":", 2), "", ""][:3]
        return f"New field: {name} ({FIELD_TYPE_LABELS.get(kind, kind).lower()})"
    return target


class NewFieldDialog(QDialog):
    """Asks the label and type of a custom field the import will create."""

    def __init__(self, suggested: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("New custom field")
        self.setObjectName("NewFieldDialog")
        form = QFormLayout(self)
        form.setContentsMargins(18, 18, 18, 12)
        form.setSpacing(10)
        form.addRow(label("The field is created when the import starts; its values are checked against its type.",
                          "muted", wrap=True))
        self.name = QLineEdit(suggested)
        self.name.setPlaceholderText("e.g. Birthday")
        form.addRow("Label", self.name)
        self.kind = QComboBox()
        for key, text in FIELD_TYPE_LABELS.items():
            self.kind.addItem(text, key)
        form.addRow("Type", self.kind)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.name.textChanged.connect(
            lambda text: buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(bool(text.strip())))
        form.addRow(buttons)

    def target(self) -> str:
        return f"new_field:{self.name.text().strip().replace(':', ' ')}:{self.kind.currentData()}"


class ColumnsModel(QAbstractTableModel):
    """Rows are the file's columns: name, example values, and what each is imported as."""

    HEADERS = ("Column", "Example values", "Import as")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.columns: list[str] = []
        self.examples: list[str] = []
        self.mapping: dict[int, str] = {}
        self.fields: dict[str, FieldInfo] = {}

    def load(self, preview: CsvPreview, mapping: dict[int, str], fields: dict[str, FieldInfo]) -> None:
        self.beginResetModel()
        self.columns = list(preview.columns)
        self.examples = []
        for position in range(len(self.columns)):
            seen: list[str] = []
            for row in preview.rows:
                value = " ".join(row[position].split())[:40] if position < len(row) else ""
                if value and value not in seen:
                    seen.append(value)
                if len(seen) == 3:
                    break
            self.examples.append(" · ".join(seen))
        self.mapping = dict(mapping)
        self.fields = fields
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self.columns)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else 3

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self.HEADERS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row, column = index.row(), index.column()
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            if column == 0:
                return self.columns[row]
            if column == 1:
                return self.examples[row]
            return target_label(self.mapping.get(row, ""), self.fields)
        if role == Qt.ItemDataRole.EditRole and column == 2:
            return self.mapping.get(row, "")
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        base = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        return base | Qt.ItemFlag.ItemIsEditable if index.column() == 2 else base

    def setData(self, index: Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if role != Qt.ItemDataRole.EditRole or index.column() != 2:
            return False
        self.set_target(index.row(), str(value or ""))
        return True

    def set_target(self, row: int, target: str) -> None:
        if target in BUILTIN_TARGETS and target != "tags":
            # One column per field: taking "Email" elsewhere frees the column that had it.
            for other, current in list(self.mapping.items()):
                if current == target and other != row:
                    self.mapping.pop(other)
                    self.dataChanged.emit(self.index(other, 2), self.index(other, 2))
        if target:
            self.mapping[row] = target
        else:
            self.mapping.pop(row, None)
        self.dataChanged.emit(self.index(row, 2), self.index(row, 2))


class TargetDelegate(QStyledItemDelegate):
    """The "Import as" combo: built-in fields, the custom fields, fields this import creates, and "New field…"."""

    def __init__(self, choices: Callable[[], list[tuple[str, str]]], ask_new_field: Callable[[int], str | None],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._choices = choices
        self._ask_new_field = ask_new_field

    def createEditor(self, parent: QWidget, _option: QStyleOptionViewItem, index: Index) -> QWidget:
        combo = QComboBox(parent)
        combo.setObjectName(f"MapColumn{index.row()}")
        combo.setAccessibleName(f"Import column {index.row() + 1} as")
        for text, target in self._choices():
            combo.addItem(text, target)
        combo.insertSeparator(1)
        combo.addItem("New custom field…", NEW_FIELD)
        row = index.row()
        combo.currentIndexChanged.connect(lambda _i, c=combo, r=row: self._changed(c, r))
        return combo

    def setEditorData(self, editor: QWidget, index: Index) -> None:
        assert isinstance(editor, QComboBox)
        target = index.data(Qt.ItemDataRole.EditRole) or ""
        position = editor.findData(target)
        if position < 0:
            editor.addItem(target_label(target, {}), target)
            position = editor.count() - 1
        editor.blockSignals(True)
        editor.setCurrentIndex(position)
        editor.blockSignals(False)

    def setModelData(self, editor: QWidget, model: Any, index: Index) -> None:
        assert isinstance(editor, QComboBox)
        target = editor.currentData()
        if target != NEW_FIELD:
            model.setData(index, target or "", Qt.ItemDataRole.EditRole)

    def _changed(self, combo: QComboBox, row: int) -> None:
        if combo.currentData() == NEW_FIELD:
            target = self._ask_new_field(row)
            if target is None:  # cancelled: back to what it was
                view = self.parent()
                model = view.model() if isinstance(view, QTableView) else None
                if model is not None:
                    self.setEditorData(combo, model.index(row, 2))
                return
            if combo.findData(target) < 0:
                combo.insertItem(combo.count() - 1, target_label(target, {}), target)
            combo.blockSignals(True)
            combo.setCurrentIndex(combo.findData(target))
            combo.blockSignals(False)
        self.commitData.emit(combo)


class MappingPage(QWizardPage):
    """Step 2: what each column is; the email column is required."""

    mapping_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTitle('<span style="font-size: 14pt; font-weight: 600;">Match columns to fields</span>')
        self.setSubTitle("Columns we recognised are already matched. Check them, and choose what the other columns "
                         "hold; columns set to \u201cDon't import\u201d are left out.")
        self.fields: dict[str, FieldInfo] = {}
        self.created: list[str] = []  # new_field targets chosen in this wizard
        layout = QVBoxLayout(self)
        layout.setSpacing(10)
        self.preset = label("", wrap=True)
        self.preset.setObjectName("ImportPresetBanner")
        layout.addWidget(self.preset)
        self.warning = label("No column is matched to the email address. Choose \u201cEmail address\u201d for the "
                             "column that holds them.", "danger", wrap=True)
        self.warning.setObjectName("ImportNoEmailWarning")
        layout.addWidget(self.warning)
        self.model = ColumnsModel(self)
        self.table = QTableView()
        self.table.setObjectName("ImportColumns")
        self.table.setModel(self.model)
        self.table.verticalHeader().hide()
        self.table.setAlternatingRowColors(True)
        self.table.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QTableView.EditTrigger.AllEditTriggers)
        self.delegate = TargetDelegate(self.choices, self.ask_new_field, self.table)
        self.table.setItemDelegateForColumn(2, self.delegate)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Fixed)
        header.resizeSection(0, 200)
        header.resizeSection(2, 250)
        self.table.verticalHeader().setDefaultSectionSize(34)
        self.table.setWordWrap(False)
        self.preview = QTableView()
        self.preview.setObjectName("ImportPreview")
        self.preview.setAlternatingRowColors(True)
        self.preview.setEditTriggers(QTableView.EditTrigger.NoEditTriggers)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.table)
        column = QWidget()
        inner = QVBoxLayout(column)
        inner.setContentsMargins(0, 6, 0, 0)
        self.preview_title = label("First rows of the file", object_name="SectionTitle")
        inner.addWidget(self.preview_title)
        inner.addWidget(self.preview, 1)
        splitter.addWidget(column)
        splitter.setSizes([300, 200])
        layout.addWidget(splitter, 1)
        self.counter = label("", "muted")
        self.counter.setObjectName("ImportMappedCount")
        layout.addWidget(self.counter)
        self.model.dataChanged.connect(lambda *_: self._refresh())

    def load(self, preview: CsvPreview, suggestion: MappingSuggestion, fields: list[FieldInfo],
             preview_model: QAbstractTableModel) -> None:
        self.fields = {f.key: f for f in fields}
        self.created = [t for t in suggestion.mapping.values() if t.startswith("new_field:")]
        self.model.load(preview, suggestion.mapping, self.fields)
        self.preview.setModel(preview_model)
        self.preview_title.setText(f"First {len(preview.rows)} rows of the file" if preview.rows else
                                   "The file has a header but no rows yet")
        if suggestion.preset:
            text = f"<b>Recognised a {suggestion.preset_name}.</b> " + " ".join(suggestion.notes)
            self.preset.setText(text)
            self.preset.show()
        else:
            self.preset.hide()
        rows = self.model.rowCount()
        for row in range(min(rows, PERSISTENT_COMBOS)):
            self.table.openPersistentEditor(self.model.index(row, 2))
        self._refresh()

    def choices(self) -> list[tuple[str, str]]:
        items = [("Don't import", "")] + [(text, key) for key, text in BUILTIN_TARGETS.items()]
        items += [(target_label(f"field:{key}", self.fields), f"field:{key}") for key in self.fields]
        items += [(target_label(t, {}), t) for t in self.created]
        return items

    def ask_new_field(self, row: int) -> str | None:
        dialog = NewFieldDialog(self.model.columns[row] if row < len(self.model.columns) else "", self)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return None
        target = dialog.target()
        if target not in self.created:
            self.created.append(target)
        return target

    def combo_for(self, column: int) -> QComboBox | None:
        """The "Import as" combo of a column (for columns shown with a permanent combo)."""
        widget = self.table.indexWidget(self.model.index(column, 2))
        return widget if isinstance(widget, QComboBox) else None

    def mapping(self) -> dict[int, str]:
        return dict(self.model.mapping)

    def _refresh(self) -> None:
        mapped = len(self.model.mapping)
        has_email = "email" in self.model.mapping.values()
        self.warning.setVisible(not has_email)
        text = f"{mapped:,} of {self.model.rowCount():,} columns will be imported."
        if mapped > MAX_MAPPED_COLUMNS:
            text += f" At most {MAX_MAPPED_COLUMNS:,} can be imported at once: set the others to Don't import."
        self.counter.setText(text)
        self.counter.setProperty("role", "danger" if mapped > MAX_MAPPED_COLUMNS else "muted")
        self.counter.style().unpolish(self.counter)
        self.counter.style().polish(self.counter)
        self.mapping_changed.emit()
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        return "email" in self.model.mapping.values() and len(self.model.mapping) <= MAX_MAPPED_COLUMNS


class PreviewModel(QAbstractTableModel):
    """The first rows, read-only; headers say what each column becomes."""

    def __init__(self, preview: CsvPreview, columns: ColumnsModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._preview = preview
        self._columns = columns
        columns.dataChanged.connect(lambda *_: self.headerDataChanged.emit(
            Qt.Orientation.Horizontal, 0, max(0, len(preview.columns) - 1)))

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._preview.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._preview.columns)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role != Qt.ItemDataRole.DisplayRole or not index.isValid():
            return None
        row = self._preview.rows[index.row()]
        return " ".join(row[index.column()].split())[:200] if index.column() < len(row) else ""

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if orientation == Qt.Orientation.Vertical:
            return str(section + 2)  # spreadsheet row numbers: the header is row 1
        target = self._columns.mapping.get(section, "")
        name = self._preview.columns[section]
        return f"{name}\n→ {target_label(target, self._columns.fields)}" if target else f"{name}\n(not imported)"
