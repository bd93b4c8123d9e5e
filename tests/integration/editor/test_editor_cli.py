"""``postroom templates ...`` run in process through app.cli.run_cli on a real data folder."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from app.cli import parse_global, run_cli
from app.kernel.boot import start_kernel
from app.modules.editor.module import MODULE
from tests.conftest import MemoryKeyring

PAGE = ('<html><head><style>.x{color:#445566}</style></head><body><p class="x">Hello '
        '{{ contact.first_name | default("friend") }}</p><p>{{ sender.postal_address }}</p>'
        '<a href="{{ unsubscribe_url }}">Unsubscribe</a></body></html>')


def run(data: Path, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()

    def factory(paths: Any, **kwargs: Any) -> Any:
        return start_kernel(paths, secrets_backend=MemoryKeyring(), log_to_file=False, **kwargs)

    code = run_cli(parse_global(["--data-dir", str(data), *argv]), [MODULE], out=out, err=err,
                   kernel_factory=factory)
    return code, out.getvalue(), err.getvalue()


def test_list_shows_the_starters(tmp_path: Path) -> None:
    code, out, _ = run(tmp_path, "templates", "list", "--json")
    assert code == 0
    assert sorted(row["name"] for row in json.loads(out)) == ["Announcement", "Newsletter", "Welcome"]
    code, out, _ = run(tmp_path, "templates", "list", "--search", "news")
    assert code == 0
    assert "Newsletter" in out
    assert "Welcome" not in out


def test_import_export_and_render(tmp_path: Path) -> None:
    source = tmp_path / "promo.html"
    source.write_text(PAGE, encoding="utf-8")
    data = tmp_path / "data"

    code, out, err = run(data, "templates", "import", str(source), "--name", "Promo", "--json")
    assert code == 0, err
    assert json.loads(out)["name"] == "Promo"

    exported = tmp_path / "out" / "promo.html"
    code, out, err = run(data, "templates", "export", "promo", "--out", str(exported))
    assert code == 0, err
    assert "{{ contact.first_name | default(\"friend\") }}" in exported.read_text(encoding="utf-8")
    assert 'style="color: #445566;"' in exported.read_text(encoding="utf-8")

    code, out, err = run(data, "templates", "render", "Promo", "--contact", "zoe@example.com", "--out",
                         str(tmp_path / "rendered"), "--subject", "Hi {{ contact.email }}", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["subject"] == "Hi zoe@example.com"
    assert "sample contact" in result["note"]
    html = Path(result["html"]).read_text(encoding="utf-8")
    assert "Hello Alex" in html
    assert "https://example.com/unsubscribe" in html
    assert Path(result["text"]).read_text(encoding="utf-8").startswith("Hello Alex")


def test_check_reports_problems_and_exits_1(tmp_path: Path) -> None:
    broken = tmp_path / "broken.html"
    broken.write_text("<p>Hi {{ contact.first_name }</p>\n<p>{{ contact.plan }}</p>", encoding="utf-8")
    unknown = tmp_path / "unknown.html"
    unknown.write_text("<p>Hi {{ contact.nickname }}</p>", encoding="utf-8")
    data = tmp_path / "data"
    assert run(data, "templates", "import", str(broken), "--name", "Broken")[0] == 0
    assert run(data, "templates", "import", str(unknown), "--name", "Unknown")[0] == 0

    code, _, err = run(data, "templates", "check", "Broken")
    assert code == 1
    assert "line 1, column 7" in err
    assert "HTML block" in err

    code, out, _ = run(data, "templates", "check", "Unknown", "--json")
    assert code == 1
    assert "unknown contact field 'contact.nickname'" in json.loads(out)["error"]
    assert run(data, "templates", "check", "Unknown", "--field", "nickname")[0] == 0

    code, out, _ = run(data, "templates", "check", "Newsletter")
    assert code == 0
    assert "no problems found" in out


def test_unknown_template_and_missing_file_are_clear(tmp_path: Path) -> None:
    code, _, err = run(tmp_path, "templates", "render", "Nope", "--contact", "a@b.c", "--out", str(tmp_path))
    assert code == 1
    assert "there is no template called 'Nope'" in err
    assert "Newsletter" in err
    code, _, err = run(tmp_path, "templates", "import", str(tmp_path / "missing.html"))
    assert code == 1
    assert "cannot read" in err


def test_versions_lists_history(tmp_path: Path) -> None:
    code, out, _ = run(tmp_path, "templates", "versions", "Welcome", "--json")
    assert code == 0
    assert json.loads(out)[0]["version"] == 1
    assert json.loads(out)[0]["current"] is True
