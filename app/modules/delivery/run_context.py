"""A run's fixed parts (template, skeleton, identity, account, audience reader) and its per-recipient message."""

from __future__ import annotations

import collections
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from app.kernel.database import Database
from app.modules.contacts.api import Audience, recipient_batches
from app.modules.delivery import links, store
from app.modules.delivery.config import WorkerConfig
from app.modules.delivery.content import MessageSource, contact_mapping, source_for
from app.modules.delivery.dkim_keys import DkimSigner
from app.modules.delivery.mime import MessageParts, Skeleton, ascii_address, dot_stuff, needs_smtputf8
from app.modules.delivery.models import Identity, Run
from app.modules.delivery.smtp import AccountConfig
from app.modules.delivery.store import Claimed


class RunUnavailable(Exception):  # noqa: N818 - what happened, in the user's words
    """The run cannot be sent as stored (its account, identity or template is gone or broken)."""


@dataclass(frozen=True)
class Prepared:
    """One recipient's message, ready for the wire."""

    claimed: Claimed
    envelope_from: str
    recipient: str
    message_id: str
    stuffed: bytes
    smtputf8: bool = False  # an internationalised recipient address: only over SMTPUTF8


@dataclass
class RunContext:
    run_id: int
    campaign_id: int | None
    accounts: list[AccountConfig]  # the first is the run's main account; several: weights and failover
    source: MessageSource
    skeleton: Skeleton
    links: links.LinkSource
    bounce_address: str
    sender: dict[str, Any]
    dkim: DkimSigner | None
    batches: Iterator[list[Any]]
    audience_done: bool
    audience_total: int | None
    counts: collections.Counter[str] = field(default_factory=collections.Counter)
    queued_unclaimed: int = 0
    consecutive_errors: int = 0
    halted: bool = False
    campaign_name: str = ""
    tracking: Any = None  # the stats module's RunTracking, when it is installed and the run asks for it

    @property
    def account(self) -> AccountConfig:
        return self.accounts[0]

    @property
    def campaign(self) -> dict[str, Any]:
        return {"id": self.campaign_id, "name": self.campaign_name, "run_id": self.run_id}

    def prepare(self, claimed: Claimed) -> Prepared:
        """Render and assemble one message; raises RenderFailed / MessageError for this recipient only."""
        contact = contact_mapping(claimed.contact_id, claimed.email, claimed.data)
        mailto = links.unsubscribe_mailto(self.skeleton.domain, self.links, self.run_id, claimed.contact_id)
        urls = self.links.urls(self.run_id, claimed.contact_id)
        url = urls["unsubscribe_url"]
        urls = {**urls, "unsubscribe_url": url or mailto, "unsubscribe_mailto": mailto}
        parts = self.source.render(contact, urls=urls, sender=self.sender, campaign=self.campaign)
        if self.tracking is not None:  # tracked links, the open pixel, and the web view kept for the link
            parts = MessageParts(parts.subject, self.tracking.finish_html(parts.html, claimed.contact_id),
                                 parts.text)
        name = f"{contact['first_name']} {contact['last_name']}".strip()
        message = self.skeleton.build(recipient_id=claimed.id, to_name=name, to_email=claimed.email, parts=parts,
                                      unsubscribe_url=url, unsubscribe_mailto=mailto)
        if self.dkim is not None:
            message = self.dkim.sign(message)
        utf8 = needs_smtputf8(claimed.email)
        return Prepared(
            claimed=claimed,
            envelope_from=links.return_path(self.bounce_address, self.links, self.run_id, claimed.id),
            recipient=ascii_address(claimed.email, utf8=utf8),
            message_id=self.skeleton.message_id(claimed.id),
            stuffed=dot_stuff(message),
            smtputf8=utf8,
        )


