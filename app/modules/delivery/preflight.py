"""Preflight: what would stop or spoil a send, checked before it starts (the ``RunPreflight`` command).

Per variant: the template compiles and renders for a sample contact (the audience's first, or a made-up one),
has an unsubscribe link and the postal address, and its size (the message is built with the sender's own
:class:`~app.modules.delivery.mime.Skeleton`, DKIM-signed when the sender would sign). Once: the account is on,
the audience is not empty, SPF/DKIM/DMARC of the From domain (``preflight_dns``), the links
(``preflight_links``) and the SpamAssassin score (``preflight_spam``); those three run side by side.

A job that runs the command can watch it: ``with watched(handle): bus.execute(RunPreflight(...))`` makes the
checks report their steps to ``handle`` (a kernel ``JobHandle``) and stop when it is cancelled.
"""

from __future__ import annotations

import contextlib
import dataclasses
import html as html_lib
import re
import secrets as pysecrets
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from app.kernel.database import Database
from app.modules.delivery import links as link_tools
from app.modules.delivery.content import MessageSource, RenderFailed, source_for
from app.modules.delivery.messages import (
    PREFLIGHT_LEVELS,
    MessageContent,
    PreflightFinding,
    PreflightReport,
    RunPreflight,
)
from app.modules.delivery.mime import MessageError, MessageParts, Skeleton
from app.modules.delivery.preflight_dns import DnsSettings, TxtReader, check_domain
from app.modules.delivery.preflight_links import LinkSettings, check_links, collect_links
from app.modules.delivery.preflight_sender import SenderInfo, account_findings, load_sender, sample_contact
from app.modules.delivery.preflight_spam import spamassassin_finding

GMAIL_CLIP_BYTES = 102 * 1024
_UNSUBSCRIBE_HREF = re.compile(r"""href\s*=\s*["']?\s*\{\{[^}]*\bunsubscribe_url\b""", re.IGNORECASE)
# Checks about the message and its domain: with the built-in outbox nobody receives it, so they only warn.
_RECIPIENT_FACING = ("unsubscribe", "postal_address", "spf", "dkim", "dmarc", "size", "links", "spamassassin")
_STEPS = 3


@dataclass(frozen=True)
class PreflightSettings:
    dns: DnsSettings = field(default_factory=DnsSettings)
    links: LinkSettings = field(default_factory=LinkSettings)
    spamassassin: str = "spamassassin"
    spamassassin_seconds: float = 30.0


def preflight_settings(settings: Any) -> PreflightSettings:
    """From the ``delivery.preflight.*`` settings (tests point ``nameservers``/``dns_port`` at their server)."""
    def number(key: str, fallback: float) -> float:
        value = settings.get_optional(f"delivery.preflight.{key}")
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else fallback

    servers = settings.get_optional("delivery.preflight.nameservers")
    defaults = PreflightSettings()
    command = settings.get_optional("delivery.preflight.spamassassin")
    return PreflightSettings(
        dns=DnsSettings(nameservers=tuple(str(s) for s in servers) if isinstance(servers, list) else (),
                        port=int(number("dns_port", defaults.dns.port)),
                        budget=number("dns_seconds", defaults.dns.budget)),
        links=LinkSettings(timeout=number("link_timeout_seconds", defaults.links.timeout),
                           budget=number("link_seconds", defaults.links.budget),
                           max_links=int(number("max_links", defaults.links.max_links)),
                           workers=int(number("link_workers", defaults.links.workers))),
        spamassassin=command if isinstance(command, str) and command else defaults.spamassassin,
        spamassassin_seconds=number("spamassassin_seconds", defaults.spamassassin_seconds),
    )


# -- watching from a job --------------------------------------------------------------------------

_WATCHER: ContextVar[Any] = ContextVar("postroom_preflight_watcher", default=None)


@contextlib.contextmanager
def watched(handle: Any) -> Iterator[None]:
    """Within this block, a ``RunPreflight`` on this thread reports its steps to ``handle`` and honours its cancel
    (``handle.report(done, total, text)``, ``handle.check()`` raising, ``handle.cancelled``)."""
    token = _WATCHER.set(handle)
    try:
        yield
    finally:
        _WATCHER.reset(token)


