"""Assembles the kernel: paths, logging, settings, secrets, database, bus, jobs, then the modules."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from app import __version__
from app.kernel.bus import MessageBus
from app.kernel.database import Database
from app.kernel.jobs import JobRunner
from app.kernel.logs import configure_logging
from app.kernel.paths import AppPaths
from app.kernel.registry import ModuleRegistry, ModuleSpec, ModuleStatus
from app.kernel.secrets import SecretStore
from app.kernel.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class Kernel:
    paths: AppPaths
    bus: MessageBus
    settings: Settings
    secrets: SecretStore
    db: Database
    jobs: JobRunner
    registry: ModuleRegistry = field(default_factory=lambda: ModuleRegistry(()))
    # True in the long-running app: modules then start their servers and loops (tracking endpoint,
    # local outbox, sender). A one-shot command line run leaves them off.
    runs_services: bool = False
    _services_started: bool = False
    _log_handler: logging.Handler | None = None

    @property
    def statuses(self) -> list[ModuleStatus]:
        return self.registry.statuses

    def start_services(self) -> list[tuple[str, str]]:
        """Start the modules' servers and loops (once); the app calls this after its window is shown."""
        if not self.runs_services or self._services_started:
            return []
        self._services_started = True
        return self.registry.start_services()

    def close(self) -> None:
        """Stop modules, wait for jobs, release the database; safe to call twice."""
        self.registry.stop_all()
        self.jobs.shutdown(wait=True)
        self.db.dispose()
        if self._log_handler is not None:
            logging.getLogger().removeHandler(self._log_handler)
            self._log_handler.close()
            self._log_handler = None


@dataclass(frozen=True)
class LoadFailure:
    entry: str
    reason: str


def load_specs(entries: Sequence[str]) -> tuple[list[ModuleSpec], list[LoadFailure]]:
    """Import ``package.module:ATTRIBUTE`` entries; a module that fails to import is reported, not fatal."""
    specs: list[ModuleSpec] = []
    failures: list[LoadFailure] = []
    for entry in entries:
        module_path, _, attribute = entry.partition(":")
        try:
            spec = getattr(importlib.import_module(module_path), attribute or "MODULE")
        except Exception as exc:
            log.exception("module %s could not be loaded", entry)
            failures.append(LoadFailure(entry, f"{type(exc).__name__}: {exc}"))
            continue
        if not isinstance(spec, ModuleSpec):
            failures.append(LoadFailure(entry, f"{entry} is not a ModuleSpec"))
            continue
        specs.append(spec)
    return specs, failures


def start_kernel(
    paths: AppPaths,
    *,
    database_url: str | None = None,
    modules: Sequence[ModuleSpec] = (),
    secrets_backend: Any | None = None,
    log_to_file: bool = True,
    bus: MessageBus | None = None,
    services: bool = False,
    defer_services: bool = False,
) -> Kernel:
    """Build the kernel and start ``modules``; never raises because of one module.

    Pass ``bus`` to observe it (the Qt bridge, the Activity page) before the modules start, and
    ``services=True`` in the long-running app so modules start their servers and background loops (at once, or
    when the caller runs ``kernel.start_services()`` if ``defer_services``: the window shows first).
    Raises :class:`DatabaseUnavailable` when the database cannot be opened.
    """
    paths.ensure()
    handler = configure_logging(paths.log_file) if log_to_file else None
    bus = bus or MessageBus()
    settings = Settings(paths.settings_file, publish=bus.publish)
    url = database_url or settings.get("database.url", "") or paths.default_database_url()
    db = Database(url)
    try:
        db.check()
    except Exception:
        db.dispose()
        if handler is not None:
            logging.getLogger().removeHandler(handler)
            handler.close()
        raise
    kernel = Kernel(
        paths=paths,
        bus=bus,
        settings=settings,
        secrets=SecretStore(secrets_backend),
        db=db,
        jobs=JobRunner(bus),
        runs_services=services,
        _log_handler=handler,
    )
    log.info("Postroom starting", extra={"version": __version__, "database": db.display_url()})
    kernel.registry = ModuleRegistry(list(modules))
    kernel.registry.start_all(kernel)
    if services and not defer_services:
        kernel.start_services()
    return kernel
