"""Bounces and complaints end to end: a real send through the built-in outbox, delivery reports written after
RFC 3464 and RFC 5965 put into a real Dovecot IMAP server on 127.0.0.1 with APPEND, then ``FetchBounces``:
the right contacts are suppressed, every message is filed, nothing is deleted, nothing is counted twice."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path

import imapclient
import pytest
from sqlalchemy import select

from app.kernel.boot import Kernel
from app.modules.contacts import api as contacts_api
from app.modules.contacts.models import Activity, Subscription, Suppression
from app.modules.delivery import api
from app.modules.delivery.messages import (
    BounceReceived,
    FetchBounces,
    FetchReport,
    ParseBounce,
    SaveBounceMailbox,
    TestBounceMailbox,
)
from app.modules.delivery.models import Bounce
from tests.integration.delivery.conftest import MakeKernel, add_contacts, start, wait_run, wait_until
from tests.integration.delivery.imap_server import ImapServer, private_dovecot
from tests.unit.delivery.bounce_samples import GARBAGE, arf, dsn, out_of_office

PROCESSED = "Postroom.Processed"  # Dovecot's maildir separator is "."; settings say "Postroom/Processed"
QUARANTINE = "Postroom.Quarantine"


@pytest.fixture
def imap(tmp_path: Path) -> Iterator[ImapServer]:
    with private_dovecot(tmp_path / "imap") as server:
        yield server


def use_mailbox(kernel: Kernel, server: ImapServer, **options: object) -> None:
    fields: dict[str, object] = {"poll_minutes": 0, **options}
    kernel.bus.execute(SaveBounceMailbox(host="127.0.0.1", port=server.port, tls="none", username=server.user,
                                         password=server.password, **fields))  # type: ignore[arg-type]


class Mailbox:
    """The test's own IMAP session: APPEND reports, read what is in each folder."""

    def __init__(self, server: ImapServer) -> None:
        self.client = imapclient.IMAPClient("127.0.0.1", port=server.port, ssl=False)
        self.client.login(server.user, server.password)

    def append(self, *raws: bytes) -> None:
        for raw in raws:
            self.client.append("INBOX", raw)

    def ids(self, folder: str, *, deleted: bool = True) -> list[str]:
        """The Message-ID (or first line) of each message in ``folder``; ``deleted=False`` hides \\Deleted."""
        if not self.client.folder_exists(folder):
            return []
        self.client.select_folder(folder, readonly=True)
        uids = self.client.search(["ALL"] if deleted else ["NOT", "DELETED"])
        found = []
        for data in self.client.fetch(uids, ["BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]", "BODY.PEEK[]"]).values():
            header = data[b"BODY[HEADER.FIELDS (MESSAGE-ID)]"].decode().strip()
            found.append(header.split(":", 1)[1].strip() if header else data[b"BODY[]"][:20].decode("latin-1"))
        self.client.unselect_folder() if self.client.has_capability("UNSELECT") else self.client.close_folder()
        return sorted(found)

    def flags(self, folder: str) -> list[tuple[bytes, ...]]:
        self.client.select_folder(folder, readonly=True)
        flags = [tuple(sorted(f)) for f in self.client.get_flags(self.client.search(["ALL"])).values()]
        self.client.close_folder()
        return flags

    def close(self) -> None:
        self.client.logout()


@pytest.fixture
def mailbox(imap: ImapServer) -> Iterator[Mailbox]:
    box = Mailbox(imap)
    yield box
    box.close()


