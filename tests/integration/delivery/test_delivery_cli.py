"""The built-in outbox and the command line (``postroom smtp|outbox|delivery``), in process, on real servers."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from app.cli import parse_global, run_cli
from app.kernel.boot import Kernel, start_kernel
from app.kernel.paths import AppPaths
from app.modules.contacts.module import MODULE as CONTACTS
from app.modules.delivery import api
from app.modules.delivery.messages import OutboxReceived, SendTestMessage
from app.modules.delivery.module import MODULE as DELIVERY
from tests.conftest import MemoryKeyring
from tests.integration.delivery.conftest import add_contacts, start, wait_run, wait_until
from tests.integration.delivery.servers import ScriptedSmtpServer


def postroom(data_dir: Path, *argv: str, keyring: Any = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    backend = keyring if keyring is not None else MemoryKeyring()

    def factory(paths: AppPaths, **kwargs: Any) -> Kernel:
        return start_kernel(paths, secrets_backend=backend, log_to_file=False, **kwargs)

    code = run_cli(parse_global(["--data-dir", str(data_dir), *argv]), [CONTACTS, DELIVERY], out=out, err=err,
                   kernel_factory=factory)
    return code, out.getvalue(), err.getvalue()


def as_json(data_dir: Path, *argv: str, keyring: Any = None) -> Any:
    code, out, err = postroom(data_dir, *argv, "--json", keyring=keyring)
    assert code == 0, (out, err)
    return json.loads(out)


def test_a_first_campaign_lands_in_the_built_in_outbox(kernel: Kernel) -> None:
    received: list[OutboxReceived] = []
    kernel.bus.subscribe(OutboxReceived, received.append)
    list_id = add_contacts(kernel, [("ann@example.com", "Ann"), ("bob@example.com", "Bob")])
    run_id = start(kernel, list_id, subject="Welcome {{ first_name }}")  # no account given: the built-in outbox
    assert wait_run(kernel, run_id).counts == {"sent": 2}, api.recipient_log(kernel.db, run_id)
    wait_until(lambda: len(received) == 2)
    listed = api.list_outbox(kernel.db, limit=10)
    assert sorted(m.subject for m in listed) == ["Welcome Ann", "Welcome Bob"]
    assert [m.recipients for m in api.list_outbox(kernel.db, search="bob@")] == ["bob@example.com"]
    detail = api.get_outbox_message(kernel.db, listed[0].id)
    assert detail is not None
    assert "from Lyon" in detail.html
    assert "from Lyon" in detail.text
    assert ("Subject", detail.subject) in detail.headers
    assert detail.raw.startswith(b"From: ")


def test_send_test_message_through_the_default_account(kernel: Kernel) -> None:
    result = kernel.bus.execute(SendTestMessage(to="me@example.com", subject="Try {{ first_name }}",
                                                html="<p>Hi {{ first_name }}</p>", contact={"first_name": "Me"}))
    assert result.ok, result.reply
    message = api.list_outbox(kernel.db, limit=1)[0]
    assert message.subject == "[Test] Try Me"
    assert message.recipients == "me@example.com"


def test_smtp_accounts_on_the_command_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    keyring = MemoryKeyring()
    code, _out, err = postroom(tmp_path, "smtp", "add", "Remote", "--host", "mail.example.com", "--port", "25",
                               "--tls", "none")
    assert code == 1
    assert "plain text is allowed only to 127.0.0.1" in err
    monkeypatch.setenv("POSTROOM_SMTP_PASSWORD", "s3cret")
    with ScriptedSmtpServer() as server:
        as_json(tmp_path, "smtp", "add", "Local", "--host", "127.0.0.1", "--port", str(server.port),
                "--tls", "none", "--rate", "50", keyring=keyring)
        added = as_json(tmp_path, "smtp", "add", "Provider", "--host", "smtp.example.com", "--port", "465",
                        "--tls", "ssl", "--user", "me@example.com", keyring=keyring)
        assert keyring.store[("postroom", f"smtp:{added['id']}")] == "s3cret"  # in the keyring, nowhere else
        assert b"s3cret" not in (tmp_path / "postroom.sqlite3").read_bytes()
        listed = as_json(tmp_path, "smtp", "list", keyring=keyring)
        assert [a["name"] for a in listed] == ["Built-in outbox", "Local", "Provider"]
        assert listed[1]["per_second"] == 50
        tested = as_json(tmp_path, "smtp", "test", "Local", keyring=keyring)
        assert tested["ok"]
        assert any("connected to 127.0.0.1" in step for step in tested["steps"])
        # STARTTLS demanded but not offered: refused with a clear reason, never sent in plain text.
        as_json(tmp_path, "smtp", "add", "Strict", "--host", "localhost", "--port", str(server.port),
                "--tls", "starttls", keyring=keyring)
        code, _out, err = postroom(tmp_path, "smtp", "test", "Strict", keyring=keyring)
        assert code == 1
        assert "does not offer STARTTLS" in err


def test_no_keyring_gives_a_clear_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from keyring.backends.fail import Keyring as FailKeyring

    monkeypatch.setenv("POSTROOM_SMTP_PASSWORD", "x")
    code, _out, err = postroom(tmp_path, "smtp", "add", "Provider", "--host", "smtp.example.com", "--port", "587",
                               "--tls", "starttls", "--user", "me", keyring=FailKeyring())
    assert code == 1
    assert "cannot store the password" in err
    assert "keyring" in err


def test_outbox_status_and_send_test_commands(tmp_path: Path) -> None:
    page = tmp_path / "mail.html"
    page.write_text("<h1>Hello</h1><p>Plain words</p>", encoding="utf-8")
    sent = as_json(tmp_path, "delivery", "send-test", "--to", "you@example.com", "--html", str(page),
                   "--subject", "Check")
    assert sent["ok"]
    assert "stored in the Postroom outbox" in sent["reply"]
    listed = as_json(tmp_path, "outbox", "list")
    assert [(m["to"], m["subject"]) for m in listed] == [("you@example.com", "[Test] Check")]
    shown = as_json(tmp_path, "outbox", "show", str(listed[0]["id"]))
    assert "Plain words" in shown["text"]
    code, _out, err = postroom(tmp_path, "delivery", "status", "99")
    assert code == 1
    assert "no run 99" in err


def test_the_worker_process_sends_a_run(make_kernel: Any) -> None:
    kernel = make_kernel({"delivery.worker": "process"})
    list_id = add_contacts(kernel, [(f"w{i}@example.com", "W") for i in range(20)])
    with ScriptedSmtpServer() as server:
        from tests.integration.delivery.conftest import add_account

        run_id = start(kernel, list_id, add_account(kernel, server.port))
        assert wait_run(kernel, run_id).counts == {"sent": 20}
        assert len(server.delivered) == 20
    status = as_json(kernel.paths.data_dir, "delivery", "status", str(run_id))
    assert status["state"] == "finished"
    assert status["counts"]["sent"] == 20


def test_delivery_run_sends_pending_runs_in_the_foreground(make_kernel: Any) -> None:
    kernel = make_kernel({"delivery.autostart": False})
    list_id = add_contacts(kernel, [(f"r{i}@example.com", "R") for i in range(4)])
    with ScriptedSmtpServer() as server:
        from tests.integration.delivery.conftest import add_account

        run_id = start(kernel, list_id, add_account(kernel, server.port))
        assert api.run_status(kernel.db, run_id).counts == {}  # type: ignore[union-attr]
        kernel.close()
        done = as_json(kernel.paths.data_dir, "delivery", "run")
        assert [(r["id"], r["state"], r["counts"]["sent"]) for r in done] == [(run_id, "finished", 4)]
        assert len(server.delivered) == 4


def test_delivery_send_to_a_list_from_the_command_line(tmp_path: Path) -> None:
    page = tmp_path / "mail.html"
    page.write_text("<p>Hi {{ first_name }}</p>", encoding="utf-8")
    for email in ("a@example.com", "b@example.com"):
        code, _out, err = postroom(tmp_path, "contacts", "add", email, "--first-name", "Kim", "--list", "News")
        assert code == 0, err
    with ScriptedSmtpServer() as server:
        as_json(tmp_path, "smtp", "add", "Local", "--host", "127.0.0.1", "--port", str(server.port), "--tls", "none")
        done = as_json(tmp_path, "delivery", "send", "--list", "news", "--subject", "Hello {{ first_name }}",
                       "--html", str(page), "--account", "Local")
        assert done["state"] == "finished"
        assert done["counts"]["sent"] == 2
        assert sorted(d.rcpt_to for d in server.delivered) == ["a@example.com", "b@example.com"]
    code, _out, err = postroom(tmp_path, "delivery", "send", "--list", "Nope", "--subject", "x", "--html", str(page))
    assert code == 1
    assert "no list or segment named Nope" in err


def test_a_send_shared_between_two_accounts_from_the_command_line(tmp_path: Path) -> None:
    page = tmp_path / "mail.html"
    page.write_text("<p>Hi</p>", encoding="utf-8")
    for n in range(8):
        code, _out, err = postroom(tmp_path, "contacts", "add", f"c{n}@example.com", "--list", "News")
        assert code == 0, err
    code, _out, err = postroom(tmp_path, "smtp", "add", "Odd", "--host", "127.0.0.1", "--port", "25", "--tls", "none",
                               "--window", "someday 09:00-17:00")
    assert code == 1
    assert "not a day of the week" in err
    with ScriptedSmtpServer() as one, ScriptedSmtpServer() as three:
        as_json(tmp_path, "smtp", "add", "One", "--host", "127.0.0.1", "--port", str(one.port), "--tls", "none")
        as_json(tmp_path, "smtp", "add", "Three", "--host", "127.0.0.1", "--port", str(three.port), "--tls", "none",
                "--weight", "3", "--warmup", "--window", "mon-sun 00:00-24:00 Europe/Paris")
        listed = {a["name"]: a for a in as_json(tmp_path, "smtp", "list")}
        assert (listed["Three"]["weight"], listed["Three"]["warmup"]) == (3, True)
        assert listed["Three"]["send_window"]["time_zone"] == "Europe/Paris"
        assert len(listed["Three"]["send_window"]["days"]) == 7
        done = as_json(tmp_path, "delivery", "send", "--list", "news", "--subject", "Hi", "--html", str(page),
                       "--account", "One", "--account", "Three")
        assert done["counts"]["sent"] == 8
        assert (len(one.delivered), len(three.delivered)) == (2, 6)
