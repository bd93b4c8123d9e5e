"""The sender against real SMTP servers on 127.0.0.1: each way a server can answer, and what the user then sees."""

from __future__ import annotations

import json
import time
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path

import pytest

from app.kernel.boot import Kernel
from app.modules.contacts import api as contacts_api
from app.modules.contacts.models import Activity
from app.modules.delivery import api
from app.modules.delivery.links import LocalLinks, load_or_create_key, parse_return_path
from app.modules.delivery.messages import RecipientFailed, ResendUnknown, ResumeRun, RunStateChanged
from tests.integration.delivery.conftest import (
    MakeKernel,
    add_account,
    add_contacts,
    by_email,
    start,
    wait_run,
    wait_until,
)
from tests.integration.delivery.servers import DroppingServer, Script, ScriptedSmtpServer


def people(n: int, prefix: str = "user") -> list[tuple[str, str]]:
    return [(f"{prefix}{i}@example.com", f"Ann{i}") for i in range(n)]


@pytest.mark.parametrize("pipelining", [True, False], ids=["pipelined", "one-command-at-a-time"])
def test_each_recipient_gets_one_personalised_message_that_maps_back(kernel: Kernel, pipelining: bool) -> None:
    list_id = add_contacts(kernel, people(25))
    with ScriptedSmtpServer(pipelining=pipelining) as server:
        run_id = start(kernel, list_id, add_account(kernel, server.port, connections=3))
        status = wait_run(kernel, run_id)
        assert status.state == "finished", status
        assert status.counts == {"sent": 25}
        delivered = server.delivered
    assert sorted(d.rcpt_to for d in delivered) == sorted(email for email, _ in people(25))
    signer = LocalLinks(load_or_create_key(kernel.secrets, kernel.paths.data_dir))
    log = by_email(kernel, run_id)
    for item in delivered:
        message = message_from_bytes(item.raw, policy=default_policy)
        first = dict(people(25))[item.rcpt_to]
        assert message["subject"] == f"Hello {first}"
        assert f"Hi {first} from Lyon" in message.get_body(("html",)).get_content()
        # The envelope sender says which recipient a bounce is about.
        assert parse_return_path(item.mail_from, signer) == (run_id, log[item.rcpt_to].id)
        assert message["message-id"] == log[item.rcpt_to].message_id
    assert len({d.raw.split(b"Message-ID: ")[1][:40] for d in delivered}) == 25
    # Everyone's timeline says they were sent this (recorded through the contacts module's command).
    def timeline_count() -> int:
        with kernel.db.read() as session:
            return session.query(Activity).filter(Activity.kind == "sent").count()

    wait_until(lambda: timeline_count() == 25)


def test_temporary_refusals_are_retried_until_accepted(kernel: Kernel) -> None:
    list_id = add_contacts(kernel, people(15))
    refused = {f"user{i}@example.com" for i in range(0, 15, 3)}
    script = Script(rcpt=lambda a, n: "450 4.2.1 mailbox busy, try later" if a in refused and n < 2 else None)
    with ScriptedSmtpServer(script) as server:
        run_id = start(kernel, list_id, add_account(kernel, server.port))
        status = wait_run(kernel, run_id)
        assert status.state == "finished", status
        assert status.counts == {"sent": 15}
        assert all(server.count(email) == 1 for email, _ in people(15))
    log = by_email(kernel, run_id)
    assert {email for email, entry in log.items() if entry.attempts == 3} == refused


def test_a_bad_mailbox_fails_and_is_suppressed_others_go_out(kernel: Kernel) -> None:
    list_id = add_contacts(kernel, people(12))
    bad = {"user3@example.com", "user7@example.com"}
    failures: list[RecipientFailed] = []
    kernel.bus.subscribe(RecipientFailed, failures.append)
    script = Script(rcpt=lambda a, _n: f"550 5.1.1 <{a}>: Recipient address rejected: no such user"
                    if a in bad else None)
    with ScriptedSmtpServer(script) as server:
        run_id = start(kernel, list_id, add_account(kernel, server.port))
        status = wait_run(kernel, run_id)
        assert status.state == "finished", status
        assert status.counts == {"sent": 10, "failed": 2}
        assert {d.rcpt_to for d in server.delivered} == {e for e, _ in people(12)} - bad
    log = by_email(kernel, run_id)
    assert {e for e, entry in log.items() if entry.outcome == "hard"} == bad
    assert "5.1.1" in log["user3@example.com"].reply
    wait_until(lambda: all(contacts_api.is_suppressed(kernel.db, e) for e in bad))
    assert not contacts_api.is_suppressed(kernel.db, "user1@example.com")
    assert {f.outcome for f in failures} == {"hard"}


