"""Preflight on a real kernel: DNS answers from a real DNS server on 127.0.0.1, links against a real HTTP server,
the message built by the sender's own code, SpamAssassin when installed."""

from __future__ import annotations

import time
from typing import Any

from app.kernel.boot import Kernel
from app.modules.delivery.messages import (
    AudienceSpec,
    CreateDkimKey,
    MessageContent,
    PreflightFinding,
    PreflightReport,
    RunPreflight,
    SaveAccount,
    SaveIdentity,
)
from tests.integration.delivery.conftest import MakeKernel, add_contacts
from tests.integration.delivery.preflight_servers import DnsServer, http_server

DOMAIN = "shop.test"
GOOD_HTML = ("<p>Hello {{ first_name }}</p><p>{{ sender.postal_address }}</p>"
             '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>')
SPF = "v=spf1 include:mail.provider.test -all"
DMARC = "v=DMARC1; p=reject; rua=mailto:dmarc@shop.test"
NO_SPAMASSASSIN = {"delivery.preflight.spamassassin": "postroom-test-no-such-spamassassin"}


def settings_for(dns: DnsServer | None = None, **extra: Any) -> dict[str, Any]:
    values: dict[str, Any] = {**NO_SPAMASSASSIN, "delivery.preflight.dns_seconds": 2.0,
                              "delivery.preflight.link_timeout_seconds": 3.0}
    if dns is not None:
        values["delivery.preflight.nameservers"] = ["127.0.0.1"]
        values["delivery.preflight.dns_port"] = dns.port
    return {**values, **extra}


def sender(kernel: Kernel, *, postal: str = "1 Rue de la Paix, 75002 Paris", selector: str = "") -> tuple[int, int]:
    """(account id, identity id): a real provider's account (not the built-in outbox) and an identity on DOMAIN."""
    account = kernel.bus.execute(SaveAccount(name="Provider", host="smtp.provider.test", port=587, tls="starttls"))
    identity = kernel.bus.execute(SaveIdentity(from_email=f"news@{DOMAIN}", from_name="Shop", postal_address=postal,
                                               dkim_selector=selector))
    return int(account), int(identity)


def preflight(kernel: Kernel, account_identity: tuple[int, int], html: str = GOOD_HTML, *,
              audience: AudienceSpec | None = None, **options: Any) -> PreflightReport:
    account_id, identity_id = account_identity
    content = options.pop("content", None) or MessageContent(subject="Spring news", html=html)
    return kernel.bus.execute(RunPreflight(content=content, audience=audience, account_id=account_id,
                                           identity_id=identity_id, **options))


def of(report: PreflightReport, check: str) -> list[PreflightFinding]:
    return [f for f in report.findings if f.check == check]


def only(report: PreflightReport, check: str) -> PreflightFinding:
    found = of(report, check)
    assert len(found) == 1, found
    return found[0]


# -- DNS ----------------------------------------------------------------------------------------------


def test_spf_dkim_and_dmarc_that_are_right_pass(make_kernel: MakeKernel) -> None:
    with DnsServer() as dns:
        kernel = make_kernel(settings_for(dns))
        key = kernel.bus.execute(CreateDkimKey(domain=DOMAIN, selector="pr1"))
        dns.txt.update({DOMAIN: ["google-site-verification=abc", SPF], f"_dmarc.{DOMAIN}": [DMARC],
                        key.dns_name: [key.dns_value]})
        report = preflight(kernel, sender(kernel, selector="pr1"), check_links=False)
    assert only(report, "spf").level == "ok"
    assert "authorises your SMTP server smtp.provider.test" in only(report, "spf").message
    assert only(report, "dkim").level == "ok"
    assert "matches" in only(report, "dkim").message
    assert only(report, "dmarc").level == "ok"
    assert "p=reject" in only(report, "dmarc").message
    assert report.ok
    assert not report.warnings, report.warnings
    assert (key.dns_name, "TXT") in dns.queries


