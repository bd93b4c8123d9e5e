"""``postroom tracker ...``: serve the endpoint, sync with a remote one, keys, access tokens and status."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Any

from app.cli import CliError, CliResult
from app.kernel.registry import ModuleContext
from app.modules.stats import store
from app.modules.stats.service import StatsService
from app.modules.stats.tracker.server import add_serve_arguments


def _status(service: StatsService) -> CliResult:
    s = service.status()
    data: dict[str, Any] = {
        "public_url": s.public_url, "embedded": s.embedded_url or None, "running": s.running,
        "problem": s.problem or None, "remote_url": s.remote_url or None,
        "last_sync_at": s.last_sync_at.isoformat() if s.last_sync_at else None,
        "last_sync": s.last_sync_note or None, "keys_stored_in": s.keys_stored_in, "keys": list(s.key_ids),
        "today": s.today, "events": s.newest_event, "ingested_up_to": s.ingested_up_to}
    today = ", ".join(f"{kind} {c['people']} (+{c['machines']} machines)" for kind, c in sorted(s.today.items()))
    lines = [f"Public URL     {s.public_url}",
             f"In the app     {s.embedded_url + ' (running)' if s.running else 'not running'}"
             + (f": {s.problem}" if s.problem else ""),
             f"Remote         {s.remote_url or '(none)'}"
             + (f", last sync {s.last_sync_at:%Y-%m-%d %H:%M} UTC: {s.last_sync_note}" if s.last_sync_at else ""),
             f"Keys           {', '.join(s.key_ids)} (current {service.ring.current_id}) in {s.keys_stored_in}",
             f"Today          {today or 'nothing yet'}",
             f"Ingested       {s.ingested_up_to} of {s.newest_event} events"]
    return CliResult(data, "\n".join(lines))


def _serve(service: StatsService, args: argparse.Namespace) -> CliResult:
    from app.kernel.logs import JsonFormatter
    from app.modules.stats.tracker.core import TrackerOptions
    from app.modules.stats.tracker.server import make_core, serve_forever

    service.stop_tracker()  # this command takes over; the app's own endpoint would hold the port
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(min(root.level or logging.INFO, logging.INFO))
    options = TrackerOptions(prefetch_seconds=args.prefetch_seconds, access_log=not args.no_access_log)
    core = make_core(service.db, own_keys=lambda: service.ring, options=options,
                     on_commit=service._committed)
    try:
        serve_forever(core, args.host, args.port, forwarded_allow_ips=args.forwarded_allow_ips)
    except OSError as exc:
        raise CliError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    finally:
        root.removeHandler(handler)
    return CliResult({"stopped": True}, "Tracking endpoint stopped.")


def configure_tracker(parser: argparse.ArgumentParser, context: ModuleContext, service: StatsService) -> None:
    sub = parser.add_subparsers(dest="tracker_command", metavar="ACTION", required=True)

    status = sub.add_parser("status", help="where the endpoint runs, today's events, last sync")
    status.set_defaults(run=lambda _args: _status(service))

    serve = sub.add_parser("serve", help="run the tracking endpoint in the foreground (Ctrl-C stops it)")
    add_serve_arguments(serve)
    # Accepted here too (it is read before the command, like everywhere): the database to record into.
    serve.add_argument("--database-url", dest="serve_database_url", metavar="URL", help=argparse.SUPPRESS)
    serve.set_defaults(run=lambda args: _serve(service, args))

    def sync(_args: argparse.Namespace) -> CliResult:
        report = service.sync()
        if report.error:
            raise CliError(report.error)
        handled = service.ingest.run(wait=True)
        data = {"pulled": report.pulled, "pushed": report.pushed, "ingested": handled}
        pushed = ", ".join(f"{count} {what}" for what, count in report.pushed.items())
        return CliResult(data, f"Pulled {report.pulled} new events; pushed {pushed}; handled {handled}.")

    sub.add_parser("sync", help="push links, web views and list names to the remote endpoint and pull its events"
                   ).set_defaults(run=sync)

    def ingest(_args: argparse.Namespace) -> CliResult:
        handled = service.ingest.run(wait=True)
        return CliResult({"ingested": handled}, f"Handled {handled} tracking events.")

    sub.add_parser("ingest", help="apply new tracking events to contacts now").set_defaults(run=ingest)

    connect = sub.add_parser("connect", help="sync with an endpoint on a server (the token from its "
                                             "'postroom-tracker new-token --kind sync')")
    connect.add_argument("url", help="the endpoint's https:// URL")
    connect.add_argument("--token", help="its sync token (or set POSTROOM_TRACKER_SYNC_TOKEN)")
    connect.add_argument("--public", action="store_true", help="also use it as the public URL in emails")

    def run_connect(args: argparse.Namespace) -> CliResult:
        from app.modules.stats.sync import SyncError

        token = args.token or os.environ.get("POSTROOM_TRACKER_SYNC_TOKEN", "")
        if not token:
            raise CliError("give the sync token with --token or POSTROOM_TRACKER_SYNC_TOKEN")
        try:
            service.connect(args.url, token)
        except SyncError as exc:
            raise CliError(str(exc)) from None
        if args.public:
            context.settings.set("stats.public_url", args.url.rstrip("/"))
        report = service.sync()
        if report.error:
            raise CliError(f"saved, but the first sync failed: {report.error}")
        return CliResult({"remote_url": args.url, "pulled": report.pulled, "pushed": report.pushed},
                         f"Connected to {args.url}: pulled {report.pulled} events.")

    connect.set_defaults(run=run_connect)

    def disconnect(_args: argparse.Namespace) -> CliResult:
        service.disconnect()
        return CliResult({"remote_url": None}, "No longer syncing with a remote endpoint.")

    sub.add_parser("disconnect", help="stop syncing with the remote endpoint").set_defaults(run=disconnect)

    keys = sub.add_parser("keys", help="list the link signing keys, or rotate them")
    keys.add_argument("--rotate", action="store_true",
                      help="sign new links with a new key (old links keep working for at least 400 days)")

    def run_keys(args: argparse.Namespace) -> CliResult:
        if args.rotate:
            service.rotate()
        rows = [{"id": k.key_id, "current": k.key_id == service.ring.current_id, "created": k.created_at,
                 "retired": k.retired_at} for k in service.ring.keys]
        text = "\n".join(f"{r['id']:<6} {'current' if r['current'] else 'retired'}" for r in rows)
        return CliResult(rows, f"{text}\nStored in {service.secrets.where}.")

    keys.set_defaults(run=run_keys)
    _configure_tokens(sub.add_parser("token", help="bearer tokens for event intake (a shop) and for sync"),
                      service)


def _configure_tokens(parser: argparse.ArgumentParser, service: StatsService) -> None:
    sub = parser.add_subparsers(dest="token_command", metavar="ACTION", required=True)
    new = sub.add_parser("new", help="make a token (shown once)")
    new.add_argument("--kind", choices=store.TOKEN_KINDS, default="events")
    new.add_argument("--name", default="", help="who uses it, e.g. 'shop'")

    def run_new(args: argparse.Namespace) -> CliResult:
        info, plain = store.new_access_token(service.db, args.kind, args.name)
        hint = ("POST it as 'Authorization: Bearer ...' to /events" if args.kind == "events"
                else "give it to 'postroom tracker connect URL --token ...' in the app")
        return CliResult({"id": info.id, "kind": info.kind, "name": info.name, "token": plain},
                         f"{plain}\nShown only now. {hint}.")

    new.set_defaults(run=run_new)

    def run_list(_args: argparse.Namespace) -> CliResult:
        rows = [{"id": t.id, "kind": t.kind, "name": t.name, "created": t.created_at.isoformat(),
                 "revoked": t.revoked} for t in store.access_tokens(service.db)]
        return CliResult(rows, "\n".join(f"{r['id']:<4} {r['kind']:<7} {r['name'] or '-':<20} "
                                         f"{'revoked' if r['revoked'] else 'active'}" for r in rows) or "(none)")

    sub.add_parser("list", help="tokens and whether they are active").set_defaults(run=run_list)
    revoke = sub.add_parser("revoke", help="stop a token from working")
    revoke.add_argument("id", type=int)

    def run_revoke(args: argparse.Namespace) -> CliResult:
        if not store.revoke_access_token(service.db, args.id):
            raise CliError(f"no active token with id {args.id}")
        return CliResult({"revoked": args.id}, f"Token {args.id} revoked.")

    revoke.set_defaults(run=run_revoke)
