"""Exports: a report as CSV or PDF; raw events, aggregates and per-recipient engagement as CSV, Parquet or SQLite.

The BI tables and their columns are listed in :data:`TABLES` (and in docs/ARCHITECTURE.md): every file carries
exactly these columns, times as ISO 8601 UTC text (``2026-03-02T09:00:00``), rates as fractions. Rows are read and
written in chunks, so a 5-million-event export never holds all events in memory.
"""

from __future__ import annotations

import csv
import datetime as dt
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing
from pathlib import Path
from typing import Any

from sqlalchemy import select

from app.kernel.database import Database
from app.modules.stats.charts import LIGHT, ChartTheme, report_figures
from app.modules.stats.clients import classify
from app.modules.stats.models import (
    ReportHour,
    ReportLink,
    ReportRecipient,
    ReportRun,
    TrackingEvent,
)
from app.modules.stats.reports import Report, figure_rows, figures_for

CHUNK = 5000
FORMATS = ("csv", "parquet", "sqlite", "pdf")

# name -> ((column, type), ...); types: int, float, text, bool. The documented shape of every BI export.
TABLES: dict[str, tuple[tuple[str, str], ...]] = {
    "events": (("event_id", "int"), ("uid", "text"), ("kind", "text"), ("run_id", "int"), ("campaign_id", "int"),
               ("contact_id", "int"), ("link_id", "int"), ("occurred_at", "text"), ("machine", "bool"),
               ("machine_reason", "text"), ("client", "text"), ("device", "text"), ("ip_class", "text"),
               ("event_name", "text"), ("value", "float"), ("currency", "text")),
    "runs": (("run_id", "int"), ("campaign_id", "int"), ("automation_id", "int"), ("variant", "text"),
             ("subject", "text"), ("started_at", "text"), ("sent", "int"), ("delivered", "int"),
             ("bounced_hard", "int"), ("bounced_soft", "int"), ("unique_opens", "int"), ("total_opens", "int"),
             ("unique_clicks", "int"), ("total_clicks", "int"), ("unsubscribes", "int"), ("complaints", "int"),
             ("conversions", "int"), ("revenue", "float"), ("currency", "text"), ("open_rate", "float"),
             ("click_rate", "float"), ("click_to_open_rate", "float")),
    "hourly": (("run_id", "int"), ("hour", "text"), ("opens", "int"), ("opens_machine", "int"), ("clicks", "int"),
               ("clicks_machine", "int")),
    "links": (("run_id", "int"), ("link_id", "int"), ("url", "text"), ("clicks", "int"), ("clicks_machine", "int")),
    "recipients": (("run_id", "int"), ("contact_id", "int"), ("email", "text"), ("domain", "text"),
                   ("outcome", "text"), ("opens", "int"), ("opens_machine", "int"), ("clicks", "int"),
                   ("clicks_machine", "int"), ("first_open_at", "text"), ("first_click_at", "text"),
                   ("unsubscribed_at", "text")),
}


class ExportError(Exception):
    """An export cannot be written as asked; the message says why."""


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value is not None else None


# -- the rows of each table ---------------------------------------------------------------------------------


def _run_filter(column: Any, run_ids: Sequence[int] | None) -> Any:
    return column.in_(list(run_ids)) if run_ids is not None else column.is_not(None)


def event_rows(db: Database, run_ids: Sequence[int] | None = None) -> Iterator[tuple[Any, ...]]:
    """Raw tracking events (opens, clicks, unsubscribes, incoming events...) in id order."""
    with db.read() as session:
        campaigns = dict(session.execute(select(ReportRun.run_id, ReportRun.campaign_id)).all())
    e = TrackingEvent
    columns = (e.id, e.uid, e.kind, e.run_id, e.contact_id, e.link_id, e.occurred_at, e.machine, e.machine_reason,
               e.user_agent, e.ip_class, e.name, e.data)
    after = 0
    while True:
        query = select(*columns).where(e.id > after).order_by(e.id).limit(CHUNK)
        if run_ids is not None:
            query = query.where(e.run_id.in_(list(run_ids)))
        with db.read() as session:
            rows = session.execute(query).all()
        if not rows:
            return
        for (event_id, uid, kind, run_id, contact_id, link_id, occurred_at, machine, reason, agent, ip_class, name,
             data) in rows:
            client, device = classify(agent) if kind == "open" else ("", "")
            value = (data or {}).get("value")
            yield (int(event_id), uid, kind, run_id, campaigns.get(run_id), contact_id, link_id, _iso(occurred_at),
                   bool(machine), reason, client, device, ip_class, name,
                   float(value) if isinstance(value, int | float) else None, (data or {}).get("currency"))
        after = int(rows[-1][0])


