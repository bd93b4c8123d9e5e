"""The Editor page: the template library, and the Designer for one template, with their background work."""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QMessageBox, QStackedWidget, QVBoxLayout, QWidget

from app.modules.editor import store
from app.modules.editor.messages import (
    BrandKitChanged,
    EditorError,
    ReusableBlocksChanged,
    TemplateDeleted,
    TemplateRenamed,
    TemplateSaved,
)
from app.modules.editor.ui.contact_source import ContactSource
from app.modules.editor.ui.designer import Designer
from app.modules.editor.ui.email_paint import ImageCache
from app.modules.editor.ui.library import Library
from app.ui.background import BackgroundWork
from app.ui.widgets import Notice

log = logging.getLogger(__name__)
RELOAD_DELAY_MS = 150


class EditorPage(QWidget):
    """Built by the editor module's PageSpec with the shell's UiContext."""

    def __init__(self, ui_context: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("EditorPage")
        self.ctx = ui_context
        self.db = ui_context.kernel.db
        self.work = BackgroundWork(self, workers=2, name="editor-work")
        self.images = ImageCache(ui_context.paths.data_dir)
        # Pictures are decoded off the GUI thread; the canvas redraws when one is ready.
        self.images.defer = lambda load: self.work.submit(load, lambda _image: self.designer.pictures_ready())
        self.custom_fields: list[str] = []
        self.brand = store.brand_kit(self.db)
        self.notice = Notice()
        self.library = Library(ui_context, self.work, self.images)
        self.designer = Designer(ui_context, self.work, self.images)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.library)
        self.stack.addWidget(self.designer)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.notice)
        column.addWidget(self.stack, 1)
        self._reload_timer = QTimer(self, singleShot=True, interval=RELOAD_DELAY_MS)
        self._reload_timer.timeout.connect(self.library.reload)

        self.library.open_requested.connect(self.open_template)
        self.library.notice.connect(self.notice.show_text)
        self.designer.notice.connect(self.notice.show_text)
        self.designer.back_requested.connect(self.show_library)
        bridge = ui_context.bridge
        for event in (TemplateSaved, TemplateRenamed, TemplateDeleted):
            bridge.subscribe(event, self._templates_changed, owner=self)
        bridge.subscribe(BrandKitChanged, lambda _e: self._brand_changed(), owner=self)
        bridge.subscribe(ReusableBlocksChanged, lambda _e: self._load_saved_blocks(), owner=self)
        if ui_context.theme is not None:
            ui_context.theme.changed.connect(self._restyle)
        self.designer.set_brand(self.brand)
        self.library.reload()
        self._load_saved_blocks()
        self.contacts = ContactSource(ui_context.kernel)
        self.designer.contacts = self.contacts
        self.work.submit(self.contacts.custom_fields, self._fields_read)
        if self.contacts.available:
            from app.modules.contacts.messages import ContactsImported

            # An import may bring new custom fields for the merge-field menu.
            bridge.subscribe(ContactsImported, lambda _e: self.work.submit(self.contacts.custom_fields,
                                                                            self._fields_read), owner=self)

    # -- switching -------------------------------------------------------------------------------------------

    def open_template(self, template_id: int) -> None:
        """Load the template in the background, then show the Designer on it."""
        def done(content: store.TemplateContent) -> None:
            self.designer.open(content, self.brand, self.custom_fields)
            self.stack.setCurrentWidget(self.designer)

        self.work.submit(lambda: store.load_template(self.db, template_id), done,
                         lambda error: self.notice.show_text(f"Could not open the template: {error}", "error"))

    def show_library(self, *, ask: bool = True) -> bool:
        """Back to the library; unsaved changes are saved, dropped or kept as the user says."""
        if ask and self.designer.dirty:
            answer = QMessageBox.question(
                self, "Unsaved changes", f"Save the changes to “{self.designer.name}” as a new version?",
                QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
                | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Save)
            if answer == QMessageBox.StandardButton.Cancel:
                return False
            if answer == QMessageBox.StandardButton.Save:
                self.designer.save()
        self.designer.panel.flush()
        self.stack.setCurrentWidget(self.library)
        self.library.reload()
        if self.designer.template_id is not None:
            self.library._pending_select = self.designer.template_id
        return True

    @property
    def in_designer(self) -> bool:
        return self.stack.currentWidget() is self.designer

    # -- events ----------------------------------------------------------------------------------------------

    def _templates_changed(self, event: Any) -> None:
        if isinstance(event, TemplateDeleted) and event.template_id == self.designer.template_id and self.in_designer:
            self.notice.show_text("The template you were editing was deleted (from the command line?).", "error")
            self.show_library(ask=False)
        self._reload_timer.start()

    def _brand_changed(self) -> None:
        self.brand = store.brand_kit(self.db)
        self.designer.set_brand(self.brand)
        self.library.redraw_all()

    def _restyle(self) -> None:
        """Light or dark: the panels follow the shell (the email on the canvas keeps its own colours)."""
        for part in (self.designer.palette, self.designer.panel, self.designer.bar):
            part.restyle()
        self.update()

    def _load_saved_blocks(self) -> None:
        self.work.submit(lambda: store.saved_blocks(self.db), self.designer.set_saved_blocks)

    def _fields_read(self, fields: list[str]) -> None:
        self.custom_fields = fields
        self.designer.custom_fields = fields

    def shutdown(self) -> None:
        """Stop background work before the kernel closes the database (called by the main window)."""
        try:
            self.designer.shutdown()
        except (RuntimeError, EditorError):
            log.warning("the designer could not flush its last edit", exc_info=True)
        self.work.close()
