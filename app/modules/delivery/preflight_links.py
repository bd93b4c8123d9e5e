"""Preflight: the links and pictures of a rendered message, checked for form and (online) for an answer.

http(s) links get a HEAD request (a GET when the server refuses HEAD) with a short timeout, several at a time and
at most ``max_links`` of them; mailto: links and anything malformed are judged by their text alone.
"""

from __future__ import annotations

import concurrent.futures
import ipaddress
import socket
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import unquote, urlsplit

from app.modules.delivery.messages import PreflightFinding

USER_AGENT = "Mozilla/5.0 (compatible; Postroom link check)"
_SKIPPED_SCHEMES = ("cid:", "data:", "tel:", "sms:", "#")
# Answers that mean "not for robots" or "slow down", not "broken": the user should look for themselves.
_INCONCLUSIVE = {401: "asks for a login", 403: "refuses automated checks", 429: "asks to slow down"}


@dataclass(frozen=True)
class LinkSettings:
    timeout: float = 5.0  # per request
    budget: float = 12.0  # for every link together
    max_links: int = 50
    workers: int = 8


class _LinkCollector(HTMLParser):
    _ATTRIBUTES = {"a": ("href",), "area": ("href",), "img": ("src",), "td": ("background",),
                   "table": ("background",), "body": ("background",)}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = self._ATTRIBUTES.get(tag.lower())
        if wanted is None:
            return
        for name, value in attrs:
            if name.lower() in wanted and value is not None:
                self.found.append(value.strip())


def collect_links(html: str, skip: Iterable[str] = ()) -> list[str]:
    """The distinct link and picture addresses of ``html`` in order, leaving out the message's own links
    (``skip``: unsubscribe, preferences, web view), anchors and attached pictures (cid:)."""
    collector = _LinkCollector()
    collector.feed(html)
    collector.close()
    own = {s for s in skip if s}
    seen: dict[str, None] = {}
    for link in collector.found:
        if not link or link in own or link.lower().startswith(_SKIPPED_SCHEMES):
            continue
        seen.setdefault(link, None)
    return list(seen)


def _mailto_problem(link: str) -> str:
    from email_validator import EmailNotValidError, validate_email

    addresses = unquote(link[len("mailto:"):].split("?", 1)[0])
    if not addresses.strip():
        return "has no address"
    for address in addresses.split(","):
        try:
            validate_email(address.strip(), check_deliverability=False)
        except EmailNotValidError as exc:
            return f"is not a valid address ({exc})"
    return ""


def form_problem(link: str) -> str:  # noqa: PLR0911 - one exit per verdict
    """Why ``link`` is malformed ("" when its form is fine). Merge tags left unfilled count as malformed."""
    if "{{" in link or "{%" in link:
        return "still holds a merge tag"
    if link.lower().startswith("mailto:"):
        return _mailto_problem(link)
    if any(c.isspace() for c in link):
        return "contains spaces"
    try:
        parts = urlsplit(link)
        port = parts.port
    except ValueError as exc:
        return f"is not a valid web address ({exc})"
    if parts.scheme.lower() not in ("http", "https"):
        return "is not a web (http/https) or mailto link" if parts.scheme else "has no http:// or https:// in front"
    if not parts.hostname or ("." not in parts.hostname and parts.hostname != "localhost"):
        return "has no valid site name"
    if port == 0:
        return "has an invalid port"
    try:
        parts.hostname.encode("idna")
    except UnicodeError:
        return "has an invalid site name"
    return ""


@dataclass(frozen=True)
class LinkAnswer:
    level: str  # ok, warning, unknown
    text: str


def _opener() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(urllib.request.HTTPSHandler(context=ssl.create_default_context()))


def probe(link: str, timeout: float) -> LinkAnswer:
    """HEAD, then GET when HEAD is refused or fails with an HTTP error; the first answer below 400 wins."""
    opener = _opener()
    answer = LinkAnswer("unknown", "was not checked")
    for method in ("HEAD", "GET"):
        request = urllib.request.Request(link, method=method, headers={"User-Agent": USER_AGENT,  # noqa: S310
                                                                      "Accept": "*/*"})
        try:
            with opener.open(request, timeout=timeout) as response:
                if method == "GET":
                    response.read(1024)
                return LinkAnswer("ok", f"answers {response.status}")
        except urllib.error.HTTPError as exc:
            exc.close()
            if exc.code in _INCONCLUSIVE:
                answer = LinkAnswer("unknown", f"{_INCONCLUSIVE[exc.code]} ({exc.code}); open it yourself to be sure")
            else:
                answer = LinkAnswer("warning", f"answers {exc.code} {exc.reason}")
            continue  # some servers refuse HEAD (405, 403, 404...): ask again with GET
        except urllib.error.URLError as exc:
            return _network_problem(exc.reason, timeout)
        except (OSError, ValueError) as exc:
            return _network_problem(exc, timeout)
    return answer


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return host == "localhost"
    return True


