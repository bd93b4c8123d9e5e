"""The delivery module's declaration: tables, handlers, the built-in outbox, the sender and the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.kernel.registry import CliCommand, ModuleContext, ModuleSpec, PageSpec, SettingsPageSpec
from app.modules.delivery.messages import RunPreflight, SendTestMessage


def _page(ui_context: object) -> object:
    from app.modules.delivery.ui.delivery_page import DeliveryPage

    return DeliveryPage(ui_context)


def _accounts_page(ui_context: object) -> object:
    from app.modules.delivery.ui.settings_pages import AccountsPage

    return AccountsPage(ui_context)


def _identities_page(ui_context: object) -> object:
    from app.modules.delivery.ui.settings_pages import IdentitiesPage

    return IdentitiesPage(ui_context)


def _cli() -> Any:
    """The command-line code, imported only when a command line is being built (not at every start)."""
    from app.modules.delivery import cli

    return cli


def _preflight(service: Any, command: RunPreflight) -> Any:
    from app.modules.delivery.preflight import run_preflight

    return run_preflight(command, db=service.db, settings=service.context.settings,
                         secrets=service.context.secrets, links=service.links)


def _bounce_page(ui_context: object) -> object:
    from app.modules.delivery.ui.bounce_settings import BounceMailboxPage

    return BounceMailboxPage(ui_context)


def _setup_bounces(context: ModuleContext, service: Any) -> None:
    """The bounce mailbox: commands, its poller (only in the app), settings page and ``postroom bounces``."""
    from app.modules.delivery.bounce_service import BounceService, sender_links

    bounces = BounceService(context, sender_links(service))
    bounces.register(context)
    context.on_teardown(bounces.stop)
    context.on_services(bounces.start_services)
    context.add_settings_page(SettingsPageSpec(key="bounce-mailbox", title="Bounce mailbox", factory=_bounce_page,
                                               order=45))

    def configure(parser: Any) -> None:
        from app.modules.delivery.bounce_cli import configure_bounces

        configure_bounces(parser, context, bounces)

    context.add_cli(CliCommand("bounces", "read the bounce mailbox, parse a report, set the mailbox up", configure))


def setup(context: ModuleContext) -> None:
    from app.modules.delivery import accounts
    from app.modules.delivery.handlers import DeliveryService
    from app.modules.delivery.testsend import send_test

    with context.db.transaction() as session:
        accounts.ensure_defaults(session)
    service = DeliveryService(context)
    service.register(context)
    context.handle(SendTestMessage, lambda command: send_test(service, command))
    context.handle(RunPreflight, lambda command: _preflight(service, command))
    # Teardowns run last-in, first-out: the sender stops first, then the reporter, then the outbox.
    context.on_teardown(service.outbox.stop)
    context.on_teardown(service.reporter.close)
    context.on_teardown(service.host.stop)
    context.on_services(service.start_services)  # only in the app, after its window shows; never in a command
    _setup_bounces(context, service)
    context.add_page(PageSpec(key="delivery", title="Delivery", factory=_page, icon="delivery", order=40,
                              tooltip="Sends in progress, their per-recipient log, and the built-in outbox"))
    context.add_settings_page(SettingsPageSpec(key="smtp-accounts", title="SMTP accounts", factory=_accounts_page,
                                               order=40))
    context.add_settings_page(SettingsPageSpec(key="sender-identities", title="Sender identities",
                                               factory=_identities_page, order=42))
    context.add_cli(CliCommand("smtp", "add, list and test SMTP accounts",
                               lambda parser: _cli().configure_smtp(parser, context, service)))
    context.add_cli(CliCommand("outbox", "messages the built-in outbox received",
                               lambda parser: _cli().configure_outbox(parser, context)))
    context.add_cli(CliCommand("delivery", "send runs, their status, test messages, DKIM keys",
                               lambda parser: _cli().configure_delivery(parser, context, service)))


MODULE = ModuleSpec(
    name="delivery",
    title="Delivery",
    setup=setup,
    requires=("contacts",),
    migrations=Path(__file__).parent / "migrations",
    description="Sender identities, SMTP accounts, the built-in outbox and a safe background sender.",
)
