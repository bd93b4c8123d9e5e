"""CSV import benchmark: our import of N rows against a floor (csv + raw sqlite3 executemany), memory, GUI stall."""

from __future__ import annotations

import argparse
import csv
import hashlib
import itertools
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

COMMON = ("gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "icloud.com", "aol.com", "gmx.de", "web.de",
          "orange.fr", "free.fr", "live.com", "msn.com", "proton.me", "yahoo.fr", "comcast.net")
FIRST = ("Ada", "Bob", "Chloé", "Dmitri", "Eve", "Farah", "Göran", "Hana", "Ivan", "Jun", "Kofi", "Lena", "Mateo")
LAST = ("Lovelace", "Smith", "Dubois", "Ivanov", "Müller", "Nakamura", "Okafor", "García", "Rossi", "Kowalski")
LANGS = ("en", "fr", "de", "es", "it", "pt-BR", "ja")
ZONES = ("Europe/Paris", "America/New_York", "Asia/Tokyo", "Europe/Berlin", "UTC", "America/Los_Angeles")
HEADER = ["Email", "First name", "Last name", "Language", "Time zone", "Company", "Score"]
BATCH = 5000
ASCII = str.maketrans("éèüößçñáíóú", "eeuoscnaiou")


def _email(n: int) -> str:
    """The address of person ``n``: the same n always gives the same address (that is how duplicates are made)."""
    pick = random.Random(n)
    first, last = FIRST[pick.randrange(len(FIRST))], LAST[pick.randrange(len(LAST))]
    domain = pick.choice(COMMON) if pick.random() < 0.75 else f"company{pick.randrange(20_000)}.com"
    local = f"{first}.{last}{n}".lower().translate(ASCII)
    return f"{local}@{domain}" if pick.random() > 0.005 else f"{local}.{domain}"  # 0.5% have no @


def generate(path: Path, rows: int) -> None:
    """Email plus six fields; about 1% duplicates, 0.5% invalid addresses, a quarter of mail on 20,000 company
    domains, ASCII local parts (as nearly all real addresses have)."""
    rng = random.Random(42)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for i in range(rows):
            n = rng.randrange(i) if i > 100 and rng.random() < 0.01 else i
            first, last = rng.choice(FIRST), rng.choice(LAST)
            writer.writerow([_email(n), first, last, rng.choice(LANGS), rng.choice(ZONES), f"Company {n % 5000}",
                             str(rng.randrange(100))])


def new_database(folder: Path) -> tuple[Path, object]:
    from app.kernel.boot import start_kernel
    from app.kernel.paths import AppPaths
    from app.modules.contacts.module import MODULE
    from tests.conftest import MemoryKeyring

    kernel = start_kernel(AppPaths.inside(folder), modules=[MODULE], secrets_backend=MemoryKeyring(),
                          log_to_file=False)
    return folder / "postroom.sqlite3", kernel