def run_rows(db: Database, run_ids: Sequence[int] | None = None) -> Iterator[tuple[Any, ...]]:
    """One row per delivery run with its figures (people only; rates of delivered)."""
    with db.read() as session:
        runs = session.execute(select(ReportRun).where(_run_filter(ReportRun.run_id, run_ids))
                               .order_by(ReportRun.run_id)).scalars().all()
        for run in runs:
            f = figures_for(session, [run.run_id])
            yield (run.run_id, run.campaign_id, run.automation_id, run.variant, run.subject, _iso(run.started_at),
                   f.sent, f.delivered, f.bounced_hard, f.bounced_soft, f.unique_opens, f.total_opens,
                   f.unique_clicks, f.total_clicks, f.unsubscribes, f.complaints, f.conversions,
                   round(f.revenue, 2), f.currency, f.open_rate, f.click_rate, f.click_to_open_rate)


def hourly_rows(db: Database, run_ids: Sequence[int] | None = None) -> Iterator[tuple[Any, ...]]:
    with db.read() as session:
        rows = session.execute(select(ReportHour.run_id, ReportHour.hour, ReportHour.opens_h, ReportHour.opens_m,
                                      ReportHour.clicks_h, ReportHour.clicks_m)
                               .where(_run_filter(ReportHour.run_id, run_ids))
                               .order_by(ReportHour.run_id, ReportHour.hour)).all()
    for run_id, hour, oh, om, ch, cm in rows:
        yield run_id, _iso(hour), oh, om, ch, cm


def link_rows(db: Database, run_ids: Sequence[int] | None = None) -> Iterator[tuple[Any, ...]]:
    with db.read() as session:
        yield from (tuple(r) for r in session.execute(
            select(ReportLink.run_id, ReportLink.link_id, ReportLink.url, ReportLink.clicks_h, ReportLink.clicks_m)
            .where(_run_filter(ReportLink.run_id, run_ids)).order_by(ReportLink.run_id, ReportLink.link_id)))


def recipient_rows(db: Database, run_ids: Sequence[int] | None = None) -> Iterator[tuple[Any, ...]]:
    """Per-recipient engagement; addresses come from delivery's per-recipient log when delivery has the run."""
    with db.read() as session:
        wanted = list(run_ids) if run_ids is not None else [int(r) for r in session.scalars(
            select(ReportRun.run_id).order_by(ReportRun.run_id))]
    for run_id in wanted:
        emails = _run_emails(db, run_id)
        after = -1
        while True:
            with db.read() as session:
                rows = session.execute(select(ReportRecipient).where(
                    ReportRecipient.run_id == run_id, ReportRecipient.contact_id > after)
                    .order_by(ReportRecipient.contact_id).limit(CHUNK)).scalars().all()
                chunk = [(r.run_id, r.contact_id, emails.get(r.contact_id, ""), r.domain, r.outcome, r.opens_h,
                          r.opens_m, r.clicks_h, r.clicks_m, _iso(r.first_open_h), _iso(r.first_click_h),
                          _iso(r.unsubscribed_at)) for r in rows]
            if not chunk:
                break
            yield from chunk
            after = int(chunk[-1][1])


def _run_emails(db: Database, run_id: int) -> dict[int, str]:
    try:
        from app.modules.delivery import api as delivery_api
    except ImportError:  # pragma: no cover - delivery is a built-in module
        return {}
    emails: dict[int, str] = {}
    after = 0
    try:
        while True:
            page = delivery_api.recipient_log(db, run_id, after_id=after, limit=2000)
            if not page:
                break
            emails.update((e.contact_id, e.email) for e in page)
            after = page[-1].id
    except Exception:  # delivery not installed in this database: addresses stay empty
        return emails
    return emails


ROWS: dict[str, Callable[[Database, Sequence[int] | None], Iterator[tuple[Any, ...]]]] = {
    "events": event_rows, "runs": run_rows, "hourly": hourly_rows, "links": link_rows, "recipients": recipient_rows}


# -- writers ---------------------------------------------------------------------------------------------------


def write_csv(path: Path, table: str, rows: Iterator[tuple[Any, ...]]) -> int:
    """One table as UTF-8 CSV with a header row; text that a spreadsheet would run as a formula is quoted."""
    count = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([name for name, _t in TABLES[table]])
        for row in rows:
            writer.writerow([_safe(value) for value in row])
            count += 1
    return count


