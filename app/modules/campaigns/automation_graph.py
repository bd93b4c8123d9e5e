"""An automation as data: nodes (trigger, steps) and edges, their validation with readable problems, and summaries.

Pure Python (no database, no Qt): the engine walks it, the designer draws and edits it, the CLI describes it.
Stored as ``{"nodes": [{"id", "kind", "props", "x", "y"}], "edges": [{"from", "to", "branch"}]}``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from app.modules.campaigns.scheduling import is_zone, zone_or_utc


@dataclass(frozen=True)
class StepKind:
    key: str
    title: str
    icon: str  # a glyph drawn on the card and the palette tile
    outputs: tuple[str, ...]  # "" = one plain outlet; ("yes", "no") for a branch; () for exit
    help: str


KINDS: dict[str, StepKind] = {k.key: k for k in (
    StepKind("trigger", "Trigger", "⚡", ("",), "What makes a contact enter the automation"),
    StepKind("send_email", "Send email", "✉", ("",), "Send one of your templates to the contact"),
    StepKind("wait", "Wait", "⏱", ("",), "Wait a while, or until a time of day"),
    StepKind("branch", "Condition", "⑂", ("yes", "no"), "Go one way or the other on a condition"),
    StepKind("add_tag", "Add tag", "+", ("",), "Put a tag on the contact"),
    StepKind("remove_tag", "Remove tag", "\u2212", ("",), "Take a tag off the contact"),
    StepKind("update_field", "Update field", "✎", ("",), "Set a custom field of the contact"),
    StepKind("move_list", "Lists", "☰", ("",), "Subscribe the contact to a list, or take them off one"),
    StepKind("exit", "Exit", "⏹", (), "Leave the automation here"),
)}
STEP_KINDS = tuple(k for k in KINDS if k != "trigger")  # what the palette offers
TRIGGER_TYPES = {
    "list_joined": "Joined a list",
    "tag_added": "Tag added",
    "anniversary": "Date anniversary",
    "event": "Incoming event",
    "link_clicked": "Clicked a link in a campaign",
}
WAIT_UNITS = {"minutes": 60, "hours": 3600, "days": 86400, "weeks": 7 * 86400}
FILTER_OPS = ("=", "!=", ">", ">=", "<", "<=", "contains")
_FILTER = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*(>=|<=|!=|=|>|<|contains)\s*(.+?)\s*$")
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


class GraphError(ValueError):
    """A graph that cannot be read at all (not a problem list: the shape itself is wrong)."""


@dataclass
class Node:
    id: str
    kind: str
    props: dict[str, Any] = field(default_factory=dict)
    x: float = 0.0
    y: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "props": dict(self.props), "x": self.x, "y": self.y}


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    branch: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"from": self.source, "to": self.target, "branch": self.branch}


@dataclass(frozen=True)
class Problem:
    message: str
    node_id: str = ""


@dataclass
class Graph:
    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)

    # -- reading and writing --------------------------------------------------------------------------

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Graph:
        data = data or {}
        try:
            nodes = [Node(str(n["id"]), str(n["kind"]), dict(n.get("props") or {}), float(n.get("x", 0)),
                          float(n.get("y", 0))) for n in data.get("nodes", [])]
            edges = [Edge(str(e["from"]), str(e["to"]), str(e.get("branch") or "")) for e in data.get("edges", [])]
        except (KeyError, TypeError, ValueError) as exc:
            raise GraphError(f"this automation's graph cannot be read ({exc})") from exc
        return cls(nodes, edges)

    def to_json(self) -> dict[str, Any]:
        return {"nodes": [n.to_json() for n in self.nodes], "edges": [e.to_json() for e in self.edges]}

    def copy(self) -> Graph:
        return Graph.from_json(self.to_json())

    # -- questions ------------------------------------------------------------------------------------

    def node(self, node_id: str) -> Node | None:
        return next((n for n in self.nodes if n.id == node_id), None)

    @property
    def trigger(self) -> Node | None:
        return next((n for n in self.nodes if n.kind == "trigger"), None)

    def outgoing(self, node_id: str) -> list[Edge]:
        return [e for e in self.edges if e.source == node_id]

    def next_step(self, node_id: str, branch: str = "") -> str | None:
        """The node after ``node_id`` (through the ``branch`` outlet of a condition); None at the end."""
        for edge in self.edges:
            if edge.source == node_id and edge.branch == branch:
                return edge.target
        return None

    def order(self) -> list[Node]:
        """Nodes from the trigger outwards (breadth first), then any not reachable, for lists and tables."""
        seen: list[str] = []
        start = self.trigger
        queue = [start.id] if start else []
        while queue:
            current = queue.pop(0)
            if current in seen:
                continue
            seen.append(current)
            queue.extend(e.target for e in sorted(self.outgoing(current), key=lambda e: e.branch != "yes"))
        rest = [n.id for n in self.nodes if n.id not in seen]
        return [n for i in seen + rest if (n := self.node(i)) is not None]

    # -- edits (the designer's undo commands call these) -----------------------------------------------

    def add_node(self, kind: str, x: float = 0.0, y: float = 0.0, props: dict[str, Any] | None = None,
                 node_id: str | None = None) -> Node:
        if kind not in KINDS:
            raise GraphError(f"unknown step kind {kind!r}")
        node = Node(node_id or new_id(kind), kind, dict(props if props is not None else default_props(kind)), x, y)
        self.nodes.append(node)
        return node

    def remove_node(self, node_id: str) -> None:
        self.nodes = [n for n in self.nodes if n.id != node_id]
        self.edges = [e for e in self.edges if node_id not in (e.source, e.target)]

    def connect(self, source: str, target: str, branch: str = "") -> Edge:
        """Connect an outlet to a node; an outlet leads to one node only, so an older edge from it is replaced."""
        self.edges = [e for e in self.edges if not (e.source == source and e.branch == branch)]
        edge = Edge(source, target, branch)
        self.edges.append(edge)
        return edge

    def disconnect(self, edge: Edge) -> None:
        self.edges = [e for e in self.edges if e != edge]


def new_id(kind: str) -> str:
    return f"{kind.split('_', maxsplit=1)[0]}-{uuid.uuid4().hex[:8]}"


def default_props(kind: str) -> dict[str, Any]:
    defaults: dict[str, dict[str, Any]] = {
        "trigger": {"type": "list_joined", "list_id": None},
        "send_email": {"template_id": None, "subject": "", "preheader": "", "identity_id": None},
        "wait": {"mode": "duration", "amount": 1, "unit": "days", "time": "09:00", "time_zone": ""},
        "branch": {"condition": "engagement", "what": "opened", "step_id": "", "days": 3,
                   "rules": {}, "segment_id": None},
        "add_tag": {"tag": ""},
        "remove_tag": {"tag": ""},
        "update_field": {"field": "", "value": ""},
        "move_list": {"action": "add", "list_id": None},
        "exit": {},
    }
    return dict(defaults.get(kind, {}))


def drip(steps: Iterable[tuple[str, dict[str, Any]]], trigger: dict[str, Any]) -> Graph:
    """A drip sequence: the trigger, then the steps one after another (a linear automation)."""
    graph = Graph()
    previous = graph.add_node("trigger", 0, 0, dict(trigger)).id
    for index, (kind, props) in enumerate(steps, start=1):
        current = graph.add_node(kind, 0, index * 130, {**default_props(kind), **props}).id
        graph.connect(previous, current)
        previous = current
    return graph


# -- validation -------------------------------------------------------------------------------------------


def validate(graph: Graph) -> list[Problem]:
    """Everything that would stop the automation from running, in words the user understands."""
    problems: list[Problem] = []
    triggers = [n for n in graph.nodes if n.kind == "trigger"]
    if not triggers:
        problems.append(Problem("There is no trigger: add one to say who enters the automation."))
    elif len(triggers) > 1:
        problems.extend(Problem("An automation has one trigger; remove this one.", n.id) for n in triggers[1:])
    ids = [n.id for n in graph.nodes]
    for duplicate in sorted({i for i in ids if ids.count(i) > 1}):
        problems.append(Problem(f"Two steps share the id {duplicate}.", duplicate))
    known = set(ids)
    for node in graph.nodes:
        if node.kind not in KINDS:
            problems.append(Problem(f"Unknown step kind “{node.kind}”.", node.id))
    for edge in graph.edges:
        if edge.source not in known or edge.target not in known:
            problems.append(Problem("A connection leads to or from a step that no longer exists.",
                                    edge.source if edge.source in known else edge.target))
    problems.extend(_outlet_problems(graph, known))
    problems.extend(_reach_problems(graph))
    for node in graph.nodes:
        problems.extend(Problem(text, node.id) for text in props_problems(node))
    return problems


def _outlet_problems(graph: Graph, known: set[str]) -> list[Problem]:
    problems = []
    for node in graph.nodes:
        kind = KINDS.get(node.kind)
        if kind is None:
            continue
        outs = [e for e in graph.outgoing(node.id) if e.target in known]
        title = node_title(node)
        if node.kind == "branch":
            branches = {e.branch for e in outs}
            missing = [b for b in ("yes", "no") if b not in branches]
            if missing:
                problems.append(Problem(f"“{title}” needs both a yes and a no path (missing: {', '.join(missing)}).",
                                        node.id))
        elif node.kind == "exit" and outs:
            problems.append(Problem("Nothing can follow an Exit step.", node.id))
        elif len(outs) > 1:
            problems.append(Problem(f"“{title}” leads to more than one step; use a condition to split.", node.id))
        if node.kind == "trigger" and not outs:
            problems.append(Problem("The trigger is not connected to a first step.", node.id))
        if node.kind == "trigger" and any(e.target == node.id for e in graph.edges):
            problems.append(Problem("Nothing can lead back into the trigger.", node.id))
        for edge in outs:
            if edge.branch not in kind.outputs:
                problems.append(Problem(f"“{title}” has a connection from an outlet it does not have.", node.id))
    return problems


def _reach_problems(graph: Graph) -> list[Problem]:
    """Steps the trigger never reaches, and loops that would run without ever waiting."""
    problems = []
    start = graph.trigger
    if start is not None:
        reached, queue = set(), [start.id]
        while queue:
            current = queue.pop()
            if current not in reached:
                reached.add(current)
                queue.extend(e.target for e in graph.outgoing(current))
        for node in graph.nodes:
            if node.id not in reached:
                problems.append(Problem(f"“{node_title(node)}” is not connected to the trigger.", node.id))
    # A cycle is fine only through a Wait (else a contact would go round it forever in one instant).
    moving = {n.id for n in graph.nodes if n.kind != "wait"}
    reported: set[str] = set()
    for node_id in moving:
        if node_id in reported:
            continue
        cycle = _cycle_from(graph, node_id, moving)
        if cycle:
            reported.update(cycle)
            names = " → ".join(node_title(n) for i in cycle if (n := graph.node(i)) is not None)
            problems.append(Problem(f"These steps go round in a loop without a Wait: {names}.", cycle[0]))
    return problems


def _cycle_from(graph: Graph, start: str, allowed: set[str]) -> list[str]:
    path: list[str] = []

    def visit(node_id: str, seen: set[str]) -> bool:
        path.append(node_id)
        for edge in graph.outgoing(node_id):
            if edge.target == start:
                return True
            if edge.target in allowed and edge.target not in seen:
                seen.add(edge.target)
                if visit(edge.target, seen):
                    return True
        path.pop()
        return False

    return path if visit(start, {start}) else []


def props_problems(node: Node) -> list[str]:  # noqa: PLR0911 - one rule per kind
    """What is missing or wrong in one step's settings."""
    p = node.props
    if node.kind == "trigger":
        return trigger_problems(p)
    if node.kind == "send_email":
        out = [] if p.get("template_id") else ["Choose a template to send."]
        if not str(p.get("subject") or "").strip():
            out.append("Write a subject.")
        return out
    if node.kind == "wait":
        if p.get("mode") == "until":
            out = [] if _TIME.match(str(p.get("time") or "")) else ["Give a time of day as HH:MM."]
            return out + _zone_problems(str(p.get("time_zone") or ""))
        amount = p.get("amount")
        if not isinstance(amount, int | float) or amount <= 0:
            return ["Wait for more than nothing."]
        return [] if p.get("unit") in WAIT_UNITS else ["Choose minutes, hours, days or weeks."]
    if node.kind == "branch":
        return _branch_problems(p)
    if node.kind in ("add_tag", "remove_tag"):
        return [] if str(p.get("tag") or "").strip() else ["Name the tag."]
    if node.kind == "update_field":
        return [] if re.match(r"^[a-z0-9_]+$", str(p.get("field") or "")) else [
            "Choose the custom field to set (its key: lower-case letters, digits and _)."]
    if node.kind == "move_list":
        out = [] if p.get("list_id") else ["Choose the list."]
        return out + ([] if p.get("action") in ("add", "remove") else ["Choose add to or remove from."])
    return []


