"""The Tracking page: where the endpoint runs, today's opens, clicks and unsubscribes, and the last sync.

Reports and charts are on the Reports and Dashboard pages (reports_page.py, dashboard_page.py); this one stays
the endpoint's status.
"""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QPushButton, QScrollArea, QVBoxLayout, QWidget

from app.kernel.events import JobFinished
from app.modules.stats.messages import TrackerStateChanged, TrackerSynced, TrackingIngested
from app.ui.widgets import card, centered_page, icon_label, label

_KINDS = (("open", "Opens"), ("click", "Clicks"), ("unsubscribe", "Unsubscribes"),
          ("preferences", "Preference changes"), ("confirm", "Confirmations"), ("view", "Web views"),
          ("event", "Incoming events"))


class TrackingPage(QWidget):
    def __init__(self, ui_context: Any, service: Any) -> None:
        super().__init__()
        self.setObjectName("TrackingPage")
        self.ctx = ui_context
        self.service = service
        self._sync: Future[Any] | None = None

        inner = QWidget()
        column = QVBoxLayout(inner)
        column.setContentsMargins(28, 24, 28, 24)
        column.setSpacing(16)
        column.addWidget(label("Tracking", object_name="PageTitle"))
        column.addWidget(label("The small web service that counts opens and clicks, takes unsubscribes and "
                               "preference changes, confirms subscriptions, shows web views and receives "
                               "events from your shop.", "muted", wrap=True))

        column.addWidget(self._endpoint_card())
        column.addWidget(self._today_card())
        column.addWidget(self._remote_card())
        column.addStretch(1)

        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(centered_page(inner))
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)

        # Ingest batches can come many times a second under load: repaint at most twice a second.
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(500)
        self._refresh_timer.timeout.connect(self.refresh)
        for event_type in (TrackingIngested, TrackerStateChanged, TrackerSynced, JobFinished):
            ui_context.bridge.subscribe(event_type, lambda _event: self._refresh_timer.start(), owner=self)
        self.refresh()

    def _endpoint_card(self) -> QWidget:
        endpoint, box = card("Endpoint")
        head = QHBoxLayout()
        self.state_icon = icon_label("check", 22, "success")
        head.addWidget(self.state_icon)
        self.state = label("", object_name="CardTitle")
        head.addWidget(self.state, 1)
        self.copy = QPushButton("Copy URL")
        self.copy.clicked.connect(self._copy_url)
        head.addWidget(self.copy)
        box.addLayout(head)
        self.url = label("", selectable=True, wrap=True)
        self.problem = label("", "danger", wrap=True, selectable=True)
        self.keys = label("", "muted", wrap=True)
        for widget in (self.url, self.problem, self.keys):
            box.addWidget(widget)
        return endpoint

    def _today_card(self) -> QWidget:
        today, grid_box = card("Today")
        grid_box.addWidget(label("Today", object_name="CardTitle"))
        grid = QGridLayout()
        grid.setHorizontalSpacing(24)
        self.counts: dict[str, QLabel] = {}
        for row, (kind, title) in enumerate(_KINDS):
            grid.addWidget(label(title), row, 0)
            self.counts[kind] = label("0", selectable=True)
            grid.addWidget(self.counts[kind], row, 1)
        grid.setColumnStretch(2, 1)
        grid_box.addLayout(grid)
        grid_box.addWidget(label("Likely machine traffic (security scanners, prefetching, Apple Mail Privacy "
                                 "Protection) is counted apart and left out of reports.", "muted", wrap=True))
        return today

    def _remote_card(self) -> QWidget:
        remote, remote_box = card("Remote endpoint")
        remote_box.addWidget(label("Remote endpoint", object_name="CardTitle"))
        self.remote = label("", wrap=True, selectable=True)
        remote_box.addWidget(self.remote)
        row = QHBoxLayout()
        self.sync_button = QPushButton("Sync now")
        self.sync_button.clicked.connect(self.sync_now)
        row.addWidget(self.sync_button)
        row.addStretch(1)
        remote_box.addLayout(row)
        return remote

    def refresh(self) -> None:
        if self._sync is not None and self._sync.done():
            self._sync = None
        status = self.service.status()
        running = status.running
        self.state.setText("Running in the app" if running else "Not running in the app")
        self.state_icon.name, self.state_icon.tint = ("check", "success") if running else ("warning", "warning")
        self.state_icon.refresh()
        self.url.setText(f"Links in emails point to {status.public_url}"
                         + (f"\nServed here at {status.embedded_url}" if status.embedded_url else ""))
        self.problem.setText(status.problem)
        self.problem.setVisible(bool(status.problem))
        self.keys.setText(f"Link keys {', '.join(status.key_ids)} kept in the {status.keys_stored_in}. "
                          f"{status.ingested_up_to} of {status.newest_event} events applied to contacts.")
        for kind, widget in self.counts.items():
            figures = status.today.get(kind, {"people": 0, "machines": 0})
            machines = f"  (+{figures['machines']} machines)" if figures["machines"] else ""
            widget.setText(f"{figures['people']}{machines}")
        if status.remote_url:
            when = f"{status.last_sync_at:%Y-%m-%d %H:%M} UTC" if status.last_sync_at else "never"
            self.remote.setText(f"{status.remote_url}\nLast sync: {when}"
                                + (f" ({status.last_sync_note})" if status.last_sync_note else ""))
        else:
            self.remote.setText("None: the endpoint in the app serves this computer only. To reach real "
                                "recipients, run postroom-tracker on a server and connect it with "
                                "'postroom tracker connect URL --token TOKEN' (see docs/TRACKER.md).")
        self.sync_button.setEnabled(bool(status.remote_url) and self._sync is None)

    def _copy_url(self) -> None:
        clipboard = QGuiApplication.clipboard()
        if clipboard is not None:
            clipboard.setText(self.service.public_url())

    def sync_now(self) -> None:
        if self._sync is not None:
            return

        def work(handle: Any) -> Any:
            return self.service.sync(progress=lambda text: handle.report(0, None, text), check=handle.check)

        self.sync_button.setEnabled(False)
        self._sync = self.ctx.jobs.start("Sync with the tracking endpoint", work,
                                         summary=lambda report: report.error or f"{report.pulled} new events")

    def shutdown(self) -> None:
        self._refresh_timer.stop()

