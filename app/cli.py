"""The ``postroom`` command line: global options, module subcommands, ``--json`` everywhere, clear errors."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from app import APP_NAME, __version__
from app.kernel.boot import Kernel, load_specs, start_kernel
from app.kernel.paths import AppPaths
from app.kernel.registry import CliCommand, ModuleContext, ModuleSpec

log = logging.getLogger(__name__)


class CliError(Exception):
    """A failure the user can act on; its message is printed as is and the exit code is 1."""


@dataclass(frozen=True)
class CliResult:
    """What a subcommand returns: ``data`` for ``--json``, ``text`` for people (derived from data if empty).

    ``exit_code`` is non-zero for a command that ran but found a problem (its output still printed)."""

    data: Any
    text: str = ""
    exit_code: int = 0


@dataclass(frozen=True)
class GlobalOptions:
    data_dir: Path | None
    database_url: str | None
    command: str | None
    rest: list[str]

    def paths(self) -> AppPaths:
        return AppPaths.inside(self.data_dir) if self.data_dir else AppPaths.default()


def global_parser(add_help: bool = True) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="postroom",
        description=f"{APP_NAME}: email marketing for small teams. With no command, opens the window.",
        add_help=add_help,
    )
    parser.add_argument("--version", action="version", version=f"{APP_NAME} {__version__}")
    parser.add_argument("--data-dir", type=Path, metavar="DIR",
                        help="keep the database, settings and logs in DIR (default: your user data folder)")
    parser.add_argument("--database-url", metavar="URL",
                        help="use this database instead of the local SQLite file (e.g. postgresql://host/db)")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    return parser


def parse_global(argv: Sequence[str]) -> GlobalOptions:
    """Read the options that come before any subcommand (enough to decide window or command line)."""
    parser = global_parser(add_help=False)
    known, rest = parser.parse_known_args(list(argv))
    command = next((arg for arg in rest if not arg.startswith("-")), None)
    if command is None and any(arg in ("-h", "--help") for arg in rest):
        command = "--help"
    return GlobalOptions(known.data_dir, known.database_url, command, list(argv))


def _add_json_flags(parser: argparse.ArgumentParser) -> None:
    """Give every subcommand, however deep, a ``--json`` flag."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                if not any("--json" in a.option_strings for a in sub._actions):
                    sub.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                                     help="print machine-readable JSON")
                _add_json_flags(sub)


def build_parser(commands: Sequence[CliCommand]) -> argparse.ArgumentParser:
    parser = global_parser()
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in commands:
        command.configure(sub.add_parser(command.name, help=command.help, description=command.help))
    _add_json_flags(parser)
    return parser


def _text_of(data: Any) -> str:
    if isinstance(data, str):
        return data
    if isinstance(data, dict):
        width = max((len(str(key)) for key in data), default=0)
        return "\n".join(f"{key:<{width}}  {_inline(value)}" for key, value in data.items())
    if isinstance(data, list):
        return "\n".join(_inline(item) for item in data) if data else "(none)"
    return "" if data is None else str(data)


def _inline(value: Any) -> str:
    if isinstance(value, dict):
        return "  ".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def emit(result: Any, as_json: bool, out: TextIO) -> None:
    data, text = (result.data, result.text) if isinstance(result, CliResult) else (result, "")
    if as_json:
        json.dump(data, out, indent=2, ensure_ascii=False, default=str)
        out.write("\n")
    else:
        shown = text or _text_of(data)
        if shown:
            out.write(shown + "\n")