def test_missing_spf_and_dmarc_and_a_dkim_record_not_published_are_warnings(make_kernel: MakeKernel) -> None:
    with DnsServer(txt={"other.test": ["v=spf1 -all"]}) as dns:
        kernel = make_kernel(settings_for(dns))
        kernel.bus.execute(CreateDkimKey(domain=DOMAIN, selector="pr1"))
        report = preflight(kernel, sender(kernel, selector="pr1"), check_links=False)
    assert only(report, "spf").level == "warning"
    assert "no SPF record" in only(report, "spf").message
    assert only(report, "dmarc").level == "warning"
    assert "_dmarc.shop.test" in only(report, "dmarc").message
    assert only(report, "dkim").level == "warning"
    assert "pr1._domainkey.shop.test has no DKIM record" in only(report, "dkim").message
    assert "v=DKIM1; k=rsa; p=" in only(report, "dkim").detail  # the record to publish
    assert report.ok  # warnings only


def test_a_published_dkim_key_that_differs_from_ours_is_an_error(make_kernel: MakeKernel) -> None:
    with DnsServer() as dns:
        kernel = make_kernel(settings_for(dns))
        old = kernel.bus.execute(CreateDkimKey(domain=DOMAIN, selector="pr1"))
        kernel.bus.execute(CreateDkimKey(domain=DOMAIN, selector="pr1"))  # a new key; DNS still has the old one
        dns.txt.update({DOMAIN: [SPF], f"_dmarc.{DOMAIN}": [DMARC], old.dns_name: [old.dns_value]})
        report = preflight(kernel, sender(kernel, selector="pr1"), check_links=False)
    assert only(report, "dkim").level == "error"
    assert "holds a different key" in only(report, "dkim").message
    assert not report.ok


def test_no_dkim_selector_on_the_identity_says_messages_are_unsigned(make_kernel: MakeKernel) -> None:
    with DnsServer(txt={DOMAIN: [SPF], f"_dmarc.{DOMAIN}": [DMARC]}) as dns:
        kernel = make_kernel(settings_for(dns))
        kernel.bus.execute(CreateDkimKey(domain=DOMAIN, selector="pr1"))
        report = preflight(kernel, sender(kernel), check_links=False)
    finding = only(report, "dkim")
    assert finding.level == "warning"
    assert "not DKIM-signed" in finding.message
    assert "--dkim-selector pr1" in finding.message


def test_dmarc_p_none_passes_and_a_subdomain_uses_its_parent_record(make_kernel: MakeKernel) -> None:
    with DnsServer(txt={DOMAIN: [SPF], f"_dmarc.{DOMAIN}": ["v=DMARC1; p=none"]}) as dns:
        kernel = make_kernel(settings_for(dns))
        report = preflight(kernel, sender(kernel), check_links=False)
        assert only(report, "dmarc").level == "ok"
        assert "p=none" in only(report, "dmarc").message
        identity = kernel.bus.execute(SaveIdentity(from_email=f"news@mail.{DOMAIN}", postal_address="1 Main St"))
        dns.txt[f"mail.{DOMAIN}"] = [SPF]
        dns.txt[f"_dmarc.{DOMAIN}"] = ["v=DMARC1; p=reject; sp=quarantine"]
        sub = preflight(kernel, (sender_account(kernel), int(identity)), check_links=False)
    assert only(sub, "dmarc").level == "ok"
    assert "p=quarantine" in only(sub, "dmarc").message  # sp= applies to subdomains
    assert (f"_dmarc.mail.{DOMAIN}", "TXT") in dns.queries


def sender_account(kernel: Kernel) -> int:
    from app.modules.delivery import api

    return next(a.id for a in api.accounts(kernel.db) if a.name == "Provider")


def test_spf_that_lets_anyone_send_is_a_warning_and_two_records_too(make_kernel: MakeKernel) -> None:
    with DnsServer(txt={DOMAIN: ["v=spf1 +all"], f"_dmarc.{DOMAIN}": [DMARC]}) as dns:
        kernel = make_kernel(settings_for(dns))
        ids = sender(kernel)
        assert "+all" in only(preflight(kernel, ids, check_links=False), "spf").message
        dns.txt[DOMAIN] = ["v=spf1 include:a.test -all", "v=spf1 include:b.test -all"]
        assert "2 SPF records" in only(preflight(kernel, ids, check_links=False), "spf").message


