"""Handlers of the delivery module's commands, and the relay that turns the sender's reports into bus events
and into the contacts module's timeline entries and suppressions."""

from __future__ import annotations

import dataclasses
import logging
import secrets as pysecrets
from typing import Any

from sqlalchemy import select, update

from app.kernel.registry import ModuleContext
from app.modules.delivery import accounts, links, store
from app.modules.delivery.accounts import DeliveryError
from app.modules.delivery.config import SenderSettings, WorkerConfig
from app.modules.delivery.content import source_for
from app.modules.delivery.local_outbox import BuiltInOutbox
from app.modules.delivery.messages import (
    AccountsChanged,
    CancelRun,
    ConnectionReport,
    CreateDkimKey,
    DkimKeyInfo,
    FinishRun,
    OutboxReceived,
    PauseRun,
    RecipientFailed,
    RemoveAccount,
    ResendUnknown,
    ResumePendingRuns,
    ResumeRun,
    RunProgress,
    RunStateChanged,
    SaveAccount,
    SaveIdentity,
    SenderStopped,
    StartRun,
    TestAccount,
)
from app.modules.delivery.models import Account, DkimKey, Identity, Recipient, Run
from app.modules.delivery.reporter import Reporter
from app.modules.delivery.worker import WorkerHost
from app.modules.stats.messages import GetTrackingLinks

log = logging.getLogger(__name__)


def sender_settings(context: ModuleContext) -> SenderSettings:
    get = context.settings.get_optional
    defaults = SenderSettings()

    def number(key: str, fallback: float) -> float:
        value = get(key)
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else fallback

    domains = get("delivery.domain_per_minute")
    window = get("delivery.send_window")
    return SenderSettings(
        batch_size=int(number("delivery.batch_size", defaults.batch_size)),
        in_flight=int(number("delivery.in_flight", defaults.in_flight)),
        retry_base=number("delivery.retry_base_seconds", defaults.retry_base),
        retry_max=number("delivery.retry_max_seconds", defaults.retry_max),
        lifetime=number("delivery.lifetime_hours", defaults.lifetime / 3600) * 3600,
        max_consecutive_errors=int(number("delivery.max_consecutive_errors", defaults.max_consecutive_errors)),
        max_connections=int(number("delivery.max_connections", defaults.max_connections)),
        slowdown_seconds=number("delivery.slowdown_seconds", defaults.slowdown_seconds),
        domain_per_minute={str(k): int(v) for k, v in domains.items()} if isinstance(domains, dict) else {},
        quota_patience=number("delivery.quota_patience_seconds", defaults.quota_patience),
        failover_after=int(number("delivery.failover_after", defaults.failover_after)),
        account_cooldown=number("delivery.account_cooldown_seconds", defaults.account_cooldown),
        warmup_start=int(number("delivery.warmup_start", defaults.warmup_start)),
        warmup_factor=number("delivery.warmup_factor", defaults.warmup_factor),
        send_window=window if isinstance(window, dict) else None,
    )


