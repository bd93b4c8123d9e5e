"""Several SMTP accounts for one run, against real servers on 127.0.0.1: weights, failover, quotas, the warm-up
ramp and send windows (with an injected clock), and internationalised addresses (SMTPUTF8)."""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
from collections import Counter
from email import message_from_string
from email.policy import default as default_policy
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from app.kernel.boot import Kernel
from app.modules.delivery import accounts, api
from app.modules.delivery.config import WorkerConfig
from app.modules.delivery.handlers import sender_settings
from app.modules.delivery.links import LocalLinks, load_or_create_key
from app.modules.delivery.messages import AudienceSpec, MessageContent, StartRun
from app.modules.delivery.models import Account
from app.modules.delivery.sender import Sender
from app.modules.delivery.throttle import FakeClock
from tests.integration.delivery.conftest import MakeKernel, add_account, add_contacts, by_email, wait_run, wait_until
from tests.integration.delivery.servers import Script, ScriptedSmtpServer


def people(n: int, prefix: str = "m") -> list[str]:
    return [f"{prefix}{i}@example.com" for i in range(n)]


def start_on(kernel: Kernel, list_id: int, account_ids: tuple[int, ...]) -> int:
    return int(kernel.bus.execute(StartRun(audience=AudienceSpec(lists=(list_id,)), account_ids=account_ids,
                                           content=MessageContent(subject="Hi", html="<p>Hi {{ email }}</p>"))))


def received(*servers: ScriptedSmtpServer) -> Counter[str]:
    return Counter(d.rcpt_to for server in servers for d in server.delivered)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_two_accounts_share_a_run_by_weight_and_together_send_everyone_once(kernel: Kernel) -> None:
    audience = people(60)
    list_id = add_contacts(kernel, audience)
    with ScriptedSmtpServer() as heavy, ScriptedSmtpServer() as light:
        a = add_account(kernel, heavy.port, name="heavy", weight=3, connections=2)
        b = add_account(kernel, light.port, name="light", weight=1, connections=2)
        run_id = start_on(kernel, list_id, (a, b))
        status = wait_run(kernel, run_id)
        assert status.state == "finished", status
        assert status.counts == {"sent": 60}
        assert status.account_ids == (a, b)
        together = received(heavy, light)
        assert together == Counter(audience)  # the union is the audience: nobody twice, nobody skipped
        assert 40 <= len(heavy.delivered) <= 50  # 3:1 -> 45 and 15
        assert 10 <= len(light.delivered) <= 20
    sent_by = Counter(entry.account_id for entry in _log_accounts(kernel, run_id))  # who sent whom, as stored
    assert sent_by == Counter({a: len(heavy.delivered), b: len(light.delivered)})


def _log_accounts(kernel: Kernel, run_id: int) -> list[Any]:
    """Each recipient's account_id, first_attempt_at (claimed) and finished_at (sent), as stored."""
    from app.modules.delivery.models import Recipient

    with kernel.db.read() as session:
        return list(session.query(Recipient.account_id, Recipient.first_attempt_at, Recipient.finished_at)
                    .filter(Recipient.run_id == run_id).all())


@pytest.mark.parametrize("failure", ["login refused", "nothing listening", "421 every time"])
def test_a_failing_account_hands_its_recipients_to_the_other(make_kernel: MakeKernel, failure: str) -> None:
    kernel = make_kernel({"delivery.smtp_timeout_seconds": 5.0})
    audience = people(30)
    list_id = add_contacts(kernel, audience)
    script = Script(mail=lambda _n: "421 4.7.0 Try again later, closing connection") \
        if failure == "421 every time" else Script()
    with ScriptedSmtpServer(script, password="right") as bad, ScriptedSmtpServer() as good:
        options: dict[str, Any] = {"name": "bad", "connections": 2}
        if failure == "login refused":
            options.update(username="me", password="wrong")
        port = free_port() if failure == "nothing listening" else bad.port
        a = add_account(kernel, port, **options)
        b = add_account(kernel, good.port, name="good", connections=2)
        run_id = start_on(kernel, list_id, (a, b))
        status = wait_run(kernel, run_id)
        assert status.state == "finished", status
        assert status.counts == {"sent": 30}
        assert received(bad, good) == Counter(audience)
        assert bad.delivered == []
        if failure == "login refused":
            assert bad.logins
            assert not any(ok for _, ok in bad.logins)
    log = by_email(kernel, run_id)
    assert all(entry.attempts == 1 for entry in log.values())  # a handed-back message used no attempt


