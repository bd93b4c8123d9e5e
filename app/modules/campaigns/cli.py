"""``postroom campaigns create|send|status|list``: the campaigns module's command line."""

from __future__ import annotations

import argparse
import datetime as dt
import email.utils
import time
from typing import Any

from app.cli import CliError, CliResult
from app.kernel.registry import ModuleContext
from app.modules.campaigns import api
from app.modules.campaigns.messages import (
    CampaignAudience,
    CampaignError,
    CancelCampaign,
    PauseCampaign,
    ResumeCampaign,
    SaveCampaign,
    ScheduleCampaign,
    SendCampaign,
)

SETTLED = ("sent", "cancelled", "paused", "draft")


def _execute(context: ModuleContext, command: Any) -> Any:
    try:
        return context.bus.execute(command)
    except (CampaignError, ValueError) as exc:
        raise CliError(str(exc)) from None


def _campaign(context: ModuleContext, name: str) -> api.CampaignInfo:
    found = api.find_campaign(context.db, name)
    if found is None:
        names = ", ".join(c.name for c in api.list_campaigns(context.db)[:10]) or "none yet"
        raise CliError(f"no campaign named {name!r} (campaigns: {names})")
    return found


def _identity(context: ModuleContext, given: str) -> int:
    """An identity by id or From address; an address not known yet becomes a new identity."""
    from app.modules.delivery import api as delivery_api
    from app.modules.delivery.messages import SaveIdentity

    name, address = email.utils.parseaddr(given)
    for identity in delivery_api.identities(context.db):
        if given == str(identity.id) or (address and identity.from_email.lower() == address.lower()):
            return identity.id
    if "@" not in address:
        raise CliError(f"{given!r} is neither a sender identity nor an email address")
    return int(_execute(context, SaveIdentity(from_email=address, from_name=name)))


def _ids(names: list[str], known: dict[str, int], what: str) -> tuple[int, ...]:
    missing = [n for n in names if n.lower() not in known]
    if missing:
        raise CliError(f"no {what} named {', '.join(missing)}")
    return tuple(known[n.lower()] for n in names)


def _row(context: ModuleContext, info: api.CampaignInfo) -> dict[str, Any]:
    figures = api.results(context.db, info)
    return {"id": info.id, "name": info.name, "state": info.state, "reason": info.state_reason,
            "subject": info.subject, "schedule": info.schedule_text(),
            "next_run_at": info.next_run_at.isoformat() + "Z" if info.next_run_at else None,
            "missed_at": info.missed_at.isoformat() + "Z" if info.missed_at else None,
            "runs": list(info.run_ids), "sent": figures.sent, "failed": figures.failed, "pending": figures.open,
            "unique_opens": figures.unique_opens, "unique_clicks": figures.unique_clicks,
            "open_rate": round(figures.open_rate, 4), "click_rate": round(figures.click_rate, 4),
            "ab": info.ab or None, "resend": info.resend or None}


def _status_text(row: dict[str, Any]) -> str:
    lines = [f"{row['name']} (#{row['id']}): {row['state']}" + (f" — {row['reason']}" if row["reason"] else ""),
             f"  schedule: {row['schedule']}" + (f", next {row['next_run_at']}" if row["next_run_at"] else "")]
    if row["runs"]:
        lines.append(f"  sent {row['sent']}, failed {row['failed']}, not settled {row['pending']}; "
                     f"opened {row['unique_opens']} ({row['open_rate']:.1%}), clicked {row['unique_clicks']} "
                     f"({row['click_rate']:.1%}) of sent (postroom stats show: the full report)")
    if row["ab"]:
        ab = row["ab"]
        lines.append(f"  A/B test on {ab.get('metric')}: {len(ab.get('variants', []))} variants, "
                     f"{ab.get('test_share')}% test share" + (f"; {ab['verdict']}" if ab.get("verdict") else ""))
    if row["missed_at"]:
        lines.append("  A send fell due while Postroom was closed: open the app to send it or skip it.")
    return "\n".join(lines)


