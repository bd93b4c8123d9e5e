"""The import wizard: drop or pick a CSV file, match its columns, choose options, import in the background."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGridLayout,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)
from sqlalchemy import select

from app.modules.contacts.csvsource import DELIMITER_NAMES, ENCODINGS, CsvFileError, CsvPreview, read_preview
from app.modules.contacts.import_report import ImportOptions
from app.modules.contacts.importer import custom_fields
from app.modules.contacts.models import MailingList
from app.modules.contacts.presets import FieldInfo, MappingSuggestion, suggest_mapping
from app.modules.contacts.ui.import_mapping import MappingPage, PreviewModel
from app.modules.contacts.ui.import_result import ResultPage, RunPage, heading
from app.ui import theme
from app.ui.widgets import card, icon_label, label

log = logging.getLogger(__name__)
FILE_FILTER = "Spreadsheets as CSV (*.csv *.tsv *.txt);;All files (*)"
PAGE_FILE, PAGE_MAPPING, PAGE_OPTIONS, PAGE_RUN, PAGE_RESULT = range(5)


def _local_file(event: QDragEnterEvent | QDragMoveEvent | QDropEvent) -> Path | None:
    mime = event.mimeData()
    if not mime.hasUrls():
        return None
    for url in mime.urls():
        if url.isLocalFile() and Path(url.toLocalFile()).is_file():
            return Path(url.toLocalFile())
    return None


def _size(size: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:,.0f} {unit}" if unit == "bytes" else f"{size:,.1f} {unit}"
        size /= 1024  # type: ignore[assignment]
    return str(size)


class FilePage(QWizardPage):
    """Step 1: a file, how it was read (encoding, delimiter, which export), and a way to correct that."""

    def __init__(self, wizard: ImportWizard) -> None:
        super().__init__()
        self._wizard = wizard
        self.setTitle(heading("Choose a file"))
        self.setSubTitle("Drop a CSV file anywhere on this window, or pick one. Exports from Mailchimp, HubSpot, "
                         "Google Contacts and Outlook are recognised.")
        layout = QVBoxLayout(self)
        layout.setSpacing(12)
        layout.addWidget(self._build_drop_zone())
        self.error = label("", "danger", wrap=True, selectable=True)
        self.error.setObjectName("ImportFileError")
        self.error.hide()
        layout.addWidget(self.error)
        self.details = self._build_details()
        self.details.hide()
        layout.addWidget(self.details)
        layout.addStretch(1)
        self.encoding.activated.connect(self._reread)
        self.delimiter.activated.connect(self._reread)
        self._style()

    def _build_drop_zone(self) -> QFrame:
        self.drop_zone = QFrame()
        self.drop_zone.setObjectName("ImportDropZone")
        zone = QVBoxLayout(self.drop_zone)
        zone.setContentsMargins(24, 22, 24, 22)
        zone.setSpacing(8)
        zone.addWidget(icon_label("file", 32, "accent"), 0, Qt.AlignmentFlag.AlignHCenter)
        zone.addWidget(label("Drop a CSV file here", object_name="CardTitle"), 0, Qt.AlignmentFlag.AlignHCenter)
        zone.addWidget(label("UTF-8, UTF-16 or Windows-1252; separated by commas, semicolons, tabs or pipes",
                             "muted"), 0, Qt.AlignmentFlag.AlignHCenter)
        self.choose = QPushButton("Choose a file…")
        self.choose.setObjectName("ImportChooseFile")
        self.choose.clicked.connect(self._pick)
        zone.addWidget(self.choose, 0, Qt.AlignmentFlag.AlignHCenter)
        return self.drop_zone

    def _build_details(self) -> QFrame:
        details, inner = card("file details")
        self.file_name = label("", object_name="CardTitle", selectable=True)
        inner.addWidget(self.file_name)
        self.file_facts = label("", "muted", wrap=True)
        inner.addWidget(self.file_facts)
        grid = QGridLayout()
        grid.setHorizontalSpacing(12)
        grid.setVerticalSpacing(8)
        self.encoding = QComboBox()
        self.encoding.setObjectName("ImportEncoding")
        self.delimiter = QComboBox()
        self.delimiter.setObjectName("ImportDelimiter")
        grid.addWidget(label("Encoding"), 0, 0)
        grid.addWidget(self.encoding, 0, 1)
        grid.addWidget(label("Separator"), 1, 0)
        grid.addWidget(self.delimiter, 1, 1)
        grid.setColumnStretch(2, 1)
        inner.addLayout(grid)
        self.detected = label("", wrap=True)
        self.detected.setObjectName("ImportDetected")
        inner.addWidget(self.detected)
        self.notes = label("", "muted", wrap=True)
        self.notes.setObjectName("ImportFileNotes")
        inner.addWidget(self.notes)
        return details

    def _style(self) -> None:
        c = theme.colors()
        self.drop_zone.setStyleSheet(f"QFrame#ImportDropZone {{ border: 2px dashed {c.border}; border-radius: 12px; "
                                     f"background: {c.alt_base}; }} QFrame#ImportDropZone QLabel "
                                     "{ background: transparent; border: none; }")

    def _pick(self) -> None:
        start = str(self._wizard.path.parent) if self._wizard.path else str(Path.home())
        chosen, _ = QFileDialog.getOpenFileName(self, "Import contacts from a CSV file", start, FILE_FILTER)
        if chosen:
            self._wizard.load_file(Path(chosen))

    def _reread(self) -> None:
        if self._wizard.path is not None:
            self._wizard.load_file(self._wizard.path, self.encoding.currentData(), self.delimiter.currentData())

    def show_error(self, path: Path, message: str) -> None:
        self.error.setText(f"{path.name} cannot be imported: {message}.")
        self.error.show()
        self.details.hide()
        self.completeChanged.emit()

    def show_preview(self, path: Path, preview: CsvPreview, suggestion: MappingSuggestion) -> None:
        self.error.hide()
        self.file_name.setText(path.name)
        self.file_facts.setText(f"{_size(preview.size_bytes)} · {len(preview.columns):,} columns · "
                                f"{path.parent}")
        for combo, options, current, found in (
                (self.encoding, ENCODINGS, preview.format.encoding, preview.detected.encoding),
                (self.delimiter, {d: name.capitalize() for d, name in DELIMITER_NAMES.items()},
                 preview.format.delimiter, preview.detected.delimiter)):
            combo.clear()
            for value, text in options.items():
                combo.addItem(f"{text} (detected)" if value == found else text, value)
            combo.setCurrentIndex(max(0, combo.findData(current)))
        if suggestion.preset:
            found_text = f"Recognised as a <b>{suggestion.preset_name}</b>; its columns are matched for you."
        else:
            matched = len(suggestion.mapping)
            found_text = f"{matched} of {len(preview.columns)} columns matched by their names."
        self.detected.setText(found_text)
        self.notes.setText("\n".join(preview.notes + suggestion.notes))
        self.notes.setVisible(bool(preview.notes or suggestion.notes))
        self.details.show()
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        return self._wizard.preview is not None


class OptionsPage(QWizardPage):
    """Step 3: where the contacts go and how existing ones are treated."""

    def __init__(self, wizard: ImportWizard) -> None:
        super().__init__()
        self._wizard = wizard
        self.setTitle(heading("Choose where they go"))
        self.setSubTitle("Pick a list or type a new name, add tags, and record where consent came from. Addresses on "
                         "the suppression list are never subscribed again.")
        self.setCommitPage(True)
        self.setButtonText(QWizard.WizardButton.CommitButton, "Import")
        layout = QVBoxLayout(self)
        frame, inner = card("import options")
        form = QFormLayout()
        form.setHorizontalSpacing(16)
        form.setVerticalSpacing(10)
        self.list_name = QComboBox()
        self.list_name.setObjectName("ImportList")
        self.list_name.setEditable(True)
        self.list_name.lineEdit().setPlaceholderText("No list: only add the contacts")
        form.addRow("Subscribe to list", self.list_name)
        self.list_hint = label("", "muted", wrap=True)
        form.addRow("", self.list_hint)
        self.tags = QLineEdit()
        self.tags.setObjectName("ImportTags")
        self.tags.setPlaceholderText("e.g. spring fair, leads (separated by commas)")
        form.addRow("Tag everyone with", self.tags)
        self.subscribed = QRadioButton("Subscribed: they agreed to receive your emails")
        self.unconfirmed = QRadioButton("Unconfirmed: they must confirm by email first (double opt-in)")
        self.subscribed.setChecked(True)
        status = QButtonGroup(self)
        status.addButton(self.subscribed)
        status.addButton(self.unconfirmed)
        form.addRow("Subscribe as", self._stack(self.subscribed, self.unconfirmed))
        self.update_existing = QRadioButton("Update them with the values in the file (blank cells change nothing)")
        self.skip_existing = QRadioButton("Leave them exactly as they are")
        self.update_existing.setChecked(True)
        mode = QButtonGroup(self)
        mode.addButton(self.update_existing)
        mode.addButton(self.skip_existing)
        form.addRow("Contacts you already have", self._stack(self.update_existing, self.skip_existing))
        self.consent_source = QLineEdit()
        self.consent_source.setObjectName("ImportConsentSource")
        form.addRow("Consent source", self.consent_source)
        self.text_version = QLineEdit()
        self.text_version.setObjectName("ImportConsentVersion")
        self.text_version.setPlaceholderText("e.g. newsletter sign-up form, version 3")
        form.addRow("Text they agreed to", self.text_version)
        self.date_order = QComboBox()
        for text, value in (("Work it out from the file", "auto"), ("Day/month/year (31/12/2024)", "dmy"),
                            ("Month/day/year (12/31/2024)", "mdy")):
            self.date_order.addItem(text, value)
        form.addRow("Dates such as 03/04/2024", self.date_order)
        inner.addLayout(form)
        layout.addWidget(frame)
        layout.addStretch(1)
        self.list_name.currentTextChanged.connect(self._hint)

    @staticmethod
    def _stack(*widgets: QWidget) -> QWidget:
        box = QWidget()
        column = QVBoxLayout(box)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(4)
        for widget in widgets:
            column.addWidget(widget)
        return box

    def initializePage(self) -> None:
        typed = self.list_name.currentText()
        self.list_name.clear()
        self.list_name.addItems(self._wizard.list_names())
        self.list_name.setCurrentText(typed)
        path = self._wizard.path
        self.consent_source.setPlaceholderText(f"import: {path.name}" if path else "")
        self._hint(typed)

    def _hint(self, text: str) -> None:
        name = text.strip()
        if not name:
            self.list_hint.setText("The contacts are added without subscribing them to a list.")
        elif name.lower() in {n.lower() for n in self._wizard.list_names()}:
            self.list_hint.setText(f"They are added to the existing list \u201c{name}\u201d.")
        else:
            self.list_hint.setText(f"A new list \u201c{name}\u201d is created.")

    def fill(self, options: ImportOptions) -> None:
        options.list_name = self.list_name.currentText().strip()
        options.tags = [t.strip() for t in self.tags.text().split(",") if t.strip()]
        options.subscribe_status = "unconfirmed" if self.unconfirmed.isChecked() else "subscribed"
        options.mode = "skip_existing" if self.skip_existing.isChecked() else "update"
        options.consent_source = self.consent_source.text().strip()
        options.consent_text_version = self.text_version.text().strip()
        options.date_order = self.date_order.currentData()


class ImportWizard(QWizard):
    """Five steps; the import itself runs as a background job and never on the GUI thread."""

    def __init__(self, ui_context: Any, parent: QWidget | None = None, initial_file: Path | None = None) -> None:
        super().__init__(parent)
        self.ctx = ui_context
        self.setObjectName("ImportWizard")
        self.setWindowTitle("Import contacts")
        self.setWizardStyle(QWizard.WizardStyle.ModernStyle)
        self.setOption(QWizard.WizardOption.NoBackButtonOnLastPage, True)
        self.setOption(QWizard.WizardOption.NoCancelButtonOnLastPage, True)
        self.setButtonText(QWizard.WizardButton.FinishButton, "Done")
        self.setAcceptDrops(True)
        self.setMinimumSize(880, 640)
        self.path: Path | None = None
        self.preview: CsvPreview | None = None
        self.suggestion: MappingSuggestion | None = None
        self.fields: list[FieldInfo] = []
        self.file_page = FilePage(self)
        self.mapping_page = MappingPage()
        self.options_page = OptionsPage(self)
        self.run_page = RunPage(self)
        self.result_page = ResultPage(self)
        for key, page in ((PAGE_FILE, self.file_page), (PAGE_MAPPING, self.mapping_page),
                          (PAGE_OPTIONS, self.options_page), (PAGE_RUN, self.run_page),
                          (PAGE_RESULT, self.result_page)):
            self.setPage(key, page)
        if initial_file is not None:
            self.load_file(Path(initial_file))

    # -- file --------------------------------------------------------------------------------------------------

    def load_file(self, path: Path, encoding: str | None = None, delimiter: str | None = None) -> bool:
        """Read the file's first rows (a few KB, quick) and suggest a mapping; errors show on the first page."""
        if self.run_page.running:
            return False
        if self.currentId() not in (PAGE_FILE, -1):
            self.restart()
        self.path = path
        try:
            self.fields = custom_fields(self.ctx.kernel.db)
            preview = read_preview(path, encoding, delimiter)
        except (CsvFileError, OSError) as exc:
            self.preview = self.suggestion = None
            self.file_page.show_error(path, str(exc))
            return False
        self.preview = preview
        self.suggestion = suggest_mapping(preview.columns, path.name, self.fields)
        self.mapping_page.load(preview, self.suggestion, self.fields,
                               PreviewModel(preview, self.mapping_page.model, self))
        self.file_page.show_preview(path, preview, self.suggestion)
        return True

    def list_names(self) -> list[str]:
        with self.ctx.kernel.db.read() as session:
            return list(session.scalars(select(MailingList.name).order_by(MailingList.name)))

    def options(self) -> ImportOptions:
        assert self.preview is not None
        options = ImportOptions(mapping=self.mapping_page.mapping(), encoding=self.preview.format.encoding,
                                delimiter=self.preview.format.delimiter,
                                file_status=self.suggestion.file_status if self.suggestion else None)
        self.options_page.fill(options)
        return options

    # -- drops anywhere on the window ------------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if not self.run_page.running and _local_file(event) is not None:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if not self.run_page.running and _local_file(event) is not None:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        path = _local_file(event)
        if path is None or self.run_page.running:
            event.ignore()
            return
        event.acceptProposedAction()
        self.load_file(path)

    # -- closing ---------------------------------------------------------------------------------------------

    def reject(self) -> None:
        # Closing while it runs stops the import after the batch it is writing; what was written stays whole.
        self.run_page.cancel()
        super().reject()

    def done(self, result: int) -> None:
        self.run_page.stop_polling()
        super().done(result)


def open_import_wizard(ui_context: Any, parent: QWidget | None = None, path: Path | None = None) -> ImportWizard:
    """Open the import wizard (with ``path`` already read when given) and return it; it is not modal."""
    wizard = ImportWizard(ui_context, parent, initial_file=path)
    wizard.setWindowFlag(Qt.WindowType.Window, True)
    wizard.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
    wizard.show()
    return wizard


__all__ = ["ImportWizard", "open_import_wizard"]
