"""The module registry: dependency order, a failing module disabled alone, teardown in reverse."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from app.kernel.boot import Kernel, load_specs, start_kernel
from app.kernel.events import ModuleDisabled
from app.kernel.paths import AppPaths
from app.kernel.registry import ModuleContext, ModuleSpec, PageSpec, dependency_order
from tests.conftest import MemoryKeyring


def spec(name: str, requires: tuple[str, ...] = (), setup: Callable[[ModuleContext], object] | None = None,
         log: list[str] | None = None) -> ModuleSpec:
    def default_setup(context: ModuleContext) -> Callable[[], None]:
        if log is not None:
            log.append(f"start {context.name}")
        return lambda: log.append(f"stop {context.name}") if log is not None else None

    return ModuleSpec(name=name, title=name.title(), requires=requires,
                      setup=setup or default_setup)  # type: ignore[arg-type]


def boot(tmp_path: Path, modules: list[ModuleSpec]) -> Kernel:
    return start_kernel(AppPaths.inside(tmp_path), modules=modules, secrets_backend=MemoryKeyring(),
                        log_to_file=False)


def test_modules_start_after_what_they_require(tmp_path: Path) -> None:
    log: list[str] = []
    modules = [spec("campaigns", ("contacts", "delivery"), log=log), spec("delivery", ("contacts",), log=log),
               spec("contacts", log=log)]
    kernel = boot(tmp_path, modules)
    try:
        assert log == ["start contacts", "start delivery", "start campaigns"]
    finally:
        kernel.close()
    assert log[3:] == ["stop campaigns", "stop delivery", "stop contacts"]


def test_a_failing_module_is_disabled_with_its_reason_and_the_rest_runs(tmp_path: Path) -> None:
    def broken(_context: ModuleContext) -> None:
        raise RuntimeError("template folder is unreadable")

    log: list[str] = []
    kernel = boot(tmp_path, [spec("contacts", log=log), spec("editor", setup=broken),
                             spec("campaigns", ("editor",), log=log), spec("stats", log=log)])
    try:
        states = {s.name: (s.state, s.reason) for s in kernel.statuses}
        assert states["contacts"] == ("started", "")
        assert states["stats"] == ("started", "")
        assert states["editor"][0] == "disabled"
        assert "template folder is unreadable" in states["editor"][1]
        assert states["campaigns"] == ("disabled", "requires the editor module, which is disabled")
        assert log == ["start contacts", "start stats"]
    finally:
        kernel.close()


def test_handlers_registered_before_a_failure_are_removed(tmp_path: Path) -> None:
    from tests.unit.test_bus import AddContact

    def half_setup(context: ModuleContext) -> None:
        context.handle(AddContact, lambda cmd: 1)
        raise RuntimeError("boom")

    kernel = boot(tmp_path, [spec("contacts", setup=half_setup)])
    try:
        assert not kernel.bus.has_handler(AddContact)
    finally:
        kernel.close()


def test_missing_and_circular_requirements_are_explained() -> None:
    order, problems = dependency_order([spec("a", ("b",)), spec("b", ("a",)), spec("c", ("zzz",)), spec("d")])
    assert [s.name for s in order] == ["d"]
    assert "circular" in problems["a"] or "circular" in problems["b"]
    assert problems["c"] == "requires the zzz module, which is not installed"


def test_disabled_module_is_announced_on_the_bus(tmp_path: Path) -> None:
    seen: list[ModuleDisabled] = []

    def broken(_context: ModuleContext) -> None:
        raise OSError("disk full")

    paths = AppPaths.inside(tmp_path)
    # Subscribe before start: use a module that subscribes first and is started first.
    def listener(context: ModuleContext) -> None:
        context.subscribe(ModuleDisabled, seen.append)

    kernel = start_kernel(paths, modules=[spec("listener", setup=listener), spec("broken", ("listener",), broken)],
                          secrets_backend=MemoryKeyring(), log_to_file=False)
    try:
        assert [(e.name, e.reason) for e in seen] == [("broken", "OSError: disk full")]
    finally:
        kernel.close()


def test_pages_are_collected_in_order_from_started_modules(tmp_path: Path) -> None:
    def with_pages(context: ModuleContext) -> None:
        context.add_page(PageSpec(key=f"{context.name}-page", title=context.name, factory=lambda ui: None,
                                  order=20 if context.name == "a" else 10))

    kernel = boot(tmp_path, [spec("a", setup=with_pages), spec("b", setup=with_pages)])
    try:
        assert [p.key for p in kernel.registry.pages] == ["b-page", "a-page"]
    finally:
        kernel.close()


def test_a_module_that_cannot_be_imported_is_reported() -> None:
    specs, failures = load_specs(["app.modules.nonexistent.module:MODULE"])
    assert specs == []
    assert "ModuleNotFoundError" in failures[0].reason


@pytest.mark.parametrize("entry", ["app.kernel.paths:AppPaths"])
def test_an_entry_that_is_not_a_module_spec_is_reported(entry: str) -> None:
    specs, failures = load_specs([entry])
    assert specs == []
    assert "not a ModuleSpec" in failures[0].reason