def _branch_problems(p: Mapping[str, Any]) -> list[str]:
    condition = p.get("condition")
    if condition == "engagement":
        out = [] if p.get("what") in ("opened", "clicked") else ["Choose opened or clicked."]
        days = p.get("days")
        if not isinstance(days, int) or days <= 0:
            out.append("Give the number of days to look back.")
        return out
    if condition == "segment":
        return [] if p.get("segment_id") else ["Choose the segment."]
    if condition == "rules":
        rules = p.get("rules") or {}
        return [] if rules.get("rules") or rules.get("field") else ["Add at least one rule to the condition."]
    return ["Choose what the condition looks at."]


def _zone_problems(zone: str) -> list[str]:
    if not zone:
        return []  # the contact's own zone (or UTC)
    return [] if is_zone(zone) else [f"“{zone}” is not a time zone (e.g. Europe/Paris)."]


def trigger_problems(p: Mapping[str, Any]) -> list[str]:
    kind = p.get("type")
    if kind == "list_joined":
        return [] if p.get("list_id") else ["Choose the list people join."]
    if kind == "tag_added":
        return [] if str(p.get("tag") or "").strip() else ["Name the tag."]
    if kind == "anniversary":
        out = [] if re.match(r"^[a-z0-9_]+$", str(p.get("field") or "")) else ["Choose the date field."]
        hour = p.get("hour", 9)
        if not isinstance(hour, int) or not 0 <= hour <= 23:
            out.append("The hour of the daily check is 0 to 23.")
        return out + _zone_problems(str(p.get("time_zone") or ""))
    if kind == "event":
        out = [] if str(p.get("name") or "").strip() else ["Name the event (e.g. order_completed)."]
        try:
            parse_filters(p.get("filters") or [])
        except ValueError as exc:
            out.append(str(exc))
        return out
    if kind == "link_clicked":
        return [] if p.get("campaign_id") else ["Choose the campaign."]
    return ["Choose what starts the automation."]


