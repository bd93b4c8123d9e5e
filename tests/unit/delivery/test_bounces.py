"""The bounce parser on reports written after RFC 3464 and RFC 5965: each classification, and what is no bounce."""

from __future__ import annotations

import pytest

from app.modules.delivery import bounces
from tests.unit.delivery.bounce_samples import (
    GARBAGE,
    RFC3464_MULTI,
    RFC3464_TIMEOUT,
    arf,
    dsn,
    out_of_office,
)


def only_entry(report: bounces.ParsedReport) -> bounces.ReportEntry:
    assert len(report.entries) == 1, report
    return report.entries[0]


def test_bad_mailbox_is_a_hard_bounce_with_its_fields() -> None:
    raw = dsn("bob@example.com", "5.1.1", "550 5.1.1 <bob@example.com>: Recipient address rejected: User unknown",
              to="bounces+12-345-abcdefgh@example.org", original_message_id="<12.345.f00d@example.org>")
    report = bounces.parse(raw)
    assert report.kind == bounces.DSN
    entry = only_entry(report)
    assert (entry.recipient, entry.action, entry.status, entry.kind) == ("bob@example.com", "failed", "5.1.1", "hard")
    assert "User unknown" in entry.diagnostic
    assert "bounces+12-345-abcdefgh@example.org" in report.envelope_addresses
    assert report.original_message_id == "<12.345.f00d@example.org>"
    assert report.at is not None
    assert report.at.hour == 21
    assert report.bounces == report.entries


@pytest.mark.parametrize(("status", "diagnostic", "kind"), [
    ("5.1.2", "550 5.1.2 Host unknown (Name server: nowhere.example: host not found)", "hard"),
    ("5.1.10", "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup", "hard"),
    ("5.2.1", "550 5.2.1 The email account that you tried to reach is disabled", "hard"),
    ("5.4.4", "550 5.4.4 Unable to route: no MX for example.invalid", "hard"),
    ("5.0.0", "550 user unknown", "hard"),  # a 5.0.0 says nothing: the words decide
    ("4.2.2", "452 4.2.2 Mailbox full", "soft"),
    ("5.2.2", "552 5.2.2 The email account that you tried to reach is over quota", "soft"),
    ("5.3.4", "", "sender"),
    ("4.4.7", "", "soft"),
    ("5.7.1", "550 5.7.1 Service unavailable; client host [192.0.2.1] blocked using zen.spamhaus.org", "sender"),
    ("5.7.26", "550 5.7.26 Unauthenticated email from example.org is not accepted due to its DMARC policy",
     "sender"),
    ("5.4.5", "", "sender"),
    ("5.1.8", "553 5.1.8 Sender address rejected: Domain not found", "sender"),
    ("5.0.0", "554 Message rejected: listed on a blocklist", "sender"),
    ("5.0.0", "550 'arathib@vnet.IBM.COM' is not a registered gateway user", "soft"),  # permanent, not the address
])
def test_status_codes_are_classified(status: str, diagnostic: str, kind: str) -> None:
    entry = only_entry(bounces.parse(dsn("carol@example.com", status, diagnostic)))
    assert (entry.status, entry.kind) == (status, kind)


def test_a_delayed_notice_is_not_a_bounce() -> None:
    report = bounces.parse(dsn("dave@example.com", "4.4.1", "421 4.4.1 connection timed out", action="delayed"))
    assert report.kind == bounces.DSN
    assert only_entry(report).kind == bounces.IGNORED
    assert report.bounces == ()
    assert report.note == "not a bounce: delayed"


def test_rfc3464_multi_recipient_example() -> None:
    report = bounces.parse(RFC3464_MULTI)
    found = {e.recipient: (e.action, e.status, e.kind) for e in report.entries}
    assert found == {
        "arathib@vnet.ibm.com": ("failed", "5.0.0", "soft"),
        "johnh@hpnjld.njd.hp.com": ("delayed", "4.0.0", "ignored"),
        "wsnell@sdcc13.ucsd.edu": ("failed", "5.0.0", "hard"),
    }
    assert "registered gateway user" in report.entries[0].diagnostic  # a folded field, unfolded


def test_rfc3464_failed_after_days_of_timeouts_is_soft() -> None:
    entry = only_entry(bounces.parse(RFC3464_TIMEOUT))
    assert (entry.recipient, entry.action, entry.status, entry.kind) == (
        "louisl@larry.slip.umd.edu", "failed", "4.0.0", "soft")


def test_original_recipient_wins_over_final_recipient() -> None:
    """A forwarded address bounced further on: the address we mailed is the one the report is about."""
    entry = only_entry(bounces.parse(dsn("old@forwarded.example", "5.1.1", "550 5.1.1 no such user",
                                         original_recipient="ann@example.com")))
    assert (entry.recipient, entry.final_recipient) == ("ann@example.com", "old@forwarded.example")


def test_return_path_of_the_quoted_original_is_an_envelope_candidate() -> None:
    report = bounces.parse(dsn("bob@example.com", "5.1.1", "550 5.1.1 unknown", to="postmaster@example.org",
                               original_return_path="bounces+1-2-aaaaaaaa@example.org"))
    assert "bounces+1-2-aaaaaaaa@example.org" in report.envelope_addresses


