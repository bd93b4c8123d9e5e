"""The sender's hot SQL (copy the audience in, claim a batch as `sending`, record outcomes, seed the limits, recover
after a crash) on PostgreSQL, the team set-up: a run over two accounts with retries and a bad mailbox."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.kernel.boot import Kernel, start_kernel
from app.kernel.paths import AppPaths
from app.modules.contacts.module import MODULE as CONTACTS
from app.modules.delivery import store
from app.modules.delivery.messages import AudienceSpec, MessageContent, StartRun
from app.modules.delivery.module import MODULE as DELIVERY
from tests.conftest import MemoryKeyring
from tests.integration.delivery.conftest import FAST, add_account, add_contacts, by_email, wait_run
from tests.integration.delivery.servers import Script, ScriptedSmtpServer


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


def test_a_run_over_two_accounts_on_postgresql(pg_kernel: Kernel) -> None:
    kernel = pg_kernel
    audience = [f"pg{i}@example.com" for i in range(120)]
    list_id = add_contacts(kernel, audience)
    busy = set(audience[::10])
    bad = "pg7@example.com"

    def rcpt(address: str, tries: int) -> str | None:
        if address == bad:
            return "550 5.1.1 no such user"
        return "450 4.2.1 mailbox busy" if address in busy and tries == 0 else None

    with ScriptedSmtpServer(Script(rcpt=rcpt)) as first, ScriptedSmtpServer(Script(rcpt=rcpt)) as second:
        a = add_account(kernel, first.port, name="first", per_hour=10_000)
        b = add_account(kernel, second.port, name="second", weight=2)
        run_id = int(kernel.bus.execute(StartRun(audience=AudienceSpec(lists=(list_id,)), account_ids=(a, b),
                                                 content=MessageContent(subject="Hi", html="<p>{{ email }}</p>"))))
        status = wait_run(kernel, run_id)
        assert status.state == "finished", status
        assert status.counts == {"sent": 119, "failed": 1}
        delivered = Counter(d.rcpt_to for server in (first, second) for d in server.delivered)
    assert delivered == Counter(set(audience) - {bad})  # nobody twice, nobody skipped
    log = by_email(kernel, run_id)
    # a busy address is refused once per server it meets, then accepted
    assert {e for e, entry in log.items() if entry.attempts > 1} == busy - {bad}
    assert all(entry.attempts <= 3 for entry in log.values())
    assert log[bad].outcome == "hard"
    # The hour limit is seeded from what the account sent (after a restart), on PostgreSQL too.
    sent_by_first = len(first.delivered)
    assert len(store.sent_times(kernel.db, a, 0.0, 10_000)) == sent_by_first
    # A crash leaves `sending` rows: the next start makes them unknown.
    with kernel.db.transaction() as session:
        session.connection().exec_driver_sql("UPDATE delivery_recipient SET state = 'sending' "
                                             "WHERE run_id = %s AND email = %s", (run_id, "pg3@example.com"))
    assert store.recover(kernel.db) == 1
    assert by_email(kernel, run_id)["pg3@example.com"].state == "unknown"
