"""Resume after a kill: the engine runs in a child process that is SIGKILLed at chosen and random points in the middle
of an automation (between a step and the next, after an email step's "starting" row, right after StartRun and
before the run is recorded); restarted each time, every contact ends up with each step exactly once and each
email step started exactly one delivery run for them."""

from __future__ import annotations

import itertools
import random
import signal
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from app.modules.campaigns.automation_graph import Graph
from app.modules.campaigns.models import Enrollment, EnrollmentStep
from app.modules.contacts.messages import ChangeContact
from app.modules.delivery import api as delivery_api
from tests.conftest import MemoryKeyring
from tests.integration.campaigns.automation_world import START, add_people, boot, save, template

ROOT = Path(__file__).resolve().parents[3]
HOUR = 3600.0
PATH = ["tag", "mail1", "wait", "vip", "field", "mail2", "untag"]


def graph(template_id: int) -> Graph:
    g = Graph()
    ids = [g.add_node("trigger", props={"type": "tag_added", "tag": "go"}, node_id="trigger").id]
    for node_id, kind, props in (
            ("tag", "add_tag", {"tag": "started"}),
            ("mail1", "send_email", {"template_id": template_id, "subject": "First"}),
            ("wait", "wait", {"mode": "duration", "amount": 1, "unit": "hours"}),
            ("vip", "branch", {"condition": "rules", "rules": {"field": "tag", "op": "has", "value": "started"}}),
            ("field", "update_field", {"field": "stage", "value": "two"}),
            ("mail2", "send_email", {"template_id": template_id, "subject": "Second"}),
            ("untag", "remove_tag", {"tag": "started"})):
        ids.append(g.add_node(kind, props=props, node_id=node_id).id)
    for a, b in itertools.pairwise(ids):
        if a != "vip":
            g.connect(a, b)
    g.connect("vip", "field", "yes")
    g.connect("vip", "untag", "no")
    return g


def child(folder: Path, now: float, kill_at: int = 0, where: str = "") -> int:
    process = subprocess.run([sys.executable, "-m", "tests.integration.campaigns.automation_child", str(folder),
                              str(now), str(kill_at), where], cwd=ROOT, capture_output=True, text=True, timeout=120,
                             check=False)
    assert process.returncode in (0, -signal.SIGKILL), process.stderr[-3000:]
    return process.returncode


def test_killed_at_any_point_no_step_is_repeated_or_skipped(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    world = boot(folder, MemoryKeyring(), settings={"delivery.autostart": False})
    kernel = world.kernel
    _, people = add_people(kernel, 30)
    automation_id = save(kernel, graph(template(kernel)))
    for contact_id in people:
        kernel.bus.execute(ChangeContact(contact_id=contact_id, add_tags=("go",)))
    kernel.close()

    rng = random.Random(6)
    kills = 0
    # Each pass (before the wait, after it): kill right after an email's "starting" row, then right after its
    # StartRun (the run exists but is not recorded yet), then at random steps; then a child that finishes.
    for now in (START, START + 2 * HOUR):
        plan = [(0, "send_email:starting"), (0, "send_email:started")] + [(rng.randint(1, 60), "") for _ in range(3)]
        for kill_at, where in plan:
            kills += child(folder, now, kill_at, where) != 0
        assert child(folder, now) == 0
    assert kills >= 4

    world = boot(folder, MemoryKeyring(), settings={"delivery.autostart": False})
    kernel = world.kernel
    try:
        with kernel.db.read() as session:
            rows = session.execute(select(Enrollment.contact_id, Enrollment.state, EnrollmentStep.step_id,
                                          EnrollmentStep.run_id)
                                   .join(EnrollmentStep, EnrollmentStep.enrollment_id == Enrollment.id)
                                   .where(Enrollment.automation_id == automation_id)
                                   .order_by(Enrollment.contact_id, EnrollmentStep.seq)).all()
        by_contact: dict[int, list[str]] = {}
        runs_of: dict[tuple[int, str], list[int | None]] = {}
        for contact_id, state, step_id, run_id in rows:
            assert state == "done"
            by_contact.setdefault(contact_id, []).append(step_id)
            if step_id.startswith("mail"):
                runs_of.setdefault((contact_id, step_id), []).append(run_id)
        assert by_contact == dict.fromkeys(people, PATH)
        assert all(len(r) == 1 and r[0] is not None for r in runs_of.values())
        # Every delivery run that exists was recorded by a step: none was started twice for the same contacts.
        recorded = {r[0] for r in runs_of.values()}
        started = {run.id for run in delivery_api.list_runs(kernel.db, limit=1000)}
        assert started == recorded
        assert len(recorded) >= 2
    finally:
        kernel.close()
