"""Preflight rules without a network: reading SPF, DKIM and DMARC records, judging link forms, collecting the
links of a message, and reading SpamAssassin's report."""

from __future__ import annotations

import pytest

from app.modules.delivery.messages import PreflightFinding, PreflightReport
from app.modules.delivery.preflight import worst
from app.modules.delivery.preflight_dns import (
    DkimExpectation,
    DnsSettings,
    Lookup,
    TxtReader,
    dkim_finding,
    dmarc_finding,
    organisational_domain,
    spf_covers,
    spf_finding,
)
from app.modules.delivery.preflight_links import LinkSettings, check_links, collect_links, form_problem
from app.modules.delivery.preflight_spam import parse_report

# Output of `spamassassin -t -L` (4.0.1) for a GTUBE message, cut to the parts the parser reads.
SPAMASSASSIN_OUTPUT = """X-Spam-Checker-Version: SpamAssassin 4.0.1 (2024-03-25) on vm
X-Spam-Flag: YES
X-Spam-Level: **************************************************
X-Spam-Status: Yes, score=1002.3 required=5.0 tests=GTUBE,HTML_MESSAGE,
\tMISSING_MID,NO_RECEIVED,NO_RELAYS autolearn=no autolearn_force=no
\tversion=4.0.1
Subject: Spring

Content analysis details:   (1002.3 points, 5.0 required)

 pts rule name              description
---- ---------------------- --------------------------------------------------
1000 GTUBE                  BODY: Generic Test for Unsolicited Bulk Email
 0.0 HTML_MESSAGE           BODY: HTML included in message
 2.3 MISSING_MID            Missing Message-Id: header
-0.0 NO_RECEIVED            Informational: message has no Received headers
-0.0 NO_RELAYS              Informational: message was not relayed via SMTP

"""


def test_spamassassins_report_gives_score_and_rules_by_weight() -> None:
    report = parse_report(SPAMASSASSIN_OUTPUT)
    assert report is not None
    assert report.score == 1002.3
    assert report.required == 5.0
    assert [r[1] for r in report.rules[:3]] == ["GTUBE", "MISSING_MID", "HTML_MESSAGE"]
    assert report.rules[0] == (1000.0, "GTUBE", "BODY: Generic Test for Unsolicited Bulk Email")
    assert parse_report("no headers here") is None


@pytest.mark.parametrize(("record", "host", "ips", "covering"), [
    ("v=spf1 include:_spf.google.com ~all", "smtp.gmail.com", (), "include:_spf.google.com"),
    ("v=spf1 include:mailgun.org -all", "smtp.eu.mailgun.org", (), "include:mailgun.org"),
    ("v=spf1 include:amazonses.com -all", "email-smtp.eu-west-1.amazonaws.com", (), "include:amazonses.com"),
    ("v=spf1 ip4:203.0.113.0/24 -all", "mail.shop.test", ("203.0.113.7",), "ip4:203.0.113.0/24"),
    ("v=spf1 ip6:2001:db8::/32 -all", "mail.shop.test", ("2001:db8::25",), "ip6:2001:db8::/32"),
    ("v=spf1 redirect=_spf.provider.test", "smtp.provider.test", (), "redirect=_spf.provider.test"),
    ("v=spf1 -include:mailgun.org -all", "smtp.mailgun.org", (), ""),  # a "fail" include authorises nobody
    ("v=spf1 include:sendgrid.net -all", "smtp.gmail.com", (), ""),
    ("v=spf1 ip4:198.51.100.1 -all", "mail.shop.test", ("203.0.113.7",), ""),
])
def test_spf_judges_whether_the_smtp_server_is_authorised(record: str, host: str, ips: tuple[str, ...],
                                                          covering: str) -> None:
    assert spf_covers(record, host, ips) == covering


def test_spf_findings() -> None:
    present = spf_finding("shop.test", Lookup("found", ("v=spf1 include:sendgrid.net -all",)), "smtp.gmail.com", ())
    assert present.level == "ok"
    assert "cannot tell whether it covers smtp.gmail.com" in present.message
    assert spf_finding("shop.test", Lookup("found", ("v=spf10 nonsense",)), "", ()).level == "warning"
    assert spf_finding("shop.test", Lookup("unknown", reason="offline"), "", ()).level == "unknown"
    assert spf_finding("shop.test", Lookup("found", ("v=spf1 mx -all",)), "", ()).message == (
        "SPF record of shop.test is present.")


