"""Messages the kernel itself publishes and handles (modules, jobs, settings)."""

from __future__ import annotations

from dataclasses import dataclass

from app.kernel.messages import Command, Event


@dataclass(frozen=True, kw_only=True)
class ModuleStarted(Event):
    name: str


@dataclass(frozen=True, kw_only=True)
class ModuleDisabled(Event):
    name: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class SettingChanged(Event):
    key: str


@dataclass(frozen=True, kw_only=True)
class JobStarted(Event):
    job_id: int
    title: str
    cancellable: bool


@dataclass(frozen=True, kw_only=True)
class JobProgressed(Event):
    job_id: int
    done: int
    total: int | None
    text: str


@dataclass(frozen=True, kw_only=True)
class JobFinished(Event):
    job_id: int
    title: str
    outcome: str  # "done", "cancelled" or "failed"
    text: str


@dataclass(frozen=True, kw_only=True)
class CancelJob(Command[bool]):
    """Ask a running job to stop; returns False when the job is unknown or already finished."""

    job_id: int
