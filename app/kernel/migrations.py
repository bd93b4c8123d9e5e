"""Schema migrations with alembic: each module owns a script folder and its own version table."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, text

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)


class MigrationError(RuntimeError):
    """A module's schema could not be brought up to date; the message names the module."""


@dataclass(frozen=True)
class MigrationSource:
    """A module's alembic script folder; ``owner`` names the version table ``alembic_version_<owner>``."""

    owner: str
    folder: Path

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z][a-z0-9_]*", self.owner):
            raise ValueError(f"a module name must be lower-case letters, digits and _: {self.owner!r}")

    @property
    def version_table(self) -> str:
        return f"alembic_version_{self.owner}"

    def config(self) -> Config:
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(self.folder))
        return config


_REVISION = re.compile(r"^revision\s*(?::[^=]*)?=\s*[\"']([^\"']+)[\"']", re.MULTILINE)
_DOWN = re.compile(r"^down_revision\s*(?::[^=]*)?=\s*(.+)$", re.MULTILINE)


def _heads_on_disk(source: MigrationSource) -> set[str] | None:
    """Heads read straight from the revision files, or None when they are not plain enough to read so."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (source.folder / "versions").glob("*.py"):
        body = path.read_text(encoding="utf-8")
        revision, down = _REVISION.search(body), _DOWN.search(body)
        if revision is None or down is None:
            return None
        revisions.add(revision[1])
        parents.update(re.findall(r"[\"']([^\"']+)[\"']", down[1]))
    return revisions - parents or None


def _is_current(engine: Engine, source: MigrationSource) -> bool:
    """True when the database already has every revision: the usual start, done without loading alembic
    (importing it costs about 0.15 s of start-up)."""
    heads = _heads_on_disk(source)
    if not heads:
        return False
    try:
        with engine.connect() as connection:
            query = text(f"SELECT version_num FROM {source.version_table}")  # noqa: S608 - name checked above
            stored = connection.execute(query).scalars().all()
    except Exception:
        return False  # no version table yet: a new database
    return set(stored) == heads


def current_revisions(engine: Engine, source: MigrationSource) -> tuple[str, ...]:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"version_table": source.version_table})
        return tuple(context.get_current_heads())


def upgrade(engine: Engine, source: MigrationSource, target: str = "heads") -> Sequence[str]:
    """Apply every pending revision of ``source`` in one transaction; returns the new heads."""
    if target == "heads" and _is_current(engine, source):
        return tuple(sorted(_heads_on_disk(source) or ()))
    from alembic.runtime.environment import EnvironmentContext
    from alembic.script import ScriptDirectory

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
