"""The one way bus traffic reaches the GUI: a monitor on any thread, a queued Qt signal, callbacks on the GUI thread."""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from PySide6.QtCore import QObject, Signal, Slot

from app.kernel.bus import BusRecord, MessageBus
from app.kernel.messages import Event

log = logging.getLogger(__name__)

E = TypeVar("E", bound=Event)
Dispose = Callable[[], None]


class _Subscription:
    __slots__ = ("active", "callback", "event_type", "owner_connection")

    def __init__(self, event_type: type[Event], callback: Callable[[Any], None]) -> None:
        self.event_type = event_type
        self.callback = callback
        self.active = True
        self.owner_connection: Any = None


class QtBridge(QObject):
    """Carries every bus record onto the GUI thread.

    The bus calls monitors on whichever thread published; emitting a signal from there lets Qt queue
    the record to this object's (the GUI) thread, so subscribers may touch widgets freely.
    """

    records = Signal(object)  # every BusRecord, on the GUI thread (the Activity page)
    _arrived = Signal(object)

    def __init__(self, bus: MessageBus, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._bus = bus
        self._subscriptions: list[_Subscription] = []
        self._closed = threading.Event()
        self._arrived.connect(self._deliver)
        self._remove_monitor = bus.add_monitor(self._on_record)

    @property
    def bus(self) -> MessageBus:
        return self._bus

    def subscribe(self, event_type: type[E], callback: Callable[[E], None],
                  owner: QObject | None = None) -> Dispose:
        """Call ``callback`` on the GUI thread for each ``event_type`` event; ends when ``owner`` is destroyed."""
        subscription = _Subscription(event_type, callback)
        self._subscriptions.append(subscription)

        def dispose() -> None:
            if not subscription.active:
                return
            subscription.active = False
            if subscription in self._subscriptions:
                self._subscriptions.remove(subscription)
            connection, subscription.owner_connection = subscription.owner_connection, None
            if connection is not None:
                # When the owner is already gone (that is why we are here) there is nothing to disconnect.
                with contextlib.suppress(RuntimeError, TypeError):
                    QObject.disconnect(connection)

        if owner is not None:
            subscription.owner_connection = owner.destroyed.connect(lambda *_: dispose())
        return dispose

    def close(self) -> None:
        """Stop listening to the bus; records already queued are dropped."""
        self._closed.set()
        self._remove_monitor()
        self._subscriptions.clear()

    # -- any thread ---------------------------------------------------------------------------------

    def _on_record(self, record: BusRecord) -> None:
        if self._closed.is_set():
            return
        # The Qt object may die between the check and the emit (shutting down): then there is nothing to show.
        with contextlib.suppress(RuntimeError):
            self._arrived.emit(record)

    # -- GUI thread ---------------------------------------------------------------------------------

    @Slot(object)
    def _deliver(self, record: BusRecord) -> None:
        if self._closed.is_set():
            return
        self.records.emit(record)
        if record.kind != "event":
            return
        for subscription in list(self._subscriptions):
            if not subscription.active or not isinstance(record.message, subscription.event_type):
                continue
            try:
                subscription.callback(record.message)
            except Exception:
                # One broken view must not starve the others; the error hook shows and logs it.
                sys.excepthook(*sys.exc_info())
