"""Segment count benchmark: a three-condition segment over 1M contacts and 5M engagement events, against a floor."""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app.kernel.database import Database  # noqa: E402 - the path above must come first
from app.kernel.migrations import MigrationSource, upgrade  # noqa: E402
from app.modules.contacts.module import MODULE  # noqa: E402

GOAL_MS = 300.0
NOW = dt.datetime(2025, 6, 1, 12, 0, 0)
SEED = 20250601
TAGS = ("customer", "newsletter", "vip", "webinar", "trial", "partner", "press", "beta", "churned", "event-2024")
TAG_SHARE = (0.20, 0.45, 0.03, 0.10, 0.15, 0.02, 0.01, 0.05, 0.08, 0.06)
LISTS = ("Newsletter", "Product updates", "Customers")
PLANS = ("free", "pro", "team", "enterprise")
PLAN_WEIGHTS = (50, 25, 15, 10)
CITIES = ("Paris", "Berlin", "Madrid", "Rome", "Lisbon", "Vienna", "Prague", "Oslo", "Dublin", "Warsaw")
FIRST = ("Ana", "Ben", "Chloé", "David", "Eva", "Farid", "Grace", "Hugo", "Iris", "Jonas", "Kai", "Lena")
LAST = ("Martin", "Bernard", "Dubois", "Schmidt", "Rossi", "Novak", "Silva", "Jensen", "Murphy", "Kowalski")

# The segment measured: a custom field, a tag, and engagement in the last 90 days.
FIELD_ONLY = {"match": "all", "rules": [{"field": "field:plan", "op": "is", "value": "pro"}]}
RULES = {"match": "all", "rules": [
    {"field": "field:plan", "op": "is", "value": "pro"},
    {"field": "tag", "op": "has", "value": "customer"},
    {"field": "engagement", "op": "opened_in_last_days", "value": 90},
]}


def stamp(moment: dt.datetime) -> str:
    """SQLAlchemy's storage format for DateTime on SQLite, so raw rows compare like ORM rows."""
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def create_schema(path: Path) -> None:
    db = Database(f"sqlite:///{path}")
    try:
        assert MODULE.migrations is not None
        upgrade(db.engine, MigrationSource(MODULE.name, MODULE.migrations))
    finally:
        db.dispose()


def _contacts(count: int, rng: random.Random) -> Iterator[tuple[object, ...]]:
    start = NOW - dt.timedelta(days=3 * 365)
    for i in range(1, count + 1):
        key = f"person{i}@example{i % 97}.com"
        fields = {"plan": rng.choices(PLANS, PLAN_WEIGHTS)[0], "score": rng.randint(0, 100),
                  "city": rng.choice(CITIES)}
        created = stamp(start + dt.timedelta(seconds=rng.randrange(3 * 365 * 86400)))
        yield (i, key, key, hashlib.sha256(key.encode()).hexdigest(), rng.choice(FIRST), rng.choice(LAST),
               "en", "Europe/Paris", json.dumps(fields), created, created)


def _activity(contacts: int, events: int, rng: random.Random,
              last: dict[str, list[str | None]]) -> Iterator[tuple[object, ...]]:
    """Sends, opens and clicks spread over a year; a third of people open often, the rest rarely."""
    sends_per_contact = events / contacts / 1.55  # each send brings ~0.55 opens and clicks on average
    made = 0
    year = 365 * 86400
    for contact_id in range(1, contacts + 1):
        if made >= events:
            return
        engaged = rng.random() < 0.35
        open_rate = 0.75 if engaged else 0.12
        sends = max(0, round(rng.gauss(sends_per_contact, 1.2)))
        for _ in range(sends):
            sent_at = NOW - dt.timedelta(seconds=rng.randrange(year))
            campaign = rng.randint(1, 60)
            for kind, at in _engagement(sent_at, open_rate, rng):
                if made >= events:
                    return
                text = stamp(at)
                column = last[kind]
                if column[contact_id] is None or text > column[contact_id]:  # type: ignore[operator]
                    column[contact_id] = text
                made += 1
                yield (contact_id, kind, "", text, campaign, "{}")


def _engagement(sent_at: dt.datetime, open_rate: float,
                rng: random.Random) -> Iterator[tuple[str, dt.datetime]]:
    yield "sent", sent_at
    if rng.random() < open_rate:
        opened = sent_at + dt.timedelta(seconds=rng.randrange(3 * 86400))
        yield "opened", min(opened, NOW)
        if rng.random() < 0.3:
            yield "clicked", min(opened + dt.timedelta(seconds=rng.randrange(600)), NOW)


