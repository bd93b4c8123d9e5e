"""The team set-up: the same kernel and modules against a shared PostgreSQL server."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import text

from app.cli import builtin_modules
from app.kernel.boot import start_kernel
from app.kernel.paths import AppPaths
from tests.conftest import MemoryKeyring


def test_every_built_in_module_starts_on_postgresql(tmp_path: Path, postgres_url: str) -> None:
    kernel = start_kernel(AppPaths.inside(tmp_path), database_url=postgres_url, modules=builtin_modules(),
                          secrets_backend=MemoryKeyring(), log_to_file=False)
    try:
        states = {s.name: (s.state, s.reason) for s in kernel.statuses}
        assert all(state == "started" for state, _ in states.values()), states
        assert kernel.db.display_url().startswith("postgresql+psycopg://postroom@127.0.0.1")
    finally:
        kernel.close()
    # a second start finds the schema current and changes nothing
    again = start_kernel(AppPaths.inside(tmp_path), database_url=postgres_url, modules=builtin_modules(),
                         secrets_backend=MemoryKeyring(), log_to_file=False)
    try:
        assert all(s.state == "started" for s in again.statuses)
    finally:
        again.close()


def test_concurrent_writers_on_postgresql(tmp_path: Path, postgres_url: str) -> None:
    kernel = start_kernel(AppPaths.inside(tmp_path), database_url=postgres_url, secrets_backend=MemoryKeyring(),
                          log_to_file=False)
    try:
        with kernel.db.transaction() as session:
            session.execute(text("CREATE TABLE counter (n INTEGER NOT NULL)"))
            session.execute(text("INSERT INTO counter VALUES (0)"))

        def bump() -> None:
            for _ in range(25):
                with kernel.db.transaction() as session:
                    session.execute(text("UPDATE counter SET n = n + 1"))

        threads = [threading.Thread(target=bump) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        with kernel.db.read() as session:
            assert session.execute(text("SELECT n FROM counter")).scalar_one() == 100
    finally:
        kernel.close()
