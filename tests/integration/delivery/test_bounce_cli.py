"""``postroom bounces parse|mailbox|test|fetch``: the real command line, on report files and a private Dovecot."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import imapclient
import pytest

from app.cli import parse_global, run_cli
from app.kernel.boot import Kernel, start_kernel
from app.kernel.paths import AppPaths
from app.modules.contacts.module import MODULE as CONTACTS
from app.modules.delivery.module import MODULE as DELIVERY
from tests.conftest import MemoryKeyring
from tests.integration.delivery.imap_server import private_dovecot
from tests.unit.delivery.bounce_samples import GARBAGE, RFC3464_MULTI, arf, dsn, out_of_office


def postroom_process(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m app ...`` as a user runs it."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.run([sys.executable, "-m", "app", "--data-dir", str(data_dir), *args], capture_output=True,
                          text=True, timeout=120, env=env, check=False)


def postroom(data_dir: Path, *argv: str, keyring: Any) -> tuple[int, str, str]:
    """The same command line in this process, with a test keyring (the real one is tested elsewhere)."""
    out, err = io.StringIO(), io.StringIO()

    def factory(paths: AppPaths, **kwargs: Any) -> Kernel:
        return start_kernel(paths, secrets_backend=keyring, log_to_file=False, **kwargs)

    code = run_cli(parse_global(["--data-dir", str(data_dir), *argv]), [CONTACTS, DELIVERY], out=out, err=err,
                   kernel_factory=factory)
    return code, out.getvalue(), err.getvalue()


def test_bounces_parse_prints_recipient_status_action_and_classification(tmp_path: Path) -> None:
    report = tmp_path / "bounce.eml"
    report.write_bytes(dsn("bob@example.com", "5.1.1", "550 5.1.1 <bob@example.com>: User unknown"))

    result = postroom_process(tmp_path / "data", "bounces", "parse", str(report))
    assert result.returncode == 0, result.stderr
    first = result.stdout.splitlines()[0]
    assert first.startswith("bob@example.com  status 5.1.1  action failed  hard")
    assert "not matched to anything sent" in first

    as_json = postroom_process(tmp_path / "data", "bounces", "parse", str(report), "--json")
    assert as_json.returncode == 0, as_json.stderr
    entry = json.loads(as_json.stdout)["entries"][0]
    assert {k: entry[k] for k in ("recipient", "status", "action", "classification")} == {
        "recipient": "bob@example.com", "status": "5.1.1", "action": "failed", "classification": "hard"}


@pytest.mark.parametrize(("raw", "expected"), [
    (dsn("bob@example.com", "4.2.2", "452 4.2.2 Mailbox full"), ["soft"]),
    (dsn("bob@example.com", "5.2.2", "552 5.2.2 over quota"), ["soft"]),
    (dsn("bob@example.com", "5.7.1", "550 5.7.1 rejected by policy"), ["sender-side"]),
    (arf("bob@example.com"), ["complaint"]),
    (dsn("bob@example.com", "4.4.1", "421 timed out", action="delayed"), ["not a bounce"]),
    (RFC3464_MULTI, ["soft", "not a bounce", "hard"]),
])
def test_bounces_parse_classifies_each_kind(tmp_path: Path, raw: bytes, expected: list[str]) -> None:
    report = tmp_path / "report.eml"
    report.write_bytes(raw)
    code, out, err = postroom(tmp_path / "data", "bounces", "parse", str(report), "--json", keyring=MemoryKeyring())
    assert code == 0, err
    assert [e["classification"] for e in json.loads(out)["entries"]] == expected


@pytest.mark.parametrize(("raw", "words"), [(out_of_office(), "not a bounce: an automatic message"),
                                            (GARBAGE, "unreadable: not an email")])
def test_bounces_parse_says_what_is_no_report(tmp_path: Path, raw: bytes, words: str) -> None:
    report = tmp_path / "report.eml"
    report.write_bytes(raw)
    code, out, err = postroom(tmp_path / "data", "bounces", "parse", str(report), keyring=MemoryKeyring())
    assert code == 0, err
    assert out.startswith(words)
    code, _out, err = postroom(tmp_path / "data", "bounces", "parse", str(tmp_path / "missing.eml"),
                               keyring=MemoryKeyring())
    assert code == 1
    assert "cannot read" in err


def test_mailbox_test_and_fetch_on_the_command_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    keyring = MemoryKeyring()
    data = tmp_path / "data"
    code, out, _err = postroom(data, "bounces", "mailbox", keyring=keyring)
    assert (code, out.strip()) == (0, "No bounce mailbox is set up.")
    code, _out, err = postroom(data, "bounces", "mailbox", "--host", "imap.example.com", "--port", "143", "--tls",
                               "none", "--user", "u", keyring=keyring)
    assert code == 1
    assert "plain text is allowed only to 127.0.0.1" in err

    with private_dovecot(tmp_path / "imap") as server:
        monkeypatch.setenv("POSTROOM_BOUNCE_PASSWORD", server.password)
        code, out, err = postroom(data, "bounces", "mailbox", "--host", "127.0.0.1", "--port", str(server.port),
                                  "--tls", "none", "--user", server.user, "--poll-minutes", "0", keyring=keyring)
        assert code == 0, err
        assert "Password stored in the keyring" in out
        assert keyring.get_password("postroom", "imap:bounces") == server.password
        code, out, err = postroom(data, "bounces", "test", "--json", keyring=keyring)
        assert code == 0, err
        assert json.loads(out)["ok"] is True

        client = imapclient.IMAPClient("127.0.0.1", port=server.port, ssl=False)
        client.login(server.user, server.password)
        client.append("INBOX", dsn("bob@example.com", "5.1.1", "550 5.1.1 unknown"))
        client.append("INBOX", out_of_office())
        client.logout()
        code, out, err = postroom(data, "bounces", "fetch", "--json", keyring=keyring)
        assert code == 0, err
        fetched = json.loads(out)
        assert {k: fetched[k] for k in ("fetched", "bounces", "ignored", "suppressed", "error")} == {
            "fetched": 2, "bounces": 1, "ignored": 1, "suppressed": 1, "error": ""}
        code, out, err = postroom(data, "bounces", "fetch", keyring=keyring)
        assert (code, out.strip()) == (0, "Read 0 message(s): 0 bounce(s), 0 complaint(s), 0 not a bounce, "
                                          "0 quarantined."), err
        code, out, _err = postroom(data, "bounces", "mailbox", "--json", keyring=keyring)
        shown = json.loads(out)
        assert (shown["host"], shown["port"], shown["has_password"]) == ("127.0.0.1", server.port, True)
    code, _out, err = postroom(data, "bounces", "fetch", keyring=keyring)
    assert code == 1
    assert "the bounce mailbox could not be read: cannot connect to 127.0.0.1" in err