class _Watch:
    def __init__(self, handle: Any) -> None:
        self._handle = handle
        self._done = 0

    def cancelled(self) -> bool:
        return bool(self._handle is not None and self._handle.cancelled)

    def step(self, text: str) -> None:
        if self._handle is None:
            return
        self._handle.check()
        self._handle.report(self._done, _STEPS, text, force=True)
        self._done += 1


# -- the command ------------------------------------------------------------------------------------


@dataclass
class _Built:
    label: str
    parts: MessageParts
    message: bytes
    skip: tuple[str, ...]


def run_preflight(command: RunPreflight, *, db: Database, settings: Any, secrets: Any,
                  links: Callable[[], link_tools.LinkSource]) -> PreflightReport:
    """Every check of ``command``; findings in a stable order (account, audience, per variant, then online)."""
    watch = _Watch(_WATCHER.get())
    config = preflight_settings(settings)
    findings: list[PreflightFinding] = []
    watch.step("Reading the account and the audience")
    sender = load_sender(db, settings, secrets, command)
    findings.extend(account_findings(sender))
    sample, audience_findings = sample_contact(db, command)
    findings.extend(audience_findings)
    variants = _variants(command)
    watch.step("Rendering the message" + ("s" if len(variants) > 1 else ""))
    link_source = links()
    built: list[_Built] = []
    for label, content in variants:
        variant_findings, made = _check_variant(db, label, content, sender=sender, contact=sample,
                                                  link_source=link_source)
        findings.extend(variant_findings)
        if made is not None:
            built.append(made)
    if sender.dkim_note is not None:
        findings.append(sender.dkim_note)
    watch.step("Checking DNS, links and the spam score")
    findings.extend(_online_checks(command, config, sender, built, watch))
    if sender.local_outbox:
        findings = [_softened(f) for f in findings]
    watch.step("Done")
    return PreflightReport(findings=tuple(findings))


def _variants(command: RunPreflight) -> list[tuple[str, MessageContent]]:
    """What will be sent: the variants of an A/B test when there are some (the base content is then never sent
    as it is), else ``content``; labelled "variant A", "variant B"... by position when there are several."""
    contents = list(command.variants) or [command.content]
    if len(contents) == 1:
        return [("", contents[0])]
    return [(f"variant {chr(ord('A') + i) if i < 26 else i + 1}", c) for i, c in enumerate(contents)]


def _softened(finding: PreflightFinding) -> PreflightFinding:
    if finding.level != "error" or finding.check not in _RECIPIENT_FACING:
        return finding
    return dataclasses.replace(finding, level="warning", message=finding.message + " (This would block a real "
                               "send; the built-in outbox delivers to nobody.)")


