"""Rate limits seen at the server, pause/resume/cancel at any time, and a restart that continues where it stopped."""

from __future__ import annotations

import time

import pytest

from app.kernel.boot import Kernel
from app.modules.delivery import api
from app.modules.delivery.messages import CancelRun, PauseRun, ResumePendingRuns, ResumeRun
from tests.integration.delivery.conftest import MakeKernel, add_account, add_contacts, start, wait_run, wait_until
from tests.integration.delivery.servers import ScriptedSmtpServer


def people(n: int) -> list[tuple[str, str]]:
    return [(f"p{i}@example.com", f"P{i}") for i in range(n)]


def test_a_rate_limit_is_never_exceeded_in_any_one_second_window(kernel: Kernel) -> None:
    list_id = add_contacts(kernel, people(45))
    with ScriptedSmtpServer() as server:
        run_id = start(kernel, list_id, add_account(kernel, server.port, per_second=15, connections=4))
        assert wait_run(kernel, run_id).counts == {"sent": 45}
        times = sorted(d.at for d in server.delivered)
    # Timestamps are taken at the server, after the network: allow 50 ms of jitter on the window's length.
    busiest = max(sum(1 for t in times if start_at <= t < start_at + 0.95) for start_at in times)
    assert busiest <= 15
    assert times[-1] - times[0] >= 2.0  # 45 messages at 15 a second cannot take less than two seconds


def test_pause_holds_everything_and_resume_finishes_once_each(kernel: Kernel) -> None:
    list_id = add_contacts(kernel, people(60))
    with ScriptedSmtpServer() as server:
        run_id = start(kernel, list_id, add_account(kernel, server.port, per_second=40, connections=2))
        wait_until(lambda: len(server.delivered) >= 10)
        assert kernel.bus.execute(PauseRun(run_id=run_id))
        wait_until(lambda: api.run_status(kernel.db, run_id).counts.get("sending", 0) == 0)  # type: ignore[union-attr]
        held = len(server.delivered)
        time.sleep(0.4)
        assert len(server.delivered) == held < 60
        status = api.run_status(kernel.db, run_id)
        assert status is not None
        assert status.state == "paused"
        assert status.reason == "paused by you"
        assert kernel.bus.execute(ResumeRun(run_id=run_id))
        assert wait_run(kernel, run_id).counts == {"sent": 60}
        assert all(server.count(email) == 1 for email, _ in people(60))


def test_cancel_stops_for_good(kernel: Kernel) -> None:
    list_id = add_contacts(kernel, people(60))
    with ScriptedSmtpServer() as server:
        run_id = start(kernel, list_id, add_account(kernel, server.port, per_second=40, connections=2))
        wait_until(lambda: len(server.delivered) >= 5)
        assert kernel.bus.execute(CancelRun(run_id=run_id))
        status = wait_run(kernel, run_id)
        wait_until(lambda: api.run_status(kernel.db, run_id).counts.get("sending", 0) == 0)  # type: ignore[union-attr]
        sent = len(server.delivered)
        time.sleep(0.3)
        assert len(server.delivered) == sent < 60
    assert status.state == "cancelled"
    assert not kernel.bus.execute(ResumeRun(run_id=run_id))  # a cancelled run stays cancelled


@pytest.mark.parametrize("worker", ["thread", "process"])
def test_after_a_restart_the_run_continues_where_it_stopped(make_kernel: MakeKernel, worker: str) -> None:
    first = make_kernel({"delivery.worker": worker})
    list_id = add_contacts(first, people(50))
    with ScriptedSmtpServer() as server:
        run_id = start(first, list_id, add_account(first, server.port, per_second=40, connections=2))
        wait_until(lambda: len(server.delivered) >= 8)
        first.close()  # the app quits mid-send: in-flight messages finish, the rest stays queued
        stopped_at = len(server.delivered)
        status = api.run_status(first.db, run_id)
        assert status is not None
        assert status.state == "sending"
        assert stopped_at < 50
        assert status.counts.get("sending", 0) == 0
        assert status.counts.get("unknown", 0) == 0

        # The app starts again: its services carry the send on, with no command from anyone.
        second = make_kernel(services=True)
        assert wait_run(second, run_id).counts == {"sent": 50}
        assert second.bus.execute(ResumePendingRuns()) == 0
        assert all(server.count(email) == 1 for email, _ in people(50))


def test_an_account_added_while_sending_is_used_by_the_next_run(kernel: Kernel) -> None:
    first_list = add_contacts(kernel, people(30), "First")
    second_list = add_contacts(kernel, [(f"q{i}@example.com", "Q") for i in range(5)], "Second")
    with ScriptedSmtpServer() as slow, ScriptedSmtpServer() as other:
        first = start(kernel, first_list, add_account(kernel, slow.port, per_second=20, connections=1))
        wait_until(lambda: len(slow.delivered) >= 3)
        second = start(kernel, second_list, add_account(kernel, other.port))
        assert wait_run(kernel, second).counts == {"sent": 5}
        assert wait_run(kernel, first).counts == {"sent": 30}
        assert len(other.delivered) == 5


def test_a_one_shot_command_never_starts_sending(make_kernel: MakeKernel) -> None:
    first = make_kernel({"delivery.autostart": False})
    list_id = add_contacts(first, people(3))
    with ScriptedSmtpServer() as server:
        run_id = start(first, list_id, add_account(first, server.port))
        first.close()
        second = make_kernel()  # as the command line starts it: no services
        time.sleep(0.3)
        assert server.delivered == []
        assert api.run_status(second.db, run_id).state == "sending"  # type: ignore[union-attr]
