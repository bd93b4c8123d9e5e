"""Preflight: SPF, DKIM and DMARC of the sending domain, read with dnspython within a short, fixed time budget.

A name that does not exist or has no TXT record is "missing" (a finding the user can act on); a resolver that
does not answer, refuses, or is not configured is "unknown", never an error and never a long wait.
"""

from __future__ import annotations

import base64
import contextlib
import ipaddress
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import dns.exception
import dns.name
import dns.resolver

from app.modules.delivery.messages import PreflightFinding

# Submission hosts of common providers and the SPF include domains they ask customers to publish.
PROVIDER_INCLUDES: dict[str, tuple[str, ...]] = {
    "gmail.com": ("_spf.google.com", "google.com"),
    "googlemail.com": ("_spf.google.com", "google.com"),
    "google.com": ("_spf.google.com", "google.com"),
    "office365.com": ("spf.protection.outlook.com",),
    "outlook.com": ("spf.protection.outlook.com",),
    "sendgrid.net": ("sendgrid.net",),
    "mailgun.org": ("mailgun.org",),
    "amazonaws.com": ("amazonses.com",),
    "postmarkapp.com": ("spf.mtasv.net",),
    "brevo.com": ("spf.brevo.com", "spf.sendinblue.com", "sendinblue.com"),
    "sendinblue.com": ("spf.sendinblue.com", "spf.brevo.com", "sendinblue.com"),
    "mailjet.com": ("spf.mailjet.com",),
    "zoho.com": ("zoho.com", "zoho.eu"),
    "zoho.eu": ("zoho.eu", "zoho.com"),
    "fastmail.com": ("messagingengine.com",),
    "mailersend.net": ("_spf.mailersend.net",),
    "sparkpostmail.com": ("sparkpostmail.com",),
}


@dataclass(frozen=True)
class DnsSettings:
    nameservers: tuple[str, ...] = ()  # empty: the system's resolver configuration
    port: int = 53
    budget: float = 3.0  # seconds for every lookup together


@dataclass(frozen=True)
class Lookup:
    """A TXT (or address) lookup: ``status`` is found, missing or unknown; ``reason`` says why when unknown."""

    status: str
    values: tuple[str, ...] = ()
    reason: str = ""


@dataclass(frozen=True)
class DkimExpectation:
    """What the sender will sign with: the selector and the public key (the stored ``p=`` value)."""

    selector: str
    public_key: str  # the DNS record value Postroom generated ("v=DKIM1; k=rsa; p=...")


class TxtReader:
    """Reads TXT and address records with one deadline shared by every lookup."""

    def __init__(self, settings: DnsSettings) -> None:
        self._deadline = time.monotonic() + settings.budget
        self.problem = ""
        self._resolver: dns.resolver.Resolver | None = None
        try:
            if settings.nameservers:
                resolver = dns.resolver.Resolver(configure=False)
                resolver.nameservers = list(settings.nameservers)
                resolver.port = settings.port
            else:
                resolver = dns.resolver.Resolver()
            resolver.timeout = max(0.2, min(1.0, settings.budget / 3))  # per try: several tries fit the budget
            resolver.cache = None
            self._resolver = resolver
        except (dns.resolver.NoResolverConfiguration, OSError, ValueError) as exc:
            self.problem = f"no DNS resolver is configured on this computer ({exc})"

    def _remaining(self) -> float:
        return self._deadline - time.monotonic()

    def query(self, name: str, rdtype: str = "TXT") -> Lookup:  # noqa: PLR0911 - one exit per outcome
        if self._resolver is None:
            return Lookup("unknown", reason=self.problem)
        remaining = self._remaining()
        if remaining <= 0.05:
            return Lookup("unknown", reason="the DNS time budget ran out")
        try:
            answer = self._resolver.resolve(name, rdtype, lifetime=remaining, search=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return Lookup("missing")
        except dns.resolver.LifetimeTimeout:
            return Lookup("unknown", reason="the DNS server did not answer in time (offline?)")
        except dns.resolver.NoNameservers as exc:
            return Lookup("unknown", reason=f"no DNS server could answer ({_short(exc)})")
        except (dns.exception.DNSException, OSError, ValueError) as exc:
            return Lookup("unknown", reason=f"the DNS lookup failed ({_short(exc)})")
        if rdtype == "TXT":
            values = tuple(b"".join(r.strings).decode("utf-8", "replace") for r in answer)
        else:
            values = tuple(r.to_text() for r in answer)
        return Lookup("found", values)


    def host_exists(self, host: str) -> str:
        """found (an A or AAAA record), missing (neither) or unknown."""
        first = self.query(host, "A")
        if first.status == "found":
            return "found"
        second = self.query(host, "AAAA")
        if second.status == "found":
            return "found"
        return "missing" if first.status == second.status == "missing" else "unknown"


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) < 160 else text[:157] + "..."