def test_dkim_compares_the_key_not_its_spelling() -> None:
    stored = "v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"
    expected = DkimExpectation(selector="pr", public_key=stored)
    spaced = "v=DKIM1;  k=rsa;\tp=MIIBIjANBgkqhkiG9w0B AQEFAAOCAQ8AMIIBCgKCAQEA"  # as some DNS panels show it
    assert dkim_finding("shop.test", expected, Lookup("found", (spaced,))).level == "ok"
    other = dkim_finding("shop.test", expected, Lookup("found", ("v=DKIM1; k=rsa; p=QUJDRA==",)))
    assert other.level == "error"
    assert stored in other.detail
    revoked = dkim_finding("shop.test", expected, Lookup("found", ("v=DKIM1; p=",)))
    assert revoked.level == "error"
    assert "revoked" in revoked.message
    assert dkim_finding("shop.test", expected, Lookup("missing")).level == "warning"
    assert dkim_finding("shop.test", expected, Lookup("unknown", reason="x")).level == "unknown"


def test_dmarc_findings() -> None:
    assert dmarc_finding("shop.test", "_dmarc.shop.test", Lookup("missing")).level == "warning"
    assert dmarc_finding("shop.test", "_dmarc.shop.test",
                         Lookup("found", ("v=spf1 -all",))).level == "warning"  # not a DMARC record
    two = dmarc_finding("shop.test", "_dmarc.shop.test", Lookup("found", ("v=DMARC1; p=none", "v=DMARC1; p=reject")))
    assert two.level == "warning"
    assert "2 DMARC records" in two.message
    assert dmarc_finding("shop.test", "_dmarc.shop.test", Lookup("found", ("v=DMARC1; rua=mailto:a@b.c",))
                         ).level == "warning"  # no policy
    assert dmarc_finding("shop.test", "_dmarc.shop.test", Lookup("found", ("v=DMARC1; p=quarantine",))
                         ).level == "ok"


def test_organisational_domain() -> None:
    assert organisational_domain("news.mail.shop.test") == "shop.test"
    assert organisational_domain("shop.test") == "shop.test"


def test_no_resolver_configuration_is_unknown_not_a_crash() -> None:
    reader = TxtReader(DnsSettings(nameservers=("not an address",)))
    assert reader.query("shop.test").status == "unknown"


@pytest.mark.parametrize(("link", "problem"), [
    ("https://shop.example.com/spring?x=1", ""),
    ("http://127.0.0.1:8080/x", ""),
    ("mailto:help@example.com?subject=Hi", ""),
    ("mailto:", "has no address"),
    ("mailto:help@", "is not a valid address"),
    ("www.shop.example.com", "has no http:// or https:// in front"),
    ("javascript:alert(1)", "is not a web (http/https) or mailto link"),
    ("https://shop example.com/", "contains spaces"),
    ("https:///path", "has no valid site name"),
    ("https://shop.example.com:99999/", "is not a valid web address"),
    ("https://{{ contact.site }}/x", "still holds a merge tag"),
])
def test_the_form_of_a_link(link: str, problem: str) -> None:
    assert form_problem(link).startswith(problem) if problem else form_problem(link) == ""


def test_links_are_collected_once_without_the_messages_own() -> None:
    html = ('<a href="https://a.example.com/x">A</a><img src="https://cdn.example.com/p.png">'
            '<a href="https://a.example.com/x">again</a><a href="https://t.example.com/u/TOKEN">Unsubscribe</a>'
            '<img src="cid:logo.png"><a href="#top">top</a><td background="https://cdn.example.com/bg.png">'
            '<a href="https://a.example.com/?a=1&amp;b=2">amp</a>')
    assert collect_links(html, skip=["https://t.example.com/u/TOKEN"]) == [
        "https://a.example.com/x", "https://cdn.example.com/p.png", "https://cdn.example.com/bg.png",
        "https://a.example.com/?a=1&b=2"]


def test_offline_link_check_judges_the_form_only() -> None:
    findings = check_links(["https://a.example.com/", "mailto:nobody"], settings=LinkSettings(), online=False)
    assert [(f.level, f.check) for f in findings] == [("warning", "links"), ("unknown", "links")]


def test_the_worst_level_of_a_report() -> None:
    def report(*levels: str) -> PreflightReport:
        return PreflightReport(findings=tuple(PreflightFinding(level=level, check="size", message="m")
                                              for level in levels))

    assert worst(report("ok", "unknown", "warning")) == "warning"
    assert worst(report("ok", "error", "warning")) == "error"
    assert worst(report()) == "ok"
    assert report("warning").ok
    assert not report("error", "ok").ok
