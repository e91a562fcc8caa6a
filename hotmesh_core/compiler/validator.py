"""Validate a loaded manifest against the DSL (spec 2.1 to 2.7) with located errors.

The first problem found raises a ``ManifestError`` carrying the file, line and activity id.
Problems that cannot break a run (a rule that will never be used, a path that never resolves)
are collected as warnings instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..keys import SAFE_ID
from ..pipe.syntax import is_dynamic
from .fields import (
    ACTIVITY_ID,
    APP_FIELDS,
    CODE_KEY,
    GRAPH_FIELDS,
    JSON_SCHEMA_KEYWORDS,
    LEGACY_TYPES,
    LIMIT_FIELDS,
    MAPS_BLOCKS,
    MAX_ACTIVITIES,
    MEASURE_FIELDS,
    MEASURES,
    ROOT_FIELDS,
    SIGNAL_SUBTYPES,
    STATS_FIELDS,
    TYPE_FIELDS,
    fields_of,
    quoted,
)
from .loader import LoadedManifest
from .references import (
    activity_expressions,
    check_expression,
    graph_expressions,
    hook_expressions,
    hook_signal_expressions,
    transition_expressions,
)
from .routes import route_warnings
from .topology import GraphSpec, check_graph
from .yaml_safe import LineDict, LineList, key_text, located, plain


@dataclass
class CheckedApp:
    """The result of validation: the graphs with their derived trees, plus warnings."""

    id: str
    version: str
    settings: dict[str, Any]
    graphs: list[GraphSpec]
    graph_of: dict[str, str] = field(default_factory=dict)      # activity id -> graph topic
    paths: dict[str, str] = field(default_factory=dict)         # file as named in errors -> in app folder
    warnings: list[str] = field(default_factory=list)


def validate(manifest: LoadedManifest) -> CheckedApp:
    """Check the whole app; raise a located ``ManifestError`` at the first problem."""
    root = manifest.document
    _known(root, ROOT_FIELDS, "the manifest")
    app = root.get("app")
    if not isinstance(app, LineDict):
        raise located("the manifest needs an 'app' mapping (id, version, graphs)", root,
                      "app" if "app" in root else None)
    _known(app, APP_FIELDS, "app")
    checked = CheckedApp(_app_id(app), "", {}, [], paths=manifest.paths)
    checked.version = _version(app, checked.warnings)
    settings = app.get("settings", {})
    if not isinstance(settings, dict):
        raise located("'settings' must be a mapping", app, "settings")
    checked.settings = plain(settings)
    graphs = app.get("graphs")
    if not isinstance(graphs, LineList) or not graphs:
        raise located("'graphs' must be a non-empty list of graphs", app,
                      "graphs" if "graphs" in app else None)
    subscribers: dict[str, LineDict] = {}
    for index, node in enumerate(graphs):
        spec = _graph(node, graphs, index)
        if spec.subscribes in subscribers:
            raise located(f"two graphs subscribe to '{spec.subscribes}'", node, "subscribes")
        subscribers[spec.subscribes] = node
        for aid in spec.activities:
            if aid in checked.graph_of:
                raise located(f"duplicate activity id '{aid}' (also in graph '{checked.graph_of[aid]}'); "
                              "activity ids are unique across the app", spec.activities, aid, activity=aid)
            checked.graph_of[aid] = spec.subscribes
        checked.graphs.append(spec)
    if len(checked.graph_of) > MAX_ACTIVITIES:
        raise located(f"the app has more than {MAX_ACTIVITIES} activities", app, "graphs")
    for spec in checked.graphs:
        check_graph(spec, checked.graph_of)
    _app_hooks(checked)
    for spec in checked.graphs:
        _expressions(spec, checked)
        checked.warnings.extend(route_warnings(spec))
    _topics(checked)
    return checked


def _known(node: LineDict, allowed: tuple[str, ...], what: str, activity: str | None = None) -> None:
    for key in node:
        if key not in allowed:
            raise located(f"unknown field '{key}' in {what} (allowed: {quoted(allowed)})",
                          node, key, activity=activity)


def _safe(node: LineDict, key: str, what: str, activity: str | None = None) -> str:
    value = node[key]
    if not isinstance(value, str) or not SAFE_ID.match(value):
        raise located(f"invalid {what} {value!r}: use 1 to 128 characters from A-Z a-z 0-9 . _ -",
                      node, key, activity=activity)
    return value


def _app_id(app: LineDict) -> str:
    if "id" not in app:
        raise located("app 'id' is required", app)
    return _safe(app, "id", "app id")


def _version(app: LineDict, warnings: list[str]) -> str:
    if "version" not in app:
        raise located("app 'version' is required (a label such as '1')", app)
    value = app["version"]
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise located(f"app 'version' must be a string label, not {value!r}", app, "version")
    label = key_text(value)
    if isinstance(value, float):
        warnings.append(f"app version {value!r} was read as a number and became '{label}'; quote it")
    if not SAFE_ID.match(label):
        raise located(f"invalid app version {label!r}: use 1 to 128 characters from A-Z a-z 0-9 . _ -",
                      app, "version")
    return label


# -- graphs --------------------------------------------------------------------------------------
def _graph(node: Any, graphs: LineList, index: int) -> GraphSpec:
    if not isinstance(node, LineDict):
        raise located(f"graph #{index + 1} must be a mapping", graphs, index)
    if "subscribes" not in node:
        raise located(f"graph #{index + 1} needs 'subscribes' (the topic that starts its jobs)", node)
    topic = _safe(node, "subscribes", "topic")
    _known(node, GRAPH_FIELDS, f"graph '{topic}'")
    if "publishes" in node:
        _safe(node, "publishes", "topic")
    _typed(node, "expire", "number", None)
    _typed(node, "persistent", "bool", None)
    for key in ("title", "description"):
        _typed(node, key, "string", None)
    if "limits" in node:
        _limits(node, topic)
    for key in ("input", "output"):
        if key in node:
            block = node[key]
            if not isinstance(block, LineDict):
                raise located(f"graph '{key}' must be a mapping with 'schema'", node, key)
            _known(block, ("schema",), f"graph '{key}'")
            _schema(block, None)
    activities = node.get("activities")
    if not isinstance(activities, LineDict) or not activities:
        raise located(f"graph '{topic}' needs 'activities': a mapping of activity ids",
                      node, "activities" if "activities" in node else None)
    types = {aid: _activity(aid, activities) for aid in activities}
    return GraphSpec(node, topic, activities, types)


def _limits(node: LineDict, topic: str) -> None:
    """``limits: {steps: N, cycles: N}``: whole numbers, 0 for no limit (the job may run forever)."""
    limits = node["limits"]
    if not isinstance(limits, LineDict):
        raise located(f"graph '{topic}' 'limits' must be a mapping {{steps, cycles}}", node, "limits")
    _known(limits, LIMIT_FIELDS, f"graph '{topic}' limits")
    for key, value in limits.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise located(f"graph '{topic}' limits.{key} must be a whole number (0: no limit), "
                          f"not {value!r}", limits, key)


def _activity(aid: str, activities: LineDict) -> str:
    if not ACTIVITY_ID.match(aid):
        raise located(f"invalid activity id '{aid}': use 1 to 128 characters from A-Z a-z 0-9 _ -",
                      activities, aid, activity=aid)
    node = activities[aid]
    if not isinstance(node, LineDict):
        raise located(f"activity '{aid}' must be a mapping with a 'type'", activities, aid, activity=aid)
    if "type" not in node:
        raise located(f"activity '{aid}' has no 'type'", activities, aid, activity=aid)
    kind = node["type"] if isinstance(node["type"], str) else ""
    kind = LEGACY_TYPES.get(kind, kind)
    if kind not in TYPE_FIELDS:
        expected = quoted(list(TYPE_FIELDS))
        raise located(f"unknown activity type {node['type']!r} (expected one of: {expected})",
                      node, "type", activity=aid)
    _known(node, fields_of(kind), f"a {kind} activity", aid)
    for block in MAPS_BLOCKS:
        if block in node:
            _block(node, block, aid)
    for key in ("title", "subtype", "statusThresholdType", "key_name"):
        _typed(node, key, "string", aid)
    for key in ("emit", "persist", "persistent", "await", "throw", "descend"):
        _typed(node, key, "bool", aid)
    for key in ("expire", "statusThreshold", "sleep"):
        _typed(node, key, "number", aid)
    _typed(node, "code", "int", aid)
    if "cycle" in node and not isinstance(node["cycle"], bool):
        raise located("'cycle' must be true or false", node, "cycle", activity=aid)
    if "telemetry" in node and not isinstance(node["telemetry"], LineDict):
        raise located("'telemetry' must be a mapping of attributes", node, "telemetry", activity=aid)
    if "retry" in node:
        _retry(node, aid)
    if "stats" in node:
        _stats(node, aid)
    _topic(node, kind, aid)
    if kind == "signal" and node.get("subtype") not in SIGNAL_SUBTYPES:
        raise located("a signal activity needs 'subtype: one' or 'subtype: all'", node,
                      "subtype" if "subtype" in node else None, activity=aid)
    if kind == "signal" and node.get("status") not in (None, "success", "pending", "error") \
            and not is_dynamic(node.get("status")):
        raise located("signal 'status' must be success, pending or error", node, "status", activity=aid)
    return kind


_KINDS = {"number": "a number", "bool": "true or false", "int": "an integer", "string": "a string"}


def _typed(node: LineDict, key: str, kind: str, activity: str | None) -> None:
    if key not in node:
        return
    value = node[key]
    if kind == "string":
        ok = isinstance(value, str)
    elif is_dynamic(value):
        return
    elif kind == "bool":
        ok = isinstance(value, bool)
    elif kind == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not ok:
        suffix = "" if kind == "string" else " or a mapping expression"
        raise located(f"'{key}' must be {_KINDS[kind]}{suffix}", node, key, activity=activity)


def _topic(node: LineDict, kind: str, aid: str) -> None:
    if "topic" not in node:
        if kind in ("worker", "await", "signal"):
            raise located(f"a {kind} activity needs a 'topic'", node, activity=aid)
        return
    if not is_dynamic(node["topic"]):
        _safe(node, "topic", "topic", aid)


def _block(node: LineDict, name: str, aid: str) -> None:
    block = node[name]
    if not isinstance(block, LineDict):
        raise located(f"'{name}' must be a mapping with 'maps' and/or 'schema'", node, name, activity=aid)
    if name == "hook" and not set(block) <= {"maps", "schema"} and set(block) <= JSON_SCHEMA_KEYWORDS:
        return                                  # the signal payload's JSON schema, written inline
    for key, value in block.items():
        if key in ("maps", "schema"):
            continue
        if CODE_KEY.match(key) and name in ("job", "output"):
            allowed = ("maps", "schema") if name == "job" else ("schema",)
            if not isinstance(value, LineDict):
                raise located(f"'{name}.{key}' must be a mapping with {quoted(allowed)}", block, key,
                              activity=aid)
            _known(value, allowed, f"'{name}.{key}'", aid)
            _maps(value, f"{name}.{key}", aid)
            _schema(value, aid)
            continue
        extra = " or '<code>'" if name in ("job", "output") else ""
        raise located(f"unknown field '{key}' in '{name}' (allowed: maps, schema{extra})", block, key,
                      activity=aid)
    _maps(block, name, aid)
    _schema(block, aid)


def _maps(block: LineDict, name: str, aid: str) -> None:
    if "maps" in block and not isinstance(block["maps"], LineDict):
        raise located(f"'{name}.maps' must be a mapping of field names to values", block, "maps",
                      activity=aid)


def _schema(block: LineDict, aid: str | None) -> None:
    if "schema" in block and not isinstance(block["schema"], (LineDict, bool)):
        raise located("'schema' must be a JSON schema (a mapping)", block, "schema", activity=aid)


def _retry(node: LineDict, aid: str) -> None:
    retry = node["retry"]
    ok = isinstance(retry, LineDict) and all(
        CODE_KEY.match(code) and isinstance(limits, list) and len(limits) >= 1
        and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in limits)
        for code, limits in retry.items())
    if not ok:
        raise located("'retry' must map status codes to [max retries], e.g. {'500': [3]}", node, "retry",
                      activity=aid)


def _stats(node: LineDict, aid: str) -> None:
    stats = node["stats"]
    if not isinstance(stats, LineDict):
        raise located("'stats' must be a mapping (id, key, granularity, measures)", node, "stats",
                      activity=aid)
    _known(stats, STATS_FIELDS, "stats", aid)
    _typed(stats, "granularity", "string", aid)
    measures = stats.get("measures", [])
    if not isinstance(measures, list):
        raise located("'stats.measures' must be a list of {measure, target}", stats, "measures", activity=aid)
    for index, entry in enumerate(measures):
        if not isinstance(entry, LineDict) or entry.get("measure") not in MEASURES or "target" not in entry:
            raise located(f"each stats measure needs 'measure' ({quoted(MEASURES)}) and 'target'",
                          measures, index, activity=aid)
        _known(entry, MEASURE_FIELDS, "a stats measure", aid)


# -- app-wide checks -----------------------------------------------------------------------------
def _app_hooks(checked: CheckedApp) -> None:
    """Hook topics are app-wide (Q14): one graph owns each topic; only its first rule is used."""
    owner: dict[str, str] = {}
    routed: dict[str, str] = {}
    for spec in checked.graphs:
        hooks = spec.node.get("hooks")
        for topic, rules in spec.hook_rules.items():
            if topic in owner:
                raise located(f"hook topic '{topic}' is already routed by graph '{owner[topic]}'",
                              hooks, topic)
            owner[topic] = spec.subscribes
            target = rules[0]["to"]
            if target in routed:
                raise located(f"hook activity '{target}' is routed by two hook topics ('{routed[target]}' "
                              f"and '{topic}')", rules[0], "to", activity=target)
            routed[target] = topic
            if len(rules) > 1:
                checked.warnings.append(f"hook topic '{topic}' has {len(rules)} rules; "
                                        "only the first is used")
            if len(rules[0]["conditions"]["match"]) > 1:
                checked.warnings.append(f"hook topic '{topic}': only match[0] of the rule is used")


def _expressions(spec: GraphSpec, checked: CheckedApp) -> None:
    warnings = checked.warnings
    for expression in graph_expressions(spec):
        check_expression(expression, spec, None, checked.graph_of, warnings)
    for aid, node in spec.activities.items():
        for expression in activity_expressions(node):
            check_expression(expression, spec, aid, checked.graph_of, warnings)
        for expression in transition_expressions(spec, aid):
            check_expression(expression, spec, aid, checked.graph_of, warnings)
        for expression in hook_expressions(spec, aid):
            check_expression(expression, spec, aid, checked.graph_of, warnings)
        if spec.types[aid] == "cycle" and spec.edges.get(aid):
            warnings.append(f"{aid}: a cycle activity's transitions never run")
    for target, expression in hook_signal_expressions(spec):
        check_expression(expression, spec, target, checked.graph_of, warnings)


def _topics(checked: CheckedApp) -> None:
    """Literal await/interrupt topics must be graphs of this app; signal topics should be routed."""
    graphs = {spec.subscribes for spec in checked.graphs}
    hook_topics = {topic for spec in checked.graphs for topic in spec.hook_rules}
    for spec in checked.graphs:
        for aid, node in spec.activities.items():
            topic = node.get("topic")
            if not isinstance(topic, str) or is_dynamic(topic):
                continue
            kind = spec.types[aid]
            if kind in ("await", "interrupt") and topic not in graphs:
                raise located(f"{kind} topic '{topic}' is not subscribed by any graph of this app",
                              node, "topic", activity=aid)
            if kind == "signal" and topic not in hook_topics:
                checked.warnings.append(f"{aid}: signal topic '{topic}' is not routed by any hook rule "
                                        "of this app")