def _network_problem(reason: object, timeout: float) -> LinkAnswer:  # noqa: PLR0911 - one exit per verdict
    if isinstance(reason, socket.gaierror):
        return LinkAnswer("warning", "points to a site name that does not exist (DNS)")
    if isinstance(reason, TimeoutError):
        return LinkAnswer("unknown", f"did not answer within {timeout:g} s")
    if isinstance(reason, ConnectionRefusedError):
        return LinkAnswer("warning", "refused the connection (nothing answers there)")
    if isinstance(reason, ssl.SSLCertVerificationError):
        return LinkAnswer("warning", f"has a certificate that cannot be verified ({reason.verify_message})")
    if isinstance(reason, ssl.SSLError):
        return LinkAnswer("warning", f"has a TLS problem ({reason})")
    text = str(reason)
    if "timed out" in text:
        return LinkAnswer("unknown", f"did not answer within {timeout:g} s")
    return LinkAnswer("warning", f"could not be reached ({text})")


def check_links(links: list[str], *, settings: LinkSettings, online: bool,
                cancelled: Callable[[], bool] = lambda: False,
                host_exists: Callable[[str], str] | None = None) -> list[PreflightFinding]:
    """One finding per problem link, and one summary ("ok" or "unknown").

    ``host_exists(name)`` ("found", "missing" or "unknown") looks site names up first through the preflight's
    own resolver, so a name that does not exist is found within the DNS budget.
    """
    findings: list[PreflightFinding] = []
    web: list[str] = []
    for link in links:
        problem = form_problem(link)
        if problem:
            findings.append(PreflightFinding(level="warning", check="links", message=f"The link {link} {problem}: "
                                             "fix it in the template.", detail=link))
        elif not link.lower().startswith("mailto:"):
            web.append(link)
    if not web:
        checked = len(links) - len(findings)
        if not findings:
            findings.append(PreflightFinding(level="ok", check="links", message="No links to check." if not links
                                             else f"{checked} link(s) look right."))
        return findings
    if not online:
        findings.append(PreflightFinding(level="unknown", check="links", message=f"{len(web)} web link(s) were "
                                         "not checked (offline).", detail="\n".join(web)))
        return findings
    extra = web[settings.max_links:]
    web = web[:settings.max_links]
    answers = _probe_all(web, settings, cancelled, host_exists)
    unanswered = []
    for link in web:
        answer = answers.get(link)
        if answer is None or answer.level == "unknown":
            unanswered.append(f"{link}: {answer.text if answer else 'no answer in time'}")
        elif answer.level == "warning":
            findings.append(PreflightFinding(level="warning", check="links", message=f"The link {link} "
                                             f"{answer.text}: fix or remove it.", detail=link))
    good = sum(1 for a in answers.values() if a.level == "ok")
    note = f" The other {len(extra)} were not checked (at most {settings.max_links})." if extra else ""
    if unanswered:
        findings.append(PreflightFinding(level="unknown", check="links", message=f"{len(unanswered)} link(s) "
                                         "could not be checked; open them yourself." + note,
                                         detail="\n".join(unanswered)))
    if not any(f.level == "warning" for f in findings) and not unanswered:
        findings.append(PreflightFinding(level="ok", check="links", message=f"All {good} web link(s) answer."
                                         + note, detail="\n".join(web)))
    elif good:
        findings.append(PreflightFinding(level="ok", check="links", message=f"{good} other web link(s) answer."
                                         + note))
    return findings


def _probe_all(links: list[str], settings: LinkSettings, cancelled: Callable[[], bool],
               host_exists: Callable[[str], str] | None) -> dict[str, LinkAnswer]:
    def task(link: str) -> LinkAnswer:
        host = urlsplit(link).hostname or ""
        if host_exists is not None and not _is_address(host) and host_exists(host) == "missing":
            return LinkAnswer("warning", "points to a site name that does not exist (DNS)")
        return probe(link, settings.timeout)

    deadline = time.monotonic() + settings.budget
    answers: dict[str, LinkAnswer] = {}
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(1, settings.workers),
                                                 thread_name_prefix="postroom-preflight-link")
    try:
        futures = {pool.submit(task, link): link for link in links}
        pending = set(futures)
        while pending and not cancelled():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            done, pending = concurrent.futures.wait(pending, timeout=min(0.2, left))
            for future in done:
                answers[futures[future]] = future.result()
    finally:
        # Requests still running end at their own timeout; nothing waits for them.
        pool.shutdown(wait=False, cancel_futures=True)
    return answers
