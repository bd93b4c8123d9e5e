"""``postroom campaigns create|send|status|list`` in process on a real data folder, sending to the built-in outbox;
the preflight checks stop a send with warnings until they are accepted."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from app.cli import parse_global, run_cli
from app.kernel.boot import Kernel, start_kernel
from app.kernel.paths import AppPaths
from tests.conftest import MemoryKeyring
from tests.integration.campaigns.campaign_world import FAST, MODULES, add_people, boot, template

KEYRING = MemoryKeyring()


def postroom(data_dir: Path, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()

    def factory(paths: AppPaths, **kwargs: Any) -> Kernel:
        return start_kernel(paths, secrets_backend=KEYRING, log_to_file=False, **kwargs)

    code = run_cli(parse_global(["--data-dir", str(data_dir), *argv]), MODULES, out=out, err=err,
                   kernel_factory=factory)
    return code, out.getvalue(), err.getvalue()


def test_create_send_status_and_list_from_the_command_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    kernel = boot(data, KEYRING, settings=FAST)
    add_people(kernel, [("ann@example.com", "Ann", ""), ("bob@example.com", "Bob", "")], list_name="News")
    template(kernel, "Sale")
    kernel.close()

    code, out, err = postroom(data, "campaigns", "create", "Spring", "--template", "Sale", "--list", "News",
                              "--from", "Shop <shop@example.com>", "--subject", "Hi {{ contact.first_name }}",
                              "--utm-source", "newsletter")
    assert code == 0, err
    assert "Created Spring" in out
    code, out, err = postroom(data, "campaigns", "create", "Other", "--template", "Nope", "--list", "News",
                              "--from", "shop@example.com", "--subject", "x")
    assert code == 1
    assert "no template named 'Nope'" in err

    # The outbox account, no DNS records for example.com and no postal address: warnings, so it stops.
    code, out, err = postroom(data, "campaigns", "send", "Spring", "--offline")
    assert code == 1
    assert "preflight checks stopped" in err
    assert "--accept-warnings" in err
    assert "postal address" in err
    code, out, err = postroom(data, "--json", "campaigns", "send", "spring", "--offline", "--accept-warnings",
                              "--wait")
    assert code == 0, err
    row = json.loads(out)
    assert (row["state"], row["sent"], row["failed"]) == ("sent", 2, 0)
    assert any(f["check"] == "postal_address" for f in row["preflight"])

    code, out, _err = postroom(data, "campaigns", "status", "Spring")
    assert code == 0
    assert "Spring (#1): sent" in out
    assert "sent 2" in out
    code, out, _err = postroom(data, "--json", "campaigns", "list")
    assert [(r["name"], r["state"], r["sent"]) for r in json.loads(out)] == [("Spring", "sent", 2)]
    code, out, _err = postroom(data, "--json", "outbox", "list")
    messages = json.loads(out)
    assert sorted(m["subject"] for m in messages) == ["Hi Ann", "Hi Bob"]
