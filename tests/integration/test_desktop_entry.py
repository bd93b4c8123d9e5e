"""The desktop entry: valid per desktop-file-validate, icons in place, Exec runnable, reachable from the CLI."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from app.desktop import (
    DesktopEntryError,
    InstalledEntry,
    data_home,
    exec_value,
    install_desktop_entry,
    uninstall_desktop_entry,
)

ROOT = Path(__file__).resolve().parents[2]


def read_entry(path: Path) -> dict[str, str]:
    """The [Desktop Entry] group as raw (still escaped) values."""
    values: dict[str, str] = {}
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "[Desktop Entry]"
    for line in lines[1:]:
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep, f"not a key=value line: {line!r}"
        assert key not in values, f"duplicate key {key}"
        values[key] = value
    return values


def unescape_string(value: str) -> str:
    out, chars = [], iter(value)
    for char in chars:
        if char == "\\":
            nxt = next(chars)
            out.append({"s": " ", "n": "\n", "t": "\t", "r": "\r", "\\": "\\"}[nxt])
        else:
            out.append(char)
    return "".join(out)


def exec_argv(raw: str) -> list[str]:
    """Undo the key file's string escapes, then the Exec quoting, following the spec's words.

    Written independently of app.desktop so the round trip checks the spec, not the code against itself.
    """
    text = unescape_string(raw)
    argv: list[str] = []
    current: list[str] | None = None
    i = 0
    while i < len(text):
        char = text[i]
        if char == " ":
            if current is not None:
                argv.append("".join(current))
                current = None
        elif char == '"':
            current = current if current is not None else []
            i += 1
            while text[i] != '"':
                if text[i] == "\\" and text[i + 1] in '"`$\\':
                    i += 1
                current.append(text[i])
                i += 1
        else:
            assert char not in '"\'\\><~|&;$*?#()`', f"reserved {char!r} outside quotes in {text!r}"
            current = current if current is not None else []
            current.append(char)
        i += 1
    if current is not None:
        argv.append("".join(current))
    return [arg.replace("%%", "%") for arg in argv]


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    assert header[12:16] == b"IHDR"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


def validate(desktop_file: Path) -> None:
    tool = shutil.which("desktop-file-validate")
    # CI installs desktop-file-utils; a missing validator must not turn this check into a silent pass.
    assert tool, "desktop-file-validate not found: apt-get install desktop-file-utils"
    result = subprocess.run([tool, str(desktop_file)], capture_output=True, text=True, check=False)
    report = result.stdout + result.stderr
    problems = [line for line in report.splitlines() if ": error:" in line or ": warning:" in line]
    assert result.returncode == 0, report
    assert not problems, report


@pytest.fixture
def installed(tmp_path: Path) -> InstalledEntry:
    return install_desktop_entry(tmp_path / "share")


def test_entry_content(installed: InstalledEntry, tmp_path: Path) -> None:
    assert installed.desktop_file == tmp_path / "share" / "applications" / "postroom.desktop"
    entry = read_entry(installed.desktop_file)
    assert entry["Type"] == "Application"
    assert entry["Name"] == "Postroom"
    assert entry["GenericName"] == "Email Marketing"
    assert entry["Comment"]
    assert entry["Icon"] == "postroom"
    assert entry["Terminal"] == "false"
    assert entry["Categories"] == "Office;Network;Email;"
    assert entry["StartupWMClass"] == "postroom"
    assert entry["Keywords"].endswith(";")
    assert "email" in entry["Keywords"].split(";")


def test_desktop_file_validate_accepts_it(installed: InstalledEntry) -> None:
    validate(installed.desktop_file)


def test_validator_is_not_toothless(tmp_path: Path) -> None:
    broken = tmp_path / "broken.desktop"
    broken.write_text("[Desktop Entry]\nName=Postroom\nExec=postroom\n", encoding="utf-8")  # no Type
    with pytest.raises(AssertionError):
        validate(broken)


def test_icons_installed(installed: InstalledEntry, tmp_path: Path) -> None:
    hicolor = tmp_path / "share" / "icons" / "hicolor"
    assert installed.icon == hicolor / "scalable" / "apps" / "postroom.svg"
    assert installed.icon_png == hicolor / "256x256" / "apps" / "postroom.png"
    assert installed.icon.read_bytes() == (ROOT / "resources" / "postroom.svg").read_bytes()
    assert b'viewBox="0 0 256 256"' in installed.icon.read_bytes()
    assert png_size(installed.icon_png) == (256, 256)


def test_exec_points_to_an_executable(installed: InstalledEntry) -> None:
    entry = read_entry(installed.desktop_file)
    argv = exec_argv(entry["Exec"])
    program = Path(argv[0])
    assert program.is_absolute(), argv
    assert program.is_file(), argv
    assert os.access(program, os.X_OK), argv
    assert unescape_string(entry["TryExec"]) == argv[0]


def test_exec_quoting_round_trips() -> None:
    awkward = ['/opt/my apps/$HOME/"q"/back\\slash/100%/`tick`', "-m", "app"]
    raw = exec_value(awkward)
    assert exec_argv(raw) == awkward
    assert "%%" in raw
    assert "\\\\\\\\" in raw  # a literal backslash becomes four, per the spec


def test_reinstall_is_idempotent_and_uninstall_removes(tmp_path: Path) -> None:
    prefix = tmp_path / "share"
    first = install_desktop_entry(prefix)
    second = install_desktop_entry(prefix)
    assert first == second
    leftovers = [p.name for p in first.desktop_file.parent.iterdir() if p.name.startswith(".")]
    assert leftovers == []
    removed = uninstall_desktop_entry(prefix)
    assert set(removed) == {first.desktop_file, first.icon, first.icon_png}
    assert not first.desktop_file.exists()
    assert uninstall_desktop_entry(prefix) == []


def test_default_prefix_follows_xdg_data_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert data_home() == tmp_path / "xdg"
    monkeypatch.setenv("XDG_DATA_HOME", "relative/is/ignored")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert data_home() == tmp_path / "home" / ".local" / "share"


def test_missing_icons_are_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import app.desktop

    fake_package = tmp_path / "site" / "app" / "__init__.py"
    fake_package.parent.mkdir(parents=True)
    fake_package.write_text("")
    monkeypatch.setattr(app.desktop.app, "__file__", str(fake_package))
    with pytest.raises(DesktopEntryError, match="cannot find the Postroom icons"):
        install_desktop_entry(tmp_path / "share")
    assert not (tmp_path / "share" / "applications").exists()


def test_cli_install_desktop(tmp_path: Path) -> None:
    prefix = tmp_path / "share"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run(
        [sys.executable, "-m", "app", "--data-dir", str(tmp_path / "data"),
         "install-desktop", "--prefix", str(prefix), "--json"],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    data = json.loads(result.stdout)
    desktop_file = Path(data["desktop_file"])
    assert desktop_file == prefix / "applications" / "postroom.desktop"
    assert desktop_file.is_file()
    assert Path(data["icon"]).is_file()
    validate(desktop_file)
