"""The module registry: modules declare what they need, start in dependency order, and fail alone."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from app.kernel.events import ModuleDisabled, ModuleStarted
from app.kernel.messages import Command, Event
from app.kernel.migrations import MigrationSource, upgrade

if TYPE_CHECKING:
    from app.kernel.boot import Kernel

log = logging.getLogger(__name__)

C = TypeVar("C", bound=Command[Any])
E = TypeVar("E", bound=Event)
Teardown = Callable[[], None]


@dataclass(frozen=True)
class PageSpec:
    """A page in the main window. ``factory(ui_context)`` builds its widget, only when the GUI runs."""

    key: str
    title: str
    factory: Callable[[Any], Any]
    icon: str = ""
    order: int = 100
    tooltip: str = ""
    # File suffixes (".csv") the page opens when such files are dropped anywhere on the window;
    # its widget then gets ``open_files(paths)``.
    opens_files: tuple[str, ...] = ()


@dataclass(frozen=True)
class SettingsPageSpec:
    """A page of the Preferences dialog. ``factory(ui_context)`` returns a widget with an ``apply()`` method."""

    key: str
    title: str
    factory: Callable[[Any], Any]
    order: int = 100


@dataclass(frozen=True)
class CliCommand:
    """A ``postroom NAME ...`` subcommand. ``configure`` adds arguments and sets ``run`` with set_defaults."""

    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]


@dataclass(frozen=True)
class ModuleSpec:
    """What a module declares about itself. ``setup`` registers everything and may return a teardown."""

    name: str
    title: str
    setup: Callable[[ModuleContext], Teardown | None]
    requires: tuple[str, ...] = ()
    migrations: Path | None = None
    description: str = ""


@dataclass
class ModuleStatus:
    name: str
    title: str
    state: str  # "started", "disabled"
    reason: str = ""


class ModuleContext:
    """What a module gets at setup: the kernel's services, and ways to contribute to the app.

    Handlers and subscriptions made through the context are removed at teardown automatically.
    """

    def __init__(self, spec: ModuleSpec, kernel: Kernel) -> None:
        self.spec = spec
        self.name = spec.name
        self.kernel = kernel
        self.bus = kernel.bus
        self.db = kernel.db
        self.settings = kernel.settings
        self.secrets = kernel.secrets
        self.jobs = kernel.jobs
        self.paths = kernel.paths
        self.log = logging.getLogger(f"app.modules.{spec.name}")
        self.pages: list[PageSpec] = []
        self.settings_pages: list[SettingsPageSpec] = []
        self.cli_commands: list[CliCommand] = []
        self.service_starters: list[Callable[[], None]] = []
        self._disposers: list[Callable[[], None]] = []

    def handle(self, command_type: type[C], handler: Callable[[C], Any]) -> None:
        self._disposers.append(self.bus.handle(command_type, handler))

    def subscribe(self, event_type: type[E], handler: Callable[[E], None]) -> None:
        self._disposers.append(self.bus.subscribe(event_type, handler))

    def add_page(self, page: PageSpec) -> None:
        self.pages.append(page)

    def add_settings_page(self, page: SettingsPageSpec) -> None:
        self.settings_pages.append(page)

    def add_cli(self, command: CliCommand) -> None:
        self.cli_commands.append(command)

    def on_teardown(self, teardown: Teardown) -> None:
        self._disposers.append(teardown)

    def on_services(self, start: Callable[[], None]) -> None:
        """Start a server or background loop, only in the long-running app (see ``Kernel.start_services``).

        Stop it with ``on_teardown``; teardown must cope with a service that never started.
        """
        self.service_starters.append(start)

    def dispose(self) -> None:
        while self._disposers:
            dispose = self._disposers.pop()
            try:
                dispose()
            except Exception:
                self.log.exception("teardown of module %s failed", self.name)


def dependency_order(specs: Sequence[ModuleSpec]) -> tuple[list[ModuleSpec], dict[str, str]]:
    """Order specs so each comes after what it requires; returns the order and why others cannot start."""
    by_name = {spec.name: spec for spec in specs}
    problems: dict[str, str] = {}
    ordered: list[ModuleSpec] = []
    state: dict[str, str] = {}

    def visit(spec: ModuleSpec, trail: tuple[str, ...]) -> bool:
        if state.get(spec.name) == "done":
            return spec.name not in problems
        if spec.name in trail:
            cycle = " -> ".join((*trail[trail.index(spec.name):], spec.name))
            problems[spec.name] = f"circular requirement: {cycle}"
            return False
        ok = True
        for need in spec.requires:
            if need not in by_name:
                problems.setdefault(spec.name, f"requires the {need} module, which is not installed")
                ok = False
            elif not visit(by_name[need], (*trail, spec.name)):
                problems.setdefault(spec.name, f"requires the {need} module, which cannot start")
                ok = False
        state[spec.name] = "done"
        if ok and spec.name not in problems:
            ordered.append(spec)
            return True
        return False

    for spec in specs:
        visit(spec, ())
    return [spec for spec in ordered if spec.name not in problems], problems


@dataclass
class ModuleRegistry:
    specs: Sequence[ModuleSpec]
    statuses: list[ModuleStatus] = field(default_factory=list)
    contexts: list[ModuleContext] = field(default_factory=list)
    _teardowns: list[tuple[str, Teardown]] = field(default_factory=list)

    def start_all(self, kernel: Kernel) -> list[ModuleStatus]:
        """Migrate and set up every module in dependency order; a failure disables that module only."""
        order, problems = dependency_order(self.specs)
        failed: dict[str, str] = dict(problems)
        for spec in order:
            missing = [need for need in spec.requires if need in failed]
            if missing:
                failed[spec.name] = f"requires the {missing[0]} module, which is disabled"
                continue
            reason = self._start(spec, kernel)
            if reason is not None:
                failed[spec.name] = reason
        for spec in self.specs:
            if spec.name in failed:
                self.statuses.append(ModuleStatus(spec.name, spec.title, "disabled", failed[spec.name]))
                log.error("module disabled", extra={"module_name": spec.name, "reason": failed[spec.name]})
                kernel.bus.publish(ModuleDisabled(name=spec.name, reason=failed[spec.name]))
            else:
                self.statuses.append(ModuleStatus(spec.name, spec.title, "started"))
                kernel.bus.publish(ModuleStarted(name=spec.name))
        return self.statuses

    def _start(self, spec: ModuleSpec, kernel: Kernel) -> str | None:
        context = ModuleContext(spec, kernel)
        try:
            if spec.migrations is not None:
                upgrade(kernel.db.engine, MigrationSource(spec.name, spec.migrations))
            teardown = spec.setup(context)
        except Exception as exc:
            log.exception("module %s failed to start", spec.name)
            context.dispose()  # undo the handlers it registered before failing
            return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        self.contexts.append(context)
        if teardown is not None:
            self._teardowns.append((spec.name, teardown))
        return None

    def stop_all(self) -> None:
        """Tear modules down in reverse start order."""
        for name, teardown in reversed(self._teardowns):
            try:
                teardown()
            except Exception:
                log.exception("teardown of module %s failed", name)
        self._teardowns.clear()
        for context in reversed(self.contexts):
            context.dispose()
        self.contexts.clear()

    def status(self, name: str) -> ModuleStatus | None:
        return next((status for status in self.statuses if status.name == name), None)

    def start_services(self) -> list[tuple[str, str]]:
        """Run every started module's service starters; returns (module, reason) for those that failed."""
        failures = []
        for context in self.contexts:
            for start in context.service_starters:
                try:
                    start()
                except Exception as exc:
                    log.exception("a service of module %s failed to start", context.name)
                    failures.append((context.name, f"{type(exc).__name__}: {exc}"))
        return failures

    @property
    def pages(self) -> list[PageSpec]:
        return sorted((p for c in self.contexts for p in c.pages), key=lambda page: page.order)

    @property
    def settings_pages(self) -> list[SettingsPageSpec]:
        return sorted((p for c in self.contexts for p in c.settings_pages), key=lambda page: page.order)

    @property
    def cli_commands(self) -> list[CliCommand]:
        return [command for context in self.contexts for command in context.cli_commands]