def configure_campaigns(parser: argparse.ArgumentParser, context: ModuleContext, service: Any) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    _configure_create(sub, context)
    _configure_send(sub, context, service)

    status = sub.add_parser("status", help="a campaign's state, schedule and results")
    status.add_argument("name", metavar="CAMPAIGN")

    def run_status(args: argparse.Namespace) -> CliResult:
        row = _row(context, _campaign(context, args.name))
        return CliResult(row, _status_text(row))

    status.set_defaults(run=run_status)

    listing = sub.add_parser("list", help="every campaign with its state and key results")

    def run_list(_args: argparse.Namespace) -> CliResult:
        rows = [_row(context, info) for info in api.list_campaigns(context.db)]
        text = "\n".join(f"{r['name']:<32} {r['state']:<10} sent {r['sent']:>7}  opens {r['open_rate']:>6.1%}  "
                         f"clicks {r['click_rate']:>6.1%}" for r in rows)
        return CliResult(rows, text or "No campaigns yet: postroom campaigns create NAME ...")

    listing.set_defaults(run=run_list)

    for name, command, verb in (("pause", PauseCampaign, "paused"), ("resume", ResumeCampaign, "resumed"),
                                ("cancel", CancelCampaign, "cancelled")):
        action = sub.add_parser(name, help=f"{name} a campaign's sending")
        action.add_argument("name", metavar="CAMPAIGN")

        def run_action(args: argparse.Namespace, command: Any = command, verb: str = verb) -> CliResult:
            info = _campaign(context, args.name)
            changed = _execute(context, command(campaign_id=info.id))
            return CliResult({"campaign": info.id, "changed": bool(changed)},
                             f"{info.name} {verb}." if changed else f"{info.name} was not changed.")

        action.set_defaults(run=run_action)


def _configure_create(sub: Any, context: ModuleContext) -> None:
    create = sub.add_parser("create", help="create a draft campaign")
    create.add_argument("name")
    create.add_argument("--template", required=True, help="an editor template's name")
    create.add_argument("--list", action="append", default=[], metavar="NAME", help="a list to send to (repeatable)")
    create.add_argument("--segment", action="append", default=[], metavar="NAME", help="a segment (repeatable)")
    create.add_argument("--exclude-list", action="append", default=[], metavar="NAME")
    create.add_argument("--exclude-segment", action="append", default=[], metavar="NAME")
    create.add_argument("--from", dest="sender", required=True, metavar="IDENTITY_OR_ADDRESS",
                        help="a sender identity's id or address, or 'Name <address>' for a new one")
    create.add_argument("--subject", required=True)
    create.add_argument("--preheader", default="")
    create.add_argument("--no-track-opens", action="store_true")
    create.add_argument("--no-track-clicks", action="store_true")
    create.add_argument("--utm-source", default="", help="add UTM parameters to links (source, e.g. newsletter)")
    create.add_argument("--utm-medium", default="email")

    def run_create(args: argparse.Namespace) -> CliResult:
        from app.modules.contacts import api as contacts_api
        from app.modules.editor import api as editor_api

        if not (args.list or args.segment):
            raise CliError("give at least one --list or --segment")
        template = editor_api.find_template(context.db, args.template)
        if template is None:
            raise CliError(f"no template named {args.template!r} (see: postroom templates list)")
        lists = {item.name.lower(): item.id for item in contacts_api.lists(context.db)}
        segments = {item.name.lower(): item.id for item in contacts_api.segments(context.db)}
        audience = CampaignAudience(
            lists=_ids(args.list, lists, "list"), segments=_ids(args.segment, segments, "segment"),
            exclude_lists=_ids(args.exclude_list, lists, "list"),
            exclude_segments=_ids(args.exclude_segment, segments, "segment"))
        utm: tuple[tuple[str, str], ...] = ()
        if args.utm_source:
            utm = (("utm_source", args.utm_source), ("utm_medium", args.utm_medium), ("utm_campaign", ""))
        campaign_id = _execute(context, SaveCampaign(
            name=args.name, audience=audience, template_id=template.id, subject=args.subject,
            preheader=args.preheader, identity_id=_identity(context, args.sender),
            track_opens=not args.no_track_opens, track_clicks=not args.no_track_clicks, utm=utm))
        row = _row(context, _campaign(context, str(campaign_id)))
        return CliResult(row, f"Created {row['name']} (#{row['id']}), a draft. Send it with: "
                              f"postroom campaigns send {row['name']!r}")

    create.set_defaults(run=run_create)


