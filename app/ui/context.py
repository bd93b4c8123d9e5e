"""What page and settings-page factories receive: the kernel's services plus the shell's own."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.kernel.boot import Kernel
    from app.kernel.bus import MessageBus
    from app.kernel.database import Database
    from app.kernel.jobs import JobRunner
    from app.kernel.paths import AppPaths
    from app.kernel.settings import Settings
    from app.ui.bridge import QtBridge
    from app.ui.main_window import MainWindow
    from app.ui.theme import ThemeController


@dataclass
class UiContext:
    """Handed to ``PageSpec.factory`` and ``SettingsPageSpec.factory``; views subscribe through ``bridge``."""

    bus: MessageBus
    bridge: QtBridge
    kernel: Kernel
    settings: Settings
    jobs: JobRunner
    theme: ThemeController | None = None
    main_window: MainWindow | None = None

    @classmethod
    def for_kernel(cls, kernel: Kernel, bridge: QtBridge, theme: ThemeController | None = None) -> UiContext:
        return cls(bus=kernel.bus, bridge=bridge, kernel=kernel, settings=kernel.settings, jobs=kernel.jobs,
                   theme=theme)

    @property
    def db(self) -> Database:
        return self.kernel.db

    @property
    def paths(self) -> AppPaths:
        return self.kernel.paths

    def show_page(self, key: str) -> bool:
        """Bring the page ``key`` forward; False when no such page exists (its module may be disabled)."""
        return self.main_window.show_page(key) if self.main_window is not None else False

    def show_status(self, text: str, timeout_ms: int = 5000) -> None:
        if self.main_window is not None:
            self.main_window.statusBar().showMessage(text, timeout_ms)
