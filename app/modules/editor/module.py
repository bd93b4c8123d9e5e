"""The editor module's declaration: tables, command handlers, the Editor page and ``postroom templates``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.kernel.registry import CliCommand, ModuleContext, ModuleSpec, PageSpec
from app.modules.editor.handlers import EditorHandlers


def _page(ui_context: object) -> object:
    from app.modules.editor.ui.editor_page import EditorPage

    return EditorPage(ui_context)


def _cli() -> Any:
    """The command-line code, imported only when a command line is being built (not at every start)."""
    from app.modules.editor import cli

    return cli


def setup(context: ModuleContext) -> None:
    from app.modules.editor.starters import seed_starters

    EditorHandlers(context.db, context.bus).register(context)
    seed_starters(context.db, context.settings)
    context.add_page(PageSpec(key="editor", title="Editor", factory=_page, icon="editor", order=20,
                              tooltip="Email templates: design, preview and version history"))
    context.add_cli(CliCommand("templates", "list, import, export, check and render email templates",
                               lambda parser: _cli().configure_templates(parser, context)))


MODULE = ModuleSpec(
    name="editor",
    title="Editor",
    setup=setup,
    migrations=Path(__file__).parent / "migrations",
    description="Drag-and-drop email templates, brand kit, merge tags, version history, HTML import and export.",
)
