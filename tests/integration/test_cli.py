"""The ``postroom`` command line, run as a user runs it: real processes, real data folders."""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app import __version__
from app.cli import CliError, CliResult, parse_global, run_cli
from app.kernel.boot import start_kernel
from app.kernel.paths import AppPaths
from app.kernel.registry import CliCommand, ModuleContext, ModuleSpec
from tests.conftest import MemoryKeyring


def postroom(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.run([sys.executable, "-m", "app", "--data-dir", str(data_dir), *args],
                          capture_output=True, text=True, timeout=60, env=env, check=False)


def test_version(tmp_path: Path) -> None:
    result = postroom("--version", data_dir=tmp_path)
    assert result.returncode == 0
    assert result.stdout.strip() == f"Postroom {__version__}"


def test_info_as_json_names_where_data_lives(tmp_path: Path) -> None:
    result = postroom("info", "--json", data_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["data_dir"] == str(tmp_path.resolve())
    assert info["database"] == f"sqlite:///{tmp_path.resolve() / 'postroom.sqlite3'}"
    assert (tmp_path / "postroom.sqlite3").exists()
    assert (tmp_path / "logs" / "postroom.log").exists()


def test_database_url_option_selects_another_database(tmp_path: Path) -> None:
    other = tmp_path / "elsewhere.sqlite3"
    result = postroom("--database-url", f"sqlite:///{other}", "info", "--json", data_dir=tmp_path / "d")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["database"] == f"sqlite:///{other}"


def test_unknown_subcommand_fails_with_usage(tmp_path: Path) -> None:
    result = postroom("frobnicate", data_dir=tmp_path)
    assert result.returncode == 2
    assert "invalid choice: 'frobnicate'" in result.stderr


def test_modules_lists_every_built_in_module(tmp_path: Path) -> None:
    from app.modules import BUILTIN_MODULES

    result = postroom("modules", "--json", data_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert len(rows) == len(BUILTIN_MODULES)
    assert all(row["state"] == "started" for row in rows), rows


# -- module subcommands, in process -----------------------------------------------------------------


def greeter_module() -> ModuleSpec:
    def setup(context: ModuleContext) -> None:
        def configure(parser: argparse.ArgumentParser) -> None:
            sub = parser.add_subparsers(dest="action", required=True)
            hello = sub.add_parser("hello")
            hello.add_argument("name")
            hello.set_defaults(run=lambda args: CliResult({"greeting": f"hello {args.name}"},
                                                          f"Hello, {args.name}!"))
            fail = sub.add_parser("fail")
            fail.set_defaults(run=lambda args: (_ for _ in ()).throw(CliError("no such list: VIPs")))

        context.add_cli(CliCommand("greet", "say hello", configure))

    return ModuleSpec(name="greet", title="Greeter", setup=setup)


def broken_module() -> ModuleSpec:
    def setup(context: ModuleContext) -> None:
        raise RuntimeError("cannot read the template folder")

    return ModuleSpec(name="editor", title="Editor", setup=setup)


def run(tmp_path: Path, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()

    def factory(paths, **kwargs):  # type: ignore[no-untyped-def]
        return start_kernel(paths, secrets_backend=MemoryKeyring(), log_to_file=False, **kwargs)

    code = run_cli(parse_global(["--data-dir", str(tmp_path), *argv]), [greeter_module(), broken_module()],
                   out=out, err=err, kernel_factory=factory)
    return code, out.getvalue(), err.getvalue()


def test_module_subcommand_prints_text_for_people(tmp_path: Path) -> None:
    assert run(tmp_path, "greet", "hello", "Ada") == (0, "Hello, Ada!\n", "")


@pytest.mark.parametrize("position", ["before", "after"])
def test_every_subcommand_accepts_json(tmp_path: Path, position: str) -> None:
    argv = ["--json", "greet", "hello", "Ada"] if position == "before" else ["greet", "hello", "Ada", "--json"]
    code, out, _ = run(tmp_path, *argv)
    assert code == 0
    assert json.loads(out) == {"greeting": "hello Ada"}


def test_a_command_error_exits_non_zero_with_a_clear_message(tmp_path: Path) -> None:
    assert run(tmp_path, "greet", "fail") == (1, "", "postroom: error: no such list: VIPs\n")
    code, out, _ = run(tmp_path, "greet", "fail", "--json")
    assert code == 1
    assert json.loads(out) == {"error": "no such list: VIPs"}


def test_a_disabled_module_says_why_its_command_is_missing(tmp_path: Path) -> None:
    code, _, err = run(tmp_path, "editor", "list")
    assert code == 1
    assert "the editor module is disabled: RuntimeError: cannot read the template folder" in err


def test_a_one_shot_command_starts_no_servers(tmp_path: Path) -> None:
    """`postroom ...` must not open ports or start loops: only the app runs the modules' services."""
    started: list[str] = []

    def serving_module() -> ModuleSpec:
        def setup(context: ModuleContext) -> None:
            context.on_services(lambda: started.append("server"))

        return ModuleSpec(name="serving", title="Serving", setup=setup)

    def factory(paths, **kwargs):  # type: ignore[no-untyped-def]
        return start_kernel(paths, secrets_backend=MemoryKeyring(), log_to_file=False, **kwargs)

    code = run_cli(parse_global(["--data-dir", str(tmp_path), "modules"]), [serving_module()],
                   out=io.StringIO(), err=io.StringIO(), kernel_factory=factory)
    assert code == 0
    assert started == []
    app_kernel = start_kernel(AppPaths.inside(tmp_path), modules=[serving_module()], secrets_backend=MemoryKeyring(),
                              log_to_file=False, services=True, defer_services=True)
    try:
        assert started == []  # deferred until the window is up
        app_kernel.start_services()
        app_kernel.start_services()  # once only
        assert started == ["server"]
    finally:
        app_kernel.close()
