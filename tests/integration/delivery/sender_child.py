"""A sender process for the crash test: runs the real worker on a pickled configuration until it ends or is killed."""

from __future__ import annotations

import pickle
import queue
import sys
from pathlib import Path

from app.modules.delivery.worker import worker_main


class Printed(queue.Queue):  # type: ignore[type-arg]
    """Reports go to stdout (the test reads nothing from it; kept for debugging a failure)."""

    def put(self, item: object, block: bool = True, timeout: float | None = None) -> None:
        print(item, flush=True)


if __name__ == "__main__":
    config = pickle.loads(Path(sys.argv[1]).read_bytes())
    worker_main(config, queue.Queue(), Printed())