def floor(csv_path: Path, folder: Path) -> dict[str, float]:
    """The least any import must do: parse with csv, insert the same rows into the same table, same pragmas."""
    import sqlite3

    db_path, kernel = new_database(folder)
    kernel.close()  # type: ignore[attr-defined]
    started = time.perf_counter()
    connection = sqlite3.connect(db_path, isolation_level=None)
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("PRAGMA synchronous = FULL")
    now = time.strftime("%Y-%m-%d %H:%M:%S.000000")
    sql = ("INSERT INTO contacts_contact (email, email_key, email_hash, first_name, last_name, language, time_zone, "
           "fields, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
    with csv_path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        next(reader)
        seen: set[str] = set()
        batch: list[tuple[object, ...]] = []

        def flush() -> None:
            connection.execute("BEGIN IMMEDIATE")
            connection.executemany(sql, batch)
            connection.execute("COMMIT")
            batch.clear()

        for email, first, last, language, zone, company, score in reader:
            key = email.lower()
            if key in seen:  # the floor must also not insert a duplicate key
                continue
            seen.add(key)
            batch.append((email, key, hashlib.sha256(key.encode()).hexdigest(), first, last, language, zone,
                          json.dumps({"company": company, "score": int(score)}), now, now))
            if len(batch) >= BATCH:
                flush()
        if batch:
            flush()
    connection.close()
    return {"seconds": time.perf_counter() - started, "peak_rss_mb": _peak_rss_mb()}


def ours(csv_path: Path, folder: Path, with_list: bool) -> dict[str, float]:
    """Our import through kernel.jobs (a worker thread) while a Qt event loop ticks on this thread; stall measured."""
    from PySide6.QtCore import QCoreApplication, QTimer

    from app.modules.contacts.importer import ImportOptions, run_import

    _, kernel = new_database(folder)
    app = QCoreApplication.instance() or QCoreApplication([])
    mapping = {0: "email", 1: "first_name", 2: "last_name", 3: "language", 4: "time_zone",
               5: "new_field:Company:text", 6: "new_field:Score:number"}
    options = ImportOptions(mapping=mapping, list_name="Bench" if with_list else "",
                            tags=["bench"] if with_list else [])
    ticks: list[float] = []
    started = time.perf_counter()
    future = kernel.jobs.start("Import", lambda handle: run_import(kernel.db, kernel.bus, csv_path, options, handle))  # type: ignore[attr-defined]

    def tick() -> None:
        ticks.append(time.perf_counter())
        if future.done():
            app.quit()

    timer = QTimer()
    timer.timeout.connect(tick)
    timer.start(5)
    app.exec()
    seconds = time.perf_counter() - started
    report = future.result()
    gaps = sorted(((b - a, a - started) for a, b in itertools.pairwise(ticks)), reverse=True)
    kernel.close()  # type: ignore[attr-defined]
    return {"seconds": seconds, "peak_rss_mb": _peak_rss_mb(), "max_stall_ms": gaps[0][0] * 1000 if gaps else 0.0,
            "worst_stalls_ms": [f"{gap * 1000:.1f} ms at {at:.1f} s" for gap, at in gaps[:5]], "ticks": len(ticks),
            "created": report.counts["created"], "invalid": report.counts["invalid"],
            "duplicates": report.counts["duplicates_in_file"], "status": report.status}


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child(kind: str, csv_path: Path, folder: Path, with_list: bool) -> dict[str, float]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run([sys.executable, __file__, "--child", kind, str(csv_path), str(folder),
                          "--list" if with_list else "--no-list"],
                         capture_output=True, text=True, env=env, check=False)
    if out.returncode != 0:
        raise SystemExit(f"{kind} run failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--no-list", dest="with_list", action="store_false",
                        help="import without a list (no subscriptions, consent or tags), as the floor does")
    parser.add_argument("--list", dest="with_list", action="store_true")
    parser.add_argument("--child", nargs=3, metavar=("KIND", "CSV", "FOLDER"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, csv_path, folder = args.child[0], Path(args.child[1]), Path(args.child[2])
        result = floor(csv_path, folder) if kind == "floor" else ours(csv_path, folder, args.with_list)
        print(json.dumps(result))
        return
    with tempfile.TemporaryDirectory(prefix="postroom-bench-") as tmp:
        folder = Path(tmp)
        csv_path = folder / "contacts.csv"
        started = time.perf_counter()
        generate(csv_path, args.rows)
        print(f"generated {args.rows:,} rows ({csv_path.stat().st_size / 1e6:.0f} MB) in "
              f"{time.perf_counter() - started:.1f} s")
        low = _child("floor", csv_path, folder / "floor", args.with_list)
        mine = _child("ours", csv_path, folder / "ours", args.with_list)
    ratio = mine["seconds"] / low["seconds"]
    print(f"floor (csv + raw sqlite3.executemany, {BATCH:,}-row commits): {low['seconds']:.2f} s, "
          f"peak RSS {low['peak_rss_mb']:.0f} MB")
    print(f"ours ({'list, tag, consent' if args.with_list else 'no list'}): {mine['seconds']:.2f} s, "
          f"peak RSS {mine['peak_rss_mb']:.0f} MB, {args.rows / mine['seconds']:,.0f} rows/s, "
          f"max event-loop stall {mine['max_stall_ms']:.1f} ms (5 ms timer; worst gaps {mine['worst_stalls_ms']})")
    print(f"created {mine['created']:,}, invalid {mine['invalid']:,}, duplicates merged {mine['duplicates']:,}, "
          f"status {mine['status']}")
    print(f"ratio ours/floor: {ratio:.2f}x (goal: under 4x; peak memory under 500 MB; stall under 50 ms)")


if __name__ == "__main__":
    main()