def test_a_single_account_that_refuses_the_login_still_pauses_the_run(kernel: Kernel) -> None:
    list_id = add_contacts(kernel, people(5))
    with ScriptedSmtpServer(password="right") as server:
        a = add_account(kernel, server.port, name="only", username="me", password="wrong")
        run_id = start_on(kernel, list_id, (a,))
        status = wait_run(kernel, run_id)
    assert status.state == "paused"
    assert "only cannot be used" in status.reason
    assert status.counts == {"queued": 5}


def test_each_account_keeps_to_its_quota_and_the_other_takes_the_rest(kernel: Kernel) -> None:
    audience = people(24)
    list_id = add_contacts(kernel, audience)
    with ScriptedSmtpServer() as small, ScriptedSmtpServer() as big:
        a = add_account(kernel, small.port, name="small", per_hour=5)
        b = add_account(kernel, big.port, name="big")
        run_id = start_on(kernel, list_id, (a, b))
        assert wait_run(kernel, run_id).counts == {"sent": 24}
        assert len(small.delivered) == 5
        assert len(big.delivered) == 19
        assert received(small, big) == Counter(audience)


def test_when_every_account_is_out_of_quota_the_run_waits_and_fails_nobody(kernel: Kernel) -> None:
    list_id = add_contacts(kernel, people(20))
    with ScriptedSmtpServer() as first, ScriptedSmtpServer() as second:
        a = add_account(kernel, first.port, name="first", per_hour=4)
        b = add_account(kernel, second.port, name="second", per_day=6)
        run_id = start_on(kernel, list_id, (a, b))
        wait_until(lambda: "waiting until" in (api.run_status(kernel.db, run_id).reason or ""))  # type: ignore[union-attr]
        status = api.run_status(kernel.db, run_id)
        assert status is not None
        assert status.state == "sending"  # waiting, not paused or failed
        assert "first reached its hourly or daily limit" in status.reason
        assert (len(first.delivered), len(second.delivered)) == (4, 6)
        wait_until(lambda: api.run_status(kernel.db, run_id).counts.get("sending", 0) == 0)  # type: ignore[union-attr]
        assert api.run_status(kernel.db, run_id).counts == {"sent": 10, "queued": 10}  # type: ignore[union-attr]


def test_a_warming_up_account_sends_no_more_than_its_cap_for_the_day(make_kernel: MakeKernel) -> None:
    kernel = make_kernel({"delivery.warmup_start": 4, "delivery.warmup_factor": 2})
    list_id = add_contacts(kernel, people(40))
    with ScriptedSmtpServer() as server:
        a = add_account(kernel, server.port, name="new", warmup=True, per_day=1000)
        with kernel.db.transaction() as session:  # switched on two days ago: 4, 8, then 16 today
            account = session.get(Account, a)
            assert account is not None
            assert account.warmup
            account.warmup_started_on = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=2)
        run_id = start_on(kernel, list_id, (a,))
        wait_until(lambda: "warm-up cap of 16" in (api.run_status(kernel.db, run_id).reason or ""))  # type: ignore[union-attr]
        wait_until(lambda: api.run_status(kernel.db, run_id).counts.get("sending", 0) == 0)  # type: ignore[union-attr]
        assert len(server.delivered) == 16
        assert api.run_status(kernel.db, run_id).counts == {"sent": 16, "queued": 24}  # type: ignore[union-attr]


# -- the sender on an injected clock ----------------------------------------------------------------------


def _sender(kernel: Kernel, tmp_path: Path, clock: FakeClock, reports: list[dict[str, Any]]) -> Sender:
    with kernel.db.read() as session:
        configs = accounts.account_configs(session, kernel.secrets, lambda: None, timeout=5.0)
    settings = sender_settings(next(c for c in kernel.registry.contexts if c.spec.name == "delivery"))
    config = WorkerConfig(database_url=kernel.db.url.render_as_string(hide_password=False),
                          lock_path=str(tmp_path / "sender.lock"), accounts=configs, settings=settings,
                          links=LocalLinks(load_or_create_key(kernel.secrets, kernel.paths.data_dir)))
    return Sender(config, kernel.db, clock=clock, report=reports.append)


def _claimed_at(kernel: Kernel, run_id: int) -> list[float]:
    return sorted(float(r.first_attempt_at) for r in _log_accounts(kernel, run_id))


