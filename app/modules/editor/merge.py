"""Merge tags: Jinja2 in an immutable sandbox, strict about missing data, bounded in time, loops and size.

- Contact data is passed as data, never as template source: a first name of ``{{ 7*7 }}`` prints as typed.
- A missing field fails that recipient with a clear reason, unless the tag gives a fallback:
  ``{{ contact.first_name | default("there") }}`` (``default`` also replaces empty values).
  ``{% if contact.plan %}`` is false when the field is missing.
- Loops are counted and every render has a deadline, so ``{% for i in range(10**9) %}`` or nested loops fail in
  seconds; numbers that would build huge strings are refused; sandbox escapes raise ``SecurityError``.
"""

from __future__ import annotations

import functools
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from jinja2 import StrictUndefined, nodes
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context, markup_join, str_join
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import _PassArg
from jinja2.visitor import NodeTransformer
from markupsafe import Markup

from app.modules.editor.conditions import rule_matches

MAX_LOOP_STEPS = 200_000  # per render, over all loops
MAX_SECONDS = 2.0  # per render
MAX_OUTPUT = 2_000_000  # characters per rendered part
MAX_ARGUMENT = 10_000  # largest number a filter or method may get (widths, counts)
MAX_STRING = 200_000  # longest string an operator or call may build

# Filters a merge tag may use; the others (safe, attr, map, tojson, pprint, ...) are not needed in an email
# and each widens what a template can reach.
ALLOWED_FILTERS = (
    "abs", "capitalize", "center", "count", "d", "default", "dictsort", "e", "escape", "first", "float",
    "forceescape", "format", "int", "join", "last", "length", "list", "lower", "max", "min", "replace",
    "reverse", "round", "sort", "string", "striptags", "sum", "title", "trim", "truncate", "unique", "upper",
    "urlencode", "wordcount", "wordwrap", "batch", "slice", "indent",
)
_HUGE_WIDTH = re.compile(r"\d{6,}")


class LimitExceeded(SecurityError):  # noqa: N818 - reads as what happened
    """A template ran too long, looped too often or built too much text."""


class _State(threading.local):
    steps = 0
    deadline = 0.0


_state = _State()


def start_budget(seconds: float = MAX_SECONDS) -> None:
    """Reset the loop counter and deadline for one render on this thread."""
    _state.steps = 0
    _state.deadline = time.monotonic() + seconds


def _check_deadline() -> None:
    if time.monotonic() > _state.deadline:
        raise LimitExceeded(f"the template took longer than {MAX_SECONDS:g} seconds (a loop without end?)")


def _counted(iterable: Iterable[Any]) -> Iterator[Any]:
    """Every {% for %} loop iterates through this: it counts steps and checks the deadline."""
    for item in iterable:
        _state.steps += 1
        if _state.steps > MAX_LOOP_STEPS:
            raise LimitExceeded(f"the template's loops ran more than {MAX_LOOP_STEPS:,} times")
        if not _state.steps & 0xFF:
            _check_deadline()
        yield item


def _sized(value: Any) -> Any:
    if isinstance(value, str | list | tuple) and len(value) > MAX_STRING:
        raise LimitExceeded(f"the template builds a value of {len(value):,} items; the limit is {MAX_STRING:,}")
    return value


def _concat(autoescape: bool) -> Callable[..., Any]:
    join = markup_join if autoescape else str_join

    def concat(*parts: Any) -> Any:
        if sum(len(p) for p in parts if isinstance(p, str)) > MAX_STRING:
            raise LimitExceeded(f"the template joins text longer than {MAX_STRING:,} characters")
        return join(parts)

    return concat


class Record:
    """A mapping the sandbox reads by attribute (``contact.first_name``), with no methods to shadow fields:
    a custom field called ``items`` or ``get`` is just that field."""

    __slots__ = ("_data", "_name")

    def __init__(self, name: str, data: Mapping[str, Any]) -> None:
        self._name = name
        self._data = data

    def __repr__(self) -> str:
        return f"<{self._name}>"

    def __contains__(self, key: object) -> bool:
        return key in self._data


class MissingValue(StrictUndefined):
    """Strict: printing, comparing or looping over a missing value fails the recipient with its name.

    ``default`` replaces it, ``is defined`` tests it, and ``{% if %}`` treats it as false.
    """

    __slots__ = ()

    def __bool__(self) -> bool:  # type: ignore[override]
        return False


def default(value: Any, default_value: Any = "", boolean: bool = False) -> Any:
    """``default`` that also replaces None and empty text: contacts often have an empty first name."""
    if isinstance(value, MissingValue) or value is None or (isinstance(value, str) and not value.strip()):
        return default_value
    if boolean and not value:
        return default_value
    return value