def _check_variant(db: Database, label: str, content: MessageContent, *, sender: SenderInfo,
                   contact: dict[str, Any], link_source: link_tools.LinkSource,
                   ) -> tuple[list[PreflightFinding], _Built | None]:
    """Template, unsubscribe link, postal address and size of one variant (and its built message)."""
    where = f" of {label}" if label else ""
    in_label = f" in {label}" if label else ""
    found: list[PreflightFinding] = []
    stored = dataclasses.asdict(content)
    compiled: Any = None
    try:
        if content.template_id is not None:
            compiled, problems = _editor_checks(db, content)
            found.extend(PreflightFinding(level="warning", check="template", message=f"The template{where}: "
                                          f"{problem}.") for problem in problems)
        source: MessageSource = source_for(stored, db)
    except Exception as exc:  # the editor's TemplateInvalid / EditorError, a Jinja syntax error
        found.append(PreflightFinding(level="error", check="template", message=f"The template{where} cannot be "
                                      f"used: {exc}. Fix it in the editor."))
        return found, None
    html_source = compiled.html_source if compiled is not None else content.html
    text_source = compiled.text_source if compiled is not None else content.text
    mailto = link_tools.unsubscribe_mailto(sender.domain or "example.com", link_source, 0, int(contact["id"]))
    urls = link_source.urls(0, int(contact["id"]))
    urls = {**urls, "unsubscribe_url": urls.get("unsubscribe_url") or mailto, "unsubscribe_mailto": mailto}
    campaign = {"id": None, "name": content.campaign_name, "run_id": 0}
    try:
        parts = source.render(contact, urls=urls, sender=sender.mapping, campaign=campaign)
    except RenderFailed as exc:
        found.append(PreflightFinding(level="error", check="template", message=f"The message{where} cannot be "
                                      f"filled in for {contact['email']}: {exc}. Give the merge field a default "
                                      "or fix the contact data."))
        return found, None
    skip = tuple(str(u) for u in urls.values() if u)
    has_unsubscribe = (compiled.has_unsubscribe_link if compiled is not None
                       else bool(_UNSUBSCRIBE_HREF.search(html_source)))
    if not has_unsubscribe:
        found.append(PreflightFinding(level="error", check="unsubscribe", message=f"The message{where} has no "
                                      "unsubscribe link: add one (a footer block, or a link to "
                                      "{{ unsubscribe_url }}); the law and Gmail's rules require it."))
    else:
        found.append(PreflightFinding(level="ok", check="unsubscribe", message=f"Unsubscribe link{in_label} present."))
    found.append(_postal(where, in_label, compiled, sources=html_source + text_source, parts=parts,
                               sender=sender))
    try:
        message = _build(sender, content, parts, contact, urls)
    except (MessageError, ValueError) as exc:
        found.append(PreflightFinding(level="error", check="template", message=f"The message{where} cannot be "
                                      f"built: {exc}."))
        return found, None
    found.append(_size(where, parts, message))
    return found, _Built(label, parts, message, skip)


def _editor_checks(db: Database, content: MessageContent) -> tuple[Any, list[str]]:
    """The compiled template (for its unsubscribe and address flags) and its non-blocking problems."""
    from app.modules.contacts.api import custom_fields

    try:
        from app.modules.editor.api import (  # type: ignore[import-not-found,unused-ignore]
            TemplateInvalid,
            compile_template,
        )
    except ImportError:
        raise ValueError("it is an editor template, but the editor module is not installed") from None

    compiled = compile_template(db, int(content.template_id or 0), content.template_version,
                                subject=content.subject, preheader=content.preheader)
    problems = compiled.validate([f.key for f in custom_fields(db)])
    if compiled.syntax_problems:
        raise TemplateInvalid(problems)
    return compiled, [str(p) for p in problems]


def _postal(where: str, in_: str, compiled: Any, *, sources: str, parts: MessageParts,
            sender: SenderInfo) -> PreflightFinding:
    uses_identity = "sender.postal_address" in sources
    if uses_identity and not sender.postal_address.strip():
        return PreflightFinding(level="error", check="postal_address", message=f"The footer{where} shows the "
                                "sender's postal address, but the sender identity "
                                f"{sender.from_email or ''} has none: add it to the identity.")
    if compiled is not None:
        present = bool(compiled.has_postal_address)
    else:
        present = uses_identity or _shows(sender.postal_address, parts)
    if not present:
        return PreflightFinding(level="error", check="postal_address", message=f"The message{where} has no postal "
                                "address: add {{ sender.postal_address }} to the footer (the law requires a "
                                "physical address in marketing email).")
    return PreflightFinding(level="ok", check="postal_address", message=f"Postal address{in_} present.")


def _shows(address: str, parts: MessageParts) -> bool:
    first = " ".join(address.strip().splitlines()[0].split()).lower() if address.strip() else ""
    if not first:
        return False
    visible = " ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", parts.html)).split()).lower()
    return first in visible or first in " ".join(parts.text.split()).lower()


