"""One process at a time holds a data-folder lock, and a dead holder does not keep it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from app.kernel.locks import ExclusiveFileLock

HOLD = "from app.kernel.locks import ExclusiveFileLock as L; import sys, time; l = L(sys.argv[1]); " \
       "print(l.acquire(), flush=True); time.sleep(60)"


def test_a_second_process_is_refused_until_the_holder_dies(tmp_path: Path) -> None:
    path = tmp_path / "sender.lock"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "True"
        mine = ExclusiveFileLock(path)
        assert mine.acquire() is False
        holder.kill()  # a crash: the OS drops its lock
        holder.wait(10)
        assert mine.acquire() is True
        mine.release()
        mine.release()  # twice is harmless
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(10)
        if holder.stdout is not None:
            holder.stdout.close()
