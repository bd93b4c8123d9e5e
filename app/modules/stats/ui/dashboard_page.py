"""The Dashboard: an overview the user arranges from widgets (recent campaigns, list growth, engagement trend,
deliverability health against the 0.3% complaint line). The arrangement is kept in ``stats.dashboard``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QMenu,
    QPushButton,
    QScrollArea,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.modules.stats import charts, reports
from app.modules.stats.ui.chart_view import ChartView, RenderedChart, render
from app.modules.stats.ui.reports_page import REFRESH_MS, chart_theme, refresh_events
from app.ui.background import BackgroundWork, Coalesced
from app.ui.widgets import label

SETTING = "stats.dashboard"


@dataclass(frozen=True)
class WidgetKind:
    key: str
    title: str
    chart: Callable[[Any, charts.ChartTheme], Any] | None  # (data, theme) -> Figure, or None for a table


WIDGETS: dict[str, WidgetKind] = {w.key: w for w in (
    WidgetKind("recent", "Recent campaigns", None),
    WidgetKind("health", "Deliverability health",
               lambda data, t: charts.deliverability_figure(data["recent"], t, title="")),
    WidgetKind("trend", "Engagement trend (of delivered)",
               lambda data, t: charts.engagement_trend_figure(data["recent"], t, title="")),
    WidgetKind("growth", "List growth, last 30 days",
               lambda data, t: charts.list_growth_figure(data["growth"], t, title="")),
)}
DEFAULT = ("recent", "health", "trend", "growth")


def health_summary(recent: list[tuple[reports.ReportEntry, reports.Figures]]) -> tuple[str, str]:
    """One sentence on the latest campaign's complaints and bounces, and a tint: success, warning or danger."""
    if not recent:
        return "Nothing sent yet.", "muted"
    entry, f = recent[-1]
    limit = reports.COMPLAINT_LIMIT
    if f.complaint_rate >= limit:
        return (f"{entry.title}: complaints at {f.complaint_rate:.2%} of delivered, over the 0.3% Gmail and Yahoo "
                "allow. Check where these addresses came from and mail them less often.", "danger")
    if f.complaint_rate >= limit / 2 or f.bounce_rate >= 0.02:
        return (f"{entry.title}: complaints {f.complaint_rate:.2%}, bounces {f.bounce_rate:.1%} of sent; "
                "getting close to the limits.", "warning")
    return (f"{entry.title}: complaints {f.complaint_rate:.2%} (limit 0.3%), bounces {f.bounce_rate:.1%} of sent. "
            "Healthy.", "success")


class DashboardTile(QFrame):
    """One widget on the dashboard, with buttons to move it or take it away."""

    def __init__(self, page: DashboardPage, kind: WidgetKind) -> None:
        super().__init__()
        self.kind = kind
        self.setObjectName("Card")
        self.setAccessibleName(f"dashboard-{kind.key}")
        box = QVBoxLayout(self)
        box.setContentsMargins(14, 10, 14, 10)
        head = QHBoxLayout()
        head.addWidget(label(kind.title, object_name="CardTitle"), 1)
        for text, tip, delta in (("◀", "Move earlier", -1), ("▶", "Move later", 1)):
            button = QToolButton()
            button.setText(text)
            button.setToolTip(tip)
            button.setAutoRaise(True)
            button.clicked.connect(lambda _c=False, d=delta: page.move_widget(kind.key, d))
            head.addWidget(button)
        close = QToolButton()
        close.setText("✕")
        close.setToolTip("Remove from the dashboard")
        close.setAutoRaise(True)
        close.clicked.connect(lambda: page.remove(kind.key))
        head.addWidget(close)
        box.addLayout(head)
        self.note = label("", "muted", wrap=True)
        self.chart: ChartView | None = None
        self.table: QTableWidget | None = None
        if kind.chart is not None:
            self.chart = ChartView(kind.key, kind.title, run_save=page.save_in_background)
            box.addWidget(self.chart)
        else:
            self.table = QTableWidget(0, 5)
            self.table.setHorizontalHeaderLabels(["Campaign", "Sent", "Open rate", "CTR", "Revenue"])
            self.table.verticalHeader().setVisible(False)
            self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
            self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
            header = self.table.horizontalHeader()
            header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
            header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
            self.table.setMinimumHeight(220)
            self.table.cellDoubleClicked.connect(lambda row, _col: page.open_report(row))
            box.addWidget(self.table)
        box.addWidget(self.note)