def _configure_send(sub: Any, context: ModuleContext, service: Any) -> None:
    send = sub.add_parser("send", help="send a campaign now, or schedule it with --at")
    send.add_argument("name", metavar="CAMPAIGN")
    send.add_argument("--at", default=None, metavar="ISO_TIME",
                      help="when: 2026-12-01T09:00 (in --time-zone) or with an offset, 2026-12-01T09:00+01:00")
    send.add_argument("--time-zone", default=None, help="the zone of --at (default: the setting campaigns.time_zone"
                                                         " or UTC)")
    send.add_argument("--wait", action="store_true",
                      help="stay until it is sent (runs the scheduler and the sender in this command)")
    send.add_argument("--accept-warnings", action="store_true",
                      help="send even though the preflight checks found warnings (errors always stop it)")
    send.add_argument("--offline", action="store_true", help="skip the preflight's DNS and link checks")

    def run_send(args: argparse.Namespace) -> CliResult:
        info = _campaign(context, args.name)
        checks = _preflight(context, info, offline=args.offline, accept_warnings=args.accept_warnings)
        zone = args.time_zone or str(context.settings.get("campaigns.time_zone", "UTC"))
        if args.at:
            try:
                when = dt.datetime.fromisoformat(args.at)
            except ValueError:
                raise CliError(f"{args.at!r} is not an ISO date and time (2026-12-01T09:00)") from None
            _execute(context, ScheduleCampaign(campaign_id=info.id, kind="at", at=when, time_zone=zone))
        else:
            _execute(context, SendCampaign(campaign_id=info.id))
        if args.wait:
            _wait(context, service, info.id)
        row = _row(context, _campaign(context, str(info.id)))
        row["preflight"] = checks
        text = "\n".join(f"  {f['level']}: {f['message']}" for f in checks if f["level"] == "warning")
        text = (f"Preflight warnings you accepted:\n{text}\n" if text else "") + _status_text(row)
        if not args.wait and row["state"] in ("scheduled", "sending"):
            text += ("\n  The app sends it (keep Postroom open), or run this again with --wait to send from "
                     "this command.")
        return CliResult(row, text)

    send.set_defaults(run=run_send)


def _preflight(context: ModuleContext, info: api.CampaignInfo, *, offline: bool,
               accept_warnings: bool) -> list[dict[str, str]]:
    """Delivery's checks before a send: errors stop it; warnings stop it unless accepted."""
    import dataclasses

    command = dataclasses.replace(api.preflight_command(info), offline=offline)
    report = _execute(context, command)
    found = [{"level": f.level, "check": f.check, "message": f.message} for f in report.findings]
    if report.errors or (report.warnings and not accept_warnings):
        lines = [f"  {f.level}: {f.message}" for f in (*report.errors, *report.warnings)]
        advice = ("Fix the errors first." if report.errors
                  else "Run again with --accept-warnings to send anyway.")
        raise CliError(f"The preflight checks stopped “{info.name}”:\n" + "\n".join(lines) + "\n" + advice)
    return found


def _wait(context: ModuleContext, service: Any, campaign_id: int) -> None:
    """Run the scheduler here until the campaign is settled and its runs are done (Ctrl+C stops waiting)."""
    from app.modules.delivery import api as delivery_api
    from app.modules.delivery.messages import ResumePendingRuns

    _execute(context, ResumePendingRuns())
    try:
        while True:
            service.tick()
            info = api.get_campaign(context.db, campaign_id)
            if info is None:
                return
            runs = [delivery_api.run_status(context.db, r) for r in info.run_ids]
            busy = any(r is not None and r.state in ("queued", "sending") for r in runs)
            if info.state in SETTLED and not busy:
                return
            if info.state == "sending" and not busy and info.ab.get("variants") and not info.ab.get("winner"):
                return  # an A/B test waiting for its winner: hours away, the app finishes it
            time.sleep(0.5)
    except KeyboardInterrupt:
        return
