"""Fixtures shared by every test: a private keyring, and no stray threads left behind."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from keyring.backend import KeyringBackend


class MemoryKeyring(KeyringBackend):
    """An in-memory keyring: the OS keyring is a boundary we do not own (a real-backend test sits beside it)."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.store.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.store[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        from keyring.errors import PasswordDeleteError

        if (service, username) not in self.store:
            raise PasswordDeleteError(username)
        del self.store[(service, username)]


@pytest.fixture
def memory_keyring() -> MemoryKeyring:
    return MemoryKeyring()


@pytest.fixture(autouse=True)
def _no_dangling_threads() -> Iterator[None]:
    """Fail a test that leaves a thread running (a leaked worker would outlive the window in the app)."""
    before = set(threading.enumerate())
    yield
    deadline = 5.0
    import time

    end = time.monotonic() + deadline
    while time.monotonic() < end:
        leaked = [t for t in threading.enumerate() if t not in before and t.is_alive() and not t.daemon]
        if not leaked:
            return
        time.sleep(0.05)
    names = ", ".join(t.name for t in leaked)
    pytest.fail(f"test left threads running: {names}")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A private PostgreSQL (the team set-up), started once for the whole run."""
    from tests.postgres import private_postgres

    with private_postgres() as url:
        yield url


@pytest.fixture
def postgres_url(postgres_server: str) -> str:
    """An empty PostgreSQL database for one test."""
    from tests.postgres import empty_database

    empty_database(postgres_server)
    return postgres_server
