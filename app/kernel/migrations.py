"""Schema migrations with alembic: each module owns a script folder and its own version table."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

log = logging.getLogger(__name__)


class MigrationError(RuntimeError):
    """A module's schema could not be brought up to date; the message names the module."""


@dataclass(frozen=True)
class MigrationSource:
    """A module's alembic script folder; ``owner`` names the version table ``alembic_version_<owner>``."""

    owner: str
    folder: Path

    @property
    def version_table(self) -> str:
        return f"alembic_version_{self.owner}"

    def config(self) -> Config:
        config = Config()
        config.set_main_option("script_location", str(self.folder))
        return config


def current_revisions(engine: Engine, source: MigrationSource) -> tuple[str, ...]:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"version_table": source.version_table})
        return tuple(context.get_current_heads())


def upgrade(engine: Engine, source: MigrationSource, target: str = "heads") -> Sequence[str]:
    """Apply every pending revision of ``source`` in one transaction; returns the new heads."""
    config = source.config()
    script = ScriptDirectory.from_config(config)

    def step(revision: Any, _context: Any) -> Any:
        return script._upgrade_revs(target, revision)

    known = {rev.revision for rev in script.walk_revisions()}
    unknown = [rev for rev in current_revisions(engine, source) if rev not in known]
    if unknown:
        raise MigrationError(
            f"the {source.owner} tables were written by a newer version of Postroom "
            f"(schema {', '.join(unknown)}); update Postroom to open this database"
        )
    try:
        with engine.begin() as connection, EnvironmentContext(
            config, script, fn=step, destination_rev=target
        ) as env:
            env.configure(
                connection=connection,
                version_table=source.version_table,
                render_as_batch=True,  # SQLite alters tables by copying them
                transaction_per_migration=False,
            )
            with env.begin_transaction():
                env.run_migrations()
    except Exception as exc:
        raise MigrationError(f"could not update the {source.owner} tables: {exc}") from exc
    heads = current_revisions(engine, source)
    log.info("schema up to date", extra={"owner": source.owner, "revision": ",".join(heads)})
    return heads


def upgrade_all(engine: Engine, sources: Iterable[MigrationSource]) -> None:
    for source in sources:
        upgrade(engine, source)
