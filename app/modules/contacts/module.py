"""The contacts module's declaration: tables, handlers, pages, settings and command-line subcommands."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.kernel.registry import CliCommand, ModuleContext, ModuleSpec, PageSpec
from app.modules.contacts.handlers import ContactsHandlers


def _page(ui_context: object) -> object:
    from app.modules.contacts.ui.contacts_page import ContactsPage

    return ContactsPage(ui_context)


def _cli() -> Any:
    """The command-line code, imported only when a command line is being built (not at every start)."""
    from app.modules.contacts import cli

    return cli


def setup(context: ModuleContext) -> None:
    from app.modules.contacts.import_runs import mark_interrupted_imports

    try:
        # An import that was running when the app or machine died says so instead of "running" forever.
        mark_interrupted_imports(context.db)
    except Exception:
        context.log.exception("could not mark interrupted imports")
    ContactsHandlers(context.db, context.bus).register(context)
    context.add_page(PageSpec(key="contacts", title="Contacts", factory=_page, icon="contacts", order=10,
                              tooltip="Your contacts, lists, segments and imports",
                              opens_files=(".csv", ".tsv", ".txt")))
    context.add_cli(CliCommand("contacts", "import, export, count and look up contacts",
                               lambda parser: _cli().configure_contacts(parser, context)))
    context.add_cli(CliCommand("segments", "save and list segments",
                               lambda parser: _cli().configure_segments(parser, context)))
    context.add_cli(CliCommand("suppressions", "addresses that are never mailed",
                               lambda parser: _cli().configure_suppressions(parser, context)))


MODULE = ModuleSpec(
    name="contacts",
    title="Contacts",
    setup=setup,
    migrations=Path(__file__).parent / "migrations",
    description="Contacts, lists, tags, consent, suppressions, CSV import and segments.",
)
