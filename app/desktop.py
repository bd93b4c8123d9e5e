"""Add Postroom to the Linux applications menu: a freedesktop .desktop entry and its icons (no Qt needed)."""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import app
from app import APP_ID

log = logging.getLogger(__name__)

DESKTOP_FILE_NAME = f"{APP_ID}.desktop"
ICON_SVG = "postroom.svg"
ICON_PNG = "postroom-256.png"

# Characters that force an Exec argument into double quotes (Desktop Entry spec, "The Exec key").
_RESERVED = frozenset(" \t\n\"'\\><~|&;$*?#()`")
# Inside double quotes these four must still be backslash-escaped.
_ESCAPE_IN_QUOTES = re.compile(r'(["`$\\])')


class DesktopEntryError(RuntimeError):
    """The entry could not be installed; the message says what is missing or not writable."""


@dataclass(frozen=True)
class InstalledEntry:
    """Where the entry landed: ``icon`` is the scalable SVG, ``icon_png`` the 256x256 fallback."""

    desktop_file: Path
    icon: Path
    icon_png: Path
    exec_line: str


def data_home(prefix: Path | None = None) -> Path:
    """``prefix``, else ``$XDG_DATA_HOME``, else ``~/.local/share``."""
    if prefix is not None:
        return prefix.expanduser().resolve()
    env = os.environ.get("XDG_DATA_HOME", "")
    # The base directory spec says relative values are invalid and must be ignored.
    if env and Path(env).is_absolute():
        return Path(env)
    return Path.home() / ".local" / "share"


def resources_dir() -> Path:
    """The top-level ``resources/`` folder: beside the ``app`` package, or inside a PyInstaller bundle."""
    candidates: list[Path] = []
    bundle = getattr(sys, "_MEIPASS", None)
    if isinstance(bundle, str):
        candidates.append(Path(bundle) / "resources")
    candidates.append(Path(app.__file__).resolve().parent.parent / "resources")
    for folder in candidates:
        if (folder / ICON_SVG).is_file() and (folder / ICON_PNG).is_file():
            return folder
    tried = ", ".join(str(folder) for folder in candidates)
    raise DesktopEntryError(f"cannot find the Postroom icons ({ICON_SVG}, {ICON_PNG}); looked in {tried}")


def launcher_command() -> list[str]:
    """The command the menu entry runs: the installed ``postroom`` launcher, else ``python -m app``."""
    if getattr(sys, "frozen", False):
        return [str(Path(sys.executable).absolute())]
    # Prefer the launcher of the environment running this code: a ``postroom`` earlier on PATH may
    # belong to another install. Not resolved, because a venv's python is a symlink out of the venv.
    name = "postroom.exe" if os.name == "nt" else "postroom"
    beside = Path(sys.executable).absolute().parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return [str(beside)]
    found = shutil.which("postroom")
    if found:
        return [str(Path(found).absolute())]
    return [str(Path(sys.executable).absolute()), "-m", "app"]


def quote_exec_argument(argument: str) -> str:
    """Quote one argument for an Exec value (before the key file's own string escaping)."""
    if argument and not _RESERVED.intersection(argument):
        quoted = argument
    else:
        quoted = '"' + _ESCAPE_IN_QUOTES.sub(r"\\\1", argument) + '"'
    # A lone % would start a field code such as %f.
    return quoted.replace("%", "%%")


def escape_string_value(value: str) -> str:
    """Escape a value of type string for the key file; applied after Exec quoting, as the spec orders."""
    return (value.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t")
            .replace("\r", "\\r"))


def exec_value(command: list[str]) -> str:
    return escape_string_value(" ".join(quote_exec_argument(part) for part in command))


def desktop_entry_text(command: list[str]) -> str:
    lines = [
        "[Desktop Entry]",
        "Type=Application",
        "Version=1.4",  # the newest version Debian's desktop-file-validate (0.26) knows
        "Name=Postroom",
        "GenericName=Email Marketing",
        "Comment=Write, send and measure email campaigns for your contacts",
        f"Exec={exec_value(command)}",
        # The menu hides the entry once the program it points to is gone (e.g. the venv was deleted).
        f"TryExec={escape_string_value(command[0])}",
        "Icon=postroom",
        "Terminal=false",
        "Categories=Office;Network;Email;",
        "Keywords=email;newsletter;campaign;marketing;mailing;contacts;",
        # Qt names the window class after the desktop file, which is how docks group its windows.
        "StartupWMClass=postroom",
        "StartupNotify=true",
    ]
    return "\n".join(lines) + "\n"


def _write_atomically(target: Path, data: bytes) -> None:
    """Replace ``target`` in one step, so a menu never reads a half-written entry."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    temp = Path(temp_name)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        temp.chmod(0o644)
        temp.replace(target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def _entry_paths(base: Path) -> tuple[Path, Path, Path]:
    hicolor = base / "icons" / "hicolor"
    return (
        base / "applications" / DESKTOP_FILE_NAME,
        hicolor / "scalable" / "apps" / f"{APP_ID}.svg",
        hicolor / "256x256" / "apps" / f"{APP_ID}.png",
    )


def _refresh_caches(base: Path) -> None:
    """Best effort: menus and icon themes notice new files sooner; nothing depends on it succeeding."""
    applications = base / "applications"
    tool = shutil.which("update-desktop-database")
    if tool and applications.is_dir():
        try:
            subprocess.run([tool, "-q", str(applications)], check=False, timeout=30,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except (OSError, subprocess.SubprocessError) as exc:
            log.info("update-desktop-database failed: %s", exc)
    hicolor = base / "icons" / "hicolor"
    # The icon theme spec has caches check the theme folder's mtime.
    try:
        if hicolor.is_dir():
            os.utime(hicolor)
    except OSError as exc:
        log.info("could not touch %s: %s", hicolor, exc)


def install_desktop_entry(prefix: Path | None = None) -> InstalledEntry:
    """Write ``postroom.desktop`` and the icons under ``prefix`` (an XDG data folder); idempotent."""
    base = data_home(prefix)
    source = resources_dir()
    desktop_file, svg, png = _entry_paths(base)
    command = launcher_command()
    text = desktop_entry_text(command)
    try:
        _write_atomically(svg, (source / ICON_SVG).read_bytes())
        _write_atomically(png, (source / ICON_PNG).read_bytes())
        # Last, so the menu never shows an entry whose icon is not there yet.
        _write_atomically(desktop_file, text.encode("utf-8"))
    except OSError as exc:
        raise DesktopEntryError(f"cannot write the desktop entry under {base}: {exc}") from exc
    _refresh_caches(base)
    log.info("desktop entry installed", extra={"desktop_file": str(desktop_file)})
    return InstalledEntry(desktop_file=desktop_file, icon=svg, icon_png=png, exec_line=exec_value(command))


def uninstall_desktop_entry(prefix: Path | None = None) -> list[Path]:
    """Remove what :func:`install_desktop_entry` wrote under ``prefix``; returns the files removed."""
    base = data_home(prefix)
    removed: list[Path] = []
    for path in _entry_paths(base):
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise DesktopEntryError(f"cannot remove {path}: {exc}") from exc
        removed.append(path)
    if removed:
        _refresh_caches(base)
    return removed
