"""The stats module's declaration: the tracking endpoint, its ingest and sync, the Tracking page and commands."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.kernel.registry import CliCommand, ModuleContext, ModuleSpec, PageSpec


def _page(ui_context: object, service: object) -> object:
    from app.modules.stats.ui.tracking_page import TrackingPage

    return TrackingPage(ui_context, service)


def _reports_page(ui_context: object, service: object) -> object:
    from app.modules.stats.ui.reports_page import ReportsPage

    return ReportsPage(ui_context, service)


def _dashboard_page(ui_context: object, service: object) -> object:
    from app.modules.stats.ui.dashboard_page import DashboardPage

    return DashboardPage(ui_context, service)


def _cli() -> Any:
    """The command-line code, imported only when a command line is being built (not at every start)."""
    from app.modules.stats import cli

    return cli


def setup(context: ModuleContext) -> None:
    from app.modules.stats.service import StatsService

    service = StatsService(context)
    service.register(context)
    # Only in the app, and after its window is up: a one-shot command serves nothing (`tracker serve` runs its own).
    context.on_services(service.start)
    context.on_teardown(service.stop)
    context.add_page(PageSpec(key="stats", title="Tracking", factory=lambda ui: _page(ui, service), icon="stats",
                              order=60,
                              tooltip="The tracking endpoint: opens, clicks, unsubscribes and incoming events"))
    context.add_page(PageSpec(key="stats-dashboard", title="Dashboard", icon="dashboard", order=5,
                              factory=lambda ui: _dashboard_page(ui, service),
                              tooltip="Recent campaigns, list growth, engagement and deliverability at a glance"))
    context.add_page(PageSpec(key="stats-reports", title="Reports", icon="report", order=50,
                              factory=lambda ui: _reports_page(ui, service),
                              tooltip="Campaign reports: opens, clicks, bounces, revenue, charts and exports"))
    context.add_cli(CliCommand("tracker", "the tracking endpoint: serve, sync, keys, tokens, status",
                               lambda parser: _cli().configure_tracker(parser, context, service)))
    context.add_cli(CliCommand("stats", "campaign reports: list, show, export (csv, parquet, sqlite, pdf), chart",
                               lambda parser: _cli().configure_stats(parser, service)))


MODULE = ModuleSpec(
    name="stats",
    title="Statistics",
    setup=setup,
    requires=("contacts",),
    migrations=Path(__file__).parent / "migrations",
    description="The tracking endpoint (opens, clicks, unsubscribes, preferences, web views, incoming events), "
                "its sync with a remote endpoint, campaign reports, charts, the dashboard and exports.",
)
