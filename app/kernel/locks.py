"""A lock on a file in the data folder: one process at a time (the OS releases it if the holder dies)."""

from __future__ import annotations

from pathlib import Path

import filelock


class ExclusiveFileLock:
    """Non-blocking: ``acquire()`` says whether this process now holds the lock."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._lock = filelock.FileLock(self.path, thread_local=False)

    def acquire(self) -> bool:
        try:
            self._lock.acquire(timeout=0)
        except filelock.Timeout:
            return False
        return True

    def release(self) -> None:
        if self._lock.is_locked:
            self._lock.release(force=True)