def send(kernel: Kernel, people: list[str], list_name: str = "News") -> dict[str, tuple[str, str]]:
    """Send a campaign through the built-in outbox; returns, per address, (envelope sender, Message-ID)."""
    list_id = add_contacts(kernel, people, list_name) if list_name not in {
        item.name for item in contacts_api.lists(kernel.db)} else next(
        item.id for item in contacts_api.lists(kernel.db) if item.name == list_name)
    before = {m.id for m in api.list_outbox(kernel.db, limit=10_000)}
    run_id = start(kernel, list_id, subject="Spring news")
    assert wait_run(kernel, run_id).state == "finished"
    sent: dict[str, tuple[str, str]] = {}
    for summary in api.list_outbox(kernel.db, limit=10_000):
        if summary.id in before:
            continue
        detail = api.get_outbox_message(kernel.db, summary.id)
        assert detail is not None
        sent[summary.recipients] = (summary.mail_from, dict(detail.headers)["Message-ID"])
    assert sorted(sent) == sorted(people)
    return sent


def fetch(kernel: Kernel) -> FetchReport:
    report = kernel.bus.execute(FetchBounces())
    assert not report.error, report.error
    return report


def suppression(kernel: Kernel, email: str) -> str | None:
    with kernel.db.read() as session:
        return session.scalar(select(Suppression.reason).where(Suppression.email == email))


def test_fetch_classifies_suppresses_and_files_every_message(make_kernel: MakeKernel, imap: ImapServer,
                                                             mailbox: Mailbox) -> None:
    kernel = make_kernel()
    events: list[BounceReceived] = []
    kernel.bus.subscribe(BounceReceived, events.append)
    people = ["ann@example.com", "bob@example.com", "carol@example.com", "dave@example.com", "erin@example.com"]
    sent = send(kernel, people)
    use_mailbox(kernel, imap)

    def report(email: str, status: str, diagnostic: str, **options: str) -> bytes:
        verp, message_id = sent[email]
        return dsn(email, status, diagnostic, to=verp, original_message_id=message_id,
                   report_id=f"<report-{email}@mx.example.com>", **options)

    mailbox.append(
        report("ann@example.com", "5.1.1", "550 5.1.1 <ann@example.com>: Recipient address rejected: User unknown"),
        report("bob@example.com", "4.2.2", "452 4.2.2 Mailbox full"),
        report("carol@example.com", "5.7.1", "550 5.7.1 Service unavailable; client host blocked using Spamhaus"),
        arf("dave@example.com", original_mail_from=sent["dave@example.com"][0],
            original_message_id=sent["dave@example.com"][1]),
        report("erin@example.com", "4.4.1", "421 4.4.1 connection timed out", action="delayed"),
        out_of_office(),
        GARBAGE,
    )

    result = fetch(kernel)

    assert result == FetchReport(fetched=7, bounces=3, complaints=1, ignored=2, quarantined=1, suppressed=2)
    assert suppression(kernel, "ann@example.com") == "hard_bounce"
    assert suppression(kernel, "dave@example.com") == "complaint"
    for untouched in ("bob@example.com", "carol@example.com", "erin@example.com"):
        assert suppression(kernel, untouched) is None, untouched  # one soft bounce, about us, delayed
    with kernel.db.read() as session:
        statuses = {(row.contact_id, row.status) for row in session.scalars(select(Subscription))}
        dave = contacts_api.find_recipient(kernel.db, "dave@example.com")
        assert dave is not None
        assert {s for c, s in statuses if c == dave.contact_id} == {"unsubscribed"}  # a complaint unsubscribes
        timeline = {(a.contact_id, a.kind, a.properties.get("type")) for a in session.scalars(
            select(Activity).where(Activity.kind.in_(("bounced", "complained"))))}
    ids = {p: contacts_api.find_recipient(kernel.db, p).contact_id for p in people}  # type: ignore[union-attr]
    assert timeline == {(ids["ann@example.com"], "bounced", "hard"), (ids["bob@example.com"], "bounced", "soft"),
                        (ids["dave@example.com"], "complained", "complaint")}

    assert sorted((e.kind, e.email, e.status) for e in events) == [
        ("complaint", "dave@example.com", "abuse"), ("hard", "ann@example.com", "5.1.1"),
        ("sender", "carol@example.com", "5.7.1"), ("soft", "bob@example.com", "4.2.2")]
    log = {entry.email: entry for entry in api.recipient_log(kernel.db, events[0].run_id or 0, limit=100)}
    for event in events:  # each matched to the recipient it was sent to, by the VERP address
        assert event.recipient_id == log[event.email].id
        assert event.contact_id == ids[event.email]
        assert len(event.event_uid) > 32

    # Filed, nothing deleted: every message is in exactly one folder.
    assert mailbox.ids("INBOX") == []
    assert len(mailbox.ids(PROCESSED)) == 6
    quarantined = mailbox.ids(QUARANTINE)
    assert len(quarantined) == 1
    assert quarantined[0].endswith(" this is not an e")  # the garbage (Dovecot stores its NUL as 0x80)


