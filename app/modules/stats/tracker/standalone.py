"""``postroom-tracker``: the endpoint on its own (a small server), with only its own tables and no Qt, no kernel
modules, no contacts. The app syncs with it: it pushes keys, links, web views and list names, and pulls events.

    postroom-tracker new-token --kind sync --database-url URL     # once: give the token to the app
    postroom-tracker serve --host 127.0.0.1 --port 8089 --database-url URL
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from app.kernel.database import Database
from app.kernel.logs import JsonFormatter, configure_logging
from app.kernel.migrations import MigrationSource, upgrade

DEFAULT_URL = "sqlite:///postroom-tracker.sqlite3"


def open_database(url: str) -> Database:
    """The endpoint's database with the stats tables migrated (nothing else is created in it)."""
    from app.modules.stats.module import MODULE

    db = Database(url)
    db.check()
    assert MODULE.migrations is not None
    upgrade(db.engine, MigrationSource("stats", MODULE.migrations))
    return db


def _parser() -> argparse.ArgumentParser:
    from app.modules.stats.tracker.server import add_serve_arguments

    parser = argparse.ArgumentParser(prog="postroom-tracker", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, text in (("serve", "run the endpoint in the foreground"),
                       ("new-token", "make a bearer token (shown once)")):
        command = sub.add_parser(name, help=text)
        command.add_argument("--database-url", default=os.environ.get("POSTROOM_TRACKER_DATABASE_URL", DEFAULT_URL),
                             help="where events are stored (default: $POSTROOM_TRACKER_DATABASE_URL or "
                                  f"{DEFAULT_URL}); sqlite:///path or postgresql+psycopg://...")
        if name == "serve":
            add_serve_arguments(command, default_host="127.0.0.1")
            command.add_argument("--log-file", type=Path, help="also write the JSON log to this file (rotated)")
        else:
            command.add_argument("--kind", choices=("sync", "events"), default="sync")
            command.add_argument("--name", default="")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if not args_list or (args_list[0].startswith("-") and args_list[0] not in ("-h", "--help")):
        args_list.insert(0, "serve")  # serving is what a bare `postroom-tracker --port 8089` means
    args = _parser().parse_args(args_list)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        db = open_database(args.database_url)
    except Exception as exc:
        sys.stderr.write(f"postroom-tracker: error: cannot open the database: {exc}\n")
        return 1
    try:
        if args.command == "new-token":
            from app.modules.stats.store import new_access_token

            _info, plain = new_access_token(db, args.kind, args.name)
            sys.stdout.write(plain + "\n")
            return 0
        from app.modules.stats.tracker.core import TrackerOptions
        from app.modules.stats.tracker.server import make_core, serve_forever

        if args.log_file:
            configure_logging(args.log_file)
        options = TrackerOptions(prefetch_seconds=args.prefetch_seconds, access_log=not args.no_access_log)
        try:
            serve_forever(make_core(db, options=options), args.host, args.port,
                          forwarded_allow_ips=args.forwarded_allow_ips)
        except OSError as exc:
            sys.stderr.write(f"postroom-tracker: error: cannot listen on {args.host}:{args.port}: {exc}\n")
            return 1
        return 0
    finally:
        db.dispose()


if __name__ == "__main__":
    sys.exit(main())
