"""The campaigns module's declaration: campaigns, schedules, A/B tests, automations, their pages and commands."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.kernel.registry import CliCommand, ModuleContext, ModuleSpec, PageSpec


def _cli() -> Any:
    """The command-line code, imported only when a command line is being built (not at every start)."""
    from app.modules.campaigns import cli

    return cli


def _campaigns_page(ui_context: object) -> object:
    from app.modules.campaigns.ui.campaigns_page import CampaignsPage

    return CampaignsPage(ui_context)


def setup(context: ModuleContext) -> None:
    from app.modules.campaigns.handlers import CampaignService

    service = CampaignService(context)
    service.register(context)
    context.on_services(service.start)
    context.on_teardown(service.stop)
    context.add_page(PageSpec(key="campaigns", title="Campaigns", factory=_campaigns_page, icon="campaigns",
                              order=30, tooltip="Campaigns: audience, content, schedule, A/B tests and results"))
    context.add_cli(CliCommand("campaigns", "create, send, schedule and follow campaigns",
                               lambda parser: _cli().configure_campaigns(parser, context, service)))


MODULE = ModuleSpec(
    name="campaigns",
    title="Campaigns",
    setup=setup,
    requires=("contacts", "editor", "delivery"),
    migrations=Path(__file__).parent / "migrations",
    description="Campaigns with schedules (once, recurring, in each recipient's time zone), A/B/n tests, "
                "resends to non-openers, and automations drawn in a visual designer.",
)