def _build(sender: SenderInfo, content: MessageContent, parts: MessageParts, contact: dict[str, Any],
           urls: dict[str, str]) -> bytes:
    """The message as the sender would put it on the wire (the same skeleton, DKIM-signed when it would be)."""
    from_name = getattr(content, "from_name", "") or sender.from_name
    skeleton = Skeleton(run_id=0, nonce=pysecrets.token_hex(4), from_name=from_name,
                        from_email=sender.from_email or "sender@example.com", reply_to=sender.reply_to)
    url = urls.get("unsubscribe_url", "")
    name = f"{contact.get('first_name', '')} {contact.get('last_name', '')}".strip()
    message = skeleton.build(recipient_id=0, to_name=name, to_email=str(contact["email"]), parts=parts,
                             unsubscribe_url=url if url.startswith("http") else "",
                             unsubscribe_mailto=urls.get("unsubscribe_mailto", ""))
    if sender.dkim is not None and sender.dkim_pem is not None:
        from app.modules.delivery.dkim_keys import DkimSigner

        message = DkimSigner(sender.domain, sender.dkim.selector, sender.dkim_pem).sign(message)
    return message


def _kb(size: int) -> str:
    return f"{size / 1024:,.0f} KB" if size >= 1024 else f"{size} bytes"


def _size(where: str, parts: MessageParts, message: bytes) -> PreflightFinding:
    html_size = len(parts.html.encode("utf-8"))
    detail = f"HTML {html_size:,} bytes, whole message {len(message):,} bytes"
    if html_size > GMAIL_CLIP_BYTES:
        return PreflightFinding(level="warning", check="size", message=f"The HTML{where} is {_kb(html_size)}; "
                                "Gmail clips messages over 102 KB behind a \"View entire message\" link (the "
                                "footer and unsubscribe link with them). Shorten it or move content to your site.",
                                detail=detail)
    return PreflightFinding(level="ok", check="size", message=f"Size{where} {_kb(len(message))} (HTML "
                            f"{_kb(html_size)}), under Gmail's 102 KB clipping limit.", detail=detail)


def _online_checks(command: RunPreflight, config: PreflightSettings, sender: SenderInfo, built: list[_Built],
                   watch: _Watch) -> list[PreflightFinding]:
    """DNS, links and SpamAssassin, side by side (each is bounded in time)."""
    def dns() -> list[PreflightFinding]:
        if not sender.domain:
            return []
        if command.offline:
            return [PreflightFinding(level="unknown", check=check, message=f"{name} of {sender.domain} was not "
                                     "checked (offline).")
                    for check, name in (("spf", "SPF"), ("dkim", "DKIM"), ("dmarc", "DMARC"))
                    if check != "dkim" or sender.dkim is not None]
        return check_domain(sender.domain, settings=config.dns, dkim=sender.dkim, smtp_host=sender.account_host)

    def web() -> list[PreflightFinding]:
        if not command.check_links or not built:
            return []
        skip = {s for b in built for s in b.skip} | {html_lib.escape(s) for b in built for s in b.skip}
        found: dict[str, None] = {}
        for made in built:
            for link in collect_links(made.parts.html, skip):
                found.setdefault(link, None)
        reader = TxtReader(config.dns) if not command.offline else None
        return check_links(list(found), settings=config.links, online=not command.offline,
                           cancelled=watch.cancelled, host_exists=reader.host_exists if reader else None)

    def spam() -> list[PreflightFinding]:
        results = []
        for made in built:
            if watch.cancelled():
                break
            results.append(spamassassin_finding(made.message, command=config.spamassassin,
                                                timeout=config.spamassassin_seconds, cancelled=watch.cancelled,
                                                label=made.label))
            if results[-1].message.startswith("SpamAssassin is not installed"):
                break
        return results

    with ThreadPoolExecutor(max_workers=3, thread_name_prefix="postroom-preflight") as pool:
        futures = [pool.submit(dns), pool.submit(web), pool.submit(spam)]
        results = [f.result() for f in futures]
    return [finding for result in results for finding in result]


def worst(report: PreflightReport) -> str:
    """The most serious level in ``report`` ("ok" when empty)."""
    levels = {f.level for f in report.findings}
    return next((level for level in PREFLIGHT_LEVELS if level in levels), "ok")
