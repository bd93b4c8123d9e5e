"""The template library: search, new from a starter, duplicate, delete, import and export HTML, thumbnails."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import QModelIndex, QPoint, QSize, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLineEdit,
    QMenu,
    QMessageBox,
    QPushButton,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.modules.editor import store
from app.modules.editor.document import Document
from app.modules.editor.messages import (
    DeleteTemplate,
    DuplicateTemplate,
    EditorError,
    ImportHtmlTemplate,
    SaveTemplate,
    SetTemplateThumbnail,
)
from app.modules.editor.starters import STARTERS
from app.modules.editor.ui.email_paint import ImageCache
from app.modules.editor.ui.glyphs import glyph
from app.modules.editor.ui.library_view import INFO_ROLE, TemplateGrid, TemplateModel
from app.modules.editor.ui.thumbnails import write_thumbnail
from app.ui.background import BackgroundWork
from app.ui.widgets import label

log = logging.getLogger(__name__)
SEARCH_DELAY_MS = 200
HTML_LIMIT = 2 * 1024 * 1024


def free_name(db: Any, wanted: str) -> str:
    """``wanted``, or ``wanted 2``, ``wanted 3``... whichever no template has yet."""
    name, number = wanted, 2
    while store.find_template(db, name) is not None:
        name = f"{wanted} {number}"
        number += 1
    return name


def read_html(path: Path) -> str:
    """An HTML file's text (UTF-8, or Windows-1252 for old exports); refuses huge or unreadable files."""
    size = path.stat().st_size
    if size > HTML_LIMIT:
        raise EditorError(f"{path.name} is {size // 1024} KB; an email must be under {HTML_LIMIT // 1024} KB")
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


