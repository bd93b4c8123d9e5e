"""The bounce mailbox over IMAP (imapclient): its settings, a connection test, and one read.

A read takes the unseen messages of the folder (without marking them seen), hands each to the processor, then
moves it to the processed folder, or to the quarantine folder when it cannot be read. Nothing is ever deleted:
without MOVE a message is copied, and only then flagged deleted (and expunged by UID, only with UIDPLUS). A
message whose processing failed (the database was busy) stays where it is, unseen, for the next read.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from app.kernel.settings import Settings
from app.modules.delivery.bounce_processor import QUARANTINE, Handled
from app.modules.delivery.messages import BounceMailboxInfo, FetchReport, SaveBounceMailbox
from app.modules.delivery.smtp import LOCAL_HOSTS

if TYPE_CHECKING:
    from imapclient import IMAPClient

log = logging.getLogger(__name__)

PREFIX = "delivery.bounces."
PASSWORD_KEY = "imap:bounces"  # noqa: S105 - the keyring entry's name
TLS_MODES = ("ssl", "starttls", "none")
CHUNK = 25  # messages fetched per round trip
MAX_BYTES = 2_000_000  # of one message: a report's fields come first, a 10 MB attachment is not needed
_FIELDS = ("host", "port", "tls", "username", "folder", "processed_folder", "quarantine_folder", "poll_minutes")


class MailboxError(ValueError):
    """The mailbox settings are wrong, or the server refused; the message says what to change."""


@dataclass(frozen=True)
class MailboxConfig:
    host: str
    port: int
    tls: str
    username: str
    password: str
    folder: str = "INBOX"
    processed_folder: str = "Postroom/Processed"
    quarantine_folder: str = "Postroom/Quarantine"
    cafile: str = ""  # an extra trusted certificate (a private server); verification stays on
    timeout: float = 30.0


# -- settings --------------------------------------------------------------------------------------------


def stored(settings: Settings, secrets: Any) -> BounceMailboxInfo:
    defaults = BounceMailboxInfo()
    values: dict[str, Any] = {}
    for name in _FIELDS:
        value = settings.get_optional(PREFIX + name)
        if value is not None and isinstance(value, type(getattr(defaults, name))):
            values[name] = value
    try:
        has_password = bool(secrets.get(PASSWORD_KEY)) if secrets.problem() is None else False
    except Exception:
        has_password = False
    return BounceMailboxInfo(**values, has_password=has_password)


def check(command: SaveBounceMailbox) -> None:
    host = command.host.strip()
    if not host or any(c.isspace() or c in "/@" for c in host):
        raise MailboxError(f"{command.host!r} is not a host name")
    if not 0 < command.port < 65536:
        raise MailboxError(f"port {command.port} is not a port number (1-65535)")
    if command.tls not in TLS_MODES:
        raise MailboxError(f"TLS must be one of {', '.join(TLS_MODES)}, not {command.tls!r}")
    if command.tls == "none" and host not in LOCAL_HOSTS:
        raise MailboxError(f"{host} needs TLS (ssl or starttls): plain text is allowed only to 127.0.0.1")
    if not command.username.strip():
        raise MailboxError("the mailbox needs a user name")
    for label, folder in (("folder", command.folder), ("processed folder", command.processed_folder),
                          ("quarantine folder", command.quarantine_folder)):
        if not folder.strip() or any(c in folder for c in "\r\n\"*%"):
            raise MailboxError(f"{folder!r} is not a folder name ({label})")
    if len({command.folder.strip().lower(), command.processed_folder.strip().lower(),
            command.quarantine_folder.strip().lower()}) != 3:
        raise MailboxError("the folder read, the processed folder and the quarantine folder must differ")
    if not 0 <= command.poll_minutes <= 24 * 60:
        raise MailboxError("poll every 1 to 1440 minutes, or 0 for only when asked")


def save(settings: Settings, secrets: Any, command: SaveBounceMailbox) -> BounceMailboxInfo:
    check(command)
    if command.password:
        problem = secrets.problem()
        if problem is not None:
            raise MailboxError(f"the password cannot be stored safely: {problem}")
        secrets.set(PASSWORD_KEY, command.password)
    for name in _FIELDS:
        value = getattr(command, name)
        settings.set(PREFIX + name, value.strip() if isinstance(value, str) else value)
    return stored(settings, secrets)


def config(settings: Settings, secrets: Any) -> MailboxConfig:
    info = stored(settings, secrets)
    if not info.configured:
        raise MailboxError("no bounce mailbox is set up yet (Preferences > Bounce mailbox, or "
                           "'postroom bounces mailbox --host ...')")
    password = secrets.get(PASSWORD_KEY) if secrets.problem() is None else None
    if not password:
        raise MailboxError("the bounce mailbox's password is not in the keyring; enter it again")
    cafile = settings.get_optional(PREFIX + "cafile")
    timeout = settings.get_optional(PREFIX + "timeout_seconds")
    return MailboxConfig(host=info.host, port=info.port, tls=info.tls, username=info.username, password=password,
                         folder=info.folder, processed_folder=info.processed_folder,
                         quarantine_folder=info.quarantine_folder, cafile=cafile if isinstance(cafile, str) else "",
                         timeout=float(timeout) if isinstance(timeout, int | float) else 30.0)


# -- the connection --------------------------------------------------------------------------------------


def _tls_context(cfg: MailboxConfig) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=cfg.cafile or None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def connect(cfg: MailboxConfig, steps: list[str] | None = None) -> IMAPClient:
    """Connected, secured and logged in; a readable :class:`MailboxError` otherwise."""
    if cfg.tls not in TLS_MODES:
        raise MailboxError(f"unknown TLS mode {cfg.tls!r}")
    if cfg.tls == "none" and cfg.host not in LOCAL_HOSTS:
        raise MailboxError(f"{cfg.host} needs TLS: plain text is allowed only to 127.0.0.1")
    from imapclient import IMAPClient  # imported on first use: the app starts without it
    from imapclient.exceptions import IMAPClientError, LoginError

    note = steps.append if steps is not None else (lambda _text: None)
    try:
        client = IMAPClient(cfg.host, port=cfg.port, ssl=cfg.tls == "ssl",
                            ssl_context=_tls_context(cfg) if cfg.tls == "ssl" else None, timeout=cfg.timeout)
    except ssl.SSLError as exc:
        raise MailboxError(f"{cfg.host}:{cfg.port}: the TLS handshake failed ({exc.reason or exc})") from None
    except (OSError, IMAPClientError) as exc:
        raise MailboxError(f"cannot connect to {cfg.host}:{cfg.port}: {_reason(exc)}") from None
    note(f"connected to {cfg.host}:{cfg.port}" + (" over TLS, certificate verified" if cfg.tls == "ssl" else ""))
    try:
        if cfg.tls == "starttls":
            if not client.has_capability("STARTTLS"):
                raise MailboxError(f"{cfg.host} does not offer STARTTLS; use ssl (port 993) or another server")
            client.starttls(_tls_context(cfg))
            note("secured with STARTTLS, certificate verified")
        client.login(cfg.username, cfg.password)
        note(f"logged in as {cfg.username}")
    except LoginError as exc:
        _close(client)
        raise MailboxError(f"{cfg.host} refused the login for {cfg.username}: {_reason(exc)}") from None
    except ssl.SSLError as exc:
        _close(client)
        raise MailboxError(f"{cfg.host}:{cfg.port}: the TLS handshake failed ({exc.reason or exc})") from None
    except (OSError, IMAPClientError) as exc:
        _close(client)
        raise MailboxError(f"{cfg.host}: {_reason(exc)}") from None
    except MailboxError:
        _close(client)
        raise
    return client


def _reason(exc: BaseException) -> str:
    if isinstance(exc, socket.timeout | TimeoutError):
        return "no answer in time"
    text = str(exc)
    if isinstance(exc.args[0] if exc.args else None, bytes):
        text = exc.args[0].decode("utf-8", "replace")
    return text or type(exc).__name__


def _close(client: IMAPClient) -> None:
    try:
        client.logout()
    except Exception:
        with contextlib.suppress(Exception):  # the connection is gone either way
            client.shutdown()


def server_name(client: IMAPClient, folder: str) -> str:
    """``Postroom/Processed`` in the server's own hierarchy (delimiter and personal namespace prefix)."""
    from imapclient.exceptions import IMAPClientError

    if folder.upper() == "INBOX":
        return "INBOX"
    delimiter = "/"
    try:
        listed = client.list_folders("", "")
        if listed and listed[0][1]:
            found = listed[0][1]
            delimiter = found.decode() if isinstance(found, bytes) else str(found)
    except IMAPClientError:
        pass
    prefix = ""
    if client.has_capability("NAMESPACE"):
        try:
            personal = client.namespace().personal
            if personal:
                prefix = str(personal[0][0] or "")
        except IMAPClientError:
            prefix = ""
    name = delimiter.join(part for part in folder.split("/") if part)
    return name if not prefix or name.startswith(prefix) else prefix + name


