"""Secrets through a real Secret Service (GNOME Keyring in a private D-Bus session), as on a Linux desktop."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

SCRIPT = textwrap.dedent("""
    from app.kernel.secrets import SecretStore
    store = SecretStore()
    assert store.problem() is None, store.problem()
    store.set("smtp:acme", "correct horse battery staple")
    print("backend", type(store.backend()).__module__)
    print("read", store.get("smtp:acme"))
    store.delete("smtp:acme")
    print("after delete", store.get("smtp:acme"))
""")


def test_secret_round_trip_through_gnome_keyring(tmp_path: Path) -> None:
    for tool in ("dbus-run-session", "gnome-keyring-daemon"):
        assert shutil.which(tool), f"{tool} is missing: .ci/run installs dbus and gnome-keyring"
    (tmp_path / "probe.py").write_text(SCRIPT)
    shell = (f"echo -n test-password | gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1; "
             f"{sys.executable} {tmp_path / 'probe.py'}")
    env = {**os.environ, "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "data"),
           "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    result = subprocess.run(["dbus-run-session", "--", "bash", "-c", shell], capture_output=True, text=True,
                            timeout=60, env=env, check=False)
    assert result.returncode == 0, result.stderr
    assert "backend keyring.backends.SecretService" in result.stdout
    assert "read correct horse battery staple" in result.stdout
    assert "after delete None" in result.stdout
    # the secret never reached a plain file in the home folder
    for path in tmp_path.rglob("*"):
        if path.is_file() and path.suffix not in (".py",):
            assert b"correct horse" not in path.read_bytes(), path
