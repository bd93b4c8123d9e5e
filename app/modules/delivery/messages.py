"""Public messages of the delivery module: commands other modules and the UI execute, and the events it publishes."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from app.kernel.messages import Command, Event

# -- what a run sends --------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class MessageContent:
    """An editor template (``template_id``, optionally pinned to ``template_version``), or Jinja2 HTML and text.

    Templates see ``contact`` (email, first_name, last_name, language, time_zone, fields and the custom fields
    by key), ``sender`` (name, email, reply_to, postal_address), ``campaign`` (id, name) and ``unsubscribe_url``,
    ``preferences_url``, ``webview_url`` (the editor's names).
    """

    subject: str
    campaign_name: str = ""
    # With the stats module installed: rewrite links to be counted, add the open pixel, keep each web view.
    track_opens: bool = True
    track_clicks: bool = True
    keep_webviews: bool = True
    preheader: str = ""
    template_id: int | None = None
    template_version: int | None = None
    html: str = ""
    text: str = ""  # derived from the HTML once per run when empty
    from_name: str = ""  # overrides the identity's From name (an A/B variant of the sender name)
    utm: dict[str, str] = field(default_factory=dict)  # {"utm_source": "postroom", ...} added to every link


@dataclass(frozen=True, kw_only=True)
class AudienceSpec:
    """Who a run goes to (the contacts module's ``Audience``, as plain ids)."""

    lists: tuple[int, ...] = ()
    segments: tuple[int, ...] = ()
    exclude_lists: tuple[int, ...] = ()
    exclude_segments: tuple[int, ...] = ()
    contacts: tuple[int, ...] = ()  # individual contact ids (automations), suppression still applies
    time_zones: tuple[str, ...] = ()  # only contacts with these stored zones ("" = none)
    buckets: tuple[int, ...] = ()  # (low, high): a per-mille share by contact id (A/B test groups)


# -- runs ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class StartRun(Command[int]):
    """Send ``content`` to ``audience`` now; returns the run id. Account and identity default to the defaults."""

    audience: AudienceSpec
    content: MessageContent
    campaign_id: int | None = None
    identity_id: int | None = None
    account_id: int | None = None
    # Several accounts, shared by their weights, each taking over when another fails or reaches its quota;
    # empty: ``account_id`` alone (or the default account).
    account_ids: tuple[int, ...] = ()


@dataclass(frozen=True, kw_only=True)
class PauseRun(Command[bool]):
    run_id: int


@dataclass(frozen=True, kw_only=True)
class ResumeRun(Command[bool]):
    run_id: int


@dataclass(frozen=True, kw_only=True)
class CancelRun(Command[bool]):
    """Stop for good; recipients not yet sent stay queued (visible in the log), nobody else is mailed."""

    run_id: int


@dataclass(frozen=True, kw_only=True)
class ResendUnknown(Command[int]):
    """On the user's say only: send again to the recipients whose outcome is unknown; returns how many."""

    run_id: int


@dataclass(frozen=True, kw_only=True)
class FinishRun(Command[bool]):
    """Finish a run whose only open recipients are ``unknown``, leaving them recorded as unknown."""

    run_id: int


@dataclass(frozen=True, kw_only=True)
class ResumePendingRuns(Command[int]):
    """Start the sender for runs left in state ``sending`` (after a restart); returns how many there are.

    The window (or ``postroom delivery run``) executes this once it is up; the command line does not, so a
    quick ``postroom outbox list`` never starts sending.
    """


# -- accounts, identities, tests --------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class SaveAccount(Command[int]):
    """Create (``account_id`` None) or change an SMTP account; the password goes to the keyring."""

    name: str
    host: str
    port: int
    tls: str  # ssl | starttls | none (127.0.0.1 only)
    username: str = ""
    password: str | None = None  # None keeps the stored one
    per_second: float | None = None
    per_hour: int | None = None
    per_day: int | None = None
    connections: int = 4
    enabled: bool = True
    account_id: int | None = None
    weight: int = 1  # share of a run that uses several accounts
    warmup: bool = False  # a new account: its daily cap grows day by day (delivery.warmup_start, warmup_factor)
    # When it may send: {"days": ["mon", ...], "start": "09:00", "end": "17:00", "time_zone": "Europe/Paris"}
    send_window: dict[str, Any] | None = None


@dataclass(frozen=True, kw_only=True)
class RemoveAccount(Command[bool]):
    account_id: int


@dataclass(frozen=True, kw_only=True)
class ConnectionReport:
    ok: bool
    steps: tuple[str, ...]
    error: str = ""


@dataclass(frozen=True, kw_only=True)
class TestAccount(Command[ConnectionReport]):
    """Connect, secure, log in and quit (blocks for the round trips: run it from a job in the window)."""

    __test__ = False  # not a pytest class
    account_id: int


@dataclass(frozen=True, kw_only=True)
class SaveIdentity(Command[int]):
    from_email: str
    from_name: str = ""
    reply_to: str = ""
    postal_address: str = ""
    bounce_address: str = ""
    dkim_selector: str = ""
    identity_id: int | None = None


@dataclass(frozen=True, kw_only=True)
class DkimKeyInfo:
    domain: str
    selector: str
    dns_name: str
    dns_value: str


@dataclass(frozen=True, kw_only=True)
class CreateDkimKey(Command[DkimKeyInfo]):
    """Generate a 2048-bit key for ``domain`` (private part in the keyring); returns the TXT record to publish."""

    domain: str
    selector: str = "postroom"


@dataclass(frozen=True, kw_only=True)
class TestSendResult:
    ok: bool
    reply: str
    message_id: str = ""


@dataclass(frozen=True, kw_only=True)
class SendTestMessage(Command[TestSendResult]):
    """Send one message now (the editor's "Send test"); blocks for the SMTP round trips, so call it from a job.

    Merge fields are filled from ``contact`` (defaults: the recipient's address and empty names).
    """

    __test__ = False
    to: str
    subject: str
    html: str
    text: str = ""
    identity_id: int | None = None
    account_id: int | None = None
    contact: dict[str, Any] = field(default_factory=dict)


# -- preflight ------------------------------------------------------------------------------------------

PREFLIGHT_LEVELS = ("error", "warning", "unknown", "ok")  # most serious first


@dataclass(frozen=True, kw_only=True)
class PreflightFinding:
    """One result of a preflight check, in words the user can act on."""

    level: str  # "error" (blocks the send), "warning" (shown, can be accepted), "ok", "unknown" (not checked)
    # unsubscribe, postal_address, spf, dkim, dmarc, size, links, spamassassin, template, audience, account
    check: str
    message: str  # one sentence: what was found and what to do
    detail: str = ""


@dataclass(frozen=True, kw_only=True)
class PreflightReport:
    findings: tuple[PreflightFinding, ...]

    @property
    def errors(self) -> tuple[PreflightFinding, ...]:
        return tuple(f for f in self.findings if f.level == "error")

    @property
    def warnings(self) -> tuple[PreflightFinding, ...]:
        return tuple(f for f in self.findings if f.level == "warning")

    @property
    def ok(self) -> bool:
        """True when nothing blocks the send (warnings may remain, for the user to accept)."""
        return not self.errors


@dataclass(frozen=True, kw_only=True)
class RunPreflight(Command[PreflightReport]):
    """Check a send before it starts: unsubscribe link and postal address in every variant, the template
    renders, the audience is not empty, the account is on, SPF/DKIM/DMARC of the From domain, size (Gmail
    clips over 102 KB), broken links, and the SpamAssassin score when SpamAssassin is installed.

    Blocks for DNS and network checks (DNS at most about 3 s, links about 10 s): call it from a job. In the
    window, ``app.modules.delivery.ui.preflight_dialog.PreflightDialog`` runs it and asks the user.
    With ``variants`` (an A/B test) every variant is checked, in order ("variant A", "variant B"...), and
    ``content`` is not (only the variants are ever sent); without, ``content`` is. ``offline`` skips the DNS and
    link checks (reported as "unknown").
    """

    content: MessageContent
    variants: tuple[MessageContent, ...] = ()
    audience: AudienceSpec | None = None
    identity_id: int | None = None
    account_id: int | None = None
    check_links: bool = True
    offline: bool = False


# -- bounces and complaints -----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class BounceMailboxInfo:
    """The bounce mailbox as stored (the password is in the keyring; ``has_password`` says whether it is)."""

    host: str = ""
    port: int = 993
    tls: str = "ssl"  # ssl | starttls | none (127.0.0.1 only)
    username: str = ""
    folder: str = "INBOX"
    processed_folder: str = "Postroom/Processed"
    quarantine_folder: str = "Postroom/Quarantine"
    poll_minutes: int = 5  # 0: only when asked
    has_password: bool = False

    @property
    def configured(self) -> bool:
        return bool(self.host and self.username)


@dataclass(frozen=True, kw_only=True)
class SaveBounceMailbox(Command[BounceMailboxInfo]):
    """Store the IMAP mailbox bounces and complaints arrive in; the password goes to the keyring."""

    host: str
    port: int
    tls: str  # ssl | starttls | none (127.0.0.1 only)
    username: str
    password: str | None = None  # None keeps the stored one
    folder: str = "INBOX"
    processed_folder: str = "Postroom/Processed"
    quarantine_folder: str = "Postroom/Quarantine"
    poll_minutes: int = 5


@dataclass(frozen=True, kw_only=True)
class TestBounceMailbox(Command[ConnectionReport]):
    """Connect, secure, log in and open the folder (blocks for the round trips: run it from a job)."""

    __test__ = False


@dataclass(frozen=True, kw_only=True)
class FetchReport:
    """What one read of the bounce mailbox did. Counts are of what was new: a report read twice counts once."""

    fetched: int = 0  # messages read
    bounces: int = 0  # hard, soft and sender-side bounces counted
    complaints: int = 0
    unsubscribes: int = 0  # messages to the List-Unsubscribe mailto address, acted on
    ignored: int = 0  # auto-replies, delayed notices and other reports that are not bounces
    quarantined: int = 0  # moved to the quarantine folder for a person to read
    duplicates: int = 0  # reports counted before
    suppressed: int = 0  # addresses suppressed because of these reports
    left: int = 0  # left in the folder to try again next time (the database refused)
    error: str = ""  # the mailbox could not be read (nothing was changed there)


@dataclass(frozen=True, kw_only=True)
class FetchBounces(Command[FetchReport]):
    """Read the bounce mailbox now (blocks for the round trips: run it from a job)."""


@dataclass(frozen=True, kw_only=True)
class BounceEntryInfo:
    email: str
    kind: str  # hard, soft, sender, complaint, ignored, unsubscribe
    label: str  # hard, soft, sender-side, complaint, not a bounce, unsubscribe request
    status: str = ""  # enhanced status code, or the feedback type of a complaint
    action: str = ""  # failed, delayed, ...
    diagnostic: str = ""
    matched_by: str = ""  # verp, message-id, address, "" (not matched to anything we sent)
    run_id: int | None = None
    recipient_id: int | None = None
    contact_id: int | None = None
    counted: bool = False  # acted on now (False: only read, or counted before)


@dataclass(frozen=True, kw_only=True)
class BounceReport:
    kind: str  # dsn, feedback, autoreply, unsubscribe, unreadable
    entries: tuple[BounceEntryInfo, ...] = ()
    note: str = ""


@dataclass(frozen=True, kw_only=True)
class ParseBounce(Command[BounceReport]):
    """Read one report (an .eml file) and say what it means; with ``apply``, also act on it as a fetch would."""

    raw: bytes
    apply: bool = False


# -- events ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class RunStateChanged(Event):
    run_id: int
    campaign_id: int | None
    state: str  # queued, sending, paused, cancelled, finished
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class RunProgress(Event):
    """Counts per recipient state, the rate over the last ten seconds, and the audience size once counted."""

    run_id: int
    campaign_id: int | None
    counts: dict[str, int]
    rate_per_second: float
    total: int | None = None
    eta_seconds: float | None = None


@dataclass(frozen=True, kw_only=True)
class RecipientFailed(Event):
    """A recipient failed for good, or was refused in a way that paused the run (``outcome`` says which)."""

    run_id: int
    campaign_id: int | None
    recipient_id: int
    outcome: str  # hard, failed, expired, content, suppressed, policy
    reply: str


@dataclass(frozen=True, kw_only=True)
class AccountsChanged(Event):
    """Accounts or identities were added, changed or removed."""


@dataclass(frozen=True, kw_only=True)
class OutboxReceived(Event):
    """The built-in outbox stored a message."""

    message_id: int
    subject: str
    recipients: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class BounceReceived(Event):
    """A delivery report or complaint about a message we sent was read from the bounce mailbox (or a file).

    ``kind`` is hard, soft, sender (a refusal about us, not the recipient) or complaint. ``run_id``,
    ``recipient_id`` and ``contact_id`` are set when the report could be matched to what was sent.
    ``event_uid`` is stable per report and recipient, so a consumer can ignore a report seen twice.
    """

    kind: str
    email: str
    at: dt.datetime  # UTC, naive
    run_id: int | None = None
    campaign_id: int | None = None
    recipient_id: int | None = None
    contact_id: int | None = None
    status: str = ""  # enhanced status code, "5.1.1"
    diagnostic: str = ""
    event_uid: str = ""


@dataclass(frozen=True, kw_only=True)
class SenderStopped(Event):
    """The background sender stopped on an error (runs stay as they are; it restarts on the next command)."""

    reason: str