def ensure_folder(client: IMAPClient, folder: str) -> str:
    from imapclient.exceptions import IMAPClientError

    name = server_name(client, folder)
    if not client.folder_exists(name):
        client.create_folder(name)
        try:
            client.subscribe_folder(name)
        except IMAPClientError:
            log.info("the server would not subscribe %s; it exists all the same", name)
    return name


def probe(cfg: MailboxConfig) -> list[str]:
    """The "Test connection" steps; raises :class:`MailboxError` with the first that failed."""
    from imapclient.exceptions import IMAPClientError

    steps: list[str] = []
    client = connect(cfg, steps)
    try:
        folder = server_name(client, cfg.folder)
        status = client.folder_status(folder, ["MESSAGES", "UNSEEN"])
        steps.append(f"{cfg.folder}: {status.get(b'MESSAGES', 0)} messages, {status.get(b'UNSEEN', 0)} unseen")
        steps.append("moves messages with MOVE" if client.has_capability("MOVE") else
                     "no MOVE: messages will be copied, then flagged deleted")
    except IMAPClientError as exc:
        raise MailboxError(f"cannot open the folder {cfg.folder!r}: {_reason(exc)}") from None
    finally:
        _close(client)
    return steps


def describe(report: FetchReport) -> str:
    """One sentence about a read, for the command line and the settings page."""
    text = (f"Read {report.fetched} message(s): {report.bounces} bounce(s), {report.complaints} complaint(s), "
            f"{report.ignored} not a bounce, {report.quarantined} quarantined")
    if report.unsubscribes:
        text += f", {report.unsubscribes} unsubscribe request(s)"
    if report.duplicates:
        text += f", {report.duplicates} counted before"
    if report.suppressed:
        text += f"; {report.suppressed} address(es) suppressed"
    if report.left:
        text += f"; {report.left} left in the mailbox to try again"
    return text + "."