def organisational_domain(domain: str) -> str:
    """The last two labels (``news.example.com`` -> ``example.com``); no public-suffix list, so a guess."""
    labels = domain.rstrip(".").split(".")
    return ".".join(labels[-2:]) if len(labels) > 2 else domain


# -- SPF ------------------------------------------------------------------------------------------


def spf_records(values: Iterable[str]) -> list[str]:
    return [v.strip() for v in values if v.strip().lower() == "v=spf1" or v.strip().lower().startswith("v=spf1 ")]


def spf_covers(record: str, host: str, host_ips: Iterable[str]) -> str:
    """Which mechanism of ``record`` authorises the SMTP server ``host`` ("" when it cannot be judged)."""
    host = host.lower().rstrip(".")
    base = organisational_domain(host)
    accepted = {base, *PROVIDER_INCLUDES.get(base, ())}
    ips = []
    for text in host_ips:
        try:
            ips.append(ipaddress.ip_address(text))
        except ValueError:
            continue
    for term in record.split()[1:]:
        qualifier, mechanism = (term[0], term[1:]) if term[:1] in "+-~?" else ("+", term)
        if qualifier != "+":
            continue
        kind, _, value = mechanism.partition(":")
        if kind.lower() == "redirect" or mechanism.lower().startswith("redirect="):
            kind, value = "include", mechanism.partition("=")[2]
        kind = kind.lower()
        value = value.lower().rstrip(".")
        if kind == "include" and value and (value in accepted or organisational_domain(value) in accepted):
            return term
        if kind in ("ip4", "ip6") and value:
            try:
                network = ipaddress.ip_network(value, strict=False)
            except ValueError:
                continue
            if any(ip.version == network.version and ip in network for ip in ips):
                return term
        if kind == "a" and value == host:
            return term
    return ""


def spf_finding(domain: str, lookup: Lookup, host: str,  # noqa: PLR0911 - one exit per verdict
                host_ips: tuple[str, ...]) -> PreflightFinding:
    if lookup.status == "unknown":
        return PreflightFinding(level="unknown", check="spf", message=f"SPF of {domain} could not be checked: "
                                f"{lookup.reason}.")
    records = spf_records(lookup.values)
    publish = (f"Publish a TXT record on {domain} starting with v=spf1 that names your sending service "
               "(your provider's help says which include: to use)")
    if not records:
        return PreflightFinding(level="warning", check="spf", message=f"{domain} has no SPF record: receivers "
                                "cannot tell your server may send for it, and Gmail and Yahoo require SPF for "
                                f"bulk mail. {publish}.")
    if len(records) > 1:
        return PreflightFinding(level="warning", check="spf", message=f"{domain} has {len(records)} SPF records; "
                                "receivers treat that as an error. Merge them into one.",
                                detail="\n".join(records))
    record = records[0]
    terms = [t.lower() for t in record.split()[1:]]
    if "+all" in terms or "all" in terms:
        return PreflightFinding(level="warning", check="spf", message=f"The SPF record of {domain} ends in "
                                "+all, which lets anyone send as you; end it with ~all or -all.", detail=record)
    if not host:
        return PreflightFinding(level="ok", check="spf", message=f"SPF record of {domain} is present.",
                                detail=record)
    covering = spf_covers(record, host, host_ips)
    if covering:
        return PreflightFinding(level="ok", check="spf", message=f"SPF of {domain} authorises your SMTP server "
                                f"{host} ({covering}).", detail=record)
    return PreflightFinding(level="ok", check="spf", message=f"SPF record of {domain} is present; Postroom "
                            f"cannot tell whether it covers {host}: check your provider's instructions.",
                            detail=record)


# -- DKIM -----------------------------------------------------------------------------------------


def dkim_tags(value: str) -> dict[str, str]:
    tags: dict[str, str] = {}
    for part in value.split(";"):
        name, sep, tag_value = part.partition("=")
        if sep:
            tags[name.strip().lower()] = "".join(tag_value.split())
    return tags


def _same_key(published: str, stored: str) -> bool:
    try:
        return base64.b64decode(published, validate=True) == base64.b64decode(stored, validate=True)
    except (ValueError, TypeError):
        return published == stored