def test_a_policy_refusal_pauses_the_run_and_suppresses_nobody(kernel: Kernel) -> None:
    list_id = add_contacts(kernel, people(30))
    states: list[RunStateChanged] = []
    kernel.bus.subscribe(RunStateChanged, states.append)
    blocked = Script(data=lambda _a, _n: "554 5.7.1 Service unavailable; client host blocked using Spamhaus")
    with ScriptedSmtpServer(blocked) as server:
        run_id = start(kernel, list_id, add_account(kernel, server.port, connections=2))
        status = wait_run(kernel, run_id)
        assert status.state == "paused"
        assert "5.7.1" in status.reason
        assert "Spamhaus" in status.reason
        assert status.counts.get("failed", 0) == 0
        assert status.counts.get("sent", 0) == 0
        assert not any(contacts_api.is_suppressed(kernel.db, e) for e, _ in people(30))
        assert any(s.state == "paused" and "Spamhaus" in s.reason for s in states)
        # The user fixes the listing and resumes: everyone is sent, once.
        server.script = Script()
        kernel.bus.execute(ResumeRun(run_id=run_id))
        status = wait_run(kernel, run_id)
        assert status.state == "finished"
        assert status.counts == {"sent": 30}
        assert all(server.count(e) == 1 for e, _ in people(30))


@pytest.mark.parametrize("pipelining", [True, False], ids=["pipelined", "one-command-at-a-time"])
def test_421_slows_down_and_recovers(kernel: Kernel, pipelining: bool) -> None:
    list_id = add_contacts(kernel, people(10))
    script = Script(mail=lambda n: "421 4.7.0 Too many connections, slow down" if n < 3 else None)
    with ScriptedSmtpServer(script, pipelining=pipelining) as server:
        run_id = start(kernel, list_id, add_account(kernel, server.port, connections=1))
        status = wait_run(kernel, run_id)
        assert status.state == "finished", status
        assert status.counts == {"sent": 10}
        assert all(server.count(e) == 1 for e, _ in people(10))


def test_too_many_errors_in_a_row_pause_the_run(kernel: Kernel) -> None:
    list_id = add_contacts(kernel, people(20))
    with ScriptedSmtpServer(Script(rcpt=lambda _a, _n: "451 4.3.0 temporary local problem")) as server:
        run_id = start(kernel, list_id, add_account(kernel, server.port, connections=1))
        status = wait_run(kernel, run_id)
    assert status.state == "paused"
    assert "in a row" in status.reason
    assert "4.3.0" in status.reason
    assert status.counts.get("failed", 0) == 0


def test_no_answer_after_the_final_dot_makes_unknown_never_resent_by_itself(make_kernel: MakeKernel) -> None:
    kernel = make_kernel({"delivery.smtp_timeout_seconds": 1.0})
    list_id = add_contacts(kernel, people(6))
    hang = "user2@example.com"
    with ScriptedSmtpServer(Script(data=lambda a, n: "hang" if a == hang and n == 0 else None)) as server:
        run_id = start(kernel, list_id, add_account(kernel, server.port, connections=2))
        status = wait_run(kernel, run_id)
        assert status.state == "paused"
        assert status.counts == {"sent": 5, "unknown": 1}
        assert "may or may not have arrived" in status.reason
        assert server.count(hang) == 0
        assert server.state.data_tries[hang] == 1
        # Only on the user's say is it sent again.
        assert kernel.bus.execute(ResendUnknown(run_id=run_id)) == 1
        status = wait_run(kernel, run_id)
        assert status.state == "finished"
        assert status.counts == {"sent": 6}
        assert server.count(hang) == 1


