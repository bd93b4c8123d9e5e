"""Bounce processing on PostgreSQL (the team set-up): suppressions, soft-bounce counting, nothing counted twice."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.kernel.boot import Kernel, start_kernel
from app.kernel.paths import AppPaths
from app.modules.contacts import api as contacts_api
from app.modules.contacts.module import MODULE as CONTACTS
from app.modules.delivery.messages import ParseBounce
from app.modules.delivery.models import Bounce
from app.modules.delivery.module import MODULE as DELIVERY
from tests.conftest import MemoryKeyring
from tests.integration.delivery.conftest import FAST, add_contacts
from tests.unit.delivery.bounce_samples import arf, dsn


@pytest.fixture
def pg_kernel(tmp_path: Path, postgres_url: str) -> Iterator[Kernel]:
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "settings.json").write_text(json.dumps(FAST))
    kernel = start_kernel(AppPaths.inside(folder), database_url=postgres_url, modules=[CONTACTS, DELIVERY],
                          secrets_backend=MemoryKeyring(), log_to_file=False)
    assert not kernel.db.is_sqlite
    yield kernel
    kernel.close()


def test_reports_on_postgresql(pg_kernel: Kernel) -> None:
    kernel = pg_kernel
    add_contacts(kernel, ["ann@example.com", "bob@example.com", "dave@example.com"])

    def apply(raw: bytes) -> list[tuple[str, str, bool]]:
        report = kernel.bus.execute(ParseBounce(raw=raw, apply=True))
        return [(e.email, e.label, e.counted) for e in report.entries]

    hard = dsn("Ann@Example.com", "5.1.1", "550 5.1.1 unknown", report_id="<h@mx>")
    assert apply(hard) == [("Ann@Example.com", "hard", True)]
    assert apply(hard) == [("Ann@Example.com", "hard", False)]
    for n in range(3):
        apply(dsn("bob@example.com", "4.2.2", "452 4.2.2 full", report_id=f"<s{n}@mx>"))
        assert contacts_api.is_suppressed(kernel.db, "bob@example.com") == (n == 2)
    assert apply(arf("dave@example.com")) == [("dave@example.com", "complaint", True)]
    assert all(contacts_api.is_suppressed(kernel.db, e) for e in ("ann@example.com", "dave@example.com"))
    with kernel.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Bounce)) == 5
        assert session.scalar(select(Bounce.matched_by).where(Bounce.email == "ann@example.com")) == "address"

    # A hostile report naming an address longer than any we could have mailed acts on nothing.
    giant = "x" * 400 + "@example.com"
    report = kernel.bus.execute(ParseBounce(raw=dsn(giant, "5.1.1", "550 5.1.1 unknown", report_id="<g@mx>"),
                                            apply=True))
    assert [(e.kind, e.counted) for e in report.entries] == [("hard", False)]
    assert not contacts_api.is_suppressed(kernel.db, giant)