# -- event filters ------------------------------------------------------------------------------------------


def parse_filter(text: str) -> dict[str, Any]:
    """``value > 50`` -> {"property": "value", "op": ">", "value": 50.0}; numbers become numbers."""
    match = _FILTER.match(text)
    if not match:
        raise ValueError(f"“{text}” is not a filter: write it as property op value, e.g. value > 50")
    raw = match.group(3).strip().strip('"').strip("'")
    value: Any = raw
    with contextlib.suppress(ValueError):
        value = float(raw)
    return {"property": match.group(1), "op": match.group(2), "value": value}


def parse_filters(items: Iterable[Any]) -> list[dict[str, Any]]:
    out = []
    for item in items:
        if isinstance(item, str):
            out.append(parse_filter(item))
        elif isinstance(item, Mapping) and item.get("op") in FILTER_OPS and item.get("property"):
            out.append(dict(item))
        else:
            raise ValueError(f"{item!r} is not a filter")
    return out


def filter_text(item: Mapping[str, Any]) -> str:
    value = item.get("value")
    shown = f"{value:g}" if isinstance(value, float) else str(value)
    return f"{item.get('property')} {item.get('op')} {shown}"


def event_matches(filters: Iterable[Mapping[str, Any]], properties: Mapping[str, Any]) -> bool:
    """Whether an event's properties (with ``value`` and ``currency``) pass every filter."""
    for item in filters:
        actual = properties.get(str(item["property"]))
        if actual is None:
            return False
        wanted, op = item["value"], item["op"]
        if op == "contains":
            if str(wanted).lower() not in str(actual).lower():
                return False
            continue
        try:
            left, right = float(actual), float(wanted)
        except (TypeError, ValueError):
            left, right = str(actual).lower(), str(wanted).lower()  # type: ignore[assignment]
            if op not in ("=", "!="):
                return False
        ok = {"=": left == right, "!=": left != right, ">": left > right, ">=": left >= right,
              "<": left < right, "<=": left <= right}[op]
        if not ok:
            return False
    return True


