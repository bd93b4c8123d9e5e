"""The main window: sidebar of pages (Home, one per module, Activity), menus, status bar and remembered layout."""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path

from PySide6.QtCore import QByteArray, QSize, Qt, Signal
from PySide6.QtGui import (
    QAction,
    QActionGroup,
    QCloseEvent,
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QGuiApplication,
    QKeySequence,
    QPaintEvent,
)
from PySide6.QtWidgets import (
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app import APP_NAME, __version__
from app.ui import icons, theme
from app.ui.activity_page import ActivityModel, ActivityPage
from app.ui.context import UiContext
from app.ui.home_page import HomePage
from app.ui.jobs_widget import JobsWidget
from app.ui.pages import PageEntry
from app.ui.resources import app_icon
from app.ui.widgets import TintedIcon, label, open_folder

log = logging.getLogger(__name__)

GEOMETRY_KEY = "ui.geometry"
LAST_PAGE_KEY = "ui.last_page"
DEFAULT_SIZE = QSize(1180, 760)
SIDEBAR_WIDTH = 216
HOME, ACTIVITY = "home", "activity"


class MainWindow(QMainWindow):
    """Pages are built the first time they are shown, so start-up pays only for the first one."""

    first_painted = Signal()
    page_changed = Signal(str)

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        ctx.main_window = self
        self._painted = False
        self.setWindowTitle(APP_NAME)
        self.setWindowIcon(app_icon())
        # The log records from the first moment, even if the Activity page is opened much later.
        self.activity_model = ActivityModel(parent=self)
        ctx.bridge.records.connect(self.activity_model.add)

        self.module_pages = self._module_pages()
        self.pages: list[PageEntry] = [
            PageEntry(HOME, "Home", "home", lambda: HomePage(ctx, self.module_pages, self.show_page),
                      "Welcome, next steps and where your data lives"),
            *(PageEntry(spec.key, spec.title, spec.icon, partial(spec.factory, ctx), spec.tooltip,
                        opens_files=spec.opens_files)
              for spec in ctx.kernel.registry.pages),
            PageEntry(ACTIVITY, "Activity", "activity", lambda: ActivityPage(self.activity_model),
                      "Commands, events and errors on the message bus"),
        ]
        self.stack = QStackedWidget()
        self.sidebar = QListWidget()
        self._build_body()
        self._build_menus()
        self._build_status_bar()
        if ctx.theme is not None:
            ctx.theme.changed.connect(self._restyle)
        self._restyle()
        self.sidebar.currentRowChanged.connect(self._on_row_changed)
        self._restore_state()
        self.setAcceptDrops(True)

    # -- public -------------------------------------------------------------------------------------

    def page_keys(self) -> list[str]:
        return [page.key for page in self.pages]

    def current_page_key(self) -> str:
        row = self.sidebar.currentRow()
        return self.pages[row].key if 0 <= row < len(self.pages) else HOME

    def page_widget(self, key: str) -> QWidget | None:
        """The built widget of page ``key`` (None until first shown); an error panel if building failed."""
        return next((page.widget for page in self.pages if page.key == key), None)

    def show_page(self, key: str) -> bool:
        for row, page in enumerate(self.pages):
            if page.key == key:
                self.sidebar.setCurrentRow(row)
                return True
        return False

    def save_state(self) -> None:
        settings = self.ctx.settings
        settings.set(GEOMETRY_KEY, bytes(self.saveGeometry().toBase64().data()).decode("ascii"))
        settings.set(LAST_PAGE_KEY, self.current_page_key())

    # -- construction -------------------------------------------------------------------------------

    def _module_pages(self) -> dict[str, str]:
        """Module name -> the key of its first page, for Home's "what to do next" cards."""
        found: dict[str, str] = {}
        for context in self.ctx.kernel.registry.contexts:
            if context.pages:
                found[context.name] = min(context.pages, key=lambda page: page.order).key
        return found

    def _build_body(self) -> None:
        self.sidebar.setObjectName("Sidebar")
        self.sidebar.setIconSize(QSize(20, 20))
        self.sidebar.setFrameShape(QListWidget.Shape.NoFrame)
        self.sidebar.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.sidebar.setAccessibleName("Pages")
        for page in self.pages:
            item = QListWidgetItem(page.title)
            item.setToolTip(page.tooltip)
            item.setSizeHint(QSize(0, 38))
            self.sidebar.addItem(item)
            self.stack.addWidget(page.holder)

        brand = QHBoxLayout()
        brand.setContentsMargins(18, 18, 18, 14)
        brand.setSpacing(10)
        logo = label("")
        logo.setPixmap(app_icon().pixmap(28, 28))
        brand.addWidget(logo)
        brand.addWidget(label(APP_NAME, object_name="Brand"), 1)
        pane = QWidget()
        pane.setObjectName("SidebarPane")
        pane.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        pane.setFixedWidth(SIDEBAR_WIDTH)
        column = QVBoxLayout(pane)
        column.setContentsMargins(0, 0, 0, 12)
        column.setSpacing(4)
        column.addLayout(brand)
        column.addWidget(self.sidebar, 1)
        version = label(f"Version {__version__}", object_name="BrandVersion")
        version.setContentsMargins(20, 0, 0, 0)
        column.addWidget(version)

        body = QWidget()
        row = QHBoxLayout(body)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(0)
        row.addWidget(pane)
        row.addWidget(self.stack, 1)
        self.setCentralWidget(body)

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        preferences = file_menu.addAction("&Preferences…", self.open_preferences)
        preferences.setShortcut(QKeySequence("Ctrl+,"))
        preferences.setMenuRole(QAction.MenuRole.PreferencesRole)
        file_menu.addSeparator()
        quit_action = file_menu.addAction("&Quit", self.close)
        quit_action.setShortcut(QKeySequence("Ctrl+Q"))
        quit_action.setMenuRole(QAction.MenuRole.QuitRole)

        view_menu = bar.addMenu("&View")
        self.page_actions = QActionGroup(self)
        self.page_actions.setExclusive(True)
        for number, page in enumerate(self.pages, start=1):
            action = view_menu.addAction(page.title)
            action.setCheckable(True)
            action.setData(page.key)
            if number <= 9:
                action.setShortcut(QKeySequence(f"Ctrl+{number}"))
            action.triggered.connect(lambda _=False, key=page.key: self.show_page(key))
            self.page_actions.addAction(action)

        help_menu = bar.addMenu("&Help")
        help_menu.addAction("&Activity log", lambda: self.show_page(ACTIVITY))
        help_menu.addAction("Open &log folder", lambda: open_folder(self.ctx.paths.log_dir))
        help_menu.addSeparator()
        about = help_menu.addAction(f"&About {APP_NAME}", self.open_about)
        about.setMenuRole(QAction.MenuRole.AboutRole)

    def _build_status_bar(self) -> None:
        status_bar = self.statusBar()
        status_bar.setSizeGripEnabled(False)
        disabled = [s for s in self.ctx.kernel.statuses if s.state == "disabled"]
        self.disabled_button = QPushButton()
        self.disabled_button.setObjectName("DisabledModulesButton")
        self.disabled_button.setFlat(True)
        self.disabled_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.disabled_button.setIconSize(QSize(16, 16))
        count = len(disabled)
        self.disabled_button.setText(f"{count} module{'' if count == 1 else 's'} disabled")
        self.disabled_button.setToolTip("\n".join(f"{s.title}: {s.reason}" for s in disabled)
                                        + "\n\nClick to see the modules on Home.")
        self.disabled_button.clicked.connect(lambda: self.show_page(HOME))
        self.disabled_button.setVisible(count > 0)
        self.jobs_widget = JobsWidget(self.ctx.bridge, self.ctx.bus, self.ctx.jobs)
        self.jobs_widget.install(status_bar)
        status_bar.addPermanentWidget(self.disabled_button)

    def _restore_state(self) -> None:
        settings = self.ctx.settings
        encoded = settings.get(GEOMETRY_KEY, "")
        restored = bool(encoded) and self.restoreGeometry(QByteArray.fromBase64(encoded.encode("ascii")))
        if not restored:
            self._place_default()
        last = settings.get(LAST_PAGE_KEY, HOME)
        if not self.show_page(last):
            self.show_page(HOME)

    def _place_default(self) -> None:
        screen = self.screen() or QGuiApplication.primaryScreen()
        available = screen.availableGeometry()
        size = DEFAULT_SIZE.boundedTo(available.size() - QSize(40, 60))
        self.resize(size)
        frame = self.frameGeometry()
        frame.moveCenter(available.center())
        self.move(frame.topLeft())

    # -- behaviour ----------------------------------------------------------------------------------

    def _on_row_changed(self, row: int) -> None:
        if not 0 <= row < len(self.pages):
            return
        page = self.pages[row]
        page.ensure_built(self.ctx.paths.log_file)
        self.stack.setCurrentIndex(row)
        for action in self.page_actions.actions():
            if action.data() == page.key:
                action.setChecked(True)
        self.page_changed.emit(page.key)

    def _restyle(self) -> None:
        colors = theme.colors()
        for row, page in enumerate(self.pages):
            icon = icons.page_icon(page.icon, colors.q("muted"), colors.q("accent"))
            self.sidebar.item(row).setIcon(icon)
        self.disabled_button.setIcon(icons.line_icon("warning", colors.warning))
        for tinted in self.findChildren(TintedIcon):
            tinted.refresh()

    def open_preferences(self) -> None:
        from app.ui.preferences import PreferencesDialog

        dialog = PreferencesDialog(self.ctx, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()

    def open_about(self) -> None:
        from app.ui.about import AboutDialog

        dialog = AboutDialog(self.ctx, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()

    def activate(self) -> None:
        """Bring the window to the front (a second launch asked for it)."""
        log.info("another launch asked this window to come forward")
        if self.isMinimized():
            self.showNormal()
        self.show()
        self.raise_()
        self.activateWindow()

    # -- files dropped anywhere on the window ---------------------------------------------------------

    def _page_for_files(self, event: QDropEvent | QDragEnterEvent | QDragMoveEvent,
                        ) -> tuple[PageEntry, list[Path]] | None:
        """The page that opens these dropped files, and the files (local, of a suffix it declared)."""
        mime = event.mimeData()
        if mime is None or not mime.hasUrls():
            return None
        paths = [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]
        for page in self.pages:
            wanted = [path for path in paths if path.suffix.lower() in page.opens_files]
            if wanted:
                return page, wanted
        return None

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self._page_for_files(event) is not None:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if self._page_for_files(event) is not None:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        target = self._page_for_files(event)
        if target is None:
            event.ignore()
            return
        event.acceptProposedAction()
        page, paths = target
        self.show_page(page.key)
        opener = getattr(page.ensure_built(self.ctx.paths.log_file), "open_files", None)
        if callable(opener):
            opener(paths)

    # -- Qt events ----------------------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        if not self._painted:
            self._painted = True
            self.first_painted.emit()

    def closeEvent(self, event: QCloseEvent) -> None:
        try:
            self.save_state()
        except Exception:
            # Failing to remember the layout must never stop the user from quitting.
            log.exception("could not save the window state")
        # Pages stop their background readers before the kernel closes the database under them.
        for entry in self.pages:
            entry.shutdown()
        super().closeEvent(event)