def test_spf_naming_the_smtp_servers_address_is_recognised(make_kernel: MakeKernel) -> None:
    with DnsServer(txt={DOMAIN: ["v=spf1 ip4:192.0.2.0/24 -all"]}, a={"smtp.provider.test": ["192.0.2.25"]}) as dns:
        kernel = make_kernel(settings_for(dns))
        finding = only(preflight(kernel, sender(kernel), check_links=False), "spf")
    assert finding.level == "ok"
    assert "(ip4:192.0.2.0/24)" in finding.message


def test_a_dns_server_that_never_answers_gives_unknown_within_the_budget(make_kernel: MakeKernel) -> None:
    with DnsServer(silent=True) as dns:
        kernel = make_kernel(settings_for(dns, **{"delivery.preflight.dns_seconds": 1.0}))
        kernel.bus.execute(CreateDkimKey(domain=DOMAIN, selector="pr1"))
        ids = sender(kernel, selector="pr1")
        started = time.monotonic()
        report = preflight(kernel, ids, check_links=False)
        elapsed = time.monotonic() - started
    for check in ("spf", "dkim", "dmarc"):
        assert only(report, check).level == "unknown", only(report, check)
        assert "could not be checked" in only(report, check).message
    assert report.ok
    assert dns.queries  # it was asked, and never answered
    # Not a speed test: without the budget the three lookups take 5 s each (dnspython's default lifetime), 15 s
    # in all; the bound only tells a run that kept to its budget from one that did not, with room for a busy CI.
    assert elapsed < 10


def test_offline_skips_dns_and_links(make_kernel: MakeKernel) -> None:
    with DnsServer() as dns:
        kernel = make_kernel(settings_for(dns))
        report = preflight(kernel, sender(kernel), GOOD_HTML + '<a href="https://shop.test/x">x</a>', offline=True)
    assert not dns.queries
    assert {f.check for f in report.findings if f.level == "unknown"} >= {"spf", "dmarc", "links"}


# -- the message ------------------------------------------------------------------------------------


def test_a_message_without_unsubscribe_link_is_an_error(make_kernel: MakeKernel) -> None:
    kernel = make_kernel(settings_for())
    report = preflight(kernel, sender(kernel), "<p>Hi {{ first_name }}</p><p>{{ sender.postal_address }}</p>",
                       offline=True)
    assert only(report, "unsubscribe").level == "error"
    assert "no unsubscribe link" in only(report, "unsubscribe").message
    assert not report.ok
    assert report.errors == (only(report, "unsubscribe"),)


def test_the_postal_address_must_be_shown_and_known(make_kernel: MakeKernel) -> None:
    kernel = make_kernel(settings_for())
    ids = sender(kernel)
    written_out = preflight(kernel, ids, '<a href="{{ unsubscribe_url }}">Unsubscribe</a> 1 Rue de la Paix, 75002 '
                                         "Paris", offline=True)
    assert only(written_out, "postal_address").level == "ok"
    missing = preflight(kernel, ids, '<a href="{{ unsubscribe_url }}">Unsubscribe</a>', offline=True)
    assert only(missing, "postal_address").level == "error"
    no_address = kernel.bus.execute(SaveIdentity(from_email=f"info@{DOMAIN}", postal_address=""))
    empty = preflight(kernel, (ids[0], int(no_address)), offline=True)
    assert only(empty, "postal_address").level == "error"
    assert "has none" in only(empty, "postal_address").message


def test_with_the_built_in_outbox_legal_errors_only_warn(make_kernel: MakeKernel) -> None:
    kernel = make_kernel(settings_for())
    report = kernel.bus.execute(RunPreflight(content=MessageContent(subject="Hi", html="<p>Hi</p>"), offline=True))
    assert only(report, "account").level == "ok"
    assert "built-in outbox" in only(report, "account").message
    assert only(report, "unsubscribe").level == "warning"
    assert "would block a real send" in only(report, "unsubscribe").message
    assert report.ok


def test_a_message_over_102_kb_warns_that_gmail_clips_it(make_kernel: MakeKernel) -> None:
    kernel = make_kernel(settings_for())
    ids = sender(kernel)
    small = preflight(kernel, ids, offline=True)
    assert only(small, "size").level == "ok"
    big = preflight(kernel, ids, GOOD_HTML + "<p>" + "Spring offers for everyone. " * 4000 + "</p>", offline=True)
    finding = only(big, "size")
    assert finding.level == "warning"
    assert "Gmail clips" in finding.message
    assert big.ok  # a warning, not an error