class Library(QWidget):
    """Emits ``open_requested(template_id)``; the page switches to the Designer."""

    open_requested = Signal(int)
    notice = Signal(str, str)

    def __init__(self, ctx: Any, work: BackgroundWork, images: ImageCache, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("EditorLibrary")
        self.ctx = ctx
        self.db = ctx.kernel.db
        self.work = work
        self.images = images
        self.loaded = False
        self._making: set[int] = set()
        self._pending_select: int | None = None
        self.model = TemplateModel(self)
        self.grid = TemplateGrid()
        self.grid.setModel(self.model)
        self.search = QLineEdit()
        self.search.setObjectName("TemplateSearch")
        self.search.setPlaceholderText("Search templates")
        self.search.setClearButtonEnabled(True)
        self.search.addAction(glyph("search", "muted"), QLineEdit.ActionPosition.LeadingPosition)
        self.search.setMinimumWidth(240)
        self._search_timer = QTimer(self, singleShot=True, interval=SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(self.reload)
        self.search.textChanged.connect(lambda _t: self._search_timer.start())
        self.count = label("", "muted")
        self.new_button = QPushButton(glyph("plus", "on_accent"), "New template")
        self.new_button.setObjectName("NewTemplate")
        self.new_button.setProperty("primary", True)
        self.new_menu = QMenu(self.new_button)
        self.new_menu.addAction(glyph("page", "text"), "Blank email", lambda: self.create(None))
        self.new_menu.addSection("Starters")
        for name in STARTERS:
            self.new_menu.addAction(glyph("page", "text"), name, lambda n=name: self.create(n))
        self.new_button.setMenu(self.new_menu)
        self.import_button = QPushButton(glyph("import", "text"), "Import HTML…")
        self.import_button.setObjectName("ImportHtml")
        self.import_button.clicked.connect(lambda _=False: self.import_html())
        self.buttons: dict[str, QToolButton] = {}
        self.empty = label("", "muted", wrap=True)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.grid)
        self.stack.addWidget(self.empty)
        self._layout()
        self.grid.doubleClicked.connect(self._open_index)
        self.grid.activated.connect(self._open_index)
        self.grid.customContextMenuRequested.connect(self._context_menu)
        self.grid.selectionModel().selectionChanged.connect(lambda *_: self._enable())
        self._enable()

    def _layout(self) -> None:
        header = QHBoxLayout()
        title = QVBoxLayout()
        title.setSpacing(2)
        title.addWidget(label("Templates", object_name="PageTitle"))
        title.addWidget(self.count)
        header.addLayout(title)
        header.addStretch(1)
        header.addWidget(self.search)
        header.addWidget(self.import_button)
        header.addWidget(self.new_button)
        actions = QHBoxLayout()
        actions.setSpacing(4)
        for name, icon, text in (("open", "editor", "Open"), ("duplicate", "duplicate", "Duplicate"),
                                 ("export", "export", "Export HTML…"), ("delete", "delete", "Delete…")):
            button = QToolButton()
            button.setObjectName(f"Library-{name}")
            button.setIcon(glyph(icon, "danger" if name == "delete" else "text"))
            button.setIconSize(QSize(16, 16))
            button.setText(text)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            button.setAutoRaise(True)
            button.clicked.connect(lambda _=False, n=name: self.run(n))
            self.buttons[name] = button
            actions.addWidget(button)
        actions.addStretch(1)
        column = QVBoxLayout(self)
        column.setContentsMargins(28, 22, 28, 12)
        column.setSpacing(10)
        column.addLayout(header)
        column.addLayout(actions)
        column.addWidget(self.stack, 1)

    # -- reading -------------------------------------------------------------------------------------------

    def reload(self) -> None:
        search = self.search.text()
        self.work.submit(lambda: store.list_templates(self.db, search), lambda found: self._show(found, search))

    def _show(self, templates: list[store.TemplateInfo], search: str) -> None:
        selected = self.selected()
        self.model.set_templates(templates)
        self.loaded = True
        total = len(templates)
        self.count.setText(f"{total} template{'s' if total != 1 else ''}" + (f" matching “{search}”" if search else ""))
        if not templates:
            self.empty.setText(f"No template is called anything like “{search}”." if search else
                               "No templates yet. Start from a starter with “New template”, or import an HTML email.")
        self.stack.setCurrentWidget(self.grid if templates else self.empty)
        wanted = self._pending_select or (selected.id if selected is not None else None)
        if wanted is not None and self.select(wanted):
            self._pending_select = None
        for info in templates:
            picture = info.thumbnail
            if picture is not None and info.thumbnail_version == info.current_version and picture.is_file():
                if info.id not in self.model.pictures:
                    self.model.set_thumbnail(info.id, picture)
            else:
                self.make_thumbnail(info.id)
        self._enable()

    def make_thumbnail(self, template_id: int) -> None:
        """Draw a template's card picture in the background and record it (the library shows it when done)."""
        if template_id in self._making:
            return
        self._making.add(template_id)
        data_dir = self.ctx.paths.data_dir

        def draw() -> tuple[int, Path]:
            content = store.load_template(self.db, template_id)
            target = store.thumbnail_file(data_dir, template_id, content.version)
            write_thumbnail(content.document, store.brand_kit(self.db), self.images, target)
            self.ctx.bus.execute(SetTemplateThumbnail(template_id=template_id, version=content.version,
                                                      path=str(target)))
            return template_id, target

        def done(result: tuple[int, Path]) -> None:
            self._making.discard(result[0])
            self.model.set_thumbnail(*result)

        def failed(error: BaseException) -> None:
            self._making.discard(template_id)
            log.warning("could not draw the thumbnail of template %s", template_id, exc_info=error)

        self.work.submit(draw, done, failed)

    def redraw_all(self) -> None:
        """The brand kit changed: every card shows it."""
        for info in self.model.templates:
            self.make_thumbnail(info.id)

    # -- selection -------------------------------------------------------------------------------------------

    def selected(self) -> store.TemplateInfo | None:
        indexes = self.grid.selectionModel().selectedIndexes()
        return indexes[0].data(INFO_ROLE) if indexes else None

    def select(self, template_id: int) -> bool:
        row = self.model.row_of(template_id)
        if row < 0:
            return False
        self.grid.setCurrentIndex(self.model.index(row))
        return True

    def _enable(self) -> None:
        chosen = self.selected() is not None
        for button in self.buttons.values():
            button.setEnabled(chosen)

    def _open_index(self, index: QModelIndex) -> None:
        info = index.data(INFO_ROLE)
        if info is not None:
            self.open_requested.emit(info.id)

    def _context_menu(self, pos: QPoint) -> None:
        index = self.grid.indexAt(pos)
        if not index.isValid():
            return
        self.grid.setCurrentIndex(index)
        menu = QMenu(self)
        for name, text in (("open", "Open"), ("duplicate", "Duplicate"), ("export", "Export HTML…"),
                           ("delete", "Delete…")):
            menu.addAction(text, lambda n=name: self.run(n))
        menu.popup(self.grid.viewport().mapToGlobal(pos))

    # -- actions ----------------------------------------------------------------------------------------------

    def run(self, name: str) -> None:
        info = self.selected()
        if info is None:
            return
        if name == "open":
            self.open_requested.emit(info.id)
        elif name == "duplicate":
            self.duplicate(info.id)
        elif name == "export":
            self.export_html(info.id)
        elif name == "delete":
            self.delete(info.id)

    def _execute(self, command: Any, then: Any = None, failure: str = "") -> bool:
        """Run a command off the GUI thread (saves render HTML); errors are shown in words."""
        def failed(error: BaseException) -> None:
            self.notice.emit(f"{failure}: {error}" if failure else str(error), "error")

        return self.work.submit(lambda: self.ctx.bus.execute(command), then or (lambda _r: None), failed)

    def create(self, starter: str | None) -> bool:
        document = STARTERS[starter]() if starter else Document()
        name = free_name(self.db, starter or "Untitled email")
        command = SaveTemplate(template_id=None, document=document.to_json(), name=name,
                               note=f"new from the {starter} starter" if starter else "new blank email")
        return self._execute(command, lambda saved: self.open_requested.emit(saved.template_id),
                             "Could not create the template")

    def duplicate(self, template_id: int) -> bool:
        def done(saved: Any) -> None:
            self.notice.emit(f"Made “{saved.name}”.", "info")
            self._pending_select = saved.template_id

        return self._execute(DuplicateTemplate(template_id=template_id), done, "Could not duplicate")

    def delete(self, template_id: int, *, confirm: bool = True) -> bool:
        info = store.get_template(self.db, template_id)
        if info is None:
            return False
        if confirm and QMessageBox.question(
                self, "Delete template", f"Delete “{info.name}” and its {info.current_version} version(s)? "
                "Campaigns already sent keep their copy.") != QMessageBox.StandardButton.Yes:
            return False
        return self._execute(DeleteTemplate(template_id=template_id),
                             lambda _r: self.notice.emit(f"Deleted “{info.name}”.", "info"), "Could not delete")

    def import_html(self, path: Path | None = None) -> bool:
        if path is None:
            chosen, _ = QFileDialog.getOpenFileName(self, "Import an HTML email", "", "HTML files (*.html *.htm)")
            if not chosen:
                return False
            path = Path(chosen)
        source = path

        def work() -> Any:
            html = read_html(source)
            name = free_name(self.db, source.stem.replace("_", " ").replace("-", " ").strip() or "Imported email")
            return self.ctx.bus.execute(ImportHtmlTemplate(name=name, html=html))

        def done(saved: Any) -> None:
            self.notice.emit(f"Imported {source.name} as “{saved.name}”; its HTML is kept as it is.", "info")
            self.open_requested.emit(saved.template_id)

        def failed(error: BaseException) -> None:
            reason = error.strerror if isinstance(error, OSError) else str(error)
            self.notice.emit(f"Could not import {source.name}: {reason}", "error")

        return self.work.submit(work, done, failed)

    def export_html(self, template_id: int, path: Path | None = None) -> bool:
        from app.modules.editor.api import compile_template

        info = store.get_template(self.db, template_id)
        if info is None:
            return False
        if path is None:
            chosen, _ = QFileDialog.getSaveFileName(self, "Export HTML", f"{info.name}.html", "HTML (*.html)")
            if not chosen:
                return False
            path = Path(chosen)
        target = path

        def work() -> Path:
            compiled = compile_template(self.db, template_id, subject=info.name)
            partial = target.with_name(target.name + ".part")
            partial.write_text(compiled.html_source, encoding="utf-8")
            partial.replace(target)
            return target

        return self.work.submit(work, lambda written: self.notice.emit(
            f"Exported “{info.name}” to {written} (merge tags kept).", "info"),
            lambda error: self.notice.emit(f"Could not export to {target}: {error}", "error"))
