"""Exports read back: the PDF opens with its pages, the CSV holds the report's figures, Parquet and SQLite have
the documented columns and rows; and the command line that writes them."""

from __future__ import annotations

import csv
import json
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pyarrow.parquet as pq
from pypdf import PdfReader

from app.kernel.boot import Kernel
from app.modules.stats import export, reports


def columns(table: str) -> list[str]:
    return [name for name, _kind in export.TABLES[table]]


def test_report_pdf_has_the_figures_page_and_a_page_per_chart(kernel: Kernel, campaign: dict[str, int],
                                                               tmp_path: Path) -> None:
    report = reports.build_report(kernel.db, "c7")
    path = tmp_path / "spring.pdf"
    written = export.export_report(kernel.db, report, "pdf", path)
    assert path.read_bytes()[:5] == b"%PDF-"
    pdf = PdfReader(str(path))
    assert len(pdf.pages) == written["pages"] == 1 + 6  # figures, then timeline ... variants
    first = pdf.pages[0].extract_text()
    assert "Spring sale" in first
    assert "Open rate (of delivered)" in first
    assert "10.5%" in first
    assert pdf.metadata is not None
    assert pdf.metadata.title == "Report: Spring sale"


def test_report_csv_holds_the_figures(kernel: Kernel, campaign: dict[str, int], tmp_path: Path) -> None:
    report = reports.build_report(kernel.db, "c7")
    path = tmp_path / "spring.csv"
    export.export_report(kernel.db, report, "csv", path)
    with path.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    figures = {r["metric"]: r["value"] for r in rows if r["section"] == "figures"}
    assert (figures["sent"], figures["delivered"], figures["unique_opens"], figures["total_clicks"]) == (
        "21", "19", "2", "3")
    assert figures["rate_basis"] == "delivered"
    links = {(r["item"], r["metric"]): r["value"] for r in rows if r["section"] == "link"}
    assert links[("https://shop.example.com/a", "unique_clicks")] == "1"
    variants = {r["item"] for r in rows if r["section"] == "variant"}
    assert variants == {"A", "B"}


def test_parquet_and_sqlite_have_the_documented_columns(kernel: Kernel, campaign: dict[str, int],
                                                        tmp_path: Path) -> None:
    report = reports.build_report(kernel.db, "c7")
    counts = export.export_report(kernel.db, report, "parquet", tmp_path / "bi")
    assert counts["events"] == 10  # the campaign's opens, clicks and unsubscribe (orders have no run)
    for table in export.TABLES:
        read = pq.read_table(tmp_path / "bi" / f"{table}.parquet")
        assert read.schema.names == columns(table)
        assert read.num_rows == counts[table]
    runs = pq.read_table(tmp_path / "bi" / "runs.parquet").to_pylist()
    assert [(r["run_id"], r["variant"], r["sent"], r["unique_opens"]) for r in runs] == [(4, "A", 10, 1),
                                                                                         (5, "B", 11, 1)]
    events = pq.read_table(tmp_path / "bi" / "events.parquet").to_pylist()
    opens = [e for e in events if e["kind"] == "open" and not e["machine"]]
    assert {(e["client"], e["device"]) for e in opens} == {("Apple Mail", "mobile"), ("Firefox", "desktop")}
    assert all(e["campaign_id"] == 7 for e in events)

    counts = export.export_tables(kernel.db, "sqlite", tmp_path / "all.sqlite")  # every run
    with closing(sqlite3.connect(tmp_path / "all.sqlite")) as db:
        for table in export.TABLES:
            assert [row[1] for row in db.execute(f"PRAGMA table_info({table})")] == columns(table)
        assert db.execute("SELECT count(*) FROM events WHERE kind = 'event'").fetchone() == (3,)
        ann = db.execute("SELECT opens, opens_machine, clicks, first_open_at FROM recipients "
                         "WHERE run_id = 4 AND contact_id = ?", (campaign["ann"],)).fetchone()
    assert ann == (2, 1, 3, "2026-03-02T10:12:00")
    assert counts["runs"] == 2


def test_the_command_line_shows_and_exports(kernel: Kernel, campaign: dict[str, int], tmp_path: Path) -> None:
    kernel.close()  # the command opens the same folder
    folder = str(kernel.paths.data_dir)

    def postroom(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "app.main", "--data-dir", folder, *args],
                              capture_output=True, text=True, timeout=120, check=False)

    shown = postroom("stats", "show", "Spring sale", "--json")
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    assert (data["key"], data["figures"]["delivered"], data["figures"]["unique_opens"]) == ("c7", 19, 2)
    assert postroom("stats", "show", "7", "--machine", "--json").stdout.count('"unique_opens": 3') == 1
    text = postroom("stats", "show", "c7").stdout
    assert "Click-to-open rate, CTOR (of opened)" in text
    missing = postroom("stats", "show", "Autumn sale")
    assert missing.returncode == 1
    assert "no campaign, automation or send called 'Autumn sale'" in missing.stderr
    out = tmp_path / "cli.pdf"
    done = postroom("stats", "export", "c7", "--format", "pdf", "--out", str(out), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["written"]["pages"] == 7
    assert out.read_bytes()[:5] == b"%PDF-"
    done = postroom("stats", "export", "Spring sale", "--format", "csv", "--table", "recipients", "--out",
                    str(tmp_path / "people"))
    assert done.returncode == 0, done.stderr
    with (tmp_path / "people" / "recipients.csv").open(encoding="utf-8") as handle:
        header = next(csv.reader(handle))
    assert header == columns("recipients")
    chart = postroom("stats", "chart", "c7", "--chart", "variants", "--out", str(tmp_path / "ab.svg"))
    assert chart.returncode == 0, chart.stderr
    assert b"<svg" in (tmp_path / "ab.svg").read_bytes()[:400]
