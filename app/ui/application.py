"""Start the desktop app: Qt, the single-instance guard, the kernel, the bridge, the window, one event loop."""

from __future__ import annotations

import logging
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QCoreApplication, Qt, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from app import APP_ID, APP_NAME, __version__
from app.ui.context import UiContext
from app.ui.resources import app_icon
from app.ui.single_instance import SingleInstance, instance_key

if TYPE_CHECKING:
    from app.cli import GlobalOptions
    from app.kernel.boot import Kernel
    from app.kernel.registry import ModuleSpec
    from app.ui.bridge import QtBridge
    from app.ui.errors import ErrorReporter
    from app.ui.main_window import MainWindow
    from app.ui.theme import ThemeController

__all__ = ["GuiSession", "UiContext", "create_application", "open_session", "run_gui"]

log = logging.getLogger(__name__)
EXIT_AFTER_SHOWN = "POSTROOM_EXIT_AFTER_SHOWN"
SHOWN_LINE = "postroom: window shown"


def create_application() -> QApplication:
    existing = QApplication.instance()
    if isinstance(existing, QApplication):
        return existing
    # Pages may import QtWebEngine lazily (long after start-up); it needs this set before the app exists.
    QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts)
    # Only the program name: our own parser already read the command line, Qt must not reinterpret it.
    app = QApplication([sys.argv[0] if sys.argv else APP_ID])
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(APP_NAME)
    app.setApplicationVersion(__version__)
    app.setDesktopFileName(APP_ID)
    app.setWindowIcon(app_icon())
    return app


@dataclass
class GuiSession:
    """Everything one window needs, closed in reverse order of opening."""

    app: QApplication
    guard: SingleInstance
    kernel: Kernel
    bridge: QtBridge
    theme: ThemeController
    errors: ErrorReporter
    ctx: UiContext
    window: MainWindow
    _closed: bool = field(default=False, repr=False)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.window.isVisible():
            self.window.close()
        self.errors.uninstall()
        self.errors.close_dialog()
        self.bridge.close()
        try:
            self.kernel.close()
        finally:
            self.guard.close()
            self.window.deleteLater()


def open_session(app: QApplication, options: GlobalOptions, module_loader: Callable[[], list[ModuleSpec]],
                 **kernel_options: Any) -> GuiSession | None:
    """Start the kernel and build the window; None when another Postroom already has this data folder."""
    paths = options.paths()
    # Before the database is touched: a second window on the same folder only wakes the first one.
    guard = SingleInstance(instance_key(paths.data_dir))
    if not guard.start():
        log.info("Postroom already runs on %s; asked it to come forward", paths.data_dir)
        return None

    from app.kernel.boot import start_kernel
    from app.kernel.bus import MessageBus
    from app.ui.bridge import QtBridge
    from app.ui.errors import ErrorReporter
    from app.ui.main_window import MainWindow
    from app.ui.theme import THEME_KEY, ThemeController

    bus = MessageBus()
    bridge = QtBridge(bus)  # before the modules start, so Activity shows how they started
    try:
        kernel = start_kernel(paths, database_url=options.database_url, modules=module_loader(),
                              bus=bus, services=True, defer_services=True, **kernel_options)
    except Exception:
        bridge.close()
        guard.close()
        raise
    theme = ThemeController(app, kernel.settings.get(THEME_KEY, "system"))
    errors = ErrorReporter(log_hint=f"Details are in {paths.log_file}.")
    errors.install()
    ctx = UiContext.for_kernel(kernel, bridge, theme)
    window = MainWindow(ctx)
    errors.set_window(window)
    guard.activation_requested.connect(window.activate)
    # Servers and loops (tracking endpoint, local outbox, sender) start once the window is on screen.
    window.first_painted.connect(lambda: QTimer.singleShot(100, kernel.start_services))
    return GuiSession(app, guard, kernel, bridge, theme, errors, ctx, window)


def _exit_after_shown(app: QApplication, window: MainWindow) -> None:
    """For the start-up benchmark: announce the first painted frame, then leave."""

    def announce() -> None:
        print(SHOWN_LINE, flush=True)
        app.exit(0)

    window.first_painted.connect(lambda: QTimer.singleShot(0, announce))


def _let_python_handle_ctrl_c(app: QApplication, window: MainWindow) -> None:
    # Qt's loop holds the thread in C++; a periodic wake-up lets Python run its signal handlers.
    signal.signal(signal.SIGINT, lambda *_: window.close())
    timer = QTimer(app)
    timer.timeout.connect(lambda: None)
    timer.start(300)


def _run_loop(app: QApplication) -> int:
    # One Qt loop for the whole run, driven by qasync so pages may await coroutines (see PITFALLS).
    import asyncio

    os.environ.setdefault("QT_API", "pyside6")  # qasync would pick PyQt if both were installed
    import qasync

    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    try:
        with loop:
            code = loop.run_forever()
    finally:
        asyncio.set_event_loop(None)
    return int(code or 0)


def run_gui(options: GlobalOptions, module_loader: Callable[[], list[ModuleSpec]]) -> int:
    """Open the window and run until it closes; returns the process exit code."""
    app = create_application()
    try:
        session = open_session(app, options, module_loader)
    except Exception as exc:
        log.exception("Postroom could not start")
        message = f"Postroom could not open its data folder or database.\n\n{type(exc).__name__}: {exc}"
        print(f"postroom: error: {message}", file=sys.stderr)
        if os.environ.get(EXIT_AFTER_SHOWN) != "1":
            QMessageBox.critical(None, "Postroom cannot start", message)
        return 1
    if session is None:
        return 0
    try:
        if os.environ.get(EXIT_AFTER_SHOWN) == "1":
            _exit_after_shown(app, session.window)
        _let_python_handle_ctrl_c(app, session.window)
        session.window.show()
        code = _run_loop(app)
    finally:
        session.close()
    app.quit()
    return code