def _safe(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    if value is None:
        return ""
    return value


def _arrow_schema(table: str) -> Any:
    import pyarrow as pa  # type: ignore[import-untyped]

    types = {"int": pa.int64(), "float": pa.float64(), "text": pa.string(), "bool": pa.bool_()}
    return pa.schema([(name, types[kind]) for name, kind in TABLES[table]])


def write_parquet(path: Path, table: str, rows: Iterator[tuple[Any, ...]]) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    schema = _arrow_schema(table)
    names = [name for name, _t in TABLES[table]]
    count = 0
    with pq.ParquetWriter(str(path), schema, compression="zstd") as writer:
        batch: list[tuple[Any, ...]] = []

        def flush() -> None:
            columns: list[Any] = list(zip(*batch, strict=True)) if batch else [[] for _ in names]
            writer.write_table(pa.table({n: pa.array(list(c), type=schema.field(n).type)
                                         for n, c in zip(names, columns, strict=True)}, schema=schema))

        for row in rows:
            batch.append(row)
            count += 1
            if len(batch) >= CHUNK * 4:
                flush()
                batch = []
        if batch or count == 0:
            flush()
    return count


def write_sqlite(path: Path, tables: dict[str, Iterator[tuple[Any, ...]]]) -> dict[str, int]:
    """Several tables in one new SQLite file (any BI tool, or ``sqlite3``, opens it)."""
    types = {"int": "INTEGER", "float": "REAL", "text": "TEXT", "bool": "INTEGER"}
    if path.exists():
        path.unlink()
    counts: dict[str, int] = {}
    with closing(sqlite3.connect(str(path))) as connection:
        for table, rows in tables.items():
            columns = TABLES[table]
            connection.execute(f"CREATE TABLE {table} ("  # names from TABLES only
                               + ", ".join(f"{name} {types[kind]}" for name, kind in columns) + ")")
            marks = ", ".join("?" for _ in columns)
            counts[table] = 0
            batch: list[tuple[Any, ...]] = []
            for row in rows:
                batch.append(row)
                if len(batch) >= CHUNK:
                    connection.executemany(f"INSERT INTO {table} VALUES ({marks})", batch)  # noqa: S608
                    counts[table] += len(batch)
                    batch = []
            connection.executemany(f"INSERT INTO {table} VALUES ({marks})", batch)  # noqa: S608
            counts[table] += len(batch)
        connection.commit()
    return counts


# -- what the CLI and the pages call ---------------------------------------------------------------------------


def export_tables(db: Database, fmt: str, out: Path, run_ids: Sequence[int] | None = None,
                  tables: Sequence[str] = tuple(TABLES)) -> dict[str, int]:
    """BI tables for some runs (None: all). CSV and Parquet write one file per table into the folder ``out``
    (``<table>.csv``); SQLite writes one file with every table. Returns rows per table."""
    unknown = [t for t in tables if t not in TABLES]
    if unknown:
        raise ExportError(f"no table {unknown[0]!r}; tables are {', '.join(TABLES)}")
    if fmt == "sqlite":
        out.parent.mkdir(parents=True, exist_ok=True)
        return write_sqlite(out, {t: ROWS[t](db, run_ids) for t in tables})
    if fmt not in ("csv", "parquet"):
        raise ExportError(f"tables are exported as csv, parquet or sqlite, not {fmt!r}")
    out.mkdir(parents=True, exist_ok=True)
    writer = write_csv if fmt == "csv" else write_parquet
    return {t: writer(out / f"{t}.{fmt}", t, ROWS[t](db, run_ids)) for t in tables}


def report_csv(report: Report, path: Path) -> int:
    """A report as one CSV in long form: section, item, metric, value (figures, variants, links, domains...)."""
    rows: list[tuple[Any, ...]] = [("report", report.title, "key", report.key),
                                   ("report", report.title, "machine_traffic_included", report.include_machine),
                                   ("report", report.title, "rates_of", report.figures.rate_basis)]
    rows += [("figures", report.title, name, value) for name, value in report.figures.as_dict().items()]
    for variant in report.variants:
        rows += [("variant", variant.variant, name, value) for name, value in variant.figures.as_dict().items()]
    for link in report.links:
        rows += [("link", link.url, "clicks", link.clicks), ("link", link.url, "unique_clicks", link.unique_clicks)]
    for row in report.domains:
        rows += [("domain", row.domain, metric, getattr(row, metric)) for metric in
                 ("sent", "delivered", "bounced", "opened", "clicked", "open_rate", "click_rate", "bounce_rate")]
    rows += [("client", client, "opens", n) for client, n in report.by_client()]
    rows += [("device", device, "opens", n) for device, n in report.by_device()]
    t = report.timeline
    for start, hours, opens, clicks, first_opens, first_clicks in zip(
            t.starts, t.hours, t.opens, t.clicks, t.first_opens, t.first_clicks, strict=True):
        stamp = start.isoformat(timespec="seconds")
        rows += [("timeline", stamp, "hours", hours), ("timeline", stamp, "opens", opens),
                 ("timeline", stamp, "clicks", clicks), ("timeline", stamp, "first_opens", first_opens),
                 ("timeline", stamp, "first_clicks", first_clicks)]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["section", "item", "metric", "value"])
        writer.writerows([[_safe(v) for v in row] for row in rows])
    return len(rows)