def build(path: Path, contacts: int, events: int, say: Callable[[str], None]) -> None:
    """Fill the real schema with raw sqlite3 inserts (the fastest honest way to make a big database)."""
    create_schema(path)
    rng = random.Random(SEED)
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA synchronous = OFF")
    con.execute("PRAGMA cache_size = -400000")
    started = time.perf_counter()
    con.execute("BEGIN")
    con.executemany("INSERT INTO contacts_contact (id, email, email_key, email_hash, first_name, last_name, "
                    "language, time_zone, fields, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    _contacts(contacts, rng))
    con.execute("INSERT INTO contacts_field (key, label, type, choices, created_at) VALUES "
                "('plan', 'Plan', 'choice', ?, ?), ('score', 'Score', 'number', '[]', ?), "
                "('city', 'City', 'text', '[]', ?)", (json.dumps(PLANS), stamp(NOW), stamp(NOW), stamp(NOW)))
    con.executemany("INSERT INTO contacts_tag (id, name) VALUES (?, ?)", enumerate(TAGS, start=1))
    con.executemany("INSERT INTO contacts_contact_tag (contact_id, tag_id) VALUES (?, ?)",
                    ((c, t) for c in range(1, contacts + 1)
                     for t, share in enumerate(TAG_SHARE, start=1) if rng.random() < share))
    con.executemany("INSERT INTO contacts_list (id, name, created_at) VALUES (?, ?, ?)",
                    ((i, name, stamp(NOW)) for i, name in enumerate(LISTS, start=1)))
    con.executemany("INSERT INTO contacts_subscription (contact_id, list_id, status, created_at, updated_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    ((c, lst, rng.choices(("subscribed", "unsubscribed", "unconfirmed"), (85, 10, 5))[0],
                      stamp(NOW), stamp(NOW))
                     for c in range(1, contacts + 1) for lst in (1, 2, 3) if rng.random() < (0.8, 0.4, 0.25)[lst - 1]))
    con.execute("COMMIT")
    say(f"  contacts, tags, lists: {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    last: dict[str, list[str | None]] = {kind: [None] * (contacts + 1) for kind in ("sent", "opened", "clicked")}
    con.execute("BEGIN")
    con.executemany("INSERT INTO contacts_activity (contact_id, kind, name, occurred_at, campaign_id, properties) "
                    "VALUES (?, ?, ?, ?, ?, ?)", _activity(contacts, events, rng, last))
    say(f"  {events:,} engagement events: {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    con.executemany("UPDATE contacts_contact SET last_sent_at = ?, last_open_at = ?, last_click_at = ? WHERE id = ?",
                    ((last["sent"][c], last["opened"][c], last["clicked"][c], c) for c in range(1, contacts + 1)
                     if last["sent"][c] is not None))
    con.execute("COMMIT")
    say(f"  last_*_at columns: {time.perf_counter() - started:.1f} s")
    con.close()


FLOOR_SQL = """
SELECT count(*) FROM contacts_contact
WHERE last_open_at >= ?
  AND id IN (SELECT contact_id FROM contacts_contact_tag WHERE tag_id = ?)
  AND json_extract(fields, '$."plan"') = 'pro'
"""


def timed(fn: Callable[[], int]) -> tuple[float, int]:
    started = time.perf_counter()
    result = fn()
    return (time.perf_counter() - started) * 1000, result


@dataclass
class Figures:
    count: int
    floor_count: int
    ours_ms: list[float]
    floor_ms: list[float]
    plan: list[str]
    field_only_ms: list[float]

    @property
    def ours(self) -> float:
        return statistics.median(self.ours_ms)

    @property
    def floor(self) -> float:
        return statistics.median(self.floor_ms)

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "ours_median_ms": self.ours, "floor_median_ms": self.floor,
                "ratio": self.ours / self.floor, "verdict": "PASS" if self.ours < GOAL_MS else "MISS"}

    def report(self, label: str) -> str:
        verdict = "PASS" if self.ours < GOAL_MS else "MISS"
        return "\n".join([
            label,
            f"  count_segment   median {self.ours:7.1f} ms  (min {min(self.ours_ms):.1f}, max {max(self.ours_ms):.1f})",
            f"  floor (sqlite3) median {self.floor:7.1f} ms  (min {min(self.floor_ms):.1f}, "
            f"max {max(self.floor_ms):.1f})",
            f"  ratio {self.ours / self.floor:.2f}x   goal < {GOAL_MS:.0f} ms: {verdict}",
            f"  contacts matched {self.count:,} (floor {self.floor_count:,})",
            f"  the custom-field condition alone (field:plan is pro): median "
            f"{statistics.median(self.field_only_ms):.1f} ms",
            "  plan: " + " | ".join(self.plan),
        ])