def test_a_template_that_cannot_be_filled_in_for_a_real_contact_is_an_error(make_kernel: MakeKernel) -> None:
    kernel = make_kernel(settings_for())
    list_id = add_contacts(kernel, [("ann@example.com", "Ann")])
    ids = sender(kernel)
    report = preflight(kernel, ids, GOOD_HTML + "{{ contact.plan }}", audience=AudienceSpec(lists=(list_id,)),
                       offline=True)
    finding = only(report, "template")
    assert finding.level == "error"
    assert "ann@example.com" in finding.message
    broken = preflight(kernel, ids, GOOD_HTML + "{% if %}", offline=True)
    assert only(broken, "template").level == "error"
    assert "syntax error" in only(broken, "template").message


def test_an_empty_audience_and_a_switched_off_account_are_errors(make_kernel: MakeKernel) -> None:
    kernel = make_kernel(settings_for())
    empty_list = add_contacts(kernel, [], list_name="Nobody")
    account, identity = sender(kernel)
    kernel.bus.execute(SaveAccount(name="Provider", host="smtp.provider.test", port=587, tls="starttls",
                                   enabled=False, account_id=account))
    report = preflight(kernel, (account, identity), audience=AudienceSpec(lists=(empty_list,)), offline=True)
    assert only(report, "audience").level == "error"
    assert "audience is empty" in only(report, "audience").message
    assert only(report, "account").level == "error"
    assert "switched off" in only(report, "account").message
    full = add_contacts(kernel, [("bob@example.com", "Bob"), ("cy@example.com", "Cy")], list_name="Full")
    counted = preflight(kernel, (account, identity), audience=AudienceSpec(lists=(full,)), offline=True)
    assert only(counted, "audience").level == "ok"
    assert "2 recipient(s)" in only(counted, "audience").message


def test_every_variant_is_checked(make_kernel: MakeKernel) -> None:
    kernel = make_kernel(settings_for())
    base = MessageContent(subject="Base {% if %}", html=GOOD_HTML)  # never sent when there are variants
    first = MessageContent(subject="A", html=GOOD_HTML)
    second = MessageContent(subject="B", html="<p>{{ sender.postal_address }}</p>")
    report = preflight(kernel, sender(kernel), content=base, variants=(first, second), offline=True)
    unsubscribe = of(report, "unsubscribe")
    assert [f.level for f in unsubscribe] == ["ok", "error"]
    assert "variant B" in unsubscribe[1].message
    assert "variant A" in unsubscribe[0].message
    assert len(of(report, "size")) == 2
    assert not of(report, "template")  # the base content was not checked


def test_an_editor_template_is_checked_through_the_editors_api(tmp_path: Any) -> None:
    import json

    from app.kernel.boot import start_kernel
    from app.kernel.paths import AppPaths
    from app.modules.contacts.module import MODULE as CONTACTS
    from app.modules.delivery.module import MODULE as DELIVERY
    from app.modules.editor.messages import SaveTemplate
    from app.modules.editor.module import MODULE as EDITOR
    from tests.conftest import MemoryKeyring

    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "settings.json").write_text(json.dumps(settings_for()))
    kernel = start_kernel(AppPaths.inside(folder), modules=[CONTACTS, EDITOR, DELIVERY],
                          secrets_backend=MemoryKeyring(), log_to_file=False)
    try:
        def template(html: str, name: str) -> int:
            document = {"sections": [{"columns": [{"blocks": [{"type": "html", "props": {"html": html}}]}]}]}
            return int(kernel.bus.execute(SaveTemplate(template_id=None, document=document, name=name)).template_id)

        ids = sender(kernel)
        good = template('<p>Hi {{ contact.first_name }}</p><a href="{{ unsubscribe_url }}">Unsubscribe</a>'
                        "<p>{{ sender.postal_address }}</p>", "Good")
        bare = template("<p>Hi {{ contact.first_name }}</p>", "Bare")
        ok = preflight(kernel, ids, content=MessageContent(subject="Hi", template_id=good), offline=True)
        bad = preflight(kernel, ids, content=MessageContent(subject="Hi", template_id=bare), offline=True)
        gone = preflight(kernel, ids, content=MessageContent(subject="Hi", template_id=999), offline=True)
    finally:
        kernel.close()
    assert only(ok, "unsubscribe").level == "ok"
    assert only(ok, "postal_address").level == "ok"
    assert ok.ok, ok.errors
    assert only(bad, "unsubscribe").level == "error"
    assert only(bad, "postal_address").level == "error"
    assert only(gone, "template").level == "error"