def _guarded_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    skip = 2 if _PassArg.from_obj(function) is not None else 1  # the piped value (and env/context) go first

    @functools.wraps(function)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        for argument in (*args[skip:], *kwargs.values()):
            if isinstance(argument, int) and not isinstance(argument, bool) and abs(argument) > MAX_ARGUMENT:
                raise LimitExceeded(f"the filter {name} got {argument:,}; the largest allowed is {MAX_ARGUMENT:,}")
            if name == "format" and isinstance(argument, str) and _HUGE_WIDTH.search(argument):
                raise LimitExceeded("the format asks for a huge width")
        if name == "format" and args and isinstance(args[skip - 1], str) and _HUGE_WIDTH.search(args[skip - 1]):
            raise LimitExceeded("the format asks for a huge width")
        return _sized(function(*args, **kwargs))

    return guarded


class _CountLoops(NodeTransformer):
    """Route every loop through ``_pr_loop`` and every ``~`` through ``_pr_concat`` (both bounded)."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = nodes.Call(nodes.Name("_pr_loop", "load"), [node.iter], [], None, None, lineno=node.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return nodes.Call(nodes.Name("_pr_concat", "load"), list(node.nodes), [], None, None, lineno=node.lineno)


class MergeEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox every template runs in: HTML (autoescaped) or text (not escaped)."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, *, html: bool) -> None:
        super().__init__(autoescape=html, undefined=MissingValue, trim_blocks=False, keep_trailing_newline=True,
                         auto_reload=False, cache_size=0)
        self.filters = {name: _guarded_filter(name, self.filters[name]) for name in ALLOWED_FILTERS}
        self.filters["default"] = self.filters["d"] = default
        self.globals.pop("lipsum", None)
        self.globals.update(_pr_loop=_counted, _pr_concat=_concat(html), _pr_match=_match_rule)

    # -- reading fields -------------------------------------------------------------------------

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is Record:
            return self._field(obj, attribute)
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        if type(obj) is Record:
            return self._field(obj, argument)
        return super().getitem(obj, argument)

    def _field(self, record: Record, key: Any) -> Any:
        try:
            return record._data[key]
        except (KeyError, TypeError):
            return self.undefined(hint=f"{record._name}.{key} is missing for this recipient "
                                       f'(add | default("...") to the merge tag to give a fallback)',
                                  obj=record, name=str(key))

    # -- bounding work ----------------------------------------------------------------------------

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, int | float) and (abs(right) > 100 or abs(left) > 10**6):
            raise LimitExceeded("the template raises a number to a huge power")
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if isinstance(seq, str | list | tuple) and isinstance(times, int) and len(seq) * times > MAX_STRING:
                    raise LimitExceeded(f"the template repeats text more than {MAX_STRING:,} characters long")
        if operator == "%" and isinstance(left, str) and _HUGE_WIDTH.search(left):
            raise LimitExceeded("the format asks for a huge width")
        return _sized(super().call_binop(context, operator, left, right))

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        _check_deadline()
        bound_to = getattr(__obj, "__self__", None)
        if isinstance(bound_to, str | list | tuple | dict):
            for argument in (*args, *kwargs.values()):
                if isinstance(argument, int) and not isinstance(argument, bool) and abs(argument) > MAX_ARGUMENT:
                    raise LimitExceeded(f"the template calls {getattr(__obj, '__name__', 'a method')} with "
                                        f"{argument:,}; the largest allowed is {MAX_ARGUMENT:,}")
        return _sized(super().call(__context, __obj, *args, **kwargs))

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapped = super().wrap_str_format(value)
        if wrapped is not None and _HUGE_WIDTH.search(str(value.__self__)):
            raise LimitExceeded("the format asks for a huge width")
        return wrapped

    # -- compiling ---------------------------------------------------------------------------------

    def compile_bounded(self, source: str, name: str = "template", constants: Mapping[str, Any] | None = None
                        ) -> Any:
        """Compile source whose loops are counted; raises TemplateSyntaxError for bad syntax."""
        tree = _CountLoops().visit(self.parse(source, name))
        code = self.compile(tree, name)
        return self.template_class.from_code(self, code, self.make_globals(dict(constants or {})), None)


def _match_rule(contact: Any, rule: Any) -> bool:
    data = contact._data if type(contact) is Record else {}
    return rule_matches(rule, data)


def render_bounded(template: Any, variables: dict[str, Any]) -> str:
    """Render with the per-render budget, stopping once the output passes MAX_OUTPUT characters."""
    start_budget()
    context = template.new_context(variables)
    parts: list[str] = []
    size = 0
    for chunk in template.root_render_func(context):
        parts.append(chunk)
        size += len(chunk)
        if size > MAX_OUTPUT:
            raise LimitExceeded(f"the email grew past {MAX_OUTPUT:,} characters")
    return "".join(parts)


def markup(value: str) -> Markup:
    return Markup(value)  # noqa: S704 - text the renderer built and escaped itself