# -- one read --------------------------------------------------------------------------------------------


def _move(client: IMAPClient, uids: list[int], folder: str) -> None:
    if not uids:
        return
    if client.has_capability("MOVE"):
        client.move(uids, folder)
        return
    # COPY first; only a copied message is flagged deleted, and only those are expunged (by UID).
    client.copy(uids, folder)
    client.add_flags(uids, [b"\\Deleted"])
    if client.has_capability("UIDPLUS"):
        client.uid_expunge(uids)


def fetch(cfg: MailboxConfig, handle: Callable[[bytes], Handled], *,
          check: Callable[[], None] | None = None, progress: Callable[[int, int], None] | None = None) -> FetchReport:
    """Read the unseen messages of the folder, act on each, and file it. Never raises for the server's sake:
    a problem is in ``FetchReport.error`` with what was done until then."""
    from imapclient.exceptions import IMAPClientError

    counts = {"fetched": 0, "bounces": 0, "complaints": 0, "unsubscribes": 0, "ignored": 0, "quarantined": 0,
              "duplicates": 0, "suppressed": 0, "left": 0}
    try:
        client = connect(cfg)
    except MailboxError as exc:
        return FetchReport(error=str(exc))
    try:
        processed = ensure_folder(client, cfg.processed_folder)
        quarantine = ensure_folder(client, cfg.quarantine_folder)
        client.select_folder(server_name(client, cfg.folder))
        uids = sorted(client.search(["UNSEEN", "NOT", "DELETED"]))
        for start in range(0, len(uids), CHUNK):
            if check is not None:
                check()
            chunk = uids[start:start + CHUNK]
            done: list[int] = []
            bad: list[int] = []
            section = f"BODY.PEEK[]<0.{MAX_BYTES}>"
            for uid, data in client.fetch(chunk, [section]).items():
                raw = next((v for k, v in data.items() if k.startswith(b"BODY[")), None)
                counts["fetched"] += 1
                if not isinstance(raw, bytes):
                    bad.append(uid)
                    counts["quarantined"] += 1
                    continue
                try:
                    handled = handle(raw)
                except Exception:
                    log.exception("a bounce could not be processed; it stays in the mailbox for the next read")
                    counts["left"] += 1
                    continue
                _count(counts, handled)
                (bad if handled.disposition == QUARANTINE else done).append(uid)
            _move(client, done, processed)
            _move(client, bad, quarantine)
            if progress is not None:
                progress(min(start + CHUNK, len(uids)), len(uids))
    except (IMAPClientError, OSError) as exc:
        return FetchReport(**counts, error=f"{cfg.host}: {_reason(exc)}")
    finally:
        _close(client)
    return FetchReport(**counts)  # type: ignore[arg-type]


def _count(counts: dict[str, int], handled: Handled) -> None:
    if handled.disposition == QUARANTINE:
        counts["quarantined"] += 1
        return
    new = handled.counted
    if handled.kind == "unsubscribe":
        counts["unsubscribes" if new else "duplicates"] += 1
        return
    if not handled.entries or not any(e.kind in ("hard", "soft", "sender", "complaint") for e in handled.entries):
        counts["ignored"] += 1
        return
    if not new:
        counts["duplicates"] += 1
        return
    counts["complaints"] += sum(1 for e in new if e.kind == "complaint")
    counts["bounces"] += sum(1 for e in new if e.kind != "complaint")
    counts["suppressed"] += sum(1 for e in new if e.suppressed)
