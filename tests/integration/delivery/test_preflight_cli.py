"""``postroom delivery preflight`` in process: findings printed with their level, exit code 1 on errors."""

from __future__ import annotations

import json
from pathlib import Path

from tests.integration.delivery.test_delivery_cli import postroom
from tests.integration.delivery.test_preflight import GOOD_HTML, NO_SPAMASSASSIN


def test_preflight_prints_findings_and_fails_on_errors(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "settings.json").write_text(json.dumps(NO_SPAMASSASSIN))
    assert postroom(data, "smtp", "add", "Provider", "--host", "smtp.provider.test", "--port", "587",
                    "--tls", "starttls")[0] == 0
    assert postroom(data, "delivery", "identity", "news@shop.example.com", "--name", "Shop",
                    "--postal-address", "1 Rue de la Paix, Paris")[0] == 0
    good, bare = tmp_path / "good.html", tmp_path / "bare.html"
    good.write_text(GOOD_HTML, encoding="utf-8")
    bare.write_text("<p>Hello {{ first_name }}</p>", encoding="utf-8")
    base = ("delivery", "preflight", "--subject", "Spring", "--from", "news@shop.example.com", "--account",
            "Provider", "--offline")

    code, out, _err = postroom(data, *base, "--html", str(bare))
    assert code == 1
    assert "ERROR    unsubscribe" in out
    assert "ERROR    postal_address" in out
    assert "fix the errors before sending" in out

    code, out, _err = postroom(data, *base, "--html", str(good), "--json")
    assert code == 0, out
    report = json.loads(out)
    assert report["ok"] is True
    assert report["errors"] == 0
    levels = {f["check"]: f["level"] for f in report["findings"]}
    assert levels["unsubscribe"] == "ok"
    assert levels["spf"] == "unknown"  # --offline
    assert levels["spamassassin"] == "unknown"

    code, out, err = postroom(data, *base, "--html", str(good), "--list", "Nobody")
    assert code == 1
    assert "no list or segment named Nobody" in err
    code, out, err = postroom(data, "delivery", "preflight", "--subject", "S", "--html", str(good), "--from",
                              "who@else.example.com")
    assert code == 1
    assert "no sender identity sends from who@else.example.com" in err


def test_preflight_of_an_editor_template_by_name(tmp_path: Path) -> None:
    import io

    from app.cli import parse_global, run_cli
    from app.kernel.boot import Kernel, start_kernel
    from app.kernel.paths import AppPaths
    from app.modules.contacts.module import MODULE as CONTACTS
    from app.modules.delivery.module import MODULE as DELIVERY
    from app.modules.editor.messages import SaveTemplate
    from app.modules.editor.module import MODULE as EDITOR
    from tests.conftest import MemoryKeyring

    data = tmp_path / "data"
    data.mkdir()
    (data / "settings.json").write_text(json.dumps(NO_SPAMASSASSIN))
    keyring = MemoryKeyring()

    def factory(paths: AppPaths, **kwargs: object) -> Kernel:
        return start_kernel(paths, secrets_backend=keyring, log_to_file=False, **kwargs)  # type: ignore[arg-type]

    kernel = factory(AppPaths.inside(data), modules=[CONTACTS, EDITOR, DELIVERY])
    document = {"sections": [{"columns": [{"blocks": [{"type": "html", "props": {"html": "<p>Hi</p>"}}]}]}]}
    kernel.bus.execute(SaveTemplate(template_id=None, document=document, name="Spring letter"))
    kernel.close()

    def run(*argv: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        code = run_cli(parse_global(["--data-dir", str(data), *argv]), [CONTACTS, EDITOR, DELIVERY], out=out,
                       err=err, kernel_factory=factory)
        return code, out.getvalue(), err.getvalue()

    code, out, _err = run("delivery", "preflight", "--template", "spring letter", "--subject", "Hi", "--offline",
                          "--json")
    levels = {f["check"]: f["level"] for f in json.loads(out)["findings"]}
    assert levels["unsubscribe"] == "warning"  # the built-in outbox: an error only for a real send
    assert code == 0
    code, _out, err = run("delivery", "preflight", "--template", "Autumn", "--subject", "Hi")
    assert code == 1
    assert "no template named 'Autumn'" in err
