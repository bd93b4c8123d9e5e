"""The Home page: a welcome, what to do next, which modules run, and where the data lives."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from app import APP_NAME
from app.kernel.registry import ModuleStatus
from app.ui.context import UiContext
from app.ui.resources import app_icon
from app.ui.widgets import card, centered_page, icon_label, label, open_folder

TAGLINE = "Email marketing for small teams: your contacts, your designs, your sending — on your own computer."


@dataclass(frozen=True)
class NextStep:
    module: str
    title: str
    text: str
    icon: str


NEXT_STEPS = (
    NextStep("contacts", "Import contacts",
             "Bring your audience in from a spreadsheet and keep it tidy with lists, tags and segments.", "contacts"),
    NextStep("editor", "Design an email",
             "Arrange blocks, images and merge fields, then preview the email as a real contact.", "editor"),
    NextStep("campaigns", "Send a campaign",
             "Choose an audience and a design, send yourself a test, then send now or schedule it.", "campaigns"),
    NextStep("stats", "See the results",
             "Follow deliveries, opens, clicks and unsubscribes as they come in.", "stats"),
)


@dataclass
class StepCard:
    frame: QFrame
    button: QPushButton
    hint: QLabel


class HomePage(QScrollArea):
    """Built once at start-up; the module list reflects how the modules started this session."""

    def __init__(self, ctx: UiContext, module_pages: dict[str, str], navigate: Callable[[str], bool],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self._ctx = ctx
        self._navigate = navigate
        self.cards: dict[str, StepCard] = {}
        statuses = {status.name: status for status in ctx.kernel.statuses}

        content = QWidget()
        column = QVBoxLayout(content)
        column.setContentsMargins(36, 32, 36, 32)
        column.setSpacing(14)
        column.addLayout(self._header())
        column.addSpacing(10)
        column.addWidget(label("Get started", object_name="SectionTitle"))
        steps = QGridLayout()
        steps.setSpacing(14)
        for position, step in enumerate(NEXT_STEPS):
            frame = self._step_card(step, module_pages.get(step.module), statuses.get(step.module))
            steps.addWidget(frame, position // 2, position % 2)
        column.addLayout(steps)
        column.addSpacing(6)
        column.addWidget(label("Modules", object_name="SectionTitle"))
        column.addWidget(self._modules_card(ctx.kernel.statuses))
        column.addSpacing(6)
        column.addWidget(label("Your data", object_name="SectionTitle"))
        column.addWidget(self._data_card())
        column.addStretch(1)

        page = centered_page(content, 960)
        page.setObjectName("HomeContent")
        self.setWidget(page)

    def _header(self) -> QHBoxLayout:
        logo = QLabel()
        logo.setPixmap(app_icon().pixmap(64, 64))
        logo.setFixedSize(64, 64)
        words = QVBoxLayout()
        words.setSpacing(4)
        words.addWidget(label(f"Welcome to {APP_NAME}", object_name="PageTitle"))
        words.addWidget(label(TAGLINE, "muted", wrap=True))
        row = QHBoxLayout()
        row.setSpacing(18)
        row.addWidget(logo, 0, Qt.AlignmentFlag.AlignTop)
        row.addLayout(words, 1)
        return row

    def _step_card(self, step: NextStep, page_key: str | None, status: ModuleStatus | None) -> QFrame:
        frame, layout = card(f"card-{step.module}")
        top = QHBoxLayout()
        top.setSpacing(10)
        top.addWidget(icon_label(step.icon, 22, "accent"))
        top.addWidget(label(step.title, object_name="CardTitle"), 1)
        layout.addLayout(top)
        layout.addWidget(label(step.text, "muted", wrap=True))
        layout.addStretch(1)
        module_title = status.title if status is not None else step.module.title()
        button = QPushButton(f"Open {module_title}")
        button.setProperty("primary", True)
        button.setCursor(Qt.CursorShape.PointingHandCursor)
        hint = label("", "muted", wrap=True)
        if page_key is not None:
            button.clicked.connect(lambda: self._navigate(page_key))
            hint.hide()
        else:
            button.setEnabled(False)
            button.hide()
            if status is None:
                hint.setText(f"Arrives with the {module_title} module.")
            elif status.state == "disabled":
                hint.setText(f"The {module_title} module is disabled: {status.reason}")
                hint.setProperty("role", "danger")
            else:
                hint.setText(f"The {module_title} module has no page of its own.")
        row = QHBoxLayout()
        row.addWidget(button)
        row.addWidget(hint, 1)
        row.addStretch(0 if page_key is None else 1)
        layout.addLayout(row)
        frame.setMinimumHeight(140)
        self.cards[step.module] = StepCard(frame, button, hint)
        return frame

    def _modules_card(self, statuses: list[ModuleStatus]) -> QFrame:
        frame, layout = card("modules")
        if not statuses:
            layout.addWidget(label(
                "No modules are installed. Contacts, the editor, campaigns, delivery and statistics each arrive "
                "as a module and appear here and in the sidebar.", "muted", wrap=True))
            return frame
        grid = QGridLayout()
        grid.setHorizontalSpacing(12)
        grid.setVerticalSpacing(10)
        grid.setColumnStretch(2, 1)
        for row, status in enumerate(statuses):
            started = status.state == "started"
            grid.addWidget(icon_label("check" if started else "error", 18, "success" if started else "danger"),
                           row, 0, Qt.AlignmentFlag.AlignTop)
            grid.addWidget(label(status.title, object_name="ModuleName"), row, 1, Qt.AlignmentFlag.AlignTop)
            if started:
                detail = label("Running", "muted")
            else:
                detail = label(f"Disabled — {status.reason}", "danger", wrap=True, selectable=True)
                detail.setObjectName(f"module-reason-{status.name}")
            grid.addWidget(detail, row, 2, Qt.AlignmentFlag.AlignTop)
        layout.addLayout(grid)
        return frame

    def _data_card(self) -> QFrame:
        paths = self._ctx.paths
        frame, layout = card("data")
        grid = QGridLayout()
        grid.setHorizontalSpacing(12)
        grid.setVerticalSpacing(10)
        grid.setColumnStretch(2, 1)
        rows: list[tuple[str, str, str, Path | None]] = [
            ("folder", "Data folder", str(paths.data_dir), paths.data_dir),
            ("database", "Database", self._ctx.db.display_url(), None),
            ("settings", "Settings", str(paths.settings_file), None),
            ("file", "Log file", str(paths.log_file), paths.log_dir),
        ]
        for row, (icon, name, value, folder) in enumerate(rows):
            grid.addWidget(icon_label(icon, 18), row, 0)
            grid.addWidget(label(name), row, 1)
            grid.addWidget(label(value, "muted", selectable=True), row, 2)
            if folder is not None:
                button = QPushButton("Open folder")
                button.clicked.connect(lambda _=False, target=folder: open_folder(target))
                grid.addWidget(button, row, 3)
        layout.addLayout(grid)
        return frame