def dkim_finding(domain: str, expected: DkimExpectation, lookup: Lookup) -> PreflightFinding:
    name = f"{expected.selector}._domainkey.{domain}"
    if lookup.status == "unknown":
        return PreflightFinding(level="unknown", check="dkim", message=f"The DKIM record {name} could not be "
                                f"checked: {lookup.reason}.")
    stored = dkim_tags(expected.public_key).get("p", "")
    publish = f"publish this TXT record at {name}: {expected.public_key}"
    records = [v for v in lookup.values if "p=" in v.replace(" ", "")]
    if lookup.status == "missing" or not records:
        return PreflightFinding(level="warning", check="dkim", message=f"Messages are signed with DKIM selector "
                                f"{expected.selector!r}, but {name} has no DKIM record, so receivers cannot "
                                "verify the signature: publish the record Postroom showed when it made the key.",
                                detail=publish)
    published = [dkim_tags(v).get("p", "") for v in records]
    if any(_same_key(p, stored) for p in published if p):
        return PreflightFinding(level="ok", check="dkim", message=f"DKIM record {name} matches the key Postroom "
                                "signs with.")
    revoked = all(not p for p in published)
    return PreflightFinding(
        level="error", check="dkim",
        message=(f"The DKIM record {name} is empty (the key was revoked)" if revoked else
                 f"The DKIM record {name} holds a different key than the one Postroom signs with")
        + ": every signature would fail. Publish the current key, or make a new one and publish that.",
        detail=publish + "\n\nPublished now:\n" + "\n".join(records))


# -- DMARC ----------------------------------------------------------------------------------------


def dmarc_records(values: Iterable[str]) -> list[str]:
    return [v.strip() for v in values if v.strip().upper().replace(" ", "").startswith("V=DMARC1")]


def dmarc_finding(domain: str, where: str, lookup: Lookup) -> PreflightFinding:
    if lookup.status == "unknown":
        return PreflightFinding(level="unknown", check="dmarc", message=f"DMARC of {domain} could not be "
                                f"checked: {lookup.reason}.")
    records = dmarc_records(lookup.values)
    if not records:
        return PreflightFinding(level="warning", check="dmarc", message=f"{domain} has no DMARC record; Gmail "
                                "and Yahoo require one for bulk senders. Publish a TXT record at "
                                f"_dmarc.{organisational_domain(domain)}, for a start: "
                                "v=DMARC1; p=none; rua=mailto:<an address of yours>.")
    if len(records) > 1:
        return PreflightFinding(level="warning", check="dmarc", message=f"{where} has {len(records)} DMARC "
                                "records; receivers then ignore them all. Keep one.", detail="\n".join(records))
    tags = {k: v.lower() for k, v in dkim_tags(records[0]).items()}
    policy = tags.get("sp", tags.get("p", "")) if where != f"_dmarc.{domain}" else tags.get("p", "")
    if policy not in ("none", "quarantine", "reject"):
        return PreflightFinding(level="warning", check="dmarc", message=f"The DMARC record at {where} has no "
                                "valid policy (p=none, quarantine or reject); receivers ignore it.",
                                detail=records[0])
    if policy == "none":
        return PreflightFinding(level="ok", check="dmarc", message=f"DMARC of {domain} is present with p=none "
                                "(monitoring only), which meets Gmail's and Yahoo's rule for bulk senders.",
                                detail=records[0])
    return PreflightFinding(level="ok", check="dmarc", message=f"DMARC of {domain} is present with "
                            f"p={policy}: messages that fail SPF and DKIM alignment are {policy}ed.",
                            detail=records[0])


# -- all three --------------------------------------------------------------------------------------


def check_domain(domain: str, *, settings: DnsSettings, dkim: DkimExpectation | None,
                 smtp_host: str = "") -> list[PreflightFinding]:
    """SPF, DKIM (when the sender signs) and DMARC of ``domain``; the lookups run at once within the budget."""
    reader = TxtReader(settings)
    domain = domain.lower().rstrip(".")
    with contextlib.suppress(dns.exception.DNSException, ValueError):
        domain = dns.name.from_text(domain).to_text(omit_final_dot=True)
    org = organisational_domain(domain)
    with ThreadPoolExecutor(max_workers=5, thread_name_prefix="postroom-preflight-dns") as pool:
        spf = pool.submit(reader.query, domain)
        dmarc = pool.submit(reader.query, f"_dmarc.{domain}")
        dmarc_org = pool.submit(reader.query, f"_dmarc.{org}") if org != domain else None
        key = pool.submit(reader.query, f"{dkim.selector}._domainkey.{domain}") if dkim else None
        addresses = ([pool.submit(reader.query, smtp_host, kind) for kind in ("A", "AAAA")]
                     if smtp_host else [])
        host_ips = tuple(ip for future in addresses for ip in future.result().values)
        findings = [spf_finding(domain, spf.result(), smtp_host, host_ips)]
        if dkim is not None and key is not None:
            findings.append(dkim_finding(domain, dkim, key.result()))
        found, where = dmarc.result(), f"_dmarc.{domain}"
        if dmarc_org is not None and (found.status == "missing" or not dmarc_records(found.values)):
            org_found = dmarc_org.result()
            if org_found.status != "missing" or found.status != "unknown":
                found, where = org_found, f"_dmarc.{org}"
        findings.append(dmarc_finding(domain, where, found))
    return findings