def test_arf_complaint_after_rfc5965() -> None:
    report = bounces.parse(arf("user@example.com", original_message_id="<3.4.beef@example.org>",
                               original_mail_from="bounces+3-4-bbbbbbbb@example.org"))
    assert report.kind == bounces.FEEDBACK
    assert report.feedback_type == "abuse"
    entry = only_entry(report)  # Original-Rcpt-To and Removal-Recipient name the same address once
    assert (entry.recipient, entry.kind, entry.status) == ("user@example.com", "complaint", "abuse")
    assert report.original_message_id == "<3.4.beef@example.org>"
    assert "bounces+3-4-bbbbbbbb@example.org" in report.envelope_addresses
    assert report.at is not None
    assert report.at.year == 2026


def test_a_redacted_complaint_still_carries_what_matches_it() -> None:
    report = bounces.parse(arf("user@example.com", redacted=True, original_message_id="<5.6.cafe@example.org>"))
    entry = only_entry(report)
    assert (entry.recipient, entry.kind) == ("", "complaint")
    assert report.original_message_id == "<5.6.cafe@example.org>"


@pytest.mark.parametrize("feedback_type", ["not-spam", "auth-failure"])
def test_feedback_that_is_no_complaint_is_not_a_bounce(feedback_type: str) -> None:
    report = bounces.parse(arf("user@example.com", feedback_type=feedback_type))
    assert report.bounces == ()
    assert report.note == f"not a complaint: feedback type {feedback_type}"


@pytest.mark.parametrize(("headers", "subject"), [
    ("Auto-Submitted: auto-replied\n", "Re: Spring news"),
    ("X-Autoreply: yes\n", "Re: Spring news"),
    ("", "Out of office: Spring news"),
    ("", "Automatic reply: Spring news"),
])
def test_auto_replies_are_not_bounces(headers: str, subject: str) -> None:
    report = bounces.parse(out_of_office(headers=headers, subject=subject))
    assert report.kind == bounces.AUTOREPLY
    assert report.entries == ()
    assert report.note.startswith("an automatic")


def test_a_person_writing_to_the_bounce_address_is_for_a_person_to_read() -> None:
    report = bounces.parse(out_of_office(headers="", subject="Question about your newsletter"))
    assert report.kind == bounces.UNREADABLE
    assert "neither a delivery report" in report.note


@pytest.mark.parametrize("raw", [
    GARBAGE,
    b"",
    b"Content-Type: multipart/report; report-type=delivery-status; boundary=x\r\n\r\n--x\r\n"
    b"Content-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; a\r\n\r\n--x--\r\n",  # no recipient
    b"Content-Type: multipart/report; report-type=feedback-report; boundary=x\r\n\r\n--x\r\n"
    b"Content-Type: message/feedback-report\r\n\r\nUser-Agent: x\r\n\r\n--x--\r\n",  # no feedback type
    b"From: a@b\r\nContent-Type: multipart/report; boundary=\"never closed\r\n\r\n--never",
])
def test_garbage_is_unreadable_and_never_raises(raw: bytes) -> None:
    report = bounces.parse(raw)
    assert report.kind == bounces.UNREADABLE
    assert report.note
    assert len(report.report_key) == 64


def test_the_same_report_has_the_same_key_and_another_report_another() -> None:
    first = dsn("bob@example.com", "5.1.1", "550 5.1.1 unknown", report_id="<r1@mx>")
    assert bounces.parse(first).report_key == bounces.parse(first).report_key
    # The key is the report's Message-ID: a copy with other trace headers is still the same report.
    assert bounces.parse(b"Received: from x by y\r\n" + first).report_key == bounces.parse(first).report_key
    other = dsn("bob@example.com", "5.1.1", "550 5.1.1 unknown", report_id="<r2@mx>")
    assert bounces.parse(other).report_key != bounces.parse(first).report_key
    assert bounces.parse(GARBAGE).report_key != bounces.parse(GARBAGE + b"!").report_key


def test_global_delivery_status_in_utf8_is_read() -> None:
    raw = ("From: MAILER-DAEMON@mx.example\r\nTo: bounces@example.org\r\nMIME-Version: 1.0\r\n"
           "Content-Type: multipart/report; report-type=global-delivery-status; boundary=b\r\n\r\n"
           "--b\r\nContent-Type: text/plain\r\n\r\nfailed\r\n"
           "--b\r\nContent-Type: message/global-delivery-status\r\n\r\n"
           "Reporting-MTA: dns; mx.example\r\n\r\n"
           "Final-Recipient: utf-8; jos\u00e9@example.com\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n--b--\r\n")
    entry = only_entry(bounces.parse(raw.encode("utf-8")))
    assert (entry.recipient, entry.kind) == ("jos\u00e9@example.com", "hard")


def test_a_huge_diagnostic_is_cut() -> None:
    entry = only_entry(bounces.parse(dsn("bob@example.com", "5.1.1", "550 5.1.1 " + "x" * 100_000)))
    assert entry.kind == "hard"
    assert len(entry.diagnostic) <= bounces.MAX_FIELD
