"""Compile a validated manifest into the model that engines execute (spec 3.1 deployer steps).

What the compiler derives: parents, ancestors (trigger first) and children; transitions
(``conditions is None`` = unconditional); the hook topic of each web-hook activity; cycle pivots;
the graph's ``expire``/``persistent`` on activities that do not set their own; ``subtype = topic``
for workers and awaits; code-specific ``job.<code>.maps``; and ``consumes``, the activities whose
state each activity reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .fields import CODE_KEY
from .loader import LoadedManifest, load_manifest
from .model import Activity, CompiledApp, Conditions, Graph, HookRule, Match, Transition
from .references import (
    Expression,
    activity_expressions,
    consumed,
    graph_expressions,
    hook_expressions,
    transition_expressions,
)
from .topology import GraphSpec
from .validator import CheckedApp, validate
from .yaml_safe import Limits, LineDict, plain


@dataclass(frozen=True)
class PlanResult:
    """What ``plan`` returns: the compiled app (nothing deployed) and non-fatal warnings."""

    app: CompiledApp
    warnings: tuple[str, ...]


def compile_app(manifest: LoadedManifest) -> CompiledApp:
    """Validate ``manifest`` and compile it; raises ``ManifestError`` on the first problem."""
    return _compile(validate(manifest))


def plan(source: str | Path | LoadedManifest, *, base_dir: str | Path | None = None,
         limits: Limits | None = None) -> PlanResult:
    """Load (unless already loaded), validate and compile, returning warnings too."""
    manifest = source if isinstance(source, LoadedManifest) else load_manifest(
        source, base_dir=base_dir, limits=limits)
    checked = validate(manifest)
    return PlanResult(_compile(checked), tuple(dict.fromkeys(checked.warnings)))


def _compile(checked: CheckedApp) -> CompiledApp:
    activities: dict[str, Activity] = {}
    graphs: list[Graph] = []
    hooks: dict[str, HookRule] = {}
    for spec in checked.graphs:
        graph_hooks = {topic: [_hook_rule(topic, rule) for rule in rules]
                       for topic, rules in spec.hook_rules.items()}
        hook_topics = {rules[0].to: topic for topic, rules in graph_hooks.items()}
        hooks.update({topic: rules[0] for topic, rules in graph_hooks.items()})
        pivots = {str(node["ancestor"]) for aid, node in spec.activities.items()
                  if spec.types[aid] == "cycle"}
        # The app-relative path keeps the compiled app independent of where it was loaded from.
        file = checked.paths.get(spec.activities.file or "")
        for aid in spec.activities:
            activities[aid] = _activity(spec, aid, hook_topics.get(aid), aid in pivots, file)
        graphs.append(Graph(
            subscribes=spec.subscribes,
            trigger=spec.trigger,
            activities=tuple(spec.activities),
            publishes=spec.node.get("publishes"),
            expire=plain(spec.node.get("expire")),
            persistent=plain(spec.node.get("persistent")),
            input_schema=plain(_get(spec.node, "input", "schema")),
            output_schema=plain(_get(spec.node, "output", "schema")),
            hooks=graph_hooks,
            limits=plain(spec.node.get("limits", {})),
        ))
    subscriptions = {spec.subscribes: spec.trigger for spec in checked.graphs}
    return CompiledApp(checked.id, checked.version, checked.settings, tuple(graphs), activities,
                       subscriptions, hooks)


def _get(node: LineDict, block: str, key: str) -> Any:
    section = node.get(block)
    return section.get(key) if isinstance(section, dict) else None


def _hook_rule(topic: str, rule: LineDict) -> HookRule:
    first = rule["conditions"]["match"][0]
    return HookRule(topic=topic, to=rule["to"], expected=plain(first["expected"]),
                    actual=plain(first["actual"]))


def _transition(item: LineDict) -> Transition:
    conditions = item.get("conditions")
    if conditions is None:
        return Transition(to=item["to"])
    code = conditions.get("code", 200)
    return Transition(to=item["to"], conditions=Conditions(
        code=tuple(code) if isinstance(code, list) else (code,),
        gate=conditions.get("gate", "and"),
        match=tuple(Match(plain(m["expected"]), plain(m["actual"])) for m in conditions.get("match") or []),
    ))


def _activity(spec: GraphSpec, aid: str, hook_topic: str | None, pivot: bool, file: str | None) -> Activity:
    node = spec.activities[aid]
    kind = spec.types[aid]

    def field(key: str, default: Any = None) -> Any:
        return plain(node.get(key, default))

    subtype = field("subtype")
    if subtype is None and kind in ("worker", "await"):
        subtype = field("topic")
    job = node.get("job")
    code_job_maps = {code: plain(block.get("maps")) for code, block in job.items()
                     if CODE_KEY.match(code) and isinstance(block, dict) and "maps" in block} \
        if isinstance(job, dict) else {}
    inherited = {key: spec.node[key] for key in ("expire", "persistent")
                 if key in spec.node and key not in node}
    expressions: list[Expression] = [
        *activity_expressions(node),
        *transition_expressions(spec, aid),
        *hook_expressions(spec, aid),
        *(e for e in graph_expressions(spec) if e.key in inherited),
    ]
    return Activity(
        id=aid,
        type=kind,
        graph=spec.subscribes,
        trigger=spec.trigger,
        parent=spec.parents.get(aid),
        ancestors=spec.ancestors[aid],
        children=tuple(item["to"] for item in spec.edges.get(aid, [])),
        transitions=tuple(_transition(item) for item in spec.edges.get(aid, [])),
        title=field("title"),
        subtype=subtype,
        topic=field("topic"),
        input_maps=plain(_get(node, "input", "maps")),
        output_maps=plain(_get(node, "output", "maps")),
        job_maps=plain(_get(node, "job", "maps")),
        code_job_maps=code_job_maps,
        sleep=field("sleep"),
        hook_topic=hook_topic,
        cycle=pivot or node.get("cycle") is True,
        ancestor=field("ancestor"),
        retry=field("retry"),
        await_child=field("await", True),
        emit=field("emit"),
        persist=field("persist"),
        persistent=plain(node.get("persistent", inherited.get("persistent"))),
        expire=plain(node.get("expire", inherited.get("expire"))),
        status_threshold=field("statusThreshold"),
        stats=field("stats"),
        key_name=field("key_name"),
        key_value=field("key_value"),
        signal_maps=plain(_get(node, "signal", "maps")),
        resolver_maps=plain(_get(node, "resolver", "maps")),
        status=field("status"),
        code=field("code"),
        target=field("target"),
        reason=field("reason"),
        throw=field("throw"),
        descend=field("descend"),
        stack=field("stack"),
        telemetry=field("telemetry"),
        consumes=consumed(expressions, aid, spec),
        line=spec.activities.line_of(aid),
        file=file,
    )


def diff_breaking(old: CompiledApp, new: CompiledApp) -> list[str]:
    """What ``new`` removes or changes that jobs started on ``old`` may still need (hot deploy)."""
    problems: list[str] = []
    for topic in sorted(set(old.subscriptions) - set(new.subscriptions)):
        problems.append(f"graph '{topic}' was removed")
    for aid in sorted(old.activities):
        before = old.activities[aid]
        after = new.activities.get(aid)
        if after is None:
            problems.append(f"activity '{aid}' (graph '{before.graph}') was removed")
            continue
        if after.type != before.type:
            problems.append(f"activity '{aid}' changed type from {before.type} to {after.type}")
        if after.graph != before.graph:
            problems.append(f"activity '{aid}' moved from graph '{before.graph}' to '{after.graph}'")
        for child in before.children:
            if child not in after.children:
                problems.append(f"transition {aid} -> {child} was removed")
    for topic in sorted(set(old.hooks) - set(new.hooks)):
        problems.append(f"hook topic '{topic}' was removed")
    return problems