def test_nothing_is_counted_twice(make_kernel: MakeKernel, imap: ImapServer, mailbox: Mailbox) -> None:
    kernel = make_kernel()
    events: list[BounceReceived] = []
    kernel.bus.subscribe(BounceReceived, events.append)
    sent = send(kernel, ["ann@example.com"])
    use_mailbox(kernel, imap)
    raw = dsn("ann@example.com", "5.1.1", "550 5.1.1 no such user", to=sent["ann@example.com"][0])
    mailbox.append(raw)
    assert fetch(kernel).bounces == 1
    assert fetch(kernel) == FetchReport()  # the mailbox has nothing unseen left

    mailbox.append(raw)  # the same report delivered again
    assert fetch(kernel) == FetchReport(fetched=1, duplicates=1)
    assert kernel.bus.execute(ParseBounce(raw=raw, apply=True)).entries[0].counted is False  # and from a file
    assert len(events) == 1
    with kernel.db.read() as session:
        assert len(session.scalars(select(Bounce)).all()) == 1
    assert len(mailbox.ids(PROCESSED)) == 2  # both copies kept


def test_soft_bounces_suppress_only_after_three_across_campaigns(make_kernel: MakeKernel, imap: ImapServer,
                                                                 mailbox: Mailbox) -> None:
    kernel = make_kernel()
    use_mailbox(kernel, imap)
    for campaign in range(3):
        verp, message_id = send(kernel, ["bob@example.com"])["bob@example.com"]
        # Two reports about the same message (two relays) are one soft bounce of that campaign.
        for relay in ("a", "b"):
            mailbox.append(dsn("bob@example.com", "5.2.2", "552 5.2.2 Mailbox full", to=verp,
                               original_message_id=message_id, report_id=f"<{campaign}{relay}@mx.example.com>"))
        result = fetch(kernel)
        assert result.bounces == 2
        assert suppression(kernel, "bob@example.com") == (None if campaign < 2 else "hard_bounce"), campaign
    assert result.suppressed == 1
    with kernel.db.read() as session:
        detail = session.scalar(select(Suppression.detail).where(Suppression.email == "bob@example.com"))
    assert detail is not None
    assert detail.startswith("3 soft bounces across campaigns")


def test_the_soft_bounce_limit_is_a_setting(make_kernel: MakeKernel, imap: ImapServer, mailbox: Mailbox) -> None:
    kernel = make_kernel({"delivery.bounces.soft_limit": 1})
    use_mailbox(kernel, imap)
    verp, _ = send(kernel, ["bob@example.com"])["bob@example.com"]
    mailbox.append(dsn("bob@example.com", "4.2.2", "452 4.2.2 Mailbox full", to=verp))
    assert fetch(kernel).suppressed == 1
    assert suppression(kernel, "bob@example.com") == "hard_bounce"


