"""``postroom events import FILE.csv`` and ``postroom automations list|show|run``, in process on a real data folder:
importing the same file twice records nothing twice and starts an event automation once per event."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from sqlalchemy import select

from app.cli import parse_global, run_cli
from app.kernel.boot import Kernel, start_kernel
from app.kernel.paths import AppPaths
from app.modules.campaigns.automation_graph import Graph
from app.modules.campaigns.messages import SaveAutomation, SetAutomationState
from app.modules.campaigns.module import MODULE as CAMPAIGNS
from app.modules.contacts.models import Activity
from app.modules.contacts.module import MODULE as CONTACTS
from app.modules.delivery.module import MODULE as DELIVERY
from app.modules.editor.module import MODULE as EDITOR
from app.modules.stats.module import MODULE as STATS
from tests.conftest import MemoryKeyring
from tests.integration.campaigns.automation_world import add_people

MODULES = [CONTACTS, EDITOR, STATS, DELIVERY, CAMPAIGNS]
CSV = """email,name,time,value,currency,sku,category
p0@example.com,order_completed,2026-03-01T10:00:00+01:00,80.50,EUR,A-1,shoes
p1@example.com,order_completed,2026-03-01 11:00,20,EUR,B-2,shoes
p0@example.com,cart_abandoned,2026-03-01T12:00:00Z,,,,
stranger@example.com,order_completed,2026-03-01T12:00:00Z,99,EUR,C-3,hats
p2@example.com,order_completed,yesterday-ish,10,EUR,,
"""


def postroom(data_dir: Path, keyring: MemoryKeyring, *argv: str) -> tuple[int, Any]:
    out, err = io.StringIO(), io.StringIO()

    def factory(paths: AppPaths, **kwargs: Any) -> Kernel:
        return start_kernel(paths, secrets_backend=keyring, log_to_file=False, **kwargs)

    code = run_cli(parse_global(["--data-dir", str(data_dir), *argv, "--json"]), MODULES, out=out, err=err,
                   kernel_factory=factory)
    text = out.getvalue() or err.getvalue()
    return code, json.loads(text)


def test_importing_events_twice_records_them_once_and_starts_automations_once(tmp_path: Path) -> None:
    folder, keyring = tmp_path / "data", MemoryKeyring()
    kernel = start_kernel(AppPaths.inside(folder), modules=MODULES, secrets_backend=keyring, log_to_file=False)
    _, people = add_people(kernel, 3)
    g = Graph()
    g.connect(g.add_node("trigger", props={"type": "event", "name": "order_completed",
                                           "filters": ["value > 50"]}).id,
              g.add_node("add_tag", props={"tag": "big spender"}, node_id="tag").id)
    automation_id = kernel.bus.execute(SaveAutomation(name="Big orders", graph=g.to_json(), reentry="again",
                                                      reentry_days=1))
    kernel.bus.execute(SetAutomationState(automation_id=automation_id, state="active"))
    kernel.close()
    path = tmp_path / "events.csv"
    path.write_text(CSV, encoding="utf-8")

    code, first = postroom(folder, keyring, "events", "import", str(path))
    assert code == 1  # one row had a problem (its time), the rest were imported
    assert first["rows"] == 5
    assert first["new"] == 3
    assert first["repeated"] == 0
    assert first["unknown_contacts"] == 1
    assert [p["line"] for p in first["problems"]] == [6]
    code, second = postroom(folder, keyring, "events", "import", str(path))
    assert (second["new"], second["repeated"]) == (0, 3)

    code, listed = postroom(folder, keyring, "automations", "list")
    assert code == 0
    assert [(a["name"], a["state"], a["active_contacts"], a["entered"]) for a in listed] == [
        ("Big orders", "active", 1, 1)]
    assert listed[0]["trigger"] == "event order_completed where value > 50"
    code, ran = postroom(folder, keyring, "automations", "run")
    assert (code, ran["steps"]) == (0, 1)
    code, shown = postroom(folder, keyring, "automations", "show", "big orders")
    assert shown["steps"] == [{"id": "tag", "kind": "add_tag", "title": "Add tag", "waiting": 0, "passed": 1,
                               "results": {}}]

    kernel = start_kernel(AppPaths.inside(folder), modules=MODULES, secrets_backend=keyring, log_to_file=False)
    try:
        with kernel.db.read() as session:
            timeline = session.execute(select(Activity.contact_id, Activity.name, Activity.value,
                                              Activity.properties).where(Activity.kind == "event")
                                       .order_by(Activity.id)).all()
        assert [(c, n, v) for c, n, v, _ in timeline] == [(people[0], "order_completed", 80.5),
                                                          (people[1], "order_completed", 20.0),
                                                          (people[0], "cart_abandoned", None)]
        assert timeline[0][3] == {"sku": "A-1", "category": "shoes", "currency": "EUR"}
        # They took the endpoint's path: stored by stats (where revenue attribution reads them), once each.
        from app.modules.stats.models import TrackingEvent

        with kernel.db.read() as session:
            stored = session.execute(select(TrackingEvent.email, TrackingEvent.name)
                                     .where(TrackingEvent.kind == "event").order_by(TrackingEvent.id)).all()
        assert [n for _, n in stored] == ["order_completed", "order_completed", "cart_abandoned"]
    finally:
        kernel.close()


def test_a_file_without_the_needed_columns_is_refused_with_what_was_found(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("mail,event\na@example.com,x\n", encoding="utf-8")
    code, answer = postroom(tmp_path / "data", MemoryKeyring(), "events", "import", str(path))
    assert code == 1
    assert "needs the columns email and name" in answer["error"]
    assert "found: mail, event" in answer["error"]