def cover_page(report: Report) -> Any:
    """The PDF's first page (A4): title, what the rates are of, the figures and the most clicked links."""
    from matplotlib.figure import Figure

    cover = Figure(figsize=(8.27, 11.69), facecolor="white")  # A4 portrait
    cover.text(0.08, 0.94, report.title, fontsize=18, fontweight="bold", color="#1c2230")
    subtitle = " · ".join(part for part in (
        report.subject, f"sent {report.started_at:%Y-%m-%d %H:%M} UTC" if report.started_at else "",
        "machine traffic included" if report.include_machine else "machine traffic left out") if part)
    cover.text(0.08, 0.915, subtitle, fontsize=9, color="#5f6776")
    cover.text(0.08, 0.895, "Rates are of delivered messages (sent minus bounces); the bounce rate is of sent.",
               fontsize=8, color="#5f6776")
    ax = cover.add_axes((0.08, 0.46, 0.84, 0.42))
    ax.axis("off")
    rows = figure_rows(report.figures)
    rows += [(f"Variant {v.variant}: open rate / CTR",
              f"{v.figures.open_rate * 100:.1f}% / {v.figures.click_rate * 100:.1f}%") for v in report.variants]
    table = ax.table(cellText=[[a, b] for a, b in rows], colLabels=["Figure", "Value"], loc="upper left",
                     colWidths=[0.62, 0.38], cellLoc="left")
    table.auto_set_font_size(False)
    table.set_fontsize(9)
    table.scale(1, 1.5)
    if report.links:
        cover.text(0.08, 0.43, "Most clicked links", fontsize=10, fontweight="bold", color="#1c2230")
        link_ax = cover.add_axes((0.08, 0.05, 0.84, 0.37))
        link_ax.axis("off")
        link_rows = [[r.url[:70], f"{r.clicks:,}", f"{r.unique_clicks:,}"] for r in report.links[:10]]
        links = link_ax.table(cellText=link_rows, colLabels=["Link", "Clicks", "People"], loc="upper left",
                              colWidths=[0.7, 0.15, 0.15], cellLoc="left")
        links.auto_set_font_size(False)
        links.set_fontsize(8)
    return cover


def report_pdf(report: Report, path: Path, theme: ChartTheme = LIGHT) -> int:
    """A report as a PDF: a page with the figures and top links, then one page per chart. Returns pages."""
    from matplotlib.backends.backend_pdf import PdfPages

    pages = 0
    with PdfPages(str(path), metadata={"Title": f"Report: {report.title}", "Creator": "Postroom"}) as pdf:
        pdf.savefig(cover_page(report))
        pages += 1
        for chart in report_figures(report, theme).values():  # vector pages, one chart each
            pdf.savefig(chart, facecolor=chart.get_facecolor())
            pages += 1
    return pages


def export_report(db: Database, report: Report, fmt: str, out: Path) -> dict[str, int]:
    """What ``postroom stats export CAMPAIGN --format F --out PATH`` writes: pdf and csv -> the report file;
    parquet -> a folder of the campaign's BI tables; sqlite -> one file with them."""
    if fmt == "pdf":
        out.parent.mkdir(parents=True, exist_ok=True)
        return {"pages": report_pdf(report, out)}
    if fmt == "csv":
        out.parent.mkdir(parents=True, exist_ok=True)
        return {"rows": report_csv(report, out)}
    if fmt in ("parquet", "sqlite"):
        return export_tables(db, fmt, out, report.run_ids)
    raise ExportError(f"a report is exported as {', '.join(FORMATS)}, not {fmt!r}")