class DeliveryService:
    """Owns the worker host and the built-in outbox port; handles the commands."""

    def __init__(self, context: ModuleContext) -> None:
        self.context = context
        self.db = context.db
        self.bus = context.bus
        self._link_key: bytes | None = None
        self.outbox = BuiltInOutbox(context.db, context.settings, self._announce)
        mode = context.settings.get("delivery.worker", "process")
        self.host = WorkerHost(config_factory=self.worker_config, on_report=self.on_report,
                               has_work=lambda: bool(store.sending_runs(self.db)), mode=mode,
                               on_give_up=self.give_up)
        self.reporter = Reporter(self.db, self.bus, busy=lambda: self.host.running)

    def start_services(self) -> None:
        """In the app, once its window is up: the outbox listens, an interrupted send carries on, and outcomes a
        crash or a quit kept from the contacts module are told."""
        self.outbox.ensure()
        if store.sending_runs(self.db):
            self.host.ensure_running()
        if store.pending_reports(self.db, 1):
            self.reporter.poke()

    def _announce(self, message_id: int, subject: str, recipients: tuple[str, ...]) -> None:
        self.bus.publish(OutboxReceived(message_id=message_id, subject=subject, recipients=recipients))

    def register(self, context: ModuleContext) -> None:
        context.handle(StartRun, self.start_run)
        context.handle(PauseRun, self.pause_run)
        context.handle(ResumeRun, self.resume_run)
        context.handle(CancelRun, self.cancel_run)
        context.handle(ResendUnknown, self.resend_unknown)
        context.handle(FinishRun, self.finish_run)
        context.handle(ResumePendingRuns, self.resume_pending)
        context.handle(SaveAccount, self.save_account)
        context.handle(RemoveAccount, self.remove_account)
        context.handle(SaveIdentity, self.save_identity)
        context.handle(TestAccount, self.test_account)
        context.handle(CreateDkimKey, self.create_dkim_key)

    # -- the worker's configuration

    def worker_config(self) -> WorkerConfig:
        settings = sender_settings(self.context)
        with self.db.read() as session:
            timeout = self.context.settings.get_optional("delivery.smtp_timeout_seconds")
            configs = accounts.account_configs(session, self.context.secrets, self.outbox.ensure,
                                               float(timeout) if isinstance(timeout, int | float) else 60.0)
            keys = [(k.domain, k.selector) for k in session.scalars(select(DkimKey))]
        dkim: dict[str, tuple[str, bytes]] = {}
        for domain, selector in keys:
            try:
                pem = self.context.secrets.get(f"dkim:{domain}:{selector}")
            except Exception:
                pem = None
            if pem:
                dkim[domain] = (selector, pem.encode("ascii"))
        return WorkerConfig(database_url=self.db.url.render_as_string(hide_password=False),
                            lock_path=str(self.context.paths.data_dir / "delivery-sender.lock"),
                            accounts=configs, settings=settings, links=self.links(), dkim_keys=dkim)

    def links(self) -> links.LinkSource:
        """The stats module's link builder when it is installed (its endpoint verifies the tokens), else ours."""
        if self.bus.has_handler(GetTrackingLinks):
            try:
                return links.StatsLinks(self.bus.execute(GetTrackingLinks()))
            except Exception:
                log.exception("the tracking endpoint's links are not available; sending without them")
        return links.LocalLinks(self.link_key)

    @property
    def link_key(self) -> bytes:
        """The fallback links' key, read only when needed (the keyring costs ~0.1 s at start-up)."""
        if self._link_key is None:
            self._link_key = links.load_or_create_key(self.context.secrets, self.context.paths.data_dir)
        return self._link_key

    # -- runs

    def _defaults(self, account_id: int | None, identity_id: int | None) -> tuple[int, int]:
        settings = self.context.settings
        with self.db.transaction() as session:
            default_account, default_identity = accounts.ensure_defaults(session)
            account_id = account_id or settings.get_optional("delivery.default_account_id") or default_account
            identity_id = identity_id or settings.get_optional("delivery.default_identity_id") or default_identity
            if session.get(Account, account_id) is None:
                raise DeliveryError(f"no SMTP account with id {account_id}")
            if session.get(Identity, identity_id) is None:
                raise DeliveryError(f"no sender identity with id {identity_id}")
        return int(account_id), int(identity_id)

    def start_run(self, command: StartRun) -> int:
        account_id, identity_id = self._defaults(command.account_id or next(iter(command.account_ids), None),
                                                 command.identity_id)
        account_ids = list(dict.fromkeys((account_id, *command.account_ids))) if command.account_ids else None
        if account_ids:
            with self.db.read() as session:
                missing = [a for a in account_ids if session.get(Account, a) is None]
            if missing:
                raise DeliveryError(f"no SMTP account with id {missing[0]}")
        content = dataclasses.asdict(command.content)
        try:
            source = source_for(content, self.db)  # a broken template is refused now, not found mid-send
        except Exception as exc:
            raise DeliveryError(f"the message cannot be prepared: {exc}") from None
        audience = {k: list(v) for k, v in dataclasses.asdict(command.audience).items()}
        with self.db.transaction() as session:
            run = Run(campaign_id=command.campaign_id, identity_id=identity_id, account_id=account_id,
                      account_ids=account_ids, audience=audience, content=content,
                      version_key=source.version_key, state="queued", nonce=pysecrets.token_hex(4))
            session.add(run)
            session.flush()
            run_id = run.id
        store.set_run_state(self.db, run_id, "sending")
        self.bus.publish(RunStateChanged(run_id=run_id, campaign_id=command.campaign_id, state="sending"))
        # Off for a headless setup where `postroom delivery run` (a service) does the sending.
        if self.context.settings.get("delivery.autostart", True):
            self.host.ensure_running()
        return run_id

    def _campaign(self, run_id: int) -> int | None:
        with self.db.read() as session:
            run = session.get(Run, run_id)
            if run is None:
                raise DeliveryError(f"no run with id {run_id}")
            return run.campaign_id

    def _change(self, run_id: int, state: str, reason: str, only_from: tuple[str, ...]) -> bool:
        campaign_id = self._campaign(run_id)
        if not store.set_run_state(self.db, run_id, state, reason, only_from=only_from):
            return False
        self.bus.publish(RunStateChanged(run_id=run_id, campaign_id=campaign_id, state=state, reason=reason))
        return True

    def pause_run(self, command: PauseRun) -> bool:
        changed = self._change(command.run_id, "paused", "paused by you", ("sending", "queued"))
        if changed and self.host.running:
            self.host.ensure_running()  # wakes it: it hands back what is not on the wire yet
        return changed

    def resume_run(self, command: ResumeRun) -> bool:
        changed = self._change(command.run_id, "sending", "", ("paused", "queued"))
        if changed:
            self.host.ensure_running()
        return changed

    def cancel_run(self, command: CancelRun) -> bool:
        changed = self._change(command.run_id, "cancelled", "cancelled by you", ("sending", "paused", "queued"))
        if changed and self.host.running:
            self.host.ensure_running()
        return changed

    def resend_unknown(self, command: ResendUnknown) -> int:
        self._campaign(command.run_id)
        with self.db.transaction() as session:
            count = session.execute(update(Recipient).where(
                Recipient.run_id == command.run_id, Recipient.state == "unknown").values(
                state="queued", next_attempt_at=0.0, reply_text="sent again on your request")).rowcount  # type: ignore[attr-defined]
        if count:
            self._change(command.run_id, "sending", "", ("paused", "finished", "sending"))
            self.host.ensure_running()
        return int(count)

    def finish_run(self, command: FinishRun) -> bool:
        counts = store.counts(self.db, command.run_id)
        if any(counts.get(s) for s in ("queued", "sending", "deferred")):
            raise DeliveryError("this run still has recipients to send; pause or cancel it instead")
        return self._change(command.run_id, "finished", "", ("paused",))

    def resume_pending(self, _command: ResumePendingRuns) -> int:
        pending = len(store.sending_runs(self.db))
        if pending:
            self.host.ensure_running()
        return pending

    # -- accounts and identities

    def save_account(self, command: SaveAccount) -> int:
        with self.db.transaction() as session:
            account_id = accounts.save_account(session, self.context.secrets, command)
        if self.host.running:
            self.host.ensure_running()  # hands the sender the changed account list
        self.bus.publish(AccountsChanged())
        return account_id

    def remove_account(self, command: RemoveAccount) -> bool:
        with self.db.transaction() as session:
            account = session.get(Account, command.account_id)
            if account is None:
                return False
            if account.is_local_outbox:
                raise DeliveryError("the built-in outbox cannot be removed (switch it off in the settings)")
            open_runs = session.execute(select(Run.id, Run.account_id, Run.account_ids).where(
                Run.state.in_(("sending", "paused", "queued")))).all()
            in_use = next((run_id for run_id, main, more in open_runs
                           if main == account.id or account.id in (more or ())), None)
            if in_use is not None:
                raise DeliveryError(f"run {in_use} still uses this account; finish or cancel it first")
            if session.scalar(select(Run.id).where(Run.account_id == account.id)) is not None:
                account.enabled = False  # past runs keep pointing at it
            else:
                session.delete(account)
        try:
            self.context.secrets.delete(accounts.password_key(command.account_id))
        except Exception:
            log.warning("could not remove the password of account %s from the keyring", command.account_id)
        self.bus.publish(AccountsChanged())
        return True

    def save_identity(self, command: SaveIdentity) -> int:
        with self.db.transaction() as session:
            identity_id = accounts.save_identity(session, command)
        self.bus.publish(AccountsChanged())
        return identity_id

    def test_account(self, command: TestAccount) -> ConnectionReport:
        from app.modules.delivery.smtp import probe
        from app.modules.delivery.testsend import run_async

        config = self.worker_config().accounts.get(command.account_id)
        if config is None:
            raise DeliveryError(f"no enabled account with id {command.account_id}")
        try:
            steps = run_async(probe(config))
        except Exception as exc:
            return ConnectionReport(ok=False, steps=(), error=str(exc) or type(exc).__name__)
        return ConnectionReport(ok=True, steps=tuple(steps))

    def create_dkim_key(self, command: CreateDkimKey) -> DkimKeyInfo:
        from app.modules.delivery.dkim_keys import dns_record, generate_key

        domain = command.domain.strip().lower().encode("idna").decode("ascii")
        problem = self.context.secrets.problem()
        if problem is not None:
            raise DeliveryError(f"the DKIM key cannot be stored safely: {problem}")
        private, public = generate_key()
        record = dns_record(domain, command.selector, public)
        self.context.secrets.set(f"dkim:{domain}:{command.selector}", private.decode("ascii"))
        with self.db.transaction() as session:
            existing = session.scalar(select(DkimKey).where(DkimKey.domain == domain,
                                                            DkimKey.selector == command.selector))
            if existing is None:
                session.add(DkimKey(domain=domain, selector=command.selector, public_key=record.value))
            else:
                existing.public_key = record.value
        return DkimKeyInfo(domain=domain, selector=command.selector, dns_name=record.name, dns_value=record.value)

    # -- the sender's reports

    def give_up(self, error: str) -> None:
        """The sender failed again and again: pause what it was sending, with the reason, for the user."""
        reason = f"the sender stopped on an error and was not restarted: {error}"
        for run_id in store.sending_runs(self.db):
            self._change(run_id, "paused", reason, ("sending",))

    def on_report(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "progress":
            counts, rate, total = message["counts"], float(message["rate"]), message.get("total")
            left = max(0, (total or 0) - counts.get("sent", 0) - counts.get("failed", 0)) if total else None
            eta = left / rate if left is not None and rate > 0 else None
            self.bus.publish(RunProgress(run_id=message["run_id"], campaign_id=message["campaign_id"],
                                         counts=counts, rate_per_second=rate, total=total, eta_seconds=eta))
        elif kind == "state":
            self.bus.publish(RunStateChanged(run_id=message["run_id"], campaign_id=message["campaign_id"],
                                             state=message["state"], reason=message.get("reason", "")))
        elif kind == "failed":
            for recipient_id, outcome, reply in message["items"]:
                self.bus.publish(RecipientFailed(run_id=message["run_id"], campaign_id=message["campaign_id"],
                                                 recipient_id=recipient_id, outcome=outcome, reply=reply))
        elif kind == "recovered":
            log.warning("%s message(s) were in flight when the sender last stopped; they are marked unknown",
                        message["count"])
        if kind in ("outcomes", "exit"):
            self.reporter.poke()
        if kind == "exit" and message.get("error"):
            self.bus.publish(SenderStopped(reason=str(message["error"])))