# -- links --------------------------------------------------------------------------------------------


def test_broken_links_are_named_and_working_ones_pass(make_kernel: MakeKernel) -> None:
    with DnsServer() as dns, http_server({"/ok": 200, "/shop": 200}, no_head={"/shop"}) as (base, seen):
        kernel = make_kernel(settings_for(dns))
        html = (GOOD_HTML + f'<a href="{base}/ok">ok</a> <a href="{base}/missing">gone</a>'
                f'<a href="{base}/shop">shop</a> <img src="{base}/ok"> <a href="mailto:help@shop.example.com">help</a>'
                '<a href="mailto:not an address">bad</a> <a href="www.shop.test/x">no scheme</a>'
                '<a href="#top">top</a>')
        report = preflight(kernel, sender(kernel), html)
    links = of(report, "links")
    warnings = [f for f in links if f.level == "warning"]
    assert sorted(f.detail for f in warnings) == sorted([f"{base}/missing", "mailto:not an address",
                                                         "www.shop.test/x"])
    assert any("answers 404" in f.message for f in warnings)
    assert any(f.level == "ok" and "2 other web link(s) answer" in f.message for f in links)
    assert ("HEAD", "/ok") in seen
    assert ("GET", "/shop") in seen  # HEAD refused with 405: asked again with GET
    assert len([p for _m, p in seen if p == "/ok"]) == 1  # a link used twice is checked once
    assert report.ok  # broken links warn


def test_a_link_to_a_site_that_does_not_exist_warns(make_kernel: MakeKernel) -> None:
    with DnsServer() as dns:
        kernel = make_kernel(settings_for(dns))
        report = preflight(kernel, sender(kernel), GOOD_HTML + '<a href="http://gone.shop.test/x">x</a>')
    assert ("gone.shop.test", "A") in dns.queries  # asked the preflight's resolver (NXDOMAIN), not the internet
    finding = next(f for f in of(report, "links") if f.level != "ok")
    assert finding.level == "warning", finding
    assert "does not exist" in finding.message


# -- SpamAssassin ---------------------------------------------------------------------------------------


def test_spamassassin_scores_the_built_message(make_kernel: MakeKernel) -> None:
    import shutil

    assert shutil.which("spamassassin"), "install Debian's spamassassin (it is in .ci/run)"
    kernel = make_kernel(settings_for(**{"delivery.preflight.spamassassin": "spamassassin"}))
    gtube = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
    report = preflight(kernel, sender(kernel), GOOD_HTML + f"<p>{gtube}</p>", offline=True)
    finding = only(report, "spamassassin")
    assert finding.level == "warning", finding
    assert "GTUBE" in finding.message
    assert "5 or more counts as spam" in finding.message


def test_without_spamassassin_the_score_is_unknown(make_kernel: MakeKernel) -> None:
    kernel = make_kernel(settings_for())
    finding = only(preflight(kernel, sender(kernel), offline=True), "spamassassin")
    assert finding.level == "unknown"
    assert "not installed" in finding.message


def test_an_international_domain_is_looked_up_in_its_ascii_form(make_kernel: MakeKernel) -> None:
    ascii_domain = "xn--bcher-kva.test"  # bücher.test
    with DnsServer(txt={ascii_domain: [SPF], f"_dmarc.{ascii_domain}": [DMARC]}) as dns:
        kernel = make_kernel(settings_for(dns))
        key = kernel.bus.execute(CreateDkimKey(domain="bücher.test", selector="pr1"))
        dns.txt[key.dns_name] = [key.dns_value]
        account, _identity = sender(kernel)
        identity = kernel.bus.execute(SaveIdentity(from_email="news@bücher.test", postal_address="1 Main St",
                                                   dkim_selector="pr1"))
        report = preflight(kernel, (account, int(identity)), check_links=False)
    assert key.dns_name == f"pr1._domainkey.{ascii_domain}"
    assert [only(report, c).level for c in ("spf", "dkim", "dmarc")] == ["ok", "ok", "ok"]
