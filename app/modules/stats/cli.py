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


# -- postroom stats ... (reports) ---------------------------------------------------------------------------------


def _report_data(report: Any) -> dict[str, Any]:
    return {"key": report.key, "kind": report.kind, "title": report.title, "subject": report.subject,
            "started_at": report.started_at.isoformat() if report.started_at else None,
            "machine_traffic_included": report.include_machine, "runs": list(report.run_ids),
            "figures": report.figures.as_dict(),
            "variants": [{"variant": v.variant, "runs": list(v.run_ids), "figures": v.figures.as_dict()}
                         for v in report.variants],
            "links": [{"url": r.url, "clicks": r.clicks, "unique_clicks": r.unique_clicks} for r in report.links],
            "clients": [{"client": c, "opens": n} for c, n in report.by_client()],
            "devices": [{"device": d, "opens": n} for d, n in report.by_device()],
            "domains": [{"domain": d.domain, "sent": d.sent, "bounced": d.bounced, "opened": d.opened,
                         "clicked": d.clicked} for d in report.domains]}


def _find_report(service: StatsService, wanted: str, machine: bool) -> Any:
    from app.modules.stats import reports

    try:
        service.aggregator.refresh_open_runs()  # sends finished while the app was closed count too
    except Exception as exc:  # delivery absent or busy: the stored figures are still worth showing
        logging.getLogger(__name__).info("could not read delivery's runs: %s", exc)
    try:
        entry = reports.resolve(service.db, wanted)
        return reports.build_report(service.db, entry.key, include_machine=machine)
    except reports.ReportNotFound as exc:
        raise CliError(str(exc)) from None


def _run_list(service: StatsService, _args: argparse.Namespace) -> CliResult:
    from app.modules.stats import reports

    entries = reports.list_reports(service.db)
    rows = [{"key": e.key, "kind": e.kind, "title": e.title, "sent": e.sent, "runs": e.runs,
             "started_at": e.started_at.isoformat() if e.started_at else None} for e in entries]
    text = "\n".join(f"{e.key:<8} {e.kind:<10} {e.sent:>9,}  "
                     f"{f'{e.started_at:%Y-%m-%d}' if e.started_at else '-':<10}  {e.title}" for e in entries)
    return CliResult(rows, text or "No campaigns or sends yet.")


def _run_show(service: StatsService, args: argparse.Namespace) -> CliResult:
    from app.modules.stats import reports

    report = _find_report(service, args.campaign, args.machine)
    lines = [report.title + (f"  ({report.subject})" if report.subject and report.subject != report.title else ""),
             "Machine traffic included." if report.include_machine else
             "Machine traffic (scanners, prefetch, Apple Mail Privacy Protection) left out; --machine adds it."]
    lines += [f"  {name:<42} {value}" for name, value in reports.figure_rows(report.figures)]
    for variant in report.variants:
        f = variant.figures
        lines.append(f"  variant {variant.variant:<10} sent {f.sent:,}, open rate {f.open_rate:.1%}, "
                     f"CTR {f.click_rate:.1%}, CTOR {f.click_to_open_rate:.1%}")
    if report.links:
        lines.append("  Top links:")
        lines += [f"    {r.clicks:>7,} clicks {r.unique_clicks:>7,} people  {r.url}" for r in report.links[:5]]
    return CliResult(_report_data(report), "\n".join(lines))


def _run_export(service: StatsService, args: argparse.Namespace) -> CliResult:
    from app.modules.stats import export as exporter

    try:
        if args.campaign == "all" or args.table:
            if args.format == "pdf":
                raise CliError("a PDF is a report of one campaign: name the campaign")
            run_ids = None if args.campaign == "all" else _find_report(service, args.campaign, False).run_ids
            written = exporter.export_tables(service.db, args.format, args.out, run_ids,
                                             tuple(args.table or exporter.TABLES))
        else:
            report = _find_report(service, args.campaign, args.machine)
            written = exporter.export_report(service.db, report, args.format, args.out)
    except exporter.ExportError as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        raise CliError(f"cannot write {args.out}: {exc.strerror or exc}") from None
    summary = ", ".join(f"{n:,} {what}" for what, n in written.items())
    return CliResult({"out": str(args.out), "format": args.format, "written": written},
                     f"Wrote {args.out} ({summary}).")


def _run_chart(service: StatsService, args: argparse.Namespace) -> CliResult:
    from app.modules.stats import charts

    report = _find_report(service, args.campaign, args.machine)
    figures = charts.report_figures(report, charts.THEMES[args.theme])
    if args.chart not in figures:
        raise CliError(f"{report.title} has no {args.chart} chart (only campaigns with A/B variants have one)")
    try:
        charts.save_figure(figures[args.chart], args.out)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    return CliResult({"out": str(args.out), "chart": args.chart}, f"Saved {args.out}.")


def configure_stats(parser: argparse.ArgumentParser, service: StatsService) -> None:
    from pathlib import Path

    sub = parser.add_subparsers(dest="stats_command", metavar="ACTION", required=True)
    sub.add_parser("list", help="campaigns, automations and sends that have a report").set_defaults(
        run=lambda args: _run_list(service, args))

    show = sub.add_parser("show", help="a campaign's report: sent, delivered, opens, clicks, rates, revenue")
    show.add_argument("campaign", help="campaign name or id, or a key from 'stats list' (c12, r5, a3)")
    show.add_argument("--machine", action="store_true", help="include likely machine opens and clicks")
    show.set_defaults(run=lambda args: _run_show(service, args))

    export = sub.add_parser("export", help="a campaign's report as PDF or CSV, or its data as Parquet or SQLite")
    export.add_argument("campaign", help="campaign name, id or key; 'all' exports every run's data")
    export.add_argument("--format", required=True, choices=("csv", "parquet", "sqlite", "pdf"))
    export.add_argument("--out", required=True, type=Path,
                        help="a file (pdf, csv, sqlite) or a folder (parquet: one file per table)")
    export.add_argument("--table", action="append", choices=("events", "runs", "hourly", "links", "recipients"),
                        help="write these data tables (csv and parquet: files in the folder --out) instead of "
                             "the report; 'recipients' is per-recipient engagement")
    export.add_argument("--machine", action="store_true", help="include machine traffic in the report's figures")
    export.set_defaults(run=lambda args: _run_export(service, args))

    chart = sub.add_parser("chart", help="save one of a campaign's charts as PNG or SVG")
    chart.add_argument("campaign")
    chart.add_argument("--chart", default="timeline",
                       choices=("timeline", "cumulative", "links", "clients", "domains", "variants"))
    chart.add_argument("--out", required=True, type=Path, help="a .png or .svg file")
    chart.add_argument("--theme", choices=("light", "dark"), default="light")
    chart.add_argument("--machine", action="store_true")
    chart.set_defaults(run=lambda args: _run_chart(service, args))