# -- words for cards and lists -----------------------------------------------------------------------------


def node_title(node: Node) -> str:
    kind = KINDS.get(node.kind)
    return str(node.props.get("title") or (kind.title if kind else node.kind))


def wait_seconds(props: Mapping[str, Any]) -> float:
    return float(props.get("amount") or 0) * WAIT_UNITS.get(str(props.get("unit")), 0)


def wait_until(props: Mapping[str, Any], now: float, contact_zone: str = "") -> float:
    """The next moment (epoch seconds) the wall clock shows ``props["time"]`` in the chosen zone (the
    contact's own when none is chosen, UTC when they have none) — strictly after ``now``."""
    zone_name = str(props.get("time_zone") or contact_zone or "UTC")
    zone = zone_or_utc(zone_name)
    hour, minute = (int(x) for x in str(props.get("time") or "09:00").split(":"))
    local = dt.datetime.fromtimestamp(now, zone)
    candidate = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if candidate.timestamp() <= now:
        candidate = (local + dt.timedelta(days=1)).replace(hour=hour, minute=minute, second=0, microsecond=0)
    # Rebuild from the wall time so a daylight-saving change between today and tomorrow keeps the hour.
    wall = dt.datetime(candidate.year, candidate.month, candidate.day, hour, minute, tzinfo=zone)
    return wall.timestamp()


