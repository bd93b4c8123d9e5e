"""Composition root: ``postroom`` with no command opens the window, otherwise runs a subcommand."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    import multiprocessing

    # The sender runs in a spawned process; a frozen bundle must hand that child its work, not a new window.
    multiprocessing.freeze_support()
    from app.cli import builtin_modules, parse_global, run_cli

    args = list(sys.argv[1:] if argv is None else argv)
    options = parse_global(args)
    if options.command is None and "--json" not in args:
        from app.ui.application import run_gui

        return int(run_gui(options, builtin_modules))
    return run_cli(options, builtin_modules())


if __name__ == "__main__":
    sys.exit(main())
