"""Version history: every saved version, an older one drawn beside the current one with changes marked, Restore."""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.modules.editor import store
from app.modules.editor.brand import BrandKit
from app.modules.editor.document import Document
from app.modules.editor.ui.email_paint import ImageCache
from app.modules.editor.ui.glyphs import glyph
from app.modules.editor.ui.thumbnails import draw_email
from app.ui import theme
from app.ui.background import BackgroundWork
from app.ui.widgets import label

log = logging.getLogger(__name__)
ADDED, REMOVED, CHANGED = "#2f9e5b", "#d64545", "#d99a1c"
PANE_WIDTH = 380


def differences(old: Document, new: Document) -> tuple[dict[str, str], dict[str, str]]:
    """Colours for the blocks that differ: (in the old version, in the new one). Blocks are matched by id."""
    before = {block.id: block.to_json() for block in old.blocks()}
    after = {block.id: block.to_json() for block in new.blocks()}
    old_marks = {key: REMOVED if key not in after else CHANGED for key, data in before.items()
                 if after.get(key) != data}
    new_marks = {key: ADDED if key not in before else CHANGED for key, data in after.items()
                 if before.get(key) != data}
    return old_marks, new_marks


def _pane(title: str) -> tuple[QWidget, QLabel, QLabel]:
    holder = QWidget()
    column = QVBoxLayout(holder)
    column.setContentsMargins(0, 0, 0, 0)
    heading = label(title, object_name="FieldLabel")
    picture = QLabel()
    picture.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
    scroller = QScrollArea()
    scroller.setWidget(picture)
    scroller.setWidgetResizable(True)
    scroller.setMinimumWidth(PANE_WIDTH + 24)
    column.addWidget(heading)
    column.addWidget(scroller, 1)
    return holder, heading, picture


class HistoryDialog(QDialog):
    """Emits ``restore_requested(version)``; the Designer restores it (as a new version) and reloads."""

    restore_requested = Signal(int)

    def __init__(self, ctx: Any, work: BackgroundWork, *, images: ImageCache, template_id: int, name: str,
                 brand: BrandKit, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("EditorHistory")
        self.setWindowTitle(f"Version history — {name}")
        self.ctx, self.work, self.images, self.brand = ctx, work, images, brand
        self.template_id = template_id
        self.versions: list[store.VersionInfo] = []
        self.shown_pair: tuple[int, int] | None = None
        self.list = QListWidget()
        self.list.setObjectName("VersionList")
        self.list.setMinimumWidth(250)
        self.list.currentRowChanged.connect(self._chosen)
        old_pane, self.old_title, self.old_picture = _pane("Selected version")
        new_pane, self.new_title, self.new_picture = _pane("Current version")
        legend = QHBoxLayout()
        for colour, text in ((ADDED, "added"), (REMOVED, "removed"), (CHANGED, "changed")):
            chip = QLabel(f"<span style='color:{colour}; font-size:14pt'>■</span> {text}")
            legend.addWidget(chip)
        legend.addStretch(1)
        compare = QWidget()
        compare_column = QVBoxLayout(compare)
        compare_column.setContentsMargins(0, 0, 0, 0)
        panes = QHBoxLayout()
        panes.addWidget(old_pane)
        panes.addWidget(new_pane)
        compare_column.addLayout(panes, 1)
        compare_column.addLayout(legend)
        splitter = QSplitter()
        splitter.addWidget(self.list)
        splitter.addWidget(compare)
        splitter.setStretchFactor(1, 1)
        self.restore_button = QPushButton(glyph("history", "on_accent"), "Restore this version")
        self.restore_button.setObjectName("RestoreVersion")
        self.restore_button.setProperty("primary", True)
        self.restore_button.setEnabled(False)
        self.restore_button.clicked.connect(self._restore)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(self.restore_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        column = QVBoxLayout(self)
        column.addWidget(label("Every save is kept. Pick a version to compare it with the current one; restoring "
                               "it adds a new version, so nothing is lost.", "muted", wrap=True))
        column.addWidget(splitter, 1)
        column.addWidget(buttons)
        self.resize(1120, 780)
        self.reload()

    def reload(self) -> None:
        db = self.ctx.kernel.db
        self.work.submit(lambda: store.versions(db, self.template_id), self._show_versions)

    def _show_versions(self, versions: list[store.VersionInfo]) -> None:
        self.versions = versions
        self.list.clear()
        for info in versions:
            when = f"{info.created_at:%d %b %Y, %H:%M}"
            text = f"Version {info.version}{'  (current)' if info.is_current else ''}\n{when}"
            if info.note:
                text += f"\n{info.note}"
            item = QListWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, info.version)
            self.list.addItem(item)
        if versions:
            self.list.setCurrentRow(1 if len(versions) > 1 else 0)

    def selected_version(self) -> int | None:
        item = self.list.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None

    def _chosen(self, row: int) -> None:
        if not 0 <= row < len(self.versions):
            return
        chosen = self.versions[row]
        current = next((v.version for v in self.versions if v.is_current), chosen.version)
        self.restore_button.setEnabled(not chosen.is_current)
        self.old_title.setText(f"Version {chosen.version}")
        self.new_title.setText(f"Current: version {current}")
        db, brand, images, template_id = self.ctx.kernel.db, self.brand, self.images, self.template_id

        def draw() -> tuple[Any, Any, int, int]:
            old = store.load_template(db, template_id, chosen.version).document
            new = store.load_template(db, template_id, current).document
            old_marks, new_marks = differences(old, new)
            return (draw_email(old, brand, images, highlights=old_marks),
                    draw_email(new, brand, images, highlights=new_marks), chosen.version, current)

        self.old_picture.setText("Drawing…")
        self.work.submit(draw, self._show_pictures)

    def _show_pictures(self, result: tuple[Any, Any, int, int]) -> None:
        old, new, old_version, new_version = result
        if self.selected_version() != old_version:
            return  # the user picked another version meanwhile
        for picture, image in ((self.old_picture, old), (self.new_picture, new)):
            pixmap = QPixmap.fromImage(image).scaledToWidth(PANE_WIDTH, Qt.TransformationMode.SmoothTransformation)
            picture.setPixmap(pixmap)
        self.shown_pair = (old_version, new_version)
        colors = theme.colors()
        self.setStyleSheet(f"QScrollArea {{ background: {colors.window}; }}")

    def _restore(self) -> None:
        version = self.selected_version()
        if version is not None:
            self.restore_requested.emit(version)
            self.accept()
