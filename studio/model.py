"""A compiled graph as the studio draws it: nodes (activities, signal sources) and edges.

Edges are of three kinds: ``transition`` (labelled with its conditions), ``cycle`` (a cycle
activity re-entering its pivot) and ``hook`` (a signal topic routed to a hook activity by the
graph's hook rules). ``GraphModel.structure`` is what the layout depends on, so callers re-lay
out only when it changes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from hotmesh_core.compiler.model import Activity, CompiledApp, Conditions, Graph

SIGNAL_KIND = "signal-in"   # the pseudo node of a hook topic
LABEL_MAX = 34


@dataclass(frozen=True)
class Node:
    id: str
    kind: str            # activity type, or SIGNAL_KIND
    title: str
    subtitle: str
    detail: str          # hover text
    line: int | None = None


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    kind: str            # transition | cycle | hook
    label: str = ""
    detail: str = ""


@dataclass(frozen=True)
class GraphModel:
    topic: str
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]

    @property
    def structure(self) -> tuple[Any, ...]:
        """What the layout depends on (ids, kinds, edges and their labels); titles do not count."""
        return (tuple((n.id, n.kind) for n in self.nodes),
                tuple((e.source, e.target, e.kind, e.label) for e in self.edges))

    def node(self, node_id: str) -> Node | None:
        return next((n for n in self.nodes if n.id == node_id), None)


def graph_models(app: CompiledApp) -> list[GraphModel]:
    return [graph_model(app, graph) for graph in app.graphs]


def graph_model(app: CompiledApp, graph: Graph) -> GraphModel:
    nodes: list[Node] = []
    edges: list[Edge] = []
    for aid in graph.activities:
        activity = app.activities[aid]
        nodes.append(_node(activity))
        for transition in activity.transitions:
            full = condition_text(transition.conditions, short=False)
            edges.append(Edge(aid, transition.to, "transition", _clip(condition_text(transition.conditions)),
                              full or "always"))
        if activity.type == "cycle" and activity.ancestor:
            edges.append(Edge(aid, activity.ancestor, "cycle", "repeat", f"re-enter {activity.ancestor}"))
    for topic, rules in graph.hooks.items():
        source = f"hook:{topic}"
        nodes.append(Node(source, SIGNAL_KIND, topic, "signal", f"signals on '{topic}'"))
        for rule in rules:
            text = f"{_value(rule.actual)} = {_value(rule.expected)}"
            edges.append(Edge(source, rule.to, "hook", "", f"hook rule: {text}"))
    return GraphModel(graph.subscribes, tuple(nodes), tuple(edges))


def _node(activity: Activity) -> Node:
    subtitle = activity.type
    topic = activity.topic if isinstance(activity.topic, str) else None
    if activity.type in ("worker", "await", "signal") and topic:
        subtitle = f"{activity.type} · {topic}"
    elif activity.type == "hook" and activity.sleep is not None:
        subtitle = f"hook · sleep {_value(activity.sleep)}"
    elif activity.type == "hook" and activity.hook_topic:
        subtitle = f"hook · {activity.hook_topic}"
    elif activity.cycle:
        subtitle = f"{activity.type} · cycle pivot"
    detail = "\n".join(part for part in (
        f"{activity.id} ({activity.type})", activity.title or "", f"topic: {topic}" if topic else "",
        f"line {activity.line}" if activity.line else "") if part)
    return Node(activity.id, activity.type, activity.title or activity.id, subtitle, detail, activity.line)


def condition_text(conditions: Conditions | None, short: bool = True) -> str:
    """``code 500`` / ``{a.output.data.x} = true and ...``; empty for an unconditional edge (taken on
    every outcome, shown as "always"). ``conditions: {code: 200}`` alone is a condition (taken only on
    success), so it reads ``code 200``, never "always"."""
    if conditions is None:
        return ""
    parts: list[str] = []
    if tuple(conditions.code) != (200,) or not conditions.match:
        parts.append("code " + "|".join(str(c) for c in conditions.code))
    for match in conditions.match:
        actual = _value(match.actual)
        if short:
            actual = actual.replace(".output.data.", ".").strip("{}")
        parts.append(f"{actual} = {_value(match.expected)}")
    joiner = " or " if conditions.gate == "or" else " and "
    return joiner.join(parts)


def _value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _clip(text: str) -> str:
    return text if len(text) <= LABEL_MAX else text[: LABEL_MAX - 1] + "…"