def test_nothing_goes_out_before_the_send_window_opens_then_everyone_does(make_kernel: MakeKernel,
                                                                        tmp_path: Path) -> None:
    kernel = make_kernel({"delivery.autostart": False})
    list_id = add_contacts(kernel, people(12))
    paris = ZoneInfo("Europe/Paris")
    eight = dt.datetime(2026, 11, 23, 8, 0, tzinfo=paris).timestamp()  # a Monday, 08:00 in Paris
    nine = eight + 3600
    with ScriptedSmtpServer() as server:
        a = add_account(kernel, server.port, name="office hours", send_window={
            "days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "17:30",
            "time_zone": "Europe/Paris"})
        run_id = start_on(kernel, list_id, (a,))
        clock, reports = FakeClock(start=eight), []  # type: ignore[var-annotated]
        sender = _sender(kernel, tmp_path, clock, reports)
        asyncio.run(sender.run())
        assert api.run_status(kernel.db, run_id).state == "finished"  # type: ignore[union-attr]
        assert len(server.delivered) == 12
    claimed = _claimed_at(kernel, run_id)
    assert len(claimed) == 12
    assert nine <= claimed[0] <= claimed[-1] < nine + 60  # nothing before 09:00; all at the opening
    assert sum(clock.slept) >= 3600 - 1  # the sender idled on its clock, not in real time
    notes = [r["reason"] for r in reports if r["type"] == "state" and r["state"] == "sending"]
    assert any("outside its send window (Mon, Tue, Wed, Thu, Fri 09:00-17:30 (Europe/Paris))" in n for n in notes)
    assert all(e.attempts == 1 for e in by_email(kernel, run_id).values())


def test_a_run_waits_for_the_hourly_quota_to_free_then_carries_on(make_kernel: MakeKernel, tmp_path: Path) -> None:
    kernel = make_kernel({"delivery.autostart": False})
    audience = people(12)
    list_id = add_contacts(kernel, audience)
    with ScriptedSmtpServer() as server:
        a = add_account(kernel, server.port, name="hourly", per_hour=5)
        run_id = start_on(kernel, list_id, (a,))
        clock = FakeClock(start=dt.datetime(2026, 11, 23, 10, tzinfo=dt.UTC).timestamp())
        asyncio.run(_sender(kernel, tmp_path, clock, []).run())
        assert received(server) == Counter(audience)
    assert api.run_status(kernel.db, run_id).counts == {"sent": 12}  # type: ignore[union-attr]
    sent = sorted(float(r.finished_at) for r in _log_accounts(kernel, run_id))
    # 5, then 5 an hour later, then 2: never more than 5 in any hour
    assert max(sum(1 for t in sent if s <= t < s + 3600) for s in sent) == 5
    assert sent[-1] - sent[0] >= 2 * 3600


# -- internationalised addresses --------------------------------------------------------------------------


@pytest.mark.parametrize("offered", [True, False], ids=["server-offers-smtputf8", "server-without-smtputf8"])
def test_an_internationalised_address_goes_with_smtputf8_or_fails_alone(kernel: Kernel, offered: bool) -> None:
    plain = ["ann@example.com", "bob@bücher.example"]
    utf8 = "jürgen@example.com"
    list_id = add_contacts(kernel, [*plain, utf8])
    with ScriptedSmtpServer(smtputf8=offered) as server:
        a = add_account(kernel, server.port)
        run_id = start_on(kernel, list_id, (a,))
        status = wait_run(kernel, run_id)
        delivered = {d.rcpt_to: d for d in server.delivered}
    assert status.state == "finished", status
    # A Unicode domain always goes as its IDNA A-label; it needs no SMTPUTF8.
    assert "bob@xn--bcher-kva.example" in delivered
    assert "ann@example.com" in delivered
    log = by_email(kernel, run_id)
    if offered:
        assert status.counts == {"sent": 3}
        item = delivered[utf8]
        assert "SMTPUTF8" in item.mail_options
        message = message_from_string(item.raw.decode("utf-8"), policy=default_policy)
        assert message["to"].addresses[0].username == "jürgen"
        assert "SMTPUTF8" not in delivered["ann@example.com"].mail_options
    else:
        assert status.counts == {"sent": 2, "failed": 1}
        assert utf8 not in delivered
        assert log[utf8].state == "failed"
        assert "SMTPUTF8" in log[utf8].reply
        assert "does not offer it" in log[utf8].reply


@pytest.mark.parametrize("offered", [True, False])
def test_a_test_message_to_an_internationalised_address(kernel: Kernel, offered: bool) -> None:
    from app.modules.delivery.messages import SendTestMessage

    with ScriptedSmtpServer(smtputf8=offered) as server:
        a = add_account(kernel, server.port)
        result = kernel.bus.execute(SendTestMessage(to="zoë@example.com", subject="Hi", html="<p>Hi</p>",
                                                    account_id=a))
        assert result.ok is offered
        assert [d.rcpt_to for d in server.delivered] == (["zoë@example.com"] if offered else [])
    if not offered:
        assert "SMTPUTF8" in result.reply
