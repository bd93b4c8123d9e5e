"""A typed, synchronous message bus: commands have one handler, events many, and events queue instead of recursing."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from app.kernel.messages import Command, CommandNotHandled, Event, HandlerAlreadyRegistered

log = logging.getLogger(__name__)

R = TypeVar("R")
C = TypeVar("C", bound=Command[Any])
E = TypeVar("E", bound=Event)

Dispose = Callable[[], None]


@dataclass(frozen=True)
class BusRecord:
    """One thing that crossed the bus, as shown by the Activity page."""

    kind: str  # "command", "event", "command-failed", "handler-failed"
    message: Command[Any] | Event
    thread: str
    at: float
    duration_ms: float = 0.0
    handler: str = ""
    error: str = ""


Monitor = Callable[[BusRecord], None]


def _name(fn: Callable[..., Any]) -> str:
    return getattr(fn, "__qualname__", None) or repr(fn)


class MessageBus:
    """Routes commands to their one handler and events to all their subscribers.

    Thread-safe: any thread may execute or publish; handlers run on the calling thread. Events
    published while a handler runs on a thread are queued on that thread and handled after the
    current handler returns, so handlers never recurse into each other.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._command_handlers: dict[type[Any], Callable[[Any], Any]] = {}
        self._event_handlers: dict[type[Any], list[Callable[[Any], None]]] = {}
        self._monitors: list[Monitor] = []
        self._local = threading.local()

    # -- registration ---------------------------------------------------------------------------

    def handle(self, command_type: type[C], handler: Callable[[C], Any]) -> Dispose:
        """Register the one handler of ``command_type``; returns a callable that unregisters it."""
        with self._lock:
            if command_type in self._command_handlers:
                existing = _name(self._command_handlers[command_type])
                raise HandlerAlreadyRegistered(f"{command_type.__name__} is already handled by {existing}")
            self._command_handlers[command_type] = handler

        def dispose() -> None:
            with self._lock:
                if self._command_handlers.get(command_type) is handler:
                    del self._command_handlers[command_type]

        return dispose

    def subscribe(self, event_type: type[E], handler: Callable[[E], None]) -> Dispose:
        """Call ``handler`` for every event of ``event_type`` or a subclass of it."""
        with self._lock:
            self._event_handlers.setdefault(event_type, []).append(handler)

        def dispose() -> None:
            with self._lock:
                handlers = self._event_handlers.get(event_type, [])
                if handler in handlers:
                    handlers.remove(handler)

        return dispose

    def add_monitor(self, monitor: Monitor) -> Dispose:
        """Observe every command, event and failure (for the Activity page and logs)."""
        with self._lock:
            self._monitors.append(monitor)

        def dispose() -> None:
            with self._lock:
                if monitor in self._monitors:
                    self._monitors.remove(monitor)

        return dispose

    def has_handler(self, command_type: type[Command[Any]]) -> bool:
        with self._lock:
            return command_type in self._command_handlers

    # -- dispatch ---------------------------------------------------------------------------------

    def execute(self, command: Command[R]) -> R:
        """Run the command's handler and return its result; its exception reaches the caller.

        Events the handler published are dispatched before this returns (on this thread).
        """
        with self._lock:
            handler = self._command_handlers.get(type(command))
        if handler is None:
            raise CommandNotHandled(f"no module handles {type(command).__name__} (is its module disabled?)")
        started = time.perf_counter()
        outer = self._enter()
        try:
            result: R = handler(command)
        except Exception as exc:
            self._notify(BusRecord("command-failed", command, threading.current_thread().name, time.time(),
                                   (time.perf_counter() - started) * 1000, _name(handler), _describe(exc)))
            if outer:
                self._drain()  # events published before the failure still happened
            raise
        finally:
            self._leave()
        self._notify(BusRecord("command", command, threading.current_thread().name, time.time(),
                               (time.perf_counter() - started) * 1000, _name(handler)))
        if outer:
            self._drain()
        return result

    def publish(self, event: Event) -> None:
        """Deliver ``event`` to its handlers now, or after the running handler if one is running."""
        self._queue().append(event)
        if self._depth() == 0:
            self._drain()

    # -- internals --------------------------------------------------------------------------------

    def _queue(self) -> deque[Event]:
        queue: deque[Event] | None = getattr(self._local, "queue", None)
        if queue is None:
            queue = deque()
            self._local.queue = queue
        return queue

    def _depth(self) -> int:
        return int(getattr(self._local, "depth", 0))

    def _enter(self) -> bool:
        depth = self._depth()
        self._local.depth = depth + 1
        return depth == 0

    def _leave(self) -> None:
        self._local.depth = self._depth() - 1

    def _drain(self) -> None:
        queue = self._queue()
        self._enter()
        try:
            while queue:
                self._dispatch_event(queue.popleft())
        finally:
            self._leave()

    def _handlers_for(self, event: Event) -> list[Callable[[Any], None]]:
        with self._lock:
            found: list[Callable[[Any], None]] = []
            for klass in type(event).__mro__:
                found.extend(self._event_handlers.get(klass, ()))
            return found

    def _dispatch_event(self, event: Event) -> None:
        thread = threading.current_thread().name
        self._notify(BusRecord("event", event, thread, time.time()))
        for handler in self._handlers_for(event):
            try:
                handler(event)
            except Exception as exc:
                log.exception("event handler %s failed on %s", _name(handler), type(event).__name__)
                self._notify(BusRecord("handler-failed", event, thread, time.time(), 0.0, _name(handler),
                                       _describe(exc)))

    def _notify(self, record: BusRecord) -> None:
        with self._lock:
            monitors = list(self._monitors)
        for monitor in monitors:
            try:
                monitor(record)
            except Exception:
                log.exception("bus monitor %s failed", _name(monitor))


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
