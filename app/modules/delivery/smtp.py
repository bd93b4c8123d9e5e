"""One reusable SMTP connection: TLS as the account demands (never a silent fallback), one recipient a message,
and a precise answer for every way a transaction can end, so nothing is ever sent twice by us."""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
from dataclasses import dataclass, field
from typing import Any

import aiosmtplib
from aiosmtplib import SMTPAuthenticationError, SMTPException, SMTPResponseException

from app.modules.delivery.wire import Disconnected, Wire, take_over

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


class AccountRefused(Exception):  # noqa: N818 - what happened, in the user's words
    """The account cannot be used as configured (TLS refused, authentication failed): pause, do not retry."""


class ConnectFailed(Exception):  # noqa: N818
    """The server could not be reached or dropped us before the message began: retry later, nothing was sent."""


@dataclass(frozen=True)
class AccountConfig:
    """An account as the sender needs it (the password read from the keyring by the app)."""

    id: int
    name: str
    host: str
    port: int
    tls: str  # ssl | starttls | none
    username: str = ""
    password: str = ""
    per_second: float | None = None
    per_hour: int | None = None
    per_day: int | None = None
    connections: int = 4
    timeout: float = 60.0
    cafile: str = ""  # extra trusted certificate (a private relay); verification stays on
    weight: int = 1  # share of a run that uses several accounts
    warmup_started_on: dt.date | None = None  # set while the account warms up (its daily cap grows)
    send_window: dict[str, Any] | None = None  # throttle.SendWindow.parse() spec

    def check_tls(self) -> None:
        if self.tls not in ("ssl", "starttls", "none"):
            raise AccountRefused(f"unknown TLS mode {self.tls!r} (use ssl, starttls or none)")
        if self.tls == "none" and self.host not in LOCAL_HOSTS:
            raise AccountRefused(f"{self.host} needs TLS: plain text is allowed only to 127.0.0.1")


@dataclass(frozen=True)
class Attempt:
    """How one transaction ended. ``phase`` tells whether the message may have been delivered."""

    result: str  # reply (the server answered), retry (nothing transferred), unknown (may have arrived),
    # unsupported (the message needs an extension the server lacks; nothing transferred)
    code: int | None = None
    text: str = ""
    phase: str = ""  # mail, rcpt, data, content