def test_a_connection_dropped_mid_data_makes_unknown(make_kernel: MakeKernel) -> None:
    kernel = make_kernel({"delivery.smtp_timeout_seconds": 2.0})
    list_id = add_contacts(kernel, people(1))
    with DroppingServer(after=100) as server:
        run_id = start(kernel, list_id, add_account(kernel, server.port, connections=1))
        status = wait_run(kernel, run_id)
        assert server.dropped == 1
    assert status.state == "paused"
    assert status.counts == {"unknown": 1}
    entry = by_email(kernel, run_id)["user0@example.com"]
    assert entry.state == "unknown"
    assert entry.attempts == 1


def test_header_injection_fails_only_that_recipient(kernel: Kernel) -> None:
    list_id = add_contacts(kernel, [("a@example.com", "Ann"), ("b@example.com", "Bob"), ("c@example.com", "Cy")])
    with kernel.db.transaction() as session:
        from app.modules.contacts.models import Contact

        session.query(Contact).filter(Contact.email == "b@example.com").update(
            {"first_name": "Bob\r\nBcc: victim@example.org"})
    with ScriptedSmtpServer() as server:
        run_id = start(kernel, list_id, add_account(kernel, server.port), subject="News")
        status = wait_run(kernel, run_id)
        assert sorted(d.rcpt_to for d in server.delivered) == ["a@example.com", "c@example.com"]
    assert status.state == "finished"
    assert status.counts == {"sent": 2, "failed": 1}
    entry = by_email(kernel, run_id)["b@example.com"]
    assert entry.outcome == "content"
    assert "line break" in entry.reply
    assert not any(b"victim" in d.raw for d in server.delivered)


def test_the_run_log_is_searchable(kernel: Kernel) -> None:
    list_id = add_contacts(kernel, people(5))
    with ScriptedSmtpServer(Script(rcpt=lambda a, _n: "550 5.1.1 unknown" if a.startswith("user4") else None)) as s:
        run_id = start(kernel, list_id, add_account(kernel, s.port))
        wait_run(kernel, run_id)
    failed = api.recipient_log(kernel.db, run_id, state="failed")
    assert [e.email for e in failed] == ["user4@example.com"]
    assert [e.email for e in api.recipient_log(kernel.db, run_id, search="5.1.1")] == ["user4@example.com"]


def test_messages_are_dkim_signed_when_the_identity_has_a_key(kernel: Kernel) -> None:
    from app.modules.delivery.dkim_keys import verify
    from app.modules.delivery.messages import CreateDkimKey, SaveIdentity

    record = kernel.bus.execute(CreateDkimKey(domain="shop.example.com", selector="pr2025"))
    assert record.dns_name == "pr2025._domainkey.shop.example.com"
    assert record.dns_value.startswith("v=DKIM1")
    identity = kernel.bus.execute(SaveIdentity(from_email="news@shop.example.com", from_name="Shop",
                                               dkim_selector="pr2025", postal_address="1 Main St"))
    list_id = add_contacts(kernel, people(3))
    with ScriptedSmtpServer() as server:
        from app.modules.delivery.messages import AudienceSpec, MessageContent, StartRun

        run_id = kernel.bus.execute(StartRun(audience=AudienceSpec(lists=(list_id,)), identity_id=identity,
                                             account_id=add_account(kernel, server.port),
                                             content=MessageContent(subject="Hi", html="<p>Hi</p>")))
        assert wait_run(kernel, run_id).counts == {"sent": 3}
        delivered = server.delivered

    def lookup(name: bytes) -> bytes | None:
        return record.dns_value.encode() if name.rstrip(b".") == record.dns_name.encode() else None

    assert all(d.raw.startswith(b"DKIM-Signature:") and verify(d.raw, lookup) for d in delivered)
    assert all(d.mail_from.endswith("@shop.example.com") for d in delivered)


