"""The Reports page: campaigns on the left; the chosen campaign's figures, charts, links and click map on the right.

Everything is read and drawn on the page's worker thread (``BackgroundWork``); the GUI thread only places results.
New events (``TrackingIngested``, delivery's progress and bounces) refresh the open report at most once a second.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from app.modules.stats import charts, clickmap, reports
from app.modules.stats.ui.chart_view import ChartView, RenderedChart, render
from app.ui import theme
from app.ui.background import BackgroundWork, Coalesced
from app.ui.widgets import Notice, card, label

CHARTS = (("timeline", "Opens and clicks over time"), ("cumulative", "Cumulative opens and clicks"),
          ("variants", "A/B variants"), ("links", "Clicks per link"), ("clients", "Opens by client and device"),
          ("domains", "Results by recipient domain"), ("compare", "Compared with the campaigns before"))
Tile = tuple[str, Callable[[reports.Figures], str]]
TILES: tuple[Tile, ...] = (("Sent", lambda f: f"{f.sent:,}"), ("Delivered", lambda f: f"{f.delivered:,}"),
         ("Open rate", lambda f: f"{f.open_rate:.1%}"), ("Click-through (CTR)", lambda f: f"{f.click_rate:.1%}"),
         ("Click-to-open (CTOR)", lambda f: f"{f.click_to_open_rate:.1%}"),
         ("Bounced", lambda f: f"{f.bounced:,}"), ("Unsubscribed", lambda f: f"{f.unsubscribes:,}"),
         ("Revenue", lambda f: f"{f.revenue:,.2f} {f.currency}".strip()))
REFRESH_MS = 1000


def chart_theme() -> charts.ChartTheme:
    return charts.DARK if theme.colors().dark else charts.LIGHT


def refresh_events() -> tuple[type, ...]:
    from app.modules.campaigns.messages import CampaignRunStarted, CampaignSaved
    from app.modules.delivery.messages import BounceReceived, RunProgress, RunStateChanged
    from app.modules.stats.messages import TrackingIngested

    return (TrackingIngested, RunProgress, RunStateChanged, BounceReceived, CampaignSaved, CampaignRunStarted)


class ReportsPage(QWidget):
    def __init__(self, ui_context: Any, service: Any) -> None:
        super().__init__()
        self._refresh = Coalesced(self, self.refresh, REFRESH_MS)  # repaints at most this often
        self.setObjectName("ReportsPage")
        self.ctx = ui_context
        self.service = service
        self.db = ui_context.db
        # One worker: matplotlib figures are drawn one at a time, never concurrently.
        self.work = BackgroundWork(self, workers=1, name="stats-reports")
        self.key = ""
        self.report: reports.Report | None = None
        self.entries: list[reports.ReportEntry] = []
        self._pending = False
        self._caught_up = False

        self.notice = Notice(self)
        self.list = QListWidget()
        self.list.setObjectName("ReportList")
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.currentItemChanged.connect(self._picked)
        self.list.setStyleSheet("QListWidget#ReportList::item { padding: 6px 8px; }")
        self.empty = label("No campaigns have been sent yet. Reports appear here as soon as a send starts.",
                           "muted", wrap=True)

        left = QWidget()
        column = QVBoxLayout(left)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.empty)
        column.addWidget(self.list, 1)
        left.setMinimumWidth(220)

        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(self._build_report())
        split.addWidget(scroll)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 4)
        split.setSizes([260, 900])

        page = QVBoxLayout(self)
        page.setContentsMargins(28, 20, 28, 20)
        page.setSpacing(10)
        page.addWidget(label("Reports", object_name="PageTitle"))
        page.addWidget(label("What each campaign did: deliveries, opens, clicks, unsubscribes and revenue. Rates are "
                             "of delivered messages.", "muted", wrap=True))
        page.addWidget(self.notice)
        page.addWidget(split, 1)

        self._refresh.on_events(ui_context.bridge, refresh_events(), self)
        if ui_context.theme is not None:
            ui_context.theme.changed.connect(self._redraw)
        self.refresh()

    # -- layout

    def _build_report(self) -> QWidget:  # noqa: PLR0915 - one report, top to bottom
        body = QWidget()
        body.setObjectName("ReportBody")
        outer = QVBoxLayout(body)
        outer.setContentsMargins(8, 0, 8, 0)
        outer.setSpacing(12)
        self.heading = label("", wrap=True, object_name="ReportHeading")
        self.heading.setStyleSheet("font-size: 15pt; font-weight: 600;")
        self.subline = label("", "muted", wrap=True, selectable=True)
        outer.addWidget(self.heading)
        outer.addWidget(self.subline)

        actions = QHBoxLayout()
        self.machine = QCheckBox("Include machine traffic")
        self.machine.setToolTip("Opens and clicks by security scanners, prefetching and Apple Mail Privacy "
                                "Protection are left out unless this is on")
        self.machine.toggled.connect(lambda _on: self.refresh())
        actions.addWidget(self.machine)
        actions.addStretch(1)
        self.export_buttons: dict[str, QPushButton] = {}
        for fmt, text in (("pdf", "Export PDF…"), ("csv", "Export CSV…"), ("data", "Export data…")):
            button = QPushButton(text)
            button.setObjectName(f"Export-{fmt}")
            button.clicked.connect(lambda _c=False, f=fmt: self.export_dialog(f))
            button.setEnabled(False)
            self.export_buttons[fmt] = button
            actions.addWidget(button)
        outer.addLayout(actions)

        tiles, tile_box = card("figures")
        grid = QGridLayout()
        grid.setHorizontalSpacing(18)
        grid.setVerticalSpacing(2)
        self.tiles: dict[str, Any] = {}
        for index, (name, _value) in enumerate(TILES):
            row, col = divmod(index, 4)
            value = label("-", selectable=True)
            value.setStyleSheet("font-size: 16pt; font-weight: 600;")
            grid.addWidget(value, row * 2, col)
            grid.addWidget(label(name, "muted"), row * 2 + 1, col)
            self.tiles[name] = value
        tile_box.addLayout(grid)
        self.details = label("", "muted", wrap=True, selectable=True)
        self.details.setObjectName("ReportDetails")
        tile_box.addWidget(self.details)
        outer.addWidget(tiles)

        self.charts: dict[str, ChartView] = {}
        for name, title in CHARTS:
            frame, box = card(name)
            view = ChartView(name, title, run_save=self._save_in_background)
            view.resized.connect(self._refresh.poke)
            box.addWidget(view)
            self.charts[name] = view
            outer.addWidget(frame)
            view.frame = frame  # type: ignore[attr-defined]

        links, links_box = card("links")
        links_box.addWidget(label("Clicks per link", object_name="CardTitle"))
        self.links = QTableWidget(0, 4)
        self.links.setObjectName("LinkTable")
        self.links.setHorizontalHeaderLabels(["Link", "Clicks", "People", "Share"])
        self.links.verticalHeader().setVisible(False)
        self.links.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        header = self.links.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.links.setMinimumHeight(140)
        links_box.addWidget(self.links)
        links_box.addWidget(label("Click map: the email as sent, each link marked with its clicks and share.",
                                  "muted", wrap=True))
        self.clickmap = QTextBrowser()
        self.clickmap.setObjectName("ClickMap")
        self.clickmap.setOpenLinks(False)
        self.clickmap.setMinimumHeight(360)
        links_box.addWidget(self.clickmap)
        outer.addWidget(links)
        outer.addStretch(1)
        return body

    # -- reading

    def refresh(self) -> None:
        """Re-read the list and the open report (on the worker); at most one read at a time."""
        if self.work.busy:
            self._pending = True
            return
        key, machine, theme_now = self.key, self.machine.isChecked(), chart_theme()
        widths = {name: view.wanted_width() for name, view in self.charts.items()}
        ratio = self.devicePixelRatioF()
        db, first, aggregator = self.db, not self._caught_up, getattr(self.service, "aggregator", None)
        self._caught_up = True

        def work() -> tuple[list[reports.ReportEntry], reports.Report | None, dict[str, RenderedChart], str]:
            if first and aggregator is not None:
                with contextlib.suppress(Exception):  # delivery absent: the stored figures still show
                    aggregator.refresh_open_runs()  # sends finished while the app was closed
            entries = reports.list_reports(db)
            chosen = entries[0].key if not key and entries else key
            if not chosen:
                return entries, None, {}, ""
            try:
                report = reports.build_report(db, chosen, include_machine=machine)
            except reports.ReportNotFound:
                return entries, None, {}, ""
            figures = charts.report_figures(report, theme_now)
            earlier = [e.key for e in entries if e.kind == report.kind and e.key != report.key and e.runs and (
                report.started_at is None or (e.started_at is not None and e.started_at <= report.started_at))][:3]
            if earlier:
                figures["compare"] = charts.comparison_figure(
                    reports.compare(db, [report.key, *earlier], machine), theme_now,
                    "Compared with the campaigns before (rates of delivered; bounces of sent)")
            rendered = {name: render(figure, widths.get(name, 640), ratio) for name, figure in figures.items()}
            html = clickmap.sample_html(db, report.run_ids)
            return entries, report, rendered, clickmap.annotate(html, report, theme_now.clicks) if html else ""

        self.work.submit_latest("report", work, self._show, self._failed)

    def _failed(self, error: BaseException) -> None:
        self.notice.show_text(f"The report could not be read: {error}", "error")
        self._after()

    def _after(self) -> None:
        if self._pending:
            self._pending = False
            self._refresh.poke()

    def _show(self, result: tuple[list[reports.ReportEntry], reports.Report | None, dict[str, RenderedChart],
                                  str]) -> None:
        entries, report, rendered, html = result
        self._fill_list(entries, report.key if report else "")
        self.report = report
        if report is not None:
            self.key = report.key
        for button in self.export_buttons.values():
            button.setEnabled(report is not None)
        if report is None:
            self.heading.setText("No report yet")
            self.subline.setText("")
            self._after()
            return
        self.heading.setText(report.title)
        sent = f"sent {report.started_at:%Y-%m-%d %H:%M} UTC" if report.started_at else "not sent yet"
        kind = {"campaign": "Campaign", "automation": "Automation", "run": "Send without a campaign"}[report.kind]
        runs = f"{len(report.run_ids)} sends" if len(report.run_ids) != 1 else "1 send"
        self.subline.setText(" · ".join(p for p in (kind, report.subject, sent, runs) if p))
        f = report.figures
        for name, value in TILES:
            self.tiles[name].setText(value(f))
        self.details.setText(
            f"Opened by {f.unique_opens:,} people ({f.total_opens:,} opens); clicked by {f.unique_clicks:,} "
            f"({f.total_clicks:,} clicks). Bounced {f.bounced_hard:,} hard, {f.bounced_soft:,} soft "
            f"({f.bounce_rate:.1%} of sent). Complaints {f.complaints:,} ({f.complaint_rate:.2%}). "
            f"Conversions {f.conversions:,}. Rates are of delivered messages"
            + (", machine traffic included." if report.include_machine else "; machine traffic is left out."))
        for name, view in self.charts.items():
            chart = rendered.get(name)
            view.frame.setVisible(chart is not None)  # type: ignore[attr-defined]
            if chart is not None:
                view.show_chart(chart)
        self._fill_links(report)
        self.clickmap.setHtml(html or "<p style='color:gray'>No web view was kept for this send, so there is "
                                      "no click map (web views are kept when tracking is on).</p>")
        self._after()

    def _fill_list(self, entries: list[reports.ReportEntry], current: str) -> None:
        self.entries = entries
        self.empty.setVisible(not entries)
        self.list.setVisible(bool(entries))
        self.list.blockSignals(True)
        self.list.clear()
        for entry in entries:
            when = f"{entry.started_at:%Y-%m-%d}" if entry.started_at else "not sent"
            item = QListWidgetItem(f"{entry.title}\n{when} · {entry.sent:,} sent")
            item.setData(Qt.ItemDataRole.UserRole, entry.key)
            item.setToolTip(f"{entry.kind} {entry.key}")
            self.list.addItem(item)
            if entry.key == current:
                self.list.setCurrentItem(item)
        self.list.blockSignals(False)

    def _fill_links(self, report: reports.Report) -> None:
        total = sum(r.clicks for r in report.links)
        self.links.setRowCount(len(report.links))
        for row, link in enumerate(report.links):
            cells = (link.url, f"{link.clicks:,}", f"{link.unique_clicks:,}", f"{link.share(total):.0%}")
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if col:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.links.setItem(row, col, item)

    def _picked(self, item: QListWidgetItem | None, _previous: Any = None) -> None:
        if item is None:
            return
        key = str(item.data(Qt.ItemDataRole.UserRole))
        if key != self.key:
            self.key = key
            self.refresh()

    def show_report(self, key: str) -> None:
        self.key = key
        self.refresh()

    def _redraw(self) -> None:
        self.refresh()

    # -- saving and exporting

    def _save_in_background(self, work: Any, done: Any) -> None:
        def saved(path: Any) -> None:
            self.ctx.show_status(f"Saved {path}")
            done(path)

        self.work.submit(work, saved,
                         lambda error: self.notice.show_text(f"The chart could not be saved: {error}", "error"))

    def export_dialog(self, fmt: str) -> None:
        if self.report is None:
            return
        stem = "".join(ch if ch.isalnum() or ch in "-_ " else "_" for ch in self.report.title).strip() or "report"
        filters = {"pdf": "PDF document (*.pdf)", "csv": "CSV file (*.csv)",
                   "data": "SQLite database (*.sqlite);;Parquet files (folder) (*.parquet)"}[fmt]
        suffix = {"pdf": ".pdf", "csv": ".csv", "data": ".sqlite"}[fmt]
        path, chosen = QFileDialog.getSaveFileName(self, "Export report", stem + suffix, filters)
        if path:
            if fmt == "data":
                fmt = "parquet" if "Parquet" in chosen or path.endswith(".parquet") else "sqlite"
            self.export(fmt, Path(path))

    def export(self, fmt: str, path: Path) -> Any:
        """Write the open report (pdf, csv) or its data (sqlite, parquet folder) as a background job."""
        from app.modules.stats import export as exporter

        report, db = self.report, self.db
        if report is None:
            return None
        if fmt == "parquet" and path.suffix == ".parquet":
            path = path.with_suffix("")

        def work(handle: Any) -> dict[str, int]:
            handle.report(0, None, f"writing {path.name}")
            return exporter.export_report(db, report, fmt, path)

        def summary(written: dict[str, int]) -> str:
            return f"{path} ({', '.join(f'{n:,} {what}' for what, n in written.items())})"

        return self.ctx.jobs.start(f"Export {report.title} as {fmt.upper()}", work, summary=summary)

    def shutdown(self) -> None:
        self._refresh.stop()
        self.work.close()
