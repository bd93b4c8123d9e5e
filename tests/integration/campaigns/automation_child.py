"""Run the automations of a data folder once in this process, and SIGKILL it at a chosen point (crash tests).

Usage: python -m tests.integration.campaigns.automation_child DATA_DIR NOW KILL_AT_CALL [KILL_WHERE]
The kill happens at the KILL_AT_CALL-th step hook (0: never), or at the first hook named KILL_WHERE.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from tests.conftest import MemoryKeyring
from tests.integration.campaigns.automation_world import FakeClock, boot


def main() -> None:
    folder, now, kill_at = Path(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
    kill_where = sys.argv[4] if len(sys.argv) > 4 else ""
    world = boot(folder, MemoryKeyring(), FakeClock(now))
    calls = 0

    def hook(_enrollment_id: int, where: str) -> None:
        nonlocal calls
        calls += 1
        if calls == kill_at or (kill_where and where == kill_where):
            os.kill(os.getpid(), signal.SIGKILL)

    world.automations.after_step = hook
    done = world.automations.run_due()
    world.kernel.close()
    print(f"done {done}")


if __name__ == "__main__":
    main()