def measure(path: Path, runs: int, mmap_mb: int) -> Figures:
    """Interleave our count and the floor, so drift in machine load hits both alike."""
    from sqlalchemy import event, func, select

    from app.modules.contacts.models import Contact
    from app.modules.contacts.segments import compile_rules, count_segment

    db = Database(f"sqlite:///{path}")
    if mmap_mb:
        event.listen(db.engine, "connect",
                     lambda con, _rec: con.execute(f"PRAGMA mmap_size = {mmap_mb * 1024 * 1024}"))
    raw = sqlite3.connect(path)
    if mmap_mb:
        raw.execute(f"PRAGMA mmap_size = {mmap_mb * 1024 * 1024}")
    tag_id = raw.execute("SELECT id FROM contacts_tag WHERE name = 'customer'").fetchone()[0]
    cutoff = stamp(NOW - dt.timedelta(days=90))
    try:
        ours_runs: list[float] = []
        floor_runs: list[float] = []
        ours_count = count_segment(db, RULES, NOW)  # untimed warm-up for both: the page cache starts warm
        floor_count = raw.execute(FLOOR_SQL, (cutoff, tag_id)).fetchone()[0]
        for _ in range(runs):
            took, ours_count = timed(lambda: count_segment(db, RULES, NOW))
            ours_runs.append(took)
            took, floor_count = timed(lambda: raw.execute(FLOOR_SQL, (cutoff, tag_id)).fetchone()[0])
            floor_runs.append(took)
        statement = select(func.count()).select_from(Contact).where(compile_rules(RULES, NOW))
        sql = str(statement.compile(dialect=db.engine.dialect, compile_kwargs={"literal_binds": True}))
        plan = [row[3] for row in raw.execute("EXPLAIN QUERY PLAN " + sql)]
        field_only = [timed(lambda: count_segment(db, FIELD_ONLY, NOW))[0] for _ in range(max(3, runs // 2))]
    finally:
        raw.close()
        db.dispose()
    return Figures(ours_count, floor_count, ours_runs, floor_runs, plan, field_only)


def add_field_index(path: Path) -> tuple[str, float]:
    from app.modules.contacts.segments import ensure_field_index

    db = Database(f"sqlite:///{path}")
    try:
        started = time.perf_counter()
        name = ensure_field_index(db, "plan")
        return name, time.perf_counter() - started
    finally:
        db.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--runs", type=int, default=9, help="timed runs of each (default 9)")
    parser.add_argument("--db", type=Path, help="build (or reuse, if it exists) this database instead of a temp one")
    parser.add_argument("--mmap", type=int, default=0, metavar="MB",
                        help="also measure with PRAGMA mmap_size set to MB on both connections")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    say: Callable[[str], None] = (lambda _text: None) if args.json else print
    folder = None if args.db else Path(tempfile.mkdtemp(prefix="postroom-segbench-"))
    path = args.db or folder / "postroom.sqlite3"  # type: ignore[operator]
    results: dict[str, object] = {"contacts": args.contacts, "events": args.events, "runs": args.runs,
                                  "goal_ms": GOAL_MS}
    try:
        if not path.exists():
            say(f"Building {args.contacts:,} contacts and {args.events:,} engagement events in {path} ...")
            started = time.perf_counter()
            build(path, args.contacts, args.events, say)
            results["build_s"] = time.perf_counter() - started
        else:
            say(f"Reusing {path}")
        with sqlite3.connect(path) as con:
            con.execute("DROP INDEX IF EXISTS ix_contacts_field_plan")  # measure without it first
        say(f"Segment: {json.dumps(RULES)}")
        phases = [("no field index", False, 0)]
        phases.append(("with the expression index on field:plan", True, 0))
        if args.mmap:
            phases.append((f"with the index and mmap_size {args.mmap} MB", True, args.mmap))
        for label, index, mmap_mb in phases:
            if index and "index_s" not in results:
                name, took = add_field_index(path)
                results["index_s"] = took
                say(f"\nCreated {name} in {took:.1f} s (ensure_field_index)")
            figures = measure(path, args.runs, mmap_mb)
            results[label] = figures.as_dict()
            say("\n" + figures.report(label))
            if label == phases[0][0]:
                results["verdict"] = figures.as_dict()["verdict"]
    finally:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
    if args.json:
        json.dump(results, sys.stdout, indent=2)
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
