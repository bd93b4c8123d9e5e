"""Kill the sender process (SIGKILL) at random points, restart it, and count at the server: nobody twice,
nobody skipped, and at most the in-flight window left unknown per kill."""

from __future__ import annotations

import os
import pickle
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from app.modules.delivery import accounts, api
from app.modules.delivery.config import SenderSettings, WorkerConfig
from app.modules.delivery.links import LocalLinks, load_or_create_key
from app.modules.delivery.messages import AudienceSpec, MessageContent, StartRun
from tests.integration.delivery.conftest import MakeKernel, add_account, add_contacts
from tests.integration.delivery.servers import Script, ScriptedSmtpServer

ROOT = Path(__file__).resolve().parents[3]
CHILD = Path(__file__).with_name("sender_child.py")
IN_FLIGHT = 30
KILLS = 4


@pytest.mark.parametrize("two_accounts", [False, True], ids=["one-account", "two-accounts-one-failing-over"])
def test_killing_the_sender_never_sends_twice_or_skips_anyone(make_kernel: MakeKernel, tmp_path: Path,
                                                              two_accounts: bool) -> None:
    kernel = make_kernel({"delivery.autostart": False})
    people = [f"k{i}@example.com" for i in range(600)]
    list_id = add_contacts(kernel, people)
    rng = random.Random(7)
    with ScriptedSmtpServer() as server, ScriptedSmtpServer() as other:
        account_id = add_account(kernel, server.port, connections=3)
        accounts_used: tuple[int, ...] = (account_id,)
        if two_accounts:  # the first starts answering "421" part-way: its recipients fail over to the other
            accounts_used = (account_id, add_account(kernel, other.port, name="other", connections=2))
            server.script = Script(mail=lambda n: "421 4.7.0 Too busy, closing" if n >= 200 else None)
        run_id = int(kernel.bus.execute(StartRun(
            audience=AudienceSpec(lists=(list_id,)), account_ids=accounts_used,
            content=MessageContent(subject="Hi", html="<p>Hello {{ email }}</p>"))))
        with kernel.db.read() as session:
            configs = accounts.account_configs(session, kernel.secrets, lambda: None, timeout=5.0)
        config = WorkerConfig(
            database_url=kernel.db.url.render_as_string(hide_password=False),
            lock_path=str(tmp_path / "sender.lock"), accounts=configs,
            settings=SenderSettings(batch_size=10, in_flight=IN_FLIGHT, materialise_batch=100),
            links=LocalLinks(load_or_create_key(kernel.secrets, kernel.paths.data_dir)))
        config_file = tmp_path / "config.pickle"
        config_file.write_bytes(pickle.dumps(config))
        env = {**os.environ, "PYTHONPATH": str(ROOT)}

        def child() -> subprocess.Popen[bytes]:
            return subprocess.Popen([sys.executable, str(CHILD), str(config_file)], env=env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def sent() -> int:
            return len(server.delivered) + len(other.delivered)

        kills = 0
        for _ in range(KILLS):
            before = sent()
            process = child()
            # Kill once it is sending (it needs a moment to import and start), at a random point.
            end = time.monotonic() + 20
            while sent() < before + 5 and time.monotonic() < end and process.poll() is None:
                time.sleep(0.01)
            time.sleep(rng.uniform(0.0, 0.3))
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                kills += 1
            process.wait(10)
        last = child()
        assert last.wait(60) == 0
        delivered = Counter(d.rcpt_to for d in [*server.delivered, *other.delivered])
        if two_accounts:
            assert len(server.delivered) <= 200 < len(people)
            assert other.delivered

    assert kills >= 2, "the sender finished before it could be killed: make the run longer"
    log = {e.email: e for e in api.recipient_log(kernel.db, run_id, limit=10_000)}
    assert sorted(log) == sorted(people)  # everyone was put in the outbox, once (the key is unique)
    assert max(delivered.values()) == 1, [e for e, n in delivered.items() if n > 1]
    states = Counter(e.state for e in log.values())
    assert set(states) <= {"sent", "unknown"}, states
    for email, entry in log.items():
        if entry.state == "sent":
            assert delivered[email] == 1
        else:  # unknown: sent or not, but never silently skipped and never sent a second time
            assert delivered[email] <= 1
    assert states["unknown"] <= IN_FLIGHT * kills
    status = api.run_status(kernel.db, run_id)
    assert status is not None
    assert status.state == ("paused" if states["unknown"] else "finished")