def summary(node: Node, names: Mapping[str, Mapping[Any, str]] | None = None) -> str:  # noqa: PLR0911
    """One line under a card's title: what the step does with its settings (``names`` maps ids to names:
    {"templates": {1: "Welcome"}, "lists": {...}, "segments": {...}, "campaigns": {...}})."""
    names = names or {}
    p = node.props

    def name(kind: str, key: Any, fallback: str) -> str:
        return str(names.get(kind, {}).get(key) or (f"{fallback} {key}" if key else f"no {fallback}"))

    if node.kind == "trigger":
        return trigger_summary(p, names)
    if node.kind == "send_email":
        subject = str(p.get("subject") or "").strip()
        template = name("templates", p.get("template_id"), "template")
        return f"{template}: “{subject}”" if subject else template
    if node.kind == "wait":
        if p.get("mode") == "until":
            zone = p.get("time_zone") or "in the contact's zone"
            return f"until {p.get('time') or '09:00'} {zone}"
        amount = p.get("amount") or 0
        unit = str(p.get("unit") or "days")
        return f"{amount:g} {unit[:-1] if amount == 1 else unit}" if isinstance(amount, int | float) else "?"
    if node.kind == "branch":
        condition = p.get("condition")
        if condition == "engagement":
            step = names.get("steps", {}).get(p.get("step_id")) or f"step {p.get('step_id')}"
            where = f"“{step}”" if p.get("step_id") else "any email"
            return f"{p.get('what', 'opened')} {where} in {p.get('days', 0)} days?"
        if condition == "segment":
            return f"in segment {name('segments', p.get('segment_id'), 'segment')}?"
        count = len((p.get("rules") or {}).get("rules") or [])
        return f"matches {count} rule{'s' if count != 1 else ''}?"
    if node.kind in ("add_tag", "remove_tag"):
        return f"“{p.get('tag') or '?'}”"
    if node.kind == "update_field":
        return f"{p.get('field') or '?'} = {p.get('value')!s}"
    if node.kind == "move_list":
        verb = "add to" if p.get("action", "add") == "add" else "remove from"
        return f"{verb} {name('lists', p.get('list_id'), 'list')}"
    if node.kind == "exit":
        return "the contact leaves here"
    return ""


def step_names(graph: Graph) -> dict[str, str]:
    """Email steps by id as conditions name them: the card's title, else the subject."""
    return {n.id: str(n.props.get("title") or n.props.get("subject") or node_title(n))
            for n in graph.nodes if n.kind == "send_email"}


def trigger_summary(p: Mapping[str, Any], names: Mapping[str, Mapping[Any, str]] | None = None) -> str:
    names = names or {}
    kind = p.get("type")
    if kind == "list_joined":
        return f"joined {names.get('lists', {}).get(p.get('list_id')) or 'list ' + str(p.get('list_id'))}"
    if kind == "tag_added":
        return f"tag “{p.get('tag') or '?'}” added"
    if kind == "anniversary":
        return f"anniversary of {p.get('field') or '?'} (checked at {int(p.get('hour', 9)):02d}:00)"
    if kind == "event":
        filters = ", ".join(filter_text(f) for f in parse_filters(p.get("filters") or []))
        return f"event {p.get('name') or '?'}" + (f" where {filters}" if filters else "")
    if kind == "link_clicked":
        campaign = names.get("campaigns", {}).get(p.get("campaign_id")) or f"campaign {p.get('campaign_id')}"
        return f"clicked a link in {campaign}"
    return "not set"
