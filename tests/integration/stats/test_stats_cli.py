"""`postroom tracker ...` in process, and `postroom-tracker` as its own process on a free port."""

from __future__ import annotations

import io
import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from app.cli import parse_global, run_cli
from app.kernel.boot import Kernel, start_kernel
from app.kernel.paths import AppPaths
from app.modules.contacts.module import MODULE as CONTACTS
from app.modules.stats.module import MODULE as STATS
from tests.conftest import MemoryKeyring

ROOT = Path(__file__).resolve().parents[3]


def postroom(data_dir: Path, keyring: MemoryKeyring, *argv: str) -> tuple[int, str, str]:
    paths = AppPaths.inside(data_dir)
    paths.ensure()
    if not paths.settings_file.exists():
        paths.settings_file.write_text(json.dumps({"stats.tracker_port": 0}))
    out, err = io.StringIO(), io.StringIO()

    def factory(paths: AppPaths, **kwargs: Any) -> Kernel:
        return start_kernel(paths, secrets_backend=keyring, log_to_file=False, **kwargs)

    code = run_cli(parse_global(["--data-dir", str(data_dir), *argv]), [CONTACTS, STATS], out=out, err=err,
                   kernel_factory=factory)
    return code, out.getvalue(), err.getvalue()


def as_json(data_dir: Path, keyring: MemoryKeyring, *argv: str) -> Any:
    code, out, err = postroom(data_dir, keyring, *argv, "--json")
    assert code == 0, (out, err)
    return json.loads(out)


def test_tracker_commands(tmp_path: Path) -> None:
    keyring = MemoryKeyring()
    status = as_json(tmp_path, keyring, "tracker", "status")
    assert status["running"] is False  # a one-shot command serves nothing; the app and `tracker serve` do
    assert status["public_url"].startswith("http://127.0.0.1:")
    assert status["keys"] == ["k1"]
    assert status["keys_stored_in"] == "system keyring"
    made = as_json(tmp_path, keyring, "tracker", "token", "new", "--kind", "events", "--name", "shop")
    assert made["token"].startswith("pre_")
    assert made["name"] == "shop"
    assert as_json(tmp_path, keyring, "tracker", "token", "list") == [
        {"id": made["id"], "kind": "events", "name": "shop", "created": made_created(tmp_path, keyring),
         "revoked": False}]
    assert as_json(tmp_path, keyring, "tracker", "token", "revoke", str(made["id"])) == {"revoked": made["id"]}
    code, _out, err = postroom(tmp_path, keyring, "tracker", "token", "revoke", str(made["id"]))
    assert code == 1
    assert f"no active token with id {made['id']}" in err
    keys = as_json(tmp_path, keyring, "tracker", "keys", "--rotate")
    assert [(k["id"], k["current"]) for k in keys] == [("k1", False), ("k2", True)]
    code, _out, err = postroom(tmp_path, keyring, "tracker", "sync")
    assert code == 1
    assert "no remote endpoint is set up" in err
    code, _out, err = postroom(tmp_path, keyring, "tracker", "connect", "http://tracker.example.com", "--token", "x")
    assert code == 1
    assert "must use https://" in err
    assert as_json(tmp_path, keyring, "tracker", "ingest") == {"ingested": 0}


def made_created(data_dir: Path, keyring: MemoryKeyring) -> str:
    return str(as_json(data_dir, keyring, "tracker", "token", "list")[0]["created"])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_standalone_endpoint_serves_logs_and_stops_cleanly(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'tracker.sqlite3'}"
    command = [sys.executable, "-m", "app.modules.stats.tracker.standalone"]
    token = subprocess.run([*command, "new-token", "--kind", "sync", "--database-url", url], cwd=ROOT,
                           capture_output=True, text=True, check=True, timeout=60).stdout.strip()
    assert token.startswith("prs_")
    port = free_port()
    server = subprocess.Popen([*command, "serve", "--port", str(port), "--database-url", url], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        health: dict[str, Any] = {}
        end = time.monotonic() + 30
        while time.monotonic() < end and not health:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as reply:
                    health = json.loads(reply.read())
            except OSError:
                time.sleep(0.1)
        assert health["status"] == "ok"
        assert health["keys"] == 0
        request = urllib.request.Request(f"http://127.0.0.1:{port}/sync/events?after=0",
                                         headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(request, timeout=5) as reply:
            assert json.loads(reply.read()) == {"events": [], "last": 0, "more": False}
    finally:
        server.send_signal(signal.SIGINT)
        _out, err = server.communicate(timeout=30)
    assert server.returncode == 0
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    access = [line for line in lines if line["logger"] == "app.modules.stats.tracker.access"]
    assert {"method": "GET", "route": "/sync", "status": 200} in [
        {k: line[k] for k in ("method", "route", "status")} for line in access]
    assert all(token not in json.dumps(line) for line in lines)  # routes are logged, never tokens