def _kernel_commands(kernel: Kernel) -> list[CliCommand]:
    """Subcommands the kernel offers itself."""

    def modules(parser: argparse.ArgumentParser) -> None:
        def run(_args: argparse.Namespace) -> CliResult:
            rows = [{"name": s.name, "title": s.title, "state": s.state, "reason": s.reason}
                    for s in kernel.statuses]
            text = "\n".join(f"{r['name']:<10} {r['state']:<9} {r['reason']}".rstrip() for r in rows)
            return CliResult(rows, text or "(no modules installed)")

        parser.set_defaults(run=run)

    def info(parser: argparse.ArgumentParser) -> None:
        def run(_args: argparse.Namespace) -> dict[str, Any]:
            return {
                "version": __version__,
                "data_dir": str(kernel.paths.data_dir),
                "settings": str(kernel.paths.settings_file),
                "log_file": str(kernel.paths.log_file),
                "database": kernel.db.display_url(),
                "keyring": kernel.secrets.problem() or "ok",
            }

        parser.set_defaults(run=run)

    def install_desktop(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--prefix", type=Path, default=None,
                            help="XDG data folder to write into (default: ~/.local/share)")

        def run(args: argparse.Namespace) -> CliResult:
            from app.desktop import install_desktop_entry

            written = install_desktop_entry(args.prefix)
            data = {"desktop_file": str(written.desktop_file), "icon": str(written.icon)}
            return CliResult(data, f"Installed {written.desktop_file}\nIcon {written.icon}\n"
                                   "Postroom now appears in your applications menu.")

        parser.set_defaults(run=run)

    return [
        CliCommand("modules", "list the modules and whether they started", modules),
        CliCommand("info", "show where data, settings and logs live", info),
        CliCommand("install-desktop", "add Postroom to the desktop's applications menu", install_desktop),
    ]


def run_cli(  # noqa: PLR0911 - one exit per way a command can end
    options: GlobalOptions, modules: Sequence[ModuleSpec] = (),
            out: TextIO | None = None, err: TextIO | None = None,
            kernel_factory: Callable[..., Kernel] = start_kernel) -> int:
    """Start the kernel without a window, run one subcommand, and return the exit code."""
    out = out or sys.stdout
    err = err or sys.stderr
    as_json = "--json" in options.rest
    try:
        kernel = kernel_factory(options.paths(), database_url=options.database_url, modules=modules)
    except Exception as exc:
        return _fail(f"cannot open the data folder or database: {exc}", as_json, out, err)
    try:
        parser = build_parser([*_kernel_commands(kernel), *kernel.registry.cli_commands])
        disabled = {s.name: s.reason for s in kernel.statuses if s.state == "disabled"}
        if options.command in disabled:
            return _fail(f"the {options.command} module is disabled: {disabled[options.command]}",
                         as_json, out, err)
        try:
            args = parser.parse_args(options.rest)
        except SystemExit as exit_:
            return int(exit_.code or 0)
        run = getattr(args, "run", None)
        if run is None:
            parser.print_help(out)
            return 2
        try:
            result = run(args)
        except CliError as exc:
            return _fail(str(exc), as_json, out, err)
        except KeyboardInterrupt:
            return _fail("interrupted", as_json, out, err, code=130)
        except Exception as exc:
            log.exception("command %s failed", options.command)
            return _fail(f"{exc} (details in {kernel.paths.log_file})", as_json, out, err)
        emit(result, bool(getattr(args, "json", False)), out)
        return result.exit_code if isinstance(result, CliResult) else 0
    finally:
        kernel.close()


def _fail(message: str, as_json: bool, out: TextIO, err: TextIO, code: int = 1) -> int:
    if as_json:
        json.dump({"error": message}, out)
        out.write("\n")
    else:
        err.write(f"postroom: error: {message}\n")
    return code


def builtin_modules() -> list[ModuleSpec]:
    from app.modules import BUILTIN_MODULES

    specs, failures = load_specs(BUILTIN_MODULES)
    for failure in failures:
        specs.append(_broken_module(failure.entry, failure.reason))
    return specs


def _broken_module(entry: str, reason: str) -> ModuleSpec:
    name = entry.split(":", 1)[0].rsplit(".", 2)[-2] if "." in entry else entry

    def setup(_context: ModuleContext) -> None:
        raise RuntimeError(f"could not be loaded: {reason}")

    return ModuleSpec(name=name, title=name.title(), setup=setup)