def test_matching_by_verp_then_message_id_then_address(make_kernel: MakeKernel) -> None:
    kernel = make_kernel()
    sent = send(kernel, ["ann@example.com", "bob@example.com"])
    verp, message_id = sent["ann@example.com"]

    def parse(raw: bytes) -> tuple[str, int | None, int | None]:
        entry = kernel.bus.execute(ParseBounce(raw=raw)).entries[0]
        return entry.matched_by, entry.recipient_id, entry.contact_id

    ann = {e.email: e for e in api.recipient_log(kernel.db, 1, limit=10)}["ann@example.com"]
    assert parse(dsn("ann@example.com", "5.1.1", "550", to=verp)) == ("verp", ann.id, ann.contact_id)
    # A forwarded address: the report names another recipient, the VERP address still says whom we mailed.
    assert parse(dsn("ann@forwarded.example", "5.1.1", "550", to=verp, original_recipient="ann@forwarded.example")
                 )[:2] == ("verp", ann.id)
    forged = verp.replace(verp.split("-")[-1].split("@")[0], "aaaaaaaa")
    assert parse(dsn("ann@example.com", "5.1.1", "550", to=forged, original_message_id=message_id)) == (
        "message-id", ann.id, ann.contact_id)
    assert parse(dsn("ann@example.com", "5.1.1", "550", to="postmaster@example.org",
                     original_message_id="<1.999.0000@example.org>")) == ("address", None, ann.contact_id)
    assert parse(dsn("stranger@example.net", "5.1.1", "550")) == ("", None, None)
    # Parsing alone changes nothing.
    assert suppression(kernel, "ann@example.com") is None


def test_a_redacted_complaint_is_matched_by_what_it_quotes(make_kernel: MakeKernel, imap: ImapServer,
                                                           mailbox: Mailbox) -> None:
    kernel = make_kernel()
    sent = send(kernel, ["dave@example.com"])
    use_mailbox(kernel, imap)
    mailbox.append(arf("dave@example.com", redacted=True, original_message_id=sent["dave@example.com"][1],
                       original_mail_from="bounces@example.org"),
                   arf("nobody@example.com", redacted=True, report_id="<arf-2@mail.example.com>"))
    assert fetch(kernel) == FetchReport(fetched=2, complaints=1, suppressed=1, quarantined=1)
    assert suppression(kernel, "dave@example.com") == "complaint"
    assert mailbox.ids(QUARANTINE) == ["<arf-2@mail.example.com>"]  # whom it is about: for a person to find out


@pytest.mark.parametrize("uidplus", [True, False])
def test_without_move_messages_are_copied_then_flagged_never_lost(tmp_path: Path, make_kernel: MakeKernel,
                                                                  uidplus: bool) -> None:
    kernel = make_kernel()
    sent = send(kernel, ["ann@example.com"])
    with private_dovecot(tmp_path / "old-imap", move=False, uidplus=uidplus) as server:
        box = Mailbox(server)
        try:
            assert not box.client.has_capability("MOVE")
            use_mailbox(kernel, server)
            box.append(dsn("ann@example.com", "5.1.1", "550 5.1.1 unknown", to=sent["ann@example.com"][0]),
                       GARBAGE)
            assert fetch(kernel) == FetchReport(fetched=2, bounces=1, quarantined=1, suppressed=1)
            assert len(box.ids(PROCESSED)) == 1
            assert len(box.ids(QUARANTINE)) == 1
            if uidplus:  # only the copied messages were expunged, by UID
                assert box.ids("INBOX") == []
            else:  # no safe expunge: they stay, flagged deleted, and are not read again
                assert len(box.ids("INBOX")) == 2
                assert all(b"\\Deleted" in flags for flags in box.flags("INBOX"))
                assert fetch(kernel) == FetchReport()
        finally:
            box.close()


def test_tls_is_verified(make_kernel: MakeKernel, imap: ImapServer) -> None:
    kernel = make_kernel()
    use_mailbox(kernel, imap)
    report = kernel.bus.execute(TestBounceMailbox())
    assert report.ok, report.error
    assert any(step.startswith("INBOX: ") for step in report.steps)

    for tls, port in (("ssl", imap.tls_port), ("starttls", imap.port)):
        kernel.settings.set("delivery.bounces.cafile", "")
        kernel.bus.execute(SaveBounceMailbox(host="127.0.0.1", port=port, tls=tls, username=imap.user,
                                             poll_minutes=0))
        refused = kernel.bus.execute(TestBounceMailbox())
        assert not refused.ok
        assert "CERTIFICATE_VERIFY_FAILED" in refused.error or "certificate verify failed" in refused.error
        kernel.settings.set("delivery.bounces.cafile", str(imap.cert_file))  # a private server's certificate
        trusted = kernel.bus.execute(TestBounceMailbox())
        assert trusted.ok, trusted.error
        assert "certificate verified" in " ".join(trusted.steps)
    assert fetch(kernel) == FetchReport()


