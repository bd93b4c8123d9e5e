"""The Designer: palette on the left, the email canvas in the middle, properties on the right, a toolbar above."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QFrame,
    QInputDialog,
    QLineEdit,
    QMessageBox,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.modules.editor import store
from app.modules.editor.brand import BrandKit
from app.modules.editor.document import Block, Document, Section
from app.modules.editor.messages import EditorError, SaveReusableBlock
from app.modules.editor.ui.canvas import EmailCanvas
from app.modules.editor.ui.checks import TemplateChecker
from app.modules.editor.ui.contact_source import ContactSource
from app.modules.editor.ui.design_session import DesignSession
from app.modules.editor.ui.designer_bar import DesignerBar
from app.modules.editor.ui.email_paint import ImageCache
from app.modules.editor.ui.palette import Palette
from app.modules.editor.ui.prop_editors import EditorServices
from app.modules.editor.ui.properties import PropertyPanel
from app.ui.background import BackgroundWork

log = logging.getLogger(__name__)
# Which brand kit colour a block's empty colour property stands for, by block type and property.
BRAND_DEFAULTS = {("heading", "color"): "heading_color", ("text", "color"): "text_color",
                  ("button", "color"): "button_color", ("button", "text_color"): "button_text_color",
                  ("", "background"): "content_background"}


class Designer(QWidget):
    """Designs one template. The page tells it which (``open``); it saves new versions through the bus."""

    back_requested = Signal()
    notice = Signal(str, str)  # text, kind ("info" | "error")

    def __init__(self, ctx: Any, work: BackgroundWork, images: ImageCache, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("EditorDesigner")
        self.ctx = ctx
        self.work = work
        self.images = images
        self.template_id: int | None = None
        self.version = 0
        self.name = ""
        self.brand = BrandKit()
        self.custom_fields: list[str] = []
        self.contacts: ContactSource | None = None
        self.session = DesignSession(self)
        self.services = EditorServices(custom_fields=lambda: self.custom_fields, import_picture=self.import_picture,
                                       images=images, brand_colour=self._brand_colour)
        self.bar = DesignerBar(self.session)
        self.palette = Palette()
        self.canvas = EmailCanvas(images)
        self.panel = PropertyPanel(self.services)
        self.session.before_change = self.panel.flush
        self.checker = TemplateChecker(work, self)
        self.scroller = QScrollArea()
        self.scroller.setObjectName("EditorCanvasScroller")
        self.scroller.setWidget(self.canvas)
        self.scroller.setWidgetResizable(True)
        self.scroller.setFrameShape(QFrame.Shape.NoFrame)
        self.scroller.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        self._layout()
        self._connect()
        self._shortcuts()

    def _layout(self) -> None:
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.setObjectName("DesignerSplitter")
        splitter.setChildrenCollapsible(False)
        splitter.setHandleWidth(1)
        splitter.addWidget(self.palette)
        splitter.addWidget(self.scroller)
        splitter.addWidget(self.panel)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([236, 760, 320])
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.bar)
        column.addWidget(splitter, 1)

    def _connect(self) -> None:
        session = self.session
        session.changed.connect(self._show)
        session.failed.connect(lambda text: self.notice.emit(text, "error"))
        self.canvas.selection_changed.connect(self._selected)
        self.canvas.drop_requested.connect(lambda dropped, target: session.drop(dropped, target, self.import_picture))
        self.canvas.action_requested.connect(self.run_action)
        self.palette.add_requested.connect(session.add)
        self.palette.delete_saved_requested.connect(self._delete_saved)
        self.panel.block_changed.connect(self._block_changed)
        self.panel.section_changed.connect(self._section_changed)
        self.panel.columns_changed.connect(session.set_columns)
        self.panel.action_requested.connect(self.run_action)
        self.panel.problem_chosen.connect(lambda block_id: self.canvas.select("block", block_id) if block_id else None)
        self.checker.checked.connect(self._checked)
        self.bar.back.clicked.connect(lambda _=False: self.back_requested.emit())
        self.bar.name_edit.editingFinished.connect(self._rename)
        self.bar.action_requested.connect(self.run_action)
        session.undo_stack.cleanChanged.connect(lambda clean: self.bar.set_dirty(not clean))

    def _shortcuts(self) -> None:
        editing = (("copy", ["Ctrl+C"]), ("paste", ["Ctrl+V"]), ("duplicate", ["Ctrl+D"]),
                   ("undo", ["Ctrl+Z"]), ("redo", ["Ctrl+Shift+Z", "Ctrl+Y"]))
        anywhere = (("save", ["Ctrl+S"]), ("save-note", ["Ctrl+Shift+S"]), ("preview", ["Ctrl+P"]))
        for group, hosts in ((editing, (self.canvas, self.palette)), (anywhere, (self,))):
            for name, keys in group:
                action = QAction(self)
                action.setObjectName(f"Shortcut-{name}")
                action.setShortcuts([QKeySequence(key) for key in keys])
                # Editing keys act on the canvas and palette only: text fields keep their own copy, paste and
                # undo. Saving and the preview work wherever the focus is in the Designer.
                action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
                action.triggered.connect(lambda _=False, n=name: self.run_action(n))
                for host in hosts:
                    host.addAction(action)

    # -- opening and showing ------------------------------------------------------------------------------

    def open(self, content: store.TemplateContent, brand: BrandKit, custom_fields: list[str]) -> None:
        self.template_id, self.version, self.name = content.id, content.version, content.name
        self.custom_fields = custom_fields
        self.set_brand(brand)
        self.bar.set_template(content.name, content.version)
        self.session.load(content.document)
        self.canvas.setFocus()

    def set_brand(self, brand: BrandKit) -> None:
        self.brand = brand
        self.canvas.set_brand(brand)
        self.checker.set_brand(brand)

    def set_saved_blocks(self, saved: list[store.SavedBlockInfo]) -> None:
        self.palette.set_saved_blocks(saved)

    @property
    def document(self) -> Document:
        return self.session.document

    def _show(self, document: Document, selection: tuple[str, str]) -> None:
        self.canvas.set_document(document)
        self.canvas.select(*selection)
        self._show_panel()
        self.checker.check(document, self.custom_fields)

    def _selected(self, kind: str, item_id: str) -> None:
        self.panel.flush()
        self.session.select(kind, item_id)
        self._show_panel()

    def _show_panel(self) -> None:
        item = self.session.selected_item()
        if isinstance(item, Section):
            ids = [s.id for s in self.document.sections]
            self.panel.show_section(item, ids.index(item.id) + 1, len(ids))
        elif item is not None:
            self.panel.show_block(item)
        else:
            self.panel.show_email(self.document)

    def _checked(self, problems: list[Any]) -> None:
        self.panel.set_problems(problems)
        self.canvas.set_problem_blocks({p.block_id for p in problems if p.block_id})
        self.bar.set_problems(problems)

    # -- edits ---------------------------------------------------------------------------------------------

    def _block_changed(self, block_id: str, changes: dict[str, Any]) -> None:
        problem = self.session.set_block_props(block_id, changes)
        self.panel.show_field_error(next(iter(changes)), problem)

    def _section_changed(self, section_id: str, changes: dict[str, Any]) -> None:
        problem = self.session.set_section_props(section_id, changes)
        self.panel.show_field_error(next(iter(changes)), problem)

    def import_picture(self, path: Path) -> str | None:
        """Copy a picture into Postroom's assets; a bad file gets a message naming it."""
        try:
            reference = store.add_asset(self.ctx.paths.data_dir, path)
        except EditorError as exc:
            self.notice.emit(str(exc), "error")
            return None
        return reference

    def pictures_ready(self) -> None:
        """A picture decoded in the background: show it on the canvas and in the panel."""
        from app.modules.editor.ui.prop_pickers import ImageField

        self.canvas.refresh_images()
        for editor in self.panel.editors.values():
            if isinstance(editor, ImageField):
                editor.set_value(editor.value())

    def _brand_colour(self, key: str) -> str:
        item = self.session.selected_item()
        kind = item.type if isinstance(item, Block) else ""
        name = BRAND_DEFAULTS.get((kind, key))
        return str(getattr(self.brand, name)) if name else "#e2e8f0"

    def run_action(self, name: str) -> None:  # noqa: PLR0912 - one line per action
        session = self.session
        if name in ("copy", "paste", "duplicate", "delete", "up", "down", "save-reusable"):
            self.panel.flush()
        if name == "undo":
            session.undo()
        elif name == "redo":
            session.redo()
        elif name == "copy":
            session.copy()
        elif name == "paste":
            session.paste()
        elif name == "duplicate":
            session.duplicate()
        elif name == "delete":
            session.delete()
        elif name in ("up", "down"):
            session.move(-1 if name == "up" else 1)
        elif name == "save-reusable":
            self.save_reusable()
        elif name == "edit":
            self.panel.focus_first_field()
        elif name in ("save", "save-note"):
            self.save(ask_note=name == "save-note")
        elif name == "preview":
            self.open_preview()
        elif name == "history":
            self.open_history()
        elif name == "brand-kit":
            self.open_brand_kit()
        elif name == "show-problems":
            self.canvas.select("", "")

    def save_reusable(self, name: str | None = None) -> bool:
        item = self.session.selected_item()
        if item is None:
            return False
        kind = "section" if isinstance(item, Section) else "block"
        if name is None:
            name, ok = QInputDialog.getText(self, "Save as reusable", f"Name of the reusable {kind}:",
                                            QLineEdit.EchoMode.Normal, "" if kind == "section" else item.title)
            if not ok:
                return False
        try:
            self.ctx.bus.execute(SaveReusableBlock(name=name, kind=kind, content=item.to_json()))
        except EditorError as exc:
            self.notice.emit(str(exc), "error")
            return False
        self.notice.emit(f"Saved “{name.strip()}” in the palette under Saved blocks.", "info")
        return True

    def _delete_saved(self, saved_id: int, name: str) -> None:
        from app.modules.editor.messages import DeleteReusableBlock

        answer = QMessageBox.question(self, "Delete saved block", f"Delete the saved block “{name}”? Emails that "
                                      "already use it keep their copy.")
        if answer == QMessageBox.StandardButton.Yes:
            self.ctx.bus.execute(DeleteReusableBlock(saved_block_id=saved_id))

    def _rename(self) -> None:
        text = self.bar.name_edit.text().strip()
        if self.template_id is None or text == self.name:
            return
        from app.modules.editor.messages import RenameTemplate

        try:
            self.ctx.bus.execute(RenameTemplate(template_id=self.template_id, name=text))
        except EditorError as exc:
            self.bar.name_edit.setText(self.name)
            self.notice.emit(str(exc), "error")
            return
        self.name = text

    # -- saving and the dialogs ------------------------------------------------------------------------------

    def save(self, note: str = "", *, ask_note: bool = False) -> bool:
        """Save the document as a new version in the background; False when nothing was started."""
        self.panel.flush()
        if self.template_id is None:
            return False
        if ask_note:
            note, ok = QInputDialog.getText(self, "Save with a note", "What changed in this version?")
            if not ok:
                return False
        from app.modules.editor.messages import SaveTemplate

        command = SaveTemplate(template_id=self.template_id, document=self.document.to_json(), note=note.strip())
        index = self.session.undo_stack.index()
        self.bar.set_saving(True)

        def done(saved: Any) -> None:
            self.bar.set_saving(False)
            self.version = saved.version
            if self.session.undo_stack.index() == index:
                self.session.undo_stack.setClean()
            self.bar.set_template(self.name, saved.version)
            self.notice.emit(f"Saved version {saved.version} of “{saved.name}”.", "info")

        def failed(error: BaseException) -> None:
            self.bar.set_saving(False)
            self.notice.emit(f"Could not save: {error}", "error")

        return self.work.submit(lambda: self.ctx.bus.execute(command), done, failed)

    @property
    def dirty(self) -> bool:
        return not self.session.undo_stack.isClean()

    def open_preview(self) -> Any:
        from app.modules.editor.ui.preview import PreviewDialog

        dialog = self.findChild(PreviewDialog)
        if dialog is None:
            dialog = PreviewDialog(self.ctx, self.work, self.contacts or ContactSource(self.ctx.kernel), self)
            self.session.changed.connect(lambda document, _s: dialog.set_document(document))
        dialog.set_brand(self.brand)
        dialog.set_document(self.document, name=self.name)
        dialog.show()
        dialog.raise_()
        return dialog

    def open_history(self) -> Any:
        from app.modules.editor.ui.history import HistoryDialog

        if self.template_id is None:
            return None
        dialog = HistoryDialog(self.ctx, self.work, images=self.images, template_id=self.template_id, name=self.name,
                               brand=self.brand, parent=self)
        dialog.restore_requested.connect(self.restore_version)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def restore_version(self, version: int) -> bool:
        from app.modules.editor.messages import RestoreVersion

        if self.template_id is None:
            return False
        if self.dirty and QMessageBox.question(
                self, "Restore a version", "Your unsaved changes will be lost. Restore anyway?") \
                != QMessageBox.StandardButton.Yes:
            return False
        template_id, db = self.template_id, self.ctx.db

        def work() -> tuple[Any, store.TemplateContent]:
            saved = self.ctx.bus.execute(RestoreVersion(template_id=template_id, version=version))
            return saved, store.load_template(db, template_id)

        def done(result: tuple[Any, store.TemplateContent]) -> None:
            saved, content = result
            if content.id == self.template_id:
                self.open(content, self.brand, self.custom_fields)
            self.notice.emit(f"Version {version} restored as version {saved.version}.", "info")

        return self.work.submit(work, done, lambda error: self.notice.emit(f"Could not restore: {error}", "error"))

    def open_brand_kit(self) -> Any:
        from app.modules.editor.ui.brand_dialog import BrandKitDialog

        dialog = BrandKitDialog(self.ctx, self.brand, self.images, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def shutdown(self) -> None:
        self.panel.flush()
        from app.modules.editor.ui.preview import PreviewDialog

        for dialog in self.findChildren(PreviewDialog):
            dialog.close()
            dialog.release()

    def sizeHint(self) -> QSize:
        return QSize(1200, 760)

