"""One SQLAlchemy engine per app, short-lived sessions per unit of work, and SQLite tuned to be safe."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, MetaData, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

log = logging.getLogger(__name__)

# Stable constraint names: SQLite migrations rebuild tables (batch mode) and must find them by name.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base shared by every module's tables (each module prefixes its table names)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


BUSY_TIMEOUT_MS = 10_000


def utcnow() -> dt.datetime:
    """Now, as every table stores time: naive UTC (SQLite keeps no time zones)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class DatabaseUnavailable(RuntimeError):  # noqa: N818 - the user's words
    """The database cannot be opened; the message names it (without its password)."""


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" hook emit BEGIN itself, so write transactions can take the lock up front.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        mode = cursor.execute("PRAGMA journal_mode = WAL").fetchone()
        # FULL: a committed send state must survive a power cut (NORMAL may lose the last commits in WAL).
        cursor.execute("PRAGMA synchronous = FULL")
        if mode and mode[0].lower() not in ("wal", "memory"):
            log.warning("SQLite refused WAL mode (journal_mode=%s); concurrent readers will wait", mode[0])
    finally:
        cursor.close()


def _on_sqlite_begin(connection: Any) -> None:
    mode = connection.get_execution_options().get("postroom_begin", "DEFERRED")
    connection.exec_driver_sql(f"BEGIN {mode}")


class Database:
    """Owns the engine. ``transaction()`` is a unit of work that commits on success and rolls back on error."""

    def __init__(self, url: str, *, pool_size: int = 8) -> None:
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        kwargs: dict[str, Any] = {}
        if self.is_sqlite:
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000}
            if self.url.database not in (None, "", ":memory:"):
                kwargs["pool_size"] = pool_size
        else:
            kwargs["pool_pre_ping"] = True
        self.engine: Engine = create_engine(url, **kwargs)
        if self.is_sqlite:
            event.listen(self.engine, "connect", _on_sqlite_connect)
            event.listen(self.engine, "begin", _on_sqlite_begin)
        writer = self.engine.execution_options(postroom_begin="IMMEDIATE") if self.is_sqlite else self.engine
        self._writer = sessionmaker(bind=writer, expire_on_commit=False)
        self._reader = sessionmaker(bind=self.engine, expire_on_commit=False)
        self._local = threading.local()

    def check(self) -> None:
        """Open a connection now, so a wrong URL or an unwritable folder is reported at start."""
        try:
            with self.engine.connect() as connection:
                connection.exec_driver_sql("SELECT 1")
        except Exception as exc:
            raise DatabaseUnavailable(f"cannot open the database {self.display_url()}: {exc}") from exc

    def display_url(self) -> str:
        """The URL without its password, safe to show and to log."""
        return self.url.render_as_string(hide_password=True)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A unit of work on this thread: commits when the block ends, rolls back if it raises.

        On SQLite the write lock is taken at BEGIN, so two writers wait for each other (busy timeout)
        instead of failing halfway when a reader upgrades to a writer.
        """
        with self._writer.begin() as session:
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only session; nothing it does is committed."""
        session = self._reader()
        try:
            yield session
        finally:
            session.rollback()
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()
