"""The database: SQLite safety pragmas, units of work, writers on several threads, migrations."""

from __future__ import annotations

import textwrap
import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from app.kernel.database import Database
from app.kernel.migrations import MigrationError, MigrationSource, current_revisions, upgrade


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = Database(f"sqlite:///{tmp_path / 'p.sqlite3'}")
    yield database  # type: ignore[misc]
    database.dispose()


def test_sqlite_runs_in_wal_with_foreign_keys_and_full_sync(db: Database) -> None:
    with db.read() as session:
        assert session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert session.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert session.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
        assert session.execute(text("PRAGMA busy_timeout")).scalar() >= 5000


def test_a_failed_unit_of_work_leaves_nothing_behind(db: Database) -> None:
    with db.transaction() as session:
        session.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)"))
    def crash_halfway() -> None:
        with db.transaction() as session:
            session.execute(text("INSERT INTO t (v) VALUES ('kept?')"))
            raise RuntimeError("crash halfway")

    with pytest.raises(RuntimeError):
        crash_halfway()
    with db.transaction() as session:
        session.execute(text("INSERT INTO t (v) VALUES ('committed')"))
    with db.read() as session:
        assert session.execute(text("SELECT v FROM t")).scalars().all() == ["committed"]


def test_foreign_keys_are_enforced(db: Database) -> None:
    with db.transaction() as session:
        session.execute(text("CREATE TABLE parent (id INTEGER PRIMARY KEY)"))
        session.execute(text("CREATE TABLE child (id INTEGER PRIMARY KEY, "
                             "parent_id INTEGER NOT NULL REFERENCES parent(id))"))
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError), db.transaction() as session:
        session.execute(text("INSERT INTO child (parent_id) VALUES (42)"))


def test_writers_on_several_threads_all_commit(db: Database) -> None:
    with db.transaction() as session:
        session.execute(text("CREATE TABLE counter (n INTEGER NOT NULL)"))
        session.execute(text("INSERT INTO counter VALUES (0)"))
    errors: list[BaseException] = []

    def bump() -> None:
        try:
            for _ in range(50):
                with db.transaction() as session:
                    # read-then-write: would deadlock or fail with "database is locked" under DEFERRED
                    n = session.execute(text("SELECT n FROM counter")).scalar_one()
                    session.execute(text("UPDATE counter SET n = :n"), {"n": n + 1})
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with db.read() as session:
        assert session.execute(text("SELECT n FROM counter")).scalar_one() == 200


def test_password_is_hidden_in_the_displayed_url() -> None:
    database = Database("postgresql+psycopg://ada:s3cret@db.example.org/postroom")
    assert "s3cret" not in database.display_url()
    database.dispose()


# -- migrations -------------------------------------------------------------------------------------

REV1 = '''
"""create contacts"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None

def upgrade():
    op.create_table("demo_contact", sa.Column("id", sa.Integer, primary_key=True),
                    sa.Column("email", sa.String, nullable=False))
'''

REV2 = '''
"""add first name with a default for old rows"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"

def upgrade():
    with op.batch_alter_table("demo_contact") as batch:
        batch.add_column(sa.Column("first_name", sa.String, nullable=False, server_default=""))
'''


def write_revisions(folder: Path, *revisions: str) -> MigrationSource:
    (folder / "versions").mkdir(parents=True, exist_ok=True)
    for index, body in enumerate(revisions, start=1):
        (folder / "versions" / f"{index:04d}.py").write_text(textwrap.dedent(body))
    return MigrationSource("demo", folder)


def test_a_database_made_by_an_older_version_opens_in_a_newer_one(db: Database, tmp_path: Path) -> None:
    source = write_revisions(tmp_path / "migrations", REV1)
    assert upgrade(db.engine, source) == ("0001",)
    with db.transaction() as session:
        session.execute(text("INSERT INTO demo_contact (email) VALUES ('ada@example.org')"))

    # the newer version ships a second revision
    write_revisions(tmp_path / "migrations", REV1, REV2)
    assert upgrade(db.engine, source) == ("0002",)
    with db.read() as session:
        rows = session.execute(text("SELECT email, first_name FROM demo_contact")).all()
    assert rows == [("ada@example.org", "")]
    # running again at the next start is a no-op
    assert upgrade(db.engine, source) == ("0002",)
    assert current_revisions(db.engine, source) == ("0002",)


def test_a_failing_migration_names_the_module_and_changes_nothing(db: Database, tmp_path: Path) -> None:
    broken = REV2.replace('batch.add_column(sa.Column("first_name", sa.String, nullable=False, server_default=""))',
                          'raise RuntimeError("bad migration")')
    source = write_revisions(tmp_path / "migrations", REV1, broken)
    with pytest.raises(MigrationError, match="demo"):
        upgrade(db.engine, source)
    assert current_revisions(db.engine, source) == ()  # the whole upgrade rolled back
    with db.read() as session:
        tables = session.execute(text("SELECT name FROM sqlite_master WHERE name = 'demo_contact'")).all()
    assert tables == []


def test_a_database_from_a_newer_version_is_refused_clearly(db: Database, tmp_path: Path) -> None:
    newer = write_revisions(tmp_path / "newer", REV1, REV2)
    upgrade(db.engine, newer)
    older = write_revisions(tmp_path / "older", REV1)
    with pytest.raises(MigrationError, match="newer version of Postroom"):
        upgrade(db.engine, older)


def test_an_up_to_date_database_starts_without_loading_alembic(tmp_path: Path) -> None:
    import subprocess
    import sys

    write_revisions(tmp_path / "migrations", REV1, REV2)
    script = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        from app.kernel.database import Database
        from app.kernel.migrations import MigrationSource, upgrade
        db = Database("sqlite:///{tmp_path / 'fast.sqlite3'}")
        print(upgrade(db.engine, MigrationSource("demo", Path(r"{tmp_path / 'migrations'}"))),
              "alembic" in sys.modules)
    """)
    runs = [subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.split()
            for _ in range(2)]
    assert runs[0] == ["('0002',)", "True"]  # first start: migrated with alembic
    assert runs[1] == ["('0002',)", "False"]  # next start: nothing to do, alembic never imported
