"""Fixtures for the editor's pages: a real kernel with the editor module on a real SQLite file, and helpers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QTimer
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QWidget

from app.kernel.boot import Kernel, start_kernel
from app.kernel.paths import AppPaths
from app.modules.editor import store
from app.modules.editor.module import MODULE
from app.modules.editor.ui.editor_page import EditorPage
from app.ui.bridge import QtBridge
from app.ui.context import UiContext
from tests.conftest import MemoryKeyring
from tests.qt_compat import drag_position

TIMEOUT = 10_000


@pytest.fixture
def editor_kernel(tmp_path: Path) -> Iterator[Kernel]:
    started = start_kernel(AppPaths.inside(tmp_path / "data"), modules=[MODULE], secrets_backend=MemoryKeyring(),
                           log_to_file=False)
    assert started.registry.status("editor").state == "started"  # type: ignore[union-attr]
    yield started
    started.close()


@pytest.fixture
def ctx(qapp: QApplication, editor_kernel: Kernel) -> Iterator[UiContext]:
    bridge = QtBridge(editor_kernel.bus)
    yield UiContext.for_kernel(editor_kernel, bridge)
    bridge.close()
    bridge.deleteLater()


@pytest.fixture
def page(qtbot: Any, ctx: UiContext) -> Iterator[EditorPage]:
    built = EditorPage(ctx)
    qtbot.addWidget(built)
    built.resize(1400, 900)
    built.show()
    qtbot.waitExposed(built)
    qtbot.waitUntil(lambda: built.library.loaded, timeout=TIMEOUT)
    yield built
    built.close()
    built.shutdown()  # before the kernel closes: background work must not outlive the database


def open_template(qtbot: Any, page: EditorPage, name: str) -> None:
    info = store.find_template(page.db, name)
    assert info is not None, f"no template {name}"
    page.open_template(info.id)
    qtbot.waitUntil(lambda: page.in_designer and page.designer.template_id == info.id, timeout=TIMEOUT)


def send_drop(target: QWidget, mime: QMimeData, point: QPointF) -> tuple[bool, bool]:
    """Drag ``mime`` over ``target`` and drop it at ``point`` (as Qt would during a real drag)."""
    buttons, mods = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    actions = Qt.DropAction.CopyAction | Qt.DropAction.MoveAction
    enter = QDragEnterEvent(drag_position(point), actions, mime, buttons, mods)
    QApplication.sendEvent(target, enter)
    move = QDragMoveEvent(drag_position(point), actions, mime, buttons, mods)
    QApplication.sendEvent(target, move)
    dropped = QDropEvent(point, Qt.DropAction.CopyAction | Qt.DropAction.MoveAction, mime, buttons, mods)
    QApplication.sendEvent(target, dropped)
    return enter.isAccepted() and move.isAccepted(), dropped.isAccepted()


def answer_next_dialog(answer: Callable[[QWidget], None]) -> None:
    """Answer the next modal dialog (message box, input dialog) as soon as it appears."""

    def attempt() -> None:
        dialog = QApplication.activeModalWidget()
        if dialog is None:
            QTimer.singleShot(20, attempt)
            return
        answer(dialog)

    QTimer.singleShot(0, attempt)