def test_a_per_domain_limit_holds_the_rest_for_later(make_kernel: MakeKernel) -> None:
    kernel = make_kernel({"delivery.domain_per_minute": {"slow.example": 2}})
    list_id = add_contacts(kernel, [(f"s{i}@slow.example", "S") for i in range(5)]
                           + [(f"f{i}@fast.example", "F") for i in range(3)])
    with ScriptedSmtpServer() as server:
        run_id = start(kernel, list_id, add_account(kernel, server.port))
        wait_until(lambda: len(server.delivered) == 5)
        time.sleep(0.3)
        assert sorted(d.rcpt_to.split("@")[1] for d in server.delivered) == ["fast.example"] * 3 + ["slow.example"] * 2
    log = by_email(kernel, run_id)
    waiting = [e for e in log.values() if e.state == "deferred"]
    assert len(waiting) == 3
    assert all("per-domain limit of slow.example" in e.reply for e in waiting)
    assert all(e.attempts == 0 for e in waiting)  # waiting for the limit uses no attempt
    assert api.run_status(kernel.db, run_id).state == "sending"  # type: ignore[union-attr]


def test_an_editor_template_is_sent_with_its_links(tmp_path: Path) -> None:
    from app.kernel.boot import start_kernel
    from app.kernel.paths import AppPaths
    from app.modules.contacts.module import MODULE as CONTACTS
    from app.modules.delivery.messages import AudienceSpec, MessageContent, StartRun
    from app.modules.delivery.module import MODULE as DELIVERY
    from app.modules.editor.messages import SaveTemplate
    from app.modules.editor.module import MODULE as EDITOR
    from app.modules.stats.api import TrackingLinks
    from app.modules.stats.module import MODULE as STATS
    from tests.conftest import MemoryKeyring
    from tests.integration.delivery.conftest import FAST

    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "settings.json").write_text(json.dumps({**FAST, "stats.public_url": "https://t.example.com"}))
    kernel = start_kernel(AppPaths.inside(folder), modules=[CONTACTS, EDITOR, STATS, DELIVERY],
                          secrets_backend=MemoryKeyring(), log_to_file=False)
    try:
        html = ('<p>Hi {{ contact.first_name }} from {{ contact.city }} ({{ campaign.name }})</p>'
                '<a href="https://shop.example.com/spring">Shop</a> '
                '<a href="{{ unsubscribe_url }}">Unsubscribe</a> <a href="{{ webview_url }}">View</a>')
        document = {"sections": [{"columns": [{"blocks": [{"type": "html", "props": {"html": html}}]}]}]}
        saved = kernel.bus.execute(SaveTemplate(template_id=None, document=document, name="Spring"))
        list_id = add_contacts(kernel, people(2))
        with ScriptedSmtpServer() as server:
            run_id = kernel.bus.execute(StartRun(
                audience=AudienceSpec(lists=(list_id,)), account_id=add_account(kernel, server.port),
                content=MessageContent(subject="Spring for {{ contact.first_name }}", template_id=saved.template_id,
                                       campaign_name="Spring sale")))
            assert wait_run(kernel, run_id).counts == {"sent": 2}
            delivered = {d.rcpt_to: message_from_bytes(d.raw, policy=default_policy) for d in server.delivered}
        tracking = TrackingLinks.for_kernel(kernel)
    finally:
        kernel.close()
    message = delivered["user1@example.com"]
    assert message["subject"] == "Spring for Ann1"
    body = message.get_body(("html",)).get_content()
    assert "Hi Ann1 from Lyon (Spring sale)" in body
    assert 'href="https://t.example.com/u/' in body
    assert 'href="https://t.example.com/v/' in body
    assert message["List-Unsubscribe"].startswith("<https://t.example.com/u/")
    # Tracked through the stats module: the shop link is counted, the open pixel is there.
    assert "https://shop.example.com/spring" not in body
    assert 'href="https://t.example.com/c/' in body
    assert 'src="https://t.example.com/o/' in body
    # The tracking endpoint accepts the unsubscribe token: it was signed with its keys.
    token = message["List-Unsubscribe"].split(">")[0].rsplit("/", 1)[1]
    claims = tracking.verify("unsubscribe", token)
    assert claims.run_id == run_id
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message.get_body(("plain",)) is not None
    assert api.run_status(kernel.db, run_id).version_key  # type: ignore[union-attr]
