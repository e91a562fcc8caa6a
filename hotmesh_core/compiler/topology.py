"""The shape of each graph: one trigger, transitions, hook rules, parents, ancestors (spec 2.5, 2.6).

A graph is a tree rooted at its trigger: every other activity has exactly one parent and is
reachable from the trigger, and there are no cycles in the transitions (loops are expressed with
``cycle`` activities, which re-enter one of their ancestors).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..keys import SAFE_ID
from .fields import (
    CONDITION_FIELDS,
    GATES,
    HOOK_RULE_FIELDS,
    MATCH_FIELDS,
    MAX_GRAPH_DEPTH,
    TRANSITION_FIELDS,
    quoted,
)
from .yaml_safe import LineDict, LineList, located


@dataclass
class GraphSpec:
    """A validated graph: its YAML nodes plus the derived tree."""

    node: LineDict
    subscribes: str
    activities: LineDict                                   # id -> activity node, in YAML order
    types: dict[str, str]                                  # id -> type (legacy `activity` -> hook)
    trigger: str = ""
    edges: dict[str, list[LineDict]] = field(default_factory=dict)      # from -> transition items
    parents: dict[str, str] = field(default_factory=dict)
    ancestors: dict[str, tuple[str, ...]] = field(default_factory=dict)
    hook_rules: dict[str, LineList] = field(default_factory=dict)       # hook topic -> rules


def check_graph(spec: GraphSpec, graph_of: dict[str, str]) -> None:
    """Validate triggers, transitions, hook rules and the tree shape of one graph."""
    _trigger(spec)
    _transitions(spec, graph_of)
    _hook_rules(spec, graph_of)
    _acyclic(spec)
    _parents(spec)
    _ancestors(spec)
    _cycle_activities(spec)


def _trigger(spec: GraphSpec) -> None:
    triggers = [aid for aid in spec.activities if spec.types[aid] == "trigger"]
    if not triggers:
        raise located(f"graph '{spec.subscribes}' has no trigger", spec.node, "activities")
    if len(triggers) > 1:
        raise located(f"graph '{spec.subscribes}' has {len(triggers)} triggers: {quoted(triggers)}",
                      spec.activities, triggers[1], activity=triggers[1])
    spec.trigger = triggers[0]


def _member(spec: GraphSpec, aid: Any, graph_of: dict[str, str], node: Any, key: Any, what: str,
            activity: str | None) -> str:
    if not isinstance(aid, str):
        raise located(f"{what} must be an activity id", node, key, activity=activity)
    if aid in spec.activities:
        return aid
    if aid in graph_of:
        raise located(f"{what} '{aid}' belongs to graph '{graph_of[aid]}', not to graph "
                      f"'{spec.subscribes}'", node, key, activity=activity)
    raise located(f"{what} '{aid}' is not an activity of graph '{spec.subscribes}'",
                  node, key, activity=activity)


def _known(node: LineDict, allowed: tuple[str, ...], what: str, activity: str | None) -> None:
    for key in node:
        if key not in allowed:
            raise located(f"unknown field '{key}' in {what} (allowed: {quoted(allowed)})",
                          node, key, activity=activity)


def _transitions(spec: GraphSpec, graph_of: dict[str, str]) -> None:
    node = spec.node.get("transitions")
    if node is None:
        return
    if not isinstance(node, LineDict):
        raise located("'transitions' must map activity ids to lists of {to, conditions}",
                      spec.node, "transitions")
    for source, items in node.items():
        source = _member(spec, source, graph_of, node, source, "transition source", None)
        if not isinstance(items, LineList):
            raise located(f"transitions of '{source}' must be a list of {{to, conditions}}",
                          node, source, activity=source)
        edges: list[LineDict] = []
        for index, item in enumerate(items):
            if not isinstance(item, LineDict):
                raise located(f"each transition of '{source}' must be a mapping {{to, conditions}}",
                              items, index, activity=source)
            _known(item, TRANSITION_FIELDS, "a transition", source)
            if "to" not in item:
                raise located(f"a transition of '{source}' has no 'to'", item, activity=source)
            target = _member(spec, item["to"], graph_of, item, "to", "transition target", source)
            if any(edge["to"] == target for edge in edges):
                raise located(f"duplicate transition {source} -> {target}", item, "to", activity=source)
            if "conditions" in item:
                check_conditions(item["conditions"], item, source, with_code=True)
            edges.append(item)
        spec.edges[source] = edges


def check_conditions(conditions: Any, owner: LineDict, activity: str, *, with_code: bool) -> None:
    """``conditions: {code?, gate?, match?}``; hook rules take no ``code`` and need ``match``."""
    if not isinstance(conditions, LineDict):
        raise located("'conditions' must be a mapping {code, gate, match}", owner, "conditions",
                      activity=activity)
    allowed = CONDITION_FIELDS if with_code else ("gate", "match")
    _known(conditions, allowed, "conditions", activity)
    if "code" in conditions:
        code = conditions["code"]
        codes = code if isinstance(code, list) else [code]
        if not codes or not all(isinstance(c, int) and not isinstance(c, bool) for c in codes):
            raise located("conditions 'code' must be an integer or a list of integers",
                          conditions, "code", activity=activity)
    if "gate" in conditions and conditions["gate"] not in GATES:
        raise located(f"conditions 'gate' must be 'and' or 'or', not {conditions['gate']!r}",
                      conditions, "gate", activity=activity)
    match = conditions.get("match")
    if match is None and "match" not in conditions and with_code:
        return
    if not isinstance(match, LineList) or not match:
        raise located("conditions 'match' must be a non-empty list of {expected, actual}",
                      conditions, "match", activity=activity)
    for index, entry in enumerate(match):
        if not isinstance(entry, LineDict) or "expected" not in entry or "actual" not in entry:
            raise located("each 'match' entry must be a mapping with 'expected' and 'actual'",
                          match, index, activity=activity)
        _known(entry, MATCH_FIELDS, "a match entry", activity)


def _hook_rules(spec: GraphSpec, graph_of: dict[str, str]) -> None:
    node = spec.node.get("hooks")
    if node is None:
        return
    if not isinstance(node, LineDict):
        raise located("'hooks' must map hook topics to lists of rules", spec.node, "hooks")
    for topic, rules in node.items():
        if not SAFE_ID.match(topic):
            raise located(f"invalid hook topic '{topic}': use A-Z a-z 0-9 . _ -", node, topic)
        if not isinstance(rules, LineList) or not rules:
            raise located(f"hook topic '{topic}' must have a non-empty list of rules", node, topic)
        for index, rule in enumerate(rules):
            if not isinstance(rule, LineDict):
                raise located(f"each rule of hook topic '{topic}' must be a mapping {{to, conditions}}",
                              rules, index)
            _known(rule, HOOK_RULE_FIELDS, f"a rule of hook topic '{topic}'", None)
            if "to" not in rule:
                raise located(f"a rule of hook topic '{topic}' has no 'to'", rule)
            target = _member(spec, rule["to"], graph_of, rule, "to", f"hook topic '{topic}' target", None)
            if spec.types[target] != "hook":
                raise located(f"hook topic '{topic}' targets '{target}', a {spec.types[target]} "
                              "activity; it must target a hook activity", rule, "to", activity=target)
            if "conditions" not in rule:
                raise located(f"the rule of hook topic '{topic}' needs conditions.match "
                              "(expected: job value, actual: signal value)", rule, activity=target)
            check_conditions(rule["conditions"], rule, target, with_code=False)
        spec.hook_rules[topic] = rules


def _acyclic(spec: GraphSpec) -> None:
    """Depth-first search without recursion (a manifest may chain thousands of activities)."""
    done: set[str] = set()
    for root in [spec.trigger, *spec.activities]:
        if root in done:
            continue
        path: list[str] = [root]
        on_path: set[str] = {root}
        cursors: list[int] = [0]
        while path:
            aid = path[-1]
            items = spec.edges.get(aid, [])
            if cursors[-1] == len(items):
                done.add(path.pop())
                on_path.discard(aid)
                cursors.pop()
                continue
            item = items[cursors[-1]]
            cursors[-1] += 1
            target = item["to"]
            if target in on_path:
                loop = path[path.index(target):] + [target]
                raise located(f"transitions form a cycle ({' -> '.join(loop)}); use a cycle activity "
                              "to loop", item, "to", activity=aid)
            if target not in done:
                path.append(target)
                on_path.add(target)
                cursors.append(0)


def _parents(spec: GraphSpec) -> None:
    for source, items in spec.edges.items():
        for item in items:
            target = item["to"]
            if target == spec.trigger:
                raise located(f"the trigger '{target}' cannot be the target of a transition",
                              item, "to", activity=source)
            if target in spec.parents:
                raise located(f"activity '{target}' has 2 parents ({spec.parents[target]}, {source}); "
                              "every activity except the trigger has exactly one parent",
                              item, "to", activity=target)
            spec.parents[target] = source
    for aid in spec.activities:
        if aid != spec.trigger and aid not in spec.parents:
            raise located(f"activity '{aid}' is not reachable from the trigger '{spec.trigger}' "
                          "(no transition leads to it)", spec.activities, aid, activity=aid)


def _ancestors(spec: GraphSpec) -> None:
    spec.ancestors[spec.trigger] = ()
    pending = [spec.trigger]
    while pending:
        aid = pending.pop()
        if len(spec.ancestors[aid]) >= MAX_GRAPH_DEPTH:
            raise located(f"graph '{spec.subscribes}' is more than {MAX_GRAPH_DEPTH} activities deep",
                          spec.activities, aid, activity=aid)
        for item in spec.edges.get(aid, []):
            spec.ancestors[item["to"]] = (*spec.ancestors[aid], aid)
            pending.append(item["to"])


def _cycle_activities(spec: GraphSpec) -> None:
    for aid, node in spec.activities.items():
        if spec.types[aid] != "cycle":
            continue
        ancestor = node.get("ancestor")
        if not isinstance(ancestor, str) or not ancestor:
            raise located(f"cycle activity '{aid}' needs 'ancestor': the id of the ancestor it "
                          "re-enters", node, "ancestor" if "ancestor" in node else None, activity=aid)
        if ancestor not in spec.ancestors[aid]:
            raise located(f"cycle activity '{aid}' re-enters '{ancestor}', which is not one of its "
                          f"ancestors ({quoted(spec.ancestors[aid])})", node, "ancestor", activity=aid)
        if ancestor == spec.trigger:
            raise located(f"cycle activity '{aid}' cannot re-enter the trigger '{ancestor}'; re-enter a "
                          "hook activity placed after the trigger", node, "ancestor", activity=aid)