def load(db: Database, config: WorkerConfig, run_id: int) -> RunContext:
    """Read the run and build its fixed parts (in the worker; the template is compiled once here)."""
    from app.modules.contacts.api import count_audience

    with db.read() as session:
        run = session.get(Run, run_id)
        if run is None:
            raise RunUnavailable(f"run {run_id} no longer exists")
        identity = session.get(Identity, run.identity_id)
        if identity is None:
            raise RunUnavailable("the sender identity of this run was deleted")
        run_values = {c: getattr(run, c) for c in ("campaign_id", "account_id", "account_ids", "audience",
                                                   "content", "nonce",
                                                   "audience_checkpoint", "audience_done", "audience_total")}
        ident = {c: getattr(identity, c) for c in ("from_name", "from_email", "reply_to", "postal_address",
                                                   "bounce_address", "dkim_selector")}
    wanted = [run_values["account_id"], *(run_values["account_ids"] or ())]
    accounts = [config.accounts[a] for a in dict.fromkeys(wanted) if a in config.accounts]
    if not accounts:
        raise RunUnavailable("the SMTP account of this run was deleted or is switched off" if len(wanted) == 1 else
                             "every SMTP account of this run was deleted or is switched off")
    try:
        source = source_for(run_values["content"], db)
    except Exception as exc:
        raise RunUnavailable(f"the message cannot be prepared: {exc}") from None
    try:
        skeleton = Skeleton(run_id=run_id, nonce=run_values["nonce"],
                            from_name=run_values["content"].get("from_name") or ident["from_name"],
                            from_email=ident["from_email"], reply_to=ident["reply_to"])
    except ValueError as exc:
        raise RunUnavailable(f"the sender identity is not usable: {exc}") from None
    bounce = ident["bounce_address"] or f"bounces@{skeleton.domain}"
    tracking = _tracking(db, config, run_id, run_values["content"])
    dkim = None
    key = config.dkim_keys.get(skeleton.domain)
    if ident["dkim_selector"] and key is not None and key[0] == ident["dkim_selector"]:
        dkim = DkimSigner(skeleton.domain, key[0], key[1])
    audience = Audience(**{k: tuple(v) for k, v in run_values["audience"].items()})
    total = run_values["audience_total"]
    if total is None:
        total = count_audience(db, audience)
        with db.transaction() as session:
            session.execute(store.RUN.update().where(store.RUN.c.id == run_id).values(audience_total=total))
    counts = collections.Counter(store.counts(db, run_id))
    return RunContext(
        run_id=run_id, campaign_id=run_values["campaign_id"], accounts=accounts, source=source, skeleton=skeleton,
        links=config.links, bounce_address=bounce,
        sender={"name": ident["from_name"], "email": ident["from_email"], "reply_to": ident["reply_to"],
                "postal_address": ident["postal_address"]},
        dkim=dkim,
        batches=recipient_batches(db, audience, config.settings.materialise_batch,
                                  after_id=run_values["audience_checkpoint"]),
        audience_done=bool(run_values["audience_done"]), audience_total=total, counts=counts,
        queued_unclaimed=counts.get("queued", 0), campaign_name=str(run_values["content"].get("campaign_name", "")),
        tracking=tracking,
    )


def _tracking(db: Database, config: WorkerConfig, run_id: int, content: dict[str, Any]) -> Any:
    opens, clicks, views = (bool(content.get(k, True)) for k in ("track_opens", "track_clicks", "keep_webviews"))
    if not isinstance(config.links, links.StatsLinks) or not (opens or clicks or views):
        return None
    from app.modules.stats.api import RunTracking

    # Web views are written when a batch's outcomes are (see the sender), not every N messages from here.
    return RunTracking(config.links.tracking, db, run_id, opens=opens, clicks=clicks, webviews=views,
                       flush_every=1 << 30)


def identity_domain(db: Database, identity_id: int) -> str:
    with db.read() as session:
        email = session.execute(select(Identity.from_email).where(Identity.id == identity_id)).scalar()
    return (email or "").rpartition("@")[2].lower()