class DashboardPage(QWidget):
    def __init__(self, ui_context: Any, service: Any) -> None:
        super().__init__()
        self._refresh = Coalesced(self, self.refresh, REFRESH_MS)  # repaints at most this often
        self.setObjectName("DashboardPage")
        self.ctx = ui_context
        self.service = service
        self.db = ui_context.db
        self.work = BackgroundWork(self, workers=1, name="stats-dashboard")
        self.tiles: dict[str, DashboardTile] = {}
        self.recent: list[tuple[reports.ReportEntry, reports.Figures]] = []
        self._pending = False
        saved = ui_context.settings.get_optional(SETTING)
        self.layout_keys: list[str] = [k for k in (saved if isinstance(saved, list) else DEFAULT) if k in WIDGETS]

        head = QHBoxLayout()
        head.addWidget(label("Dashboard", object_name="PageTitle"), 1)
        self.add_button = QPushButton("Add widget")
        self.add_button.setObjectName("AddWidget")
        self.add_menu = QMenu(self)
        self.add_button.setMenu(self.add_menu)
        self.add_menu.aboutToShow.connect(self._fill_menu)
        head.addWidget(self.add_button)

        self.grid_host = QWidget()
        self.grid = QGridLayout(self.grid_host)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setSpacing(14)
        self.empty = label("The dashboard is empty: add widgets with the button above.", "muted", wrap=True)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        inner = QWidget()
        column = QVBoxLayout(inner)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.empty)
        column.addWidget(self.grid_host)
        column.addStretch(1)
        scroll.setWidget(inner)

        page = QVBoxLayout(self)
        page.setContentsMargins(28, 20, 28, 20)
        page.setSpacing(10)
        page.addLayout(head)
        page.addWidget(label("Your latest campaigns at a glance. Arrange the widgets with their arrows; the "
                             "arrangement is kept.", "muted", wrap=True))
        page.addWidget(scroll, 1)

        self._refresh.on_events(ui_context.bridge, refresh_events(), self)
        if ui_context.theme is not None:
            ui_context.theme.changed.connect(self.refresh)
        self._arrange()

    # -- arrangement

    def _arrange(self) -> None:
        for tile in self.tiles.values():
            self.grid.removeWidget(tile)
            tile.hide()
        for index, key in enumerate(self.layout_keys):
            if key not in self.tiles:
                self.tiles[key] = DashboardTile(self, WIDGETS[key])
                chart = self.tiles[key].chart
                if chart is not None:
                    chart.resized.connect(self._refresh.poke)
            tile = self.tiles[key]
            row, col = divmod(index, 2)
            self.grid.addWidget(tile, row, col)
            tile.show()
        for col in (0, 1):
            self.grid.setColumnStretch(col, 1)
        self.empty.setVisible(not self.layout_keys)
        self.refresh()

    def _save(self) -> None:
        self.ctx.settings.set(SETTING, list(self.layout_keys))
        self._arrange()

    def move_widget(self, key: str, delta: int) -> None:
        index = self.layout_keys.index(key)
        target = max(0, min(len(self.layout_keys) - 1, index + delta))
        self.layout_keys.insert(target, self.layout_keys.pop(index))
        self._save()

    def remove(self, key: str) -> None:
        self.layout_keys.remove(key)
        self._save()

    def add(self, key: str) -> None:
        if key in WIDGETS and key not in self.layout_keys:
            self.layout_keys.append(key)
            self._save()

    def _fill_menu(self) -> None:
        self.add_menu.clear()
        missing = [w for key, w in WIDGETS.items() if key not in self.layout_keys]
        for kind in missing:
            action = self.add_menu.addAction(kind.title)
            action.triggered.connect(lambda _c=False, k=kind.key: self.add(k))
        if not missing:
            self.add_menu.addAction("Every widget is on the dashboard").setEnabled(False)

    # -- reading

    def refresh(self) -> None:
        if self.work.busy:
            self._pending = True
            return
        wanted = [k for k in self.layout_keys if WIDGETS[k].chart is not None]
        widths = {k: self.tiles[k].chart.wanted_width() for k in wanted  # type: ignore[union-attr]
                  if k in self.tiles}
        ratio, theme_now, db = self.devicePixelRatioF(), chart_theme(), self.db

        def work() -> tuple[dict[str, Any], dict[str, RenderedChart]]:
            data = {"recent": reports.recent(db, 8), "growth": reports.list_growth(db, 30)}
            rendered = {}
            for key in wanted:
                chart = WIDGETS[key].chart
                if chart is not None:
                    rendered[key] = render(chart(data, theme_now), widths.get(key, 480), ratio)
            return data, rendered

        self.work.submit_latest("dashboard", work, self._show)

    def _show(self, result: tuple[dict[str, Any], dict[str, RenderedChart]]) -> None:
        data, rendered = result
        self.recent = data["recent"]
        for key, chart in rendered.items():
            tile = self.tiles.get(key)
            if tile is not None and tile.chart is not None:
                tile.chart.show_chart(chart)
        recent_tile = self.tiles.get("recent")
        if recent_tile is not None and recent_tile.table is not None:
            table = recent_tile.table
            newest_first = list(reversed(self.recent))
            table.setRowCount(len(newest_first))
            for row, (entry, f) in enumerate(newest_first):
                cells = (entry.title, f"{f.sent:,}", f"{f.open_rate:.1%}", f"{f.click_rate:.1%}",
                         f"{f.revenue:,.2f} {f.currency}".strip())
                for col, text in enumerate(cells):
                    item = QTableWidgetItem(text)
                    item.setData(Qt.ItemDataRole.UserRole, entry.key)
                    if col:
                        item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                    table.setItem(row, col, item)
            recent_tile.note.setText("Double-click a campaign to open its report." if newest_first
                                     else "No campaigns sent yet.")
        health = self.tiles.get("health")
        if health is not None:
            text, tint = health_summary(self.recent)
            health.note.setText(text)
            health.note.setProperty("role", tint)
            health.note.style().unpolish(health.note)
            health.note.style().polish(health.note)
        growth = self.tiles.get("growth")
        if growth is not None:
            g = data["growth"]
            growth.note.setText(f"{sum(g.subscribed):,} subscribed and {sum(g.unsubscribed):,} unsubscribed in the "
                                f"last {len(g.days)} days (net {sum(g.subscribed) - sum(g.unsubscribed):+,}).")
        if self._pending:
            self._pending = False
            self._refresh.poke()

    def open_report(self, row: int) -> None:
        tile = self.tiles.get("recent")
        item = tile.table.item(row, 0) if tile is not None and tile.table is not None else None
        if item is None:
            return
        key = str(item.data(Qt.ItemDataRole.UserRole))
        window = self.ctx.main_window
        if window is not None and self.ctx.show_page("stats-reports"):
            page = window.page_widget("stats-reports")
            if page is not None and hasattr(page, "show_report"):
                page.show_report(key)

    def save_in_background(self, work: Any, done: Any) -> None:
        def saved(path: Any) -> None:
            self.ctx.show_status(f"Saved {path}")
            done(path)

        self.work.submit(work, saved)

    def shutdown(self) -> None:
        self._refresh.stop()
        self.work.close()
