"""Write a new alembic revision for one module by comparing its tables with its migrations (autogenerate)."""

from __future__ import annotations

import argparse
import importlib
import re
import sys
from pathlib import Path

from alembic.autogenerate import produce_migrations, render_python_code
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, create_engine

from app.kernel.database import Base
from app.kernel.migrations import MigrationSource, current_revisions, upgrade

TEMPLATE = '''"""{message}"""

import sqlalchemy as sa
from alembic import op

revision = "{revision}"
down_revision = {down!r}


def upgrade() -> None:
{body}
'''


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("module", help="module name, e.g. contacts")
    parser.add_argument("message", help="what the revision does")
    args = parser.parse_args()
    importlib.import_module(f"app.modules.{args.module}.models")
    folder = Path("app/modules") / args.module / "migrations"
    (folder / "versions").mkdir(parents=True, exist_ok=True)
    source = MigrationSource(args.module, folder)
    engine = create_engine("sqlite://")
    upgrade(engine, source)
    heads = current_revisions(engine, source)
    prefix = f"{args.module}_"
    owned = MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.sorted_tables:
        if table.name.startswith(prefix):
            table.to_metadata(owned)
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={"render_as_batch": True, "include_name": lambda name, kind, _p: kind != "table" or
                  (name or "").startswith(prefix)},
        )
        script = produce_migrations(context, owned)
    body = render_python_code(script.upgrade_ops, render_as_batch=True).replace("# ### commands auto", "# auto")
    body = "\n".join(line for line in body.splitlines() if "###" not in line) or "    pass"
    number = len(list((folder / "versions").glob("*.py"))) + 1
    revision = f"{args.module}_{number:04d}"
    slug = re.sub(r"[^a-z0-9]+", "_", args.message.lower()).strip("_")[:40]
    target = folder / "versions" / f"{number:04d}_{slug}.py"
    target.write_text(TEMPLATE.format(message=args.message, revision=revision,
                                      down=heads[0] if heads else None, body=body))
    print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
