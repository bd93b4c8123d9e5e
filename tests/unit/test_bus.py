"""The message bus: routing, command errors, isolation of failing event handlers, queued events."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import pytest

from app.kernel.bus import BusRecord, MessageBus
from app.kernel.messages import Command, CommandNotHandled, Event, HandlerAlreadyRegistered


@dataclass(frozen=True, kw_only=True)
class AddContact(Command[int]):
    email: str


@dataclass(frozen=True, kw_only=True)
class ContactAdded(Event):
    email: str


@dataclass(frozen=True, kw_only=True)
class WelcomeQueued(Event):
    email: str


@dataclass(frozen=True, kw_only=True)
class VipContactAdded(ContactAdded):
    pass


def test_command_reaches_its_one_handler_and_returns_its_result() -> None:
    bus = MessageBus()
    bus.handle(AddContact, lambda cmd: len(cmd.email))
    assert bus.execute(AddContact(email="ada@example.org")) == 15


def test_second_handler_for_a_command_is_refused() -> None:
    bus = MessageBus()
    bus.handle(AddContact, lambda cmd: 1)
    with pytest.raises(HandlerAlreadyRegistered, match="AddContact"):
        bus.handle(AddContact, lambda cmd: 2)


def test_command_error_reaches_the_caller_and_is_recorded() -> None:
    bus = MessageBus()
    records: list[BusRecord] = []
    bus.add_monitor(records.append)

    def refuse(cmd: AddContact) -> int:
        raise ValueError(f"{cmd.email} is not an address")

    bus.handle(AddContact, refuse)
    with pytest.raises(ValueError, match="not an address"):
        bus.execute(AddContact(email="nope"))
    assert [r.kind for r in records] == ["command-failed"]
    assert "not an address" in records[0].error


def test_unhandled_command_says_which_one() -> None:
    with pytest.raises(CommandNotHandled, match="AddContact"):
        MessageBus().execute(AddContact(email="a@b.c"))


def test_disposed_handler_no_longer_receives() -> None:
    bus = MessageBus()
    seen: list[str] = []
    dispose = bus.subscribe(ContactAdded, lambda e: seen.append(e.email))
    bus.publish(ContactAdded(email="one@x.org"))
    dispose()
    bus.publish(ContactAdded(email="two@x.org"))
    assert seen == ["one@x.org"]


def test_failing_event_handler_is_isolated_and_reported() -> None:
    bus = MessageBus()
    seen: list[str] = []
    records: list[BusRecord] = []
    bus.add_monitor(records.append)

    def broken(_event: ContactAdded) -> None:
        raise RuntimeError("chart failed to redraw")

    bus.subscribe(ContactAdded, lambda e: seen.append("first"))
    bus.subscribe(ContactAdded, broken)
    bus.subscribe(ContactAdded, lambda e: seen.append("third"))
    bus.publish(ContactAdded(email="a@x.org"))  # must not raise
    assert seen == ["first", "third"]
    failures = [r for r in records if r.kind == "handler-failed"]
    assert len(failures) == 1
    assert "chart failed to redraw" in failures[0].error
    assert "broken" in failures[0].handler


def test_subscribers_to_a_base_event_receive_subclasses() -> None:
    bus = MessageBus()
    seen: list[type[Event]] = []
    bus.subscribe(ContactAdded, lambda e: seen.append(type(e)))
    bus.subscribe(Event, lambda e: seen.append(Event))
    bus.publish(VipContactAdded(email="vip@x.org"))
    assert seen == [VipContactAdded, Event]


def test_events_raised_while_handling_are_queued_not_recursed() -> None:
    bus = MessageBus()
    order: list[str] = []

    def on_added(event: ContactAdded) -> None:
        order.append("added:start")
        bus.publish(WelcomeQueued(email=event.email))
        order.append("added:end")  # the nested event must not have run yet

    bus.subscribe(ContactAdded, on_added)
    bus.subscribe(ContactAdded, lambda e: order.append("added:second"))
    bus.subscribe(WelcomeQueued, lambda e: order.append("welcome"))
    bus.publish(ContactAdded(email="a@x.org"))
    assert order == ["added:start", "added:end", "added:second", "welcome"]


def test_events_published_by_a_command_are_handled_before_execute_returns() -> None:
    bus = MessageBus()
    order: list[str] = []

    def add(cmd: AddContact) -> int:
        bus.publish(ContactAdded(email=cmd.email))
        order.append("handler done")
        return 7

    bus.handle(AddContact, add)
    bus.subscribe(ContactAdded, lambda e: order.append("event"))
    assert bus.execute(AddContact(email="a@x.org")) == 7
    order.append("returned")
    assert order == ["handler done", "event", "returned"]


def test_events_published_before_a_command_failed_still_happen() -> None:
    bus = MessageBus()
    seen: list[str] = []

    def half(cmd: AddContact) -> int:
        bus.publish(ContactAdded(email=cmd.email))
        raise RuntimeError("second step failed")

    bus.handle(AddContact, half)
    bus.subscribe(ContactAdded, lambda e: seen.append(e.email))
    with pytest.raises(RuntimeError):
        bus.execute(AddContact(email="a@x.org"))
    assert seen == ["a@x.org"]


def test_threads_publish_concurrently_without_losing_events() -> None:
    bus = MessageBus()
    seen: list[tuple[str, str]] = []
    lock = threading.Lock()

    def record(event: ContactAdded) -> None:
        with lock:
            seen.append((threading.current_thread().name, event.email))

    bus.subscribe(ContactAdded, record)

    def worker(n: int) -> None:
        for i in range(200):
            bus.publish(ContactAdded(email=f"{n}-{i}@x.org"))

    threads = [threading.Thread(target=worker, args=(n,), name=f"w{n}") for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(seen) == 800
    # handlers ran on the publishing thread
    assert all(name == f"w{email.split('-')[0]}" for name, email in seen)
