"""Automation engine benchmark: N contacts enter an automation (tag -> wait -> condition -> tag or field) and are
carried through it on an injected clock, on a real SQLite file with the app's pragmas (synchronous=FULL).

Prints contact-steps per second for the engine, and a floor measured in the same run on the same kind of file: the
bare writes the engine cannot avoid (one step row insert and one enrollment update per contact-step, committed in
the same batches), with no graph, no contacts command and no condition.
Run: .venv/bin/python bench/automations_engine.py [--contacts N]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def engine_run(folder: Path, contacts: int) -> tuple[float, int]:
    from app.kernel.boot import start_kernel
    from app.kernel.paths import AppPaths
    from app.kernel.registry import ModuleSpec
    from app.modules.campaigns.automation_graph import Graph
    from app.modules.campaigns.automations import AutomationService, install
    from app.modules.campaigns.messages import SaveAutomation, SetAutomationState
    from app.modules.campaigns.module import MODULE as CAMPAIGNS
    from app.modules.contacts import store
    from app.modules.contacts.addresses import email_hash, parse_address
    from app.modules.contacts.messages import ChangeContacts
    from app.modules.contacts.models import Contact
    from app.modules.contacts.module import MODULE as CONTACTS
    from app.modules.delivery.module import MODULE as DELIVERY
    from app.modules.editor.module import MODULE as EDITOR
    from tests.conftest import MemoryKeyring

    clock = [1_772_438_400.0]
    services: list[AutomationService] = []
    automations = ModuleSpec(name="campaigns", title="Campaigns", migrations=CAMPAIGNS.migrations,
                             requires=("contacts", "editor", "delivery"),
                             setup=lambda ctx: services.append(install(ctx, lambda: clock[0])) or None)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "settings.json").write_text(json.dumps({"editor.starters_seeded": True}))
    kernel = start_kernel(AppPaths.inside(folder), modules=[CONTACTS, EDITOR, DELIVERY, automations],
                          secrets_backend=MemoryKeyring(), log_to_file=False)
    try:
        with kernel.db.transaction() as session:
            mailing_list = store.get_or_create_list(session, "News")
            ids = []
            for i in range(contacts):
                address = parse_address(f"p{i}@example.com")
                row = Contact(email=address.email, email_key=address.key, email_hash=email_hash(address.key),
                              fields={"city": "Lyon" if i % 3 else "Paris"})
                session.add(row)
                session.flush()
                ids.append(row.id)
            mailing_list_id = mailing_list.id
        g = Graph()
        g.add_node("trigger", props={"type": "tag_added", "tag": "go"}, node_id="t")
        g.add_node("add_tag", props={"tag": "seen"}, node_id="a")
        g.add_node("wait", props={"amount": 1, "unit": "hours"}, node_id="w")
        g.add_node("branch", props={"condition": "rules", "rules": {"field": "field:city", "op": "equals",
                                                                  "value": "Lyon"}}, node_id="b")
        g.add_node("update_field", props={"field": "stage", "value": "two"}, node_id="f")
        g.add_node("move_list", props={"action": "add", "list_id": mailing_list_id}, node_id="m")
        for a, b in (("t", "a"), ("a", "w"), ("w", "b")):
            g.connect(a, b)
        g.connect("b", "f", "yes")
        g.connect("b", "m", "no")
        automation_id = kernel.bus.execute(SaveAutomation(name="Bench", graph=g.to_json()))
        kernel.bus.execute(SetAutomationState(automation_id=automation_id, state="active"))
        started = time.perf_counter()
        for start in range(0, len(ids), 1000):
            kernel.bus.execute(ChangeContacts(contact_ids=tuple(ids[start:start + 1000]), add_tags=("go",)))
        steps = services[0].run_due()
        clock[0] += 3600
        steps += services[0].run_due()
        return time.perf_counter() - started, steps
    finally:
        kernel.close()


def floor_run(folder: Path, steps: int) -> float:
    """The same number of step-row inserts and enrollment updates, 500 per commit, synchronous=FULL, WAL."""
    connection = sqlite3.connect(folder / "floor.sqlite", isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    connection.execute("CREATE TABLE enrollment (id INTEGER PRIMARY KEY, step_seq INTEGER, step_id TEXT)")
    connection.execute("CREATE TABLE step (id INTEGER PRIMARY KEY, enrollment_id INTEGER, seq INTEGER, "
                       "step_id TEXT, result TEXT, UNIQUE (enrollment_id, seq))")
    people = max(1, steps // 4)
    connection.executemany("INSERT INTO enrollment VALUES (?, 0, 'a')", [(i,) for i in range(people)])
    started = time.perf_counter()
    done = 0
    seq = 0
    while done < steps:
        seq += 1
        for start in range(0, people, 500):
            chunk = range(start, min(people, start + 500))
            connection.execute("BEGIN IMMEDIATE")
            connection.executemany("UPDATE enrollment SET step_seq = ?, step_id = 'x' WHERE id = ? AND step_seq = ?",
                                   [(seq, i, seq - 1) for i in chunk])
            connection.executemany("INSERT INTO step (enrollment_id, seq, step_id, result) VALUES (?, ?, 'x', '')",
                                   [(i, seq) for i in chunk])
            connection.execute("COMMIT")
            done += len(chunk)
    elapsed = time.perf_counter() - started
    connection.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--contacts", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="postroom-bench-") as scratch:
        folder = Path(scratch)
        seconds, steps = engine_run(folder / "data", args.contacts)
        floor = floor_run(folder, steps)
    print(f"contacts {args.contacts:,}, contact-steps {steps:,} (tag, wait, condition, field or list)")
    print(f"engine: {seconds:.2f} s = {steps / seconds:,.0f} steps/s ({seconds / steps * 1000:.2f} ms a step), "
          f"including the contacts' changes and the entry")
    print(f"floor (bare step rows + updates, same commits): {floor:.2f} s = {steps / floor:,.0f} steps/s")
    print(f"engine / floor time: {seconds / floor:.1f}x")


if __name__ == "__main__":
    main()
