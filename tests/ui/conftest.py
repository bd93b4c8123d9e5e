"""Fixtures for shell tests: a real kernel on a real SQLite file, small test modules, and a window leak check."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QApplication, QLabel, QVBoxLayout, QWidget

from app.kernel.boot import Kernel, start_kernel
from app.kernel.paths import AppPaths
from app.kernel.registry import ModuleContext, ModuleSpec, PageSpec, SettingsPageSpec
from app.ui.bridge import QtBridge
from app.ui.context import UiContext
from app.ui.main_window import MainWindow
from app.ui.theme import ThemeController


@dataclass
class Recorder:
    """What the test modules saw, so tests can check the shell called them."""

    built_pages: list[str] = field(default_factory=list)
    applied: list[str] = field(default_factory=list)


class ContactsSettings(QWidget):
    def __init__(self, recorder: Recorder) -> None:
        super().__init__()
        self.setObjectName("ContactsSettings")
        self._recorder = recorder
        QVBoxLayout(self).addWidget(QLabel("Default list for imports"))

    def apply(self) -> None:
        self._recorder.applied.append("contacts")


def contacts_module(recorder: Recorder) -> ModuleSpec:
    """A test stand-in with a page and a settings page (not the product's contacts module)."""

    def page(_ctx: Any) -> QWidget:
        recorder.built_pages.append("contacts")
        widget = QWidget()
        widget.setObjectName("ContactsPage")
        QVBoxLayout(widget).addWidget(QLabel("All contacts"))
        return widget

    def setup(context: ModuleContext) -> None:
        context.add_page(PageSpec(key="contacts", title="Contacts", factory=page, icon="contacts", order=10))
        context.add_settings_page(SettingsPageSpec(key="contacts", title="Contacts",
                                                   factory=lambda _ctx: ContactsSettings(recorder)))

    return ModuleSpec(name="contacts", title="Contacts", setup=setup)


def reports_module() -> ModuleSpec:
    """Starts fine, but its page cannot be built."""

    def page(_ctx: Any) -> QWidget:
        raise RuntimeError("the reports database view is missing")

    def setup(context: ModuleContext) -> None:
        context.add_page(PageSpec(key="reports", title="Reports", factory=page, icon="stats", order=20))

    return ModuleSpec(name="reports", title="Reports", setup=setup)


def broken_module() -> ModuleSpec:
    """Fails at setup, so the registry disables it."""

    def setup(_context: ModuleContext) -> None:
        raise RuntimeError("SMTP support is not installed")

    return ModuleSpec(name="delivery", title="Delivery", setup=setup)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def kernel(data_dir: Path, recorder: Recorder, memory_keyring: Any) -> Iterator[Kernel]:
    started = start_kernel(
        AppPaths.inside(data_dir),
        modules=[contacts_module(recorder), reports_module(), broken_module()],
        secrets_backend=memory_keyring,
        log_to_file=False,
    )
    yield started
    started.close()


@pytest.fixture
def ui(qapp: QApplication, kernel: Kernel) -> Iterator[UiContext]:
    bridge = QtBridge(kernel.bus)
    theme = ThemeController(qapp, "light")
    ctx = UiContext.for_kernel(kernel, bridge, theme)
    yield ctx
    bridge.close()
    bridge.deleteLater()
    theme.set_mode("light")
    theme.deleteLater()


@pytest.fixture
def window(qtbot: Any, ui: UiContext) -> Iterator[MainWindow]:
    main = MainWindow(ui)
    qtbot.addWidget(main)
    main.show()
    qtbot.waitExposed(main)
    yield main
    main.close()


@pytest.fixture(autouse=True)
def _no_windows_left(qapp: QApplication) -> Iterator[None]:
    """Fail a test that leaves a window open (threads are checked by tests/conftest.py)."""
    yield
    qapp.processEvents()
    windows = [w for w in QApplication.topLevelWidgets() if w.isVisible()]
    for widget in windows:
        widget.close()
    assert not windows, f"windows left open: {[w.objectName() or type(w).__name__ for w in windows]}"
