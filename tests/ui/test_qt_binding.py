"""The Qt binding in use survives a long session (PySide6 6.12.0 on Python 3.11 aborted after ~27,000 calls)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

LONG_SESSION = textwrap.dedent("""
    import sys
    from PySide6.QtWidgets import QApplication, QLabel
    app = QApplication([])
    label = QLabel()
    before = sys.getrefcount(None)
    for i in range(60_000):   # a few minutes of painting and layout in a real session
        label.setText(str(i))
    print("survived", before - sys.getrefcount(None))
""")


def test_a_long_session_of_qt_calls_does_not_abort_the_app() -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run([sys.executable, "-c", LONG_SESSION], capture_output=True, text=True, timeout=120,
                            env=env, check=False)
    assert result.returncode == 0, result.stderr[-500:]
    survived, leaked = result.stdout.split()
    assert survived == "survived"
    assert int(leaked) < 1000  # None's references are not being eaten one per call
