"""The real program: `python -m app` opens a window, a second launch hands over to the first, Ctrl+C quits."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from app.ui.application import SHOWN_LINE

ROOT = Path(__file__).resolve().parents[2]


def launch(data_dir: Path, *, exit_after_shown: bool) -> subprocess.Popen[str]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    env.pop("POSTROOM_EXIT_AFTER_SHOWN", None)
    if exit_after_shown:
        env["POSTROOM_EXIT_AFTER_SHOWN"] = "1"
    return subprocess.Popen([sys.executable, "-m", "app", "--data-dir", str(data_dir)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_window_shown_line_for_the_startup_benchmark(tmp_path: Path) -> None:
    process = launch(tmp_path / "data", exit_after_shown=True)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert out.splitlines() == [SHOWN_LINE]
    assert (tmp_path / "data" / "logs" / "postroom.log").exists()


def test_second_launch_wakes_the_first_and_ctrl_c_quits(tmp_path: Path) -> None:
    data = tmp_path / "data"
    log_file = data / "logs" / "postroom.log"
    first = launch(data, exit_after_shown=False)
    try:
        assert wait_for(lambda: log_file.exists() and "Postroom starting" in log_file.read_text()), \
            "the first instance did not start"
        second = launch(data, exit_after_shown=True)
        out, err = second.communicate(timeout=60)
        assert second.returncode == 0, err
        assert SHOWN_LINE not in out  # it never opened a window of its own
        assert wait_for(lambda: "asked this window to come forward" in log_file.read_text())
        assert log_file.read_text().count("Postroom starting") == 1  # the second never opened the kernel

        first.send_signal(signal.SIGINT)
        first.communicate(timeout=30)
        assert first.returncode == 0
    finally:
        if first.poll() is None:
            first.kill()
            first.communicate()
    settings = (data / "settings.json").read_text()
    assert "ui.geometry" in settings  # closing by Ctrl+C still remembered the window
