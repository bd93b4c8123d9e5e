"""Startup benchmark: process start to first window shown, for Postroom and for a bare Qt window (the floor)."""

from __future__ import annotations

import argparse
import json
import os
import queue
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
MARKER = "postroom: window shown"
GOAL_SECONDS = 1.0

# The floor does the least any Qt Widgets app must do before a window is up: import the bindings,
# create the QApplication, show a main window and let the event loop process the show.
FLOOR_CODE = f"""
import sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMainWindow
app = QApplication(sys.argv)
window = QMainWindow()
window.resize(1024, 700)
window.show()
def shown():
    print({MARKER!r}, flush=True)
    app.quit()
QTimer.singleShot(0, shown)
sys.exit(app.exec())
"""


class BenchError(RuntimeError):
    """A run did not reach the window; the message carries the program's own output."""


@dataclass(frozen=True)
class Stats:
    median: float
    low: float
    high: float
    runs: list[float]

    @classmethod
    def of(cls, runs: list[float]) -> Stats:
        return cls(statistics.median(runs), min(runs), max(runs), runs)


def _pump(stream: IO[str], lines: queue.Queue[tuple[float, str | None]]) -> None:
    # Timestamps are taken here, the moment a line arrives, not when the main thread gets round to it.
    for line in stream:
        lines.put((time.perf_counter(), line))
    lines.put((time.perf_counter(), None))


def time_to_window(command: list[str], env: dict[str, str], timeout: float) -> float:
    """Seconds from just before the process is spawned until it prints MARKER."""
    with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as stderr:
        start = time.perf_counter()
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=stderr, stdin=subprocess.DEVNULL,
            env=env, cwd=ROOT, text=True, encoding="utf-8", errors="replace", bufsize=1,
        )
        lines: queue.Queue[tuple[float, str | None]] = queue.Queue()
        reader = threading.Thread(target=_pump, args=(process.stdout, lines), daemon=True)
        reader.start()
        shown_at: float | None = None
        output: list[str] = []
        deadline = start + timeout
        try:
            while shown_at is None:
                remaining = deadline - time.perf_counter()
                if remaining <= 0:
                    raise BenchError(f"no {MARKER!r} within {timeout:.0f} s")
                try:
                    arrived, line = lines.get(timeout=remaining)
                except queue.Empty:
                    continue
                if line is None:
                    break
                output.append(line)
                if line.strip() == MARKER:
                    shown_at = arrived
            try:
                code = process.wait(timeout=max(5.0, deadline - time.perf_counter()))
            except subprocess.TimeoutExpired as exc:
                raise BenchError("the window was shown but the process did not exit "
                                 "(is POSTROOM_EXIT_AFTER_SHOWN honoured?)") from exc
            if shown_at is None or code != 0:
                raise BenchError(f"exit code {code} {'after' if shown_at else 'before'} showing a window")
        except BenchError as exc:
            stderr.seek(0)
            tail = "".join(output)[-2000:] + stderr.read()[-4000:]
            raise BenchError(f"{exc}\n  command: {' '.join(command)}\n{_indent(tail)}") from None
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            reader.join(timeout=5)
        return shown_at - start


def _indent(text: str) -> str:
    return "\n".join(f"  | {line}" for line in text.rstrip().splitlines()) or "  | (no output)"


def qt_env(xcb: bool) -> dict[str, str]:
    env = dict(os.environ)
    env["POSTROOM_EXIT_AFTER_SHOWN"] = "1"
    if xcb:
        if not env.get("DISPLAY"):
            raise SystemExit("startup: --xcb needs a DISPLAY (try: xvfb-run -a python bench/startup.py --xcb)")
        env["QT_QPA_PLATFORM"] = "xcb"
    else:
        env["QT_QPA_PLATFORM"] = "offscreen"
    return env


def app_command(data_dir: Path) -> list[str]:
    return [sys.executable, "-m", "app", "--data-dir", str(data_dir)]


def floor_command() -> list[str]:
    return [sys.executable, "-c", FLOOR_CODE]


def row(label: str, stats: Stats | None, note: str = "") -> str:
    if stats is None:
        return f"{label:<22}{'-':>9}{'-':>9}{'-':>9}  {note}".rstrip()
    return (f"{label:<22}{stats.median:>9.3f}{stats.low:>9.3f}{stats.high:>9.3f}  {note}").rstrip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7, help="warm runs of each (default 7)")
    parser.add_argument("--xcb", action="store_true", help="use the current DISPLAY instead of offscreen")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds allowed per run")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--strict", action="store_true", help="exit 1 when the goal is missed")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    env = qt_env(args.xcb)

    data_dir = Path(tempfile.mkdtemp(prefix="postroom-bench-"))
    floor_runs: list[float] = []
    app_first: float | None = None
    app_runs: list[float] = []
    app_error: str | None = None
    try:
        # Untimed: loads Python and Qt into the page cache, so the floor is not charged for a cold disk.
        time_to_window(floor_command(), env, args.timeout)
        try:
            app_first = time_to_window(app_command(data_dir), env, args.timeout)
        except BenchError as exc:
            app_error = str(exc)
        # Interleaved, so drift in machine load hits app and floor alike.
        for _ in range(args.runs):
            if app_error is None:
                try:
                    app_runs.append(time_to_window(app_command(data_dir), env, args.timeout))
                except BenchError as exc:
                    app_error = str(exc)
            floor_runs.append(time_to_window(floor_command(), env, args.timeout))
    except BenchError as exc:
        print(f"startup: the floor (a bare Qt window) failed, so nothing can be measured:\n{exc}",
              file=sys.stderr)
        return 2
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)

    floor = Stats.of(floor_runs)
    warm = Stats.of(app_runs) if app_runs and app_error is None else None
    first = Stats.of([app_first]) if app_first is not None else None
    verdict = None if warm is None else ("PASS" if warm.median < GOAL_SECONDS else "MISS")
    ratio = None if warm is None else warm.median / floor.median

    if args.json:
        json.dump({
            "platform": env["QT_QPA_PLATFORM"], "runs": args.runs,
            "floor": floor.__dict__, "app_first": app_first,
            "app_warm": None if warm is None else warm.__dict__,
            "ratio": ratio, "goal_seconds": GOAL_SECONDS, "verdict": verdict, "error": app_error,
        }, sys.stdout, indent=2)
        print()
    else:
        print(f"Postroom startup: process start -> first window shown "
              f"({env['QT_QPA_PLATFORM']}, {args.runs} warm runs, seconds)")
        print(f"{'':<22}{'median':>9}{'min':>9}{'max':>9}")
        print(row("floor (bare Qt)", floor))
        print(row("app, first start", first, "fresh data folder (creates the database)"))
        print(row("app, warm", warm))
        if ratio is not None:
            print(f"{'app/floor':<22}{ratio:>8.2f}x")
        if verdict is not None:
            print(f"goal: warm median under {GOAL_SECONDS:.1f} s: {verdict}")
    if app_error is not None:
        print(f"startup: the app did not show its window, so only the floor was measured:\n{app_error}",
              file=sys.stderr)
        return 2
    return 1 if args.strict and verdict == "MISS" else 0


if __name__ == "__main__":
    sys.exit(main())