@dataclass
class SmtpConnection:
    """aiosmtplib opens, secures and logs in; then :mod:`wire` runs the (pipelined) transactions."""

    account: AccountConfig
    local_hostname: str | None = None
    _wire: Wire | None = field(default=None, init=False)
    pipelining: bool = field(default=False, init=False)
    extensions: tuple[str, ...] = field(default=(), init=False)
    sent_on_connection: int = field(default=0, init=False)

    @property
    def connected(self) -> bool:
        return self._wire is not None and self._wire.open

    def _tls_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.account.cafile or None)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        return context

    def _options(self) -> dict[str, Any]:
        account = self.account
        options: dict[str, Any] = {"hostname": account.host, "port": account.port, "timeout": account.timeout,
                                   "local_hostname": self.local_hostname}
        if account.tls == "ssl":
            options.update(use_tls=True, start_tls=False, tls_context=self._tls_context())
        elif account.tls == "starttls":
            # start_tls=True (never None): refuse, rather than fall back to plain text, if STARTTLS is missing.
            options.update(use_tls=False, start_tls=True, tls_context=self._tls_context())
        else:
            options.update(use_tls=False, start_tls=False)
        return options

    async def connect(self) -> str:
        """Connect, say EHLO, secure and authenticate; returns the server's greeting line."""
        account = self.account
        account.check_tls()
        await self.close()
        client = aiosmtplib.SMTP(**self._options())
        try:
            response = await client.connect()
        except SMTPAuthenticationError as exc:  # pragma: no cover - connect() does not log in
            raise AccountRefused(f"{exc.code} {exc.message}") from None
        except ssl.SSLError as exc:
            raise AccountRefused(f"TLS with {account.host} failed: {exc.reason or exc}") from None
        except SMTPResponseException as exc:
            raise ConnectFailed(f"{exc.code} {exc.message}") from None
        except SMTPException as exc:
            if "STARTTLS" in str(exc):
                raise AccountRefused(f"{account.host} does not offer STARTTLS; Postroom will not send "
                                     "without encryption") from None
            raise ConnectFailed(str(exc)) from None
        except (TimeoutError, OSError) as exc:
            raise ConnectFailed(f"cannot reach {account.host}:{account.port}: {exc or type(exc).__name__}") from None
        try:
            if client.is_ehlo_or_helo_needed:
                await client.ehlo()
        except SMTPException as exc:
            client.close()
            raise ConnectFailed(f"the server refused EHLO: {exc}") from None
        if account.username:
            try:
                await client.login(account.username, account.password)
            except SMTPAuthenticationError as exc:
                client.close()
                raise AccountRefused(f"login refused: {exc.code} {exc.message}") from None
            except SMTPException as exc:
                client.close()
                raise AccountRefused(f"login failed: {exc}") from None
        self.extensions = tuple(sorted(client.esmtp_extensions))
        self.pipelining = client.supports_extension("pipelining")
        self._wire = take_over(client)
        self.sent_on_connection = 0
        return f"{response.code} {response.message}"

    async def close(self) -> None:
        wire, self._wire = self._wire, None
        if wire is None:
            return
        if wire.open:
            try:
                wire.write(b"QUIT\r\n")
                await wire.reply(timeout=2.0)
            except (Disconnected, TimeoutError, OSError):
                pass
        wire.close()

    @property
    def smtputf8(self) -> bool:
        return "smtputf8" in self.extensions

    async def send(self, envelope_from: str, recipient: str, stuffed: bytes, *, smtputf8: bool = False) -> Attempt:
        """Send one message (``stuffed``: CRLF, dot-stuffed, ending in CRLF.CRLF) to one recipient.

        ``smtputf8``: the recipient's address (and so the message's To) is internationalised (RFC 6531); when the
        server does not offer SMTPUTF8 the result is ``unsupported`` and nothing is sent.
        Raises :class:`ConnectFailed` / :class:`AccountRefused` when no transaction could begin.
        """
        if not self.connected:
            await self.connect()
        wire = self._wire
        assert wire is not None
        timeout = self.account.timeout
        if smtputf8 and not self.smtputf8:
            return Attempt("unsupported", None, f"{recipient} is an internationalised address, which needs "
                           f"SMTPUTF8, and the server of {self.account.name} does not offer it", "mail")
        # Addresses were checked when the message was built (no CR/LF can reach the commands).
        commands = (b"MAIL FROM:<%s>%s\r\n" % (envelope_from.encode("ascii"), b" SMTPUTF8" if smtputf8 else b""),
                    b"RCPT TO:<%s>\r\n" % recipient.encode("utf-8" if smtputf8 else "ascii"), b"DATA\r\n")
        phase = "mail"
        try:
            try:
                replies: list[tuple[int, str]] = []
                if self.pipelining:
                    wire.write(b"".join(commands))
                    replies = [await wire.reply(timeout) for _ in commands]
                else:
                    for command in commands:
                        wire.write(command)
                        replies.append(await wire.reply(timeout))
                        if replies[-1][0] >= 400:
                            break
            except (Disconnected, TimeoutError, OSError) as exc:
                self._drop()
                return Attempt("retry", None, f"connection lost before the message was sent ({exc})", phase)
            for (code, text), (phase, ok) in zip(replies, (("mail", (250,)), ("rcpt", (250, 251)),
                                                           ("data", (354,))), strict=False):
                if code not in ok:
                    await self._abandon(354 in (c for c, _ in replies))
                    return Attempt("reply", code, text, phase)
            # From here the server may have the whole message: a lost answer means "unknown", never a retry.
            phase = "content"
            try:
                wire.write(stuffed)
                code, text = await wire.reply(timeout)
            except (Disconnected, TimeoutError, OSError) as exc:
                self._drop()
                return Attempt("unknown", None, f"no answer after the message was sent ({exc})", phase)
        except asyncio.CancelledError:
            self._drop()
            raise
        self.sent_on_connection += 1
        if code in (421, 0):  # closing, or not SMTP at all
            self._drop()
        return Attempt("reply", code, text, phase)

    async def _abandon(self, data_open: bool) -> None:
        """End a refused transaction: an empty message if the server opened DATA anyway, then RSET."""
        try:
            if data_open:
                self._wire.write(b".\r\n")  # type: ignore[union-attr]
                await self._wire.reply(self.account.timeout)  # type: ignore[union-attr]
            if self.connected:
                self._wire.write(b"RSET\r\n")  # type: ignore[union-attr]
                await self._wire.reply(self.account.timeout)  # type: ignore[union-attr]
        except (Disconnected, TimeoutError, OSError):
            self._drop()

    def _drop(self) -> None:
        wire, self._wire = self._wire, None
        if wire is not None:
            wire.close()


async def probe(account: AccountConfig, local_hostname: str | None = None) -> list[str]:
    """Connect, secure, log in and quit; returns readable steps (raises with the reason on failure)."""
    steps: list[str] = []
    connection = SmtpConnection(account, local_hostname)
    greeting = await connection.connect()
    steps.append(f"connected to {account.host}:{account.port} ({greeting.splitlines()[0]})")
    if account.tls == "ssl":
        steps.append("TLS from the first byte (implicit TLS), certificate verified")
    elif account.tls == "starttls":
        steps.append("STARTTLS accepted, certificate verified")
    else:
        steps.append("plain text (allowed only to this computer)")
    if connection.extensions:
        steps.append("server offers: " + ", ".join(connection.extensions))
    if account.username:
        steps.append(f"logged in as {account.username}")
    await connection.close()
    steps.append("closed the connection")
    return steps
