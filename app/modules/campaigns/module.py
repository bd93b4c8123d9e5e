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


def _automation_cli() -> Any:
    from app.modules.campaigns import automation_cli

    return automation_cli


def _automations_page(ui_context: object) -> object:
    from app.modules.campaigns.ui.automations_page import AutomationsPage

    return AutomationsPage(ui_context)


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
    _setup_automations(context)


def _setup_automations(context: ModuleContext) -> None:
    from app.modules.campaigns.automations import install

    install(context)
    context.add_page(PageSpec(key="automations", title="Automations", factory=_automations_page, icon="automations",
                              order=35, tooltip="Automations and drip sequences, drawn in a visual designer"))
    context.add_cli(CliCommand("automations", "list automations and carry out their due steps",
                               lambda parser: _automation_cli().configure_automations(parser, context)))
    context.add_cli(CliCommand("events", "import shop or CRM events (order_completed...) from a CSV file",
                               lambda parser: _automation_cli().configure_events(parser, context)))


MODULE = ModuleSpec(
    name="campaigns",
    title="Campaigns",
    setup=setup,
    requires=("contacts", "editor", "delivery"),
    migrations=Path(__file__).parent / "migrations",
    description="Campaigns with schedules (once, recurring, in each recipient's time zone), A/B/n tests, "
                "resends to non-openers, and automations drawn in a visual designer.",
)