def test_wrong_settings_and_passwords_say_what_to_change(make_kernel: MakeKernel, imap: ImapServer) -> None:
    kernel = make_kernel()
    assert "no bounce mailbox is set up" in kernel.bus.execute(FetchBounces()).error
    with pytest.raises(ValueError, match=r"plain text is allowed only to 127\.0\.0\.1"):
        kernel.bus.execute(SaveBounceMailbox(host="imap.example.com", port=143, tls="none", username="u",
                                             password="p"))
    kernel.bus.execute(SaveBounceMailbox(host="127.0.0.1", port=imap.port, tls="none", username=imap.user,
                                         password="wrong", poll_minutes=0))
    report = kernel.bus.execute(FetchBounces())
    assert f"refused the login for {imap.user}" in report.error
    assert report.fetched == 0
    kernel.bus.execute(SaveBounceMailbox(host="127.0.0.1", port=1, tls="none", username=imap.user, poll_minutes=0))
    assert "cannot connect to 127.0.0.1:1" in kernel.bus.execute(TestBounceMailbox()).error


def test_a_message_that_cannot_be_acted_on_stays_for_the_next_read(make_kernel: MakeKernel, imap: ImapServer,
                                                                   mailbox: Mailbox,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    kernel = make_kernel()
    sent = send(kernel, ["ann@example.com"])
    use_mailbox(kernel, imap)
    mailbox.append(dsn("ann@example.com", "5.1.1", "550 5.1.1 unknown", to=sent["ann@example.com"][0]))
    from app.modules.delivery.bounce_processor import BounceProcessor

    def busy(_self: object, _raw: bytes) -> object:
        raise RuntimeError("database is locked")

    with monkeypatch.context() as patch:
        patch.setattr(BounceProcessor, "process", busy)
        assert fetch(kernel) == FetchReport(fetched=1, left=1)
    assert len(mailbox.ids("INBOX")) == 1  # still there, still unseen
    assert fetch(kernel).bounces == 1
    assert suppression(kernel, "ann@example.com") == "hard_bounce"


def test_the_app_reads_the_mailbox_by_itself_and_stops_at_teardown(make_kernel: MakeKernel, imap: ImapServer,
                                                                    mailbox: Mailbox) -> None:
    kernel = make_kernel({"delivery.bounces.first_read_seconds": 0}, services=True)
    events: list[BounceReceived] = []
    kernel.bus.subscribe(BounceReceived, events.append)
    mailbox.append(dsn("bob@example.com", "5.1.1", "550 5.1.1 unknown"))
    use_mailbox(kernel, imap, poll_minutes=5)  # saving it starts the poller in the running app
    wait_until(lambda: len(events) == 1)
    assert events[0].email == "bob@example.com"
    assert any(t.name == "postroom-bounces" for t in threading.enumerate())
    kernel.close()  # the poller stops with the app (the no-dangling-threads check would fail otherwise)
    assert not any(t.name == "postroom-bounces" and t.is_alive() for t in threading.enumerate())


def test_a_ten_megabyte_report_is_read_from_its_beginning(make_kernel: MakeKernel, imap: ImapServer,
                                                         mailbox: Mailbox) -> None:
    kernel = make_kernel()
    verp, message_id = send(kernel, ["ann@example.com"])["ann@example.com"]
    raw = dsn("ann@example.com", "5.1.1", "550 5.1.1 unknown", to=verp, original_message_id=message_id)
    end = raw.rindex(b"--RAA14128")
    huge = raw[:end] + (b"x" * 998 + b"\r\n") * 10_000 + raw[end:]  # the original quoted whole: 10 MB
    assert len(huge) > 10_000_000
    use_mailbox(kernel, imap)
    mailbox.append(huge)
    assert fetch(kernel) == FetchReport(fetched=1, bounces=1, suppressed=1)
    assert suppression(kernel, "ann@example.com") == "hard_bounce"
    assert len(mailbox.ids(PROCESSED)) == 1


def test_an_email_to_the_list_unsubscribe_address_unsubscribes(make_kernel: MakeKernel, imap: ImapServer,
                                                               mailbox: Mailbox) -> None:
    kernel = make_kernel()
    send(kernel, ["ann@example.com"])
    detail = api.get_outbox_message(kernel.db, api.list_outbox(kernel.db, limit=1)[0].id)
    assert detail is not None
    mailto = re.search(r"<mailto:([^?>]+)", dict(detail.headers)["List-Unsubscribe"])
    assert mailto is not None
    address = mailto[1]
    assert address.startswith("unsubscribe+")
    use_mailbox(kernel, imap)

    def request(to: str, message_id: str) -> bytes:
        return (f"From: Ann <ann@example.com>\r\nTo: {to}\r\nSubject: unsubscribe\r\nMessage-ID: {message_id}\r\n"
                "Date: Thu, 7 Jul 2026 18:00:00 +0200\r\n\r\nunsubscribe\r\n").encode()

    forged = re.sub(r"-[a-z2-7]{8}@", "-aaaaaaaa@", address)
    mailbox.append(request(address, "<u1@example.com>"), request(forged, "<u2@example.com>"))
    assert fetch(kernel) == FetchReport(fetched=2, unsubscribes=1, quarantined=1)
    assert suppression(kernel, "ann@example.com") == "unsubscribed"
    assert mailbox.ids(QUARANTINE) == ["<u2@example.com>"]
    mailbox.append(request(address, "<u1@example.com>"))
    assert fetch(kernel) == FetchReport(fetched=1, duplicates=1)
    parsed = kernel.bus.execute(ParseBounce(raw=request(address, "<u3@example.com>")))
    assert [(e.email, e.label) for e in parsed.entries] == [("ann@example.com", "unsubscribe request")]


def test_a_read_in_a_job_reports_progress_and_stops_between_chunks(make_kernel: MakeKernel, imap: ImapServer,
                                                                   mailbox: Mailbox) -> None:
    from app.kernel.events import JobProgressed
    from app.kernel.jobs import JobCancelled, JobHandle
    from app.modules.delivery.bounce_service import watched

    kernel = make_kernel()
    use_mailbox(kernel, imap)
    mailbox.append(*(dsn(f"p{n}@example.com", "5.1.1", "550 5.1.1 unknown", report_id=f"<c{n}@mx>")
                     for n in range(30)))
    progress: list[tuple[int, int | None]] = []

    class PressCancel(JobHandle):
        """The user presses Cancel (from the window's thread) once the first chunk is reported."""

        def report(self, done: int, total: int | None = None, text: str = "", *, force: bool = False) -> None:
            super().report(done, total, text, force=force)
            progress.append((done, total))
            self.cancel()

    handle = PressCancel(1, "Read the bounce mailbox", kernel.bus)
    reported: list[JobProgressed] = []
    kernel.bus.subscribe(JobProgressed, reported.append)
    with watched(handle), pytest.raises(JobCancelled):
        kernel.bus.execute(FetchBounces())
    assert progress == [(25, 30)]
    assert [(e.done, e.total, e.text) for e in reported] == [(25, 30, "25 of 30 messages")]  # status bar
    assert len(mailbox.ids(PROCESSED)) == 25  # the first chunk was acted on and filed
    assert len(mailbox.ids("INBOX")) == 5  # the rest waits, unseen
    assert fetch(kernel) == FetchReport(fetched=5, bounces=5, suppressed=5)
