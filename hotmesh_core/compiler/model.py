"""The compiled form of an app: what the compiler produces and what engines execute.

A compiled app is stored in Redis as JSON (``CompiledApp.to_json``) under its version, so any
process can rebuild it (``CompiledApp.from_json``) and process any single message with no other
state. Field names follow the YAML DSL (snake_case where the YAML uses camelCase).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Match:
    """One condition: the literal ``expected`` must equal (===) the resolved ``actual``."""

    expected: Any
    actual: Any


@dataclass(frozen=True)
class Conditions:
    """Transition conditions: the response code must be one of ``code``; then ``match`` by ``gate``."""

    code: tuple[int, ...] = (200,)
    gate: str = "and"
    match: tuple[Match, ...] = ()


@dataclass(frozen=True)
class Transition:
    """An edge to ``to``; ``conditions is None`` means unconditional (taken on every outcome, Q2)."""

    to: str
    conditions: Conditions | None = None


@dataclass(frozen=True)
class HookRule:
    """Routes signals on ``topic`` to the hook activity ``to``.

    ``expected`` is resolved in the job's context when the hook opens; ``actual`` is resolved
    against the signal payload when it arrives; equal values meet (a key lookup).
    """

    topic: str
    to: str
    expected: Any
    actual: Any


@dataclass(frozen=True)
class Activity:
    """One compiled activity. ``consumes`` lists the activity ids whose state its expressions read."""

    id: str
    type: str
    graph: str                                  # the graph's `subscribes` topic
    trigger: str                                # id of the graph's trigger
    parent: str | None = None
    ancestors: tuple[str, ...] = ()             # trigger ... parent
    children: tuple[str, ...] = ()              # targets of this activity's transitions
    transitions: tuple[Transition, ...] = ()
    title: str | None = None
    subtype: str | None = None
    topic: Any = None                           # worker/await/signal/interrupt topic (may be a mapping)
    input_maps: Any = None
    output_maps: Any = None
    job_maps: Any = None
    code_job_maps: dict[str, Any] = field(default_factory=dict)   # job.<code>.maps (Q5: implemented)
    sleep: Any = None
    hook_topic: str | None = None               # set when a graph hook rule targets this hook
    cycle: bool = False                         # cycle pivot (ancestor of a cycle activity)
    ancestor: str | None = None                 # cycle: the pivot it re-enters
    retry: dict[str, list[int]] | None = None
    await_child: Any = True                     # await: `await` flag (bool or mapping)
    emit: Any = None
    persist: Any = None
    persistent: Any = None
    expire: Any = None                          # seconds, inherited from the graph unless set
    status_threshold: Any = None
    stats: dict[str, Any] | None = None         # trigger: id, key, granularity, measures
    # signal
    key_name: Any = None
    key_value: Any = None
    signal_maps: Any = None
    resolver_maps: Any = None
    status: Any = None
    code: Any = None
    # interrupt
    target: Any = None
    reason: Any = None
    throw: Any = None
    descend: Any = None
    stack: Any = None
    telemetry: Any = None
    # derived
    consumes: tuple[str, ...] = ()              # activity ids read (own id included for $self)
    line: int | None = None                     # line of the activity in its YAML file
    file: str | None = None


@dataclass(frozen=True)
class Graph:
    subscribes: str
    trigger: str
    activities: tuple[str, ...]
    publishes: str | None = None
    expire: Any = None
    persistent: Any = None
    input_schema: Any = None
    output_schema: Any = None
    hooks: dict[str, list[HookRule]] = field(default_factory=dict)
    limits: dict[str, int] = field(default_factory=dict)    # steps / cycles per job; absent: Settings'


@dataclass(frozen=True)
class CompiledApp:
    id: str
    version: str
    settings: dict[str, Any]
    graphs: tuple[Graph, ...]
    activities: dict[str, Activity]
    subscriptions: dict[str, str]               # public topic -> trigger id
    hooks: dict[str, HookRule]                  # hook topic -> the (first) rule

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> CompiledApp:
        raw = json.loads(text)
        activities = {aid: _activity(a) for aid, a in raw["activities"].items()}
        graphs = tuple(
            Graph(**{**g, "activities": tuple(g["activities"]),
                     "hooks": {t: [HookRule(**r) for r in rules] for t, rules in g["hooks"].items()}})
            for g in raw["graphs"]
        )
        hooks = {t: HookRule(**r) for t, r in raw["hooks"].items()}
        return cls(raw["id"], raw["version"], raw["settings"], graphs, activities,
                   raw["subscriptions"], hooks)

    def graph_of(self, topic: str) -> Graph:
        for graph in self.graphs:
            if graph.subscribes == topic:
                return graph
        raise KeyError(topic)


def _activity(raw: dict[str, Any]) -> Activity:
    transitions = tuple(
        Transition(
            to=t["to"],
            conditions=None if t["conditions"] is None else Conditions(
                code=tuple(t["conditions"]["code"]),
                gate=t["conditions"]["gate"],
                match=tuple(Match(**m) for m in t["conditions"]["match"]),
            ),
        )
        for t in raw["transitions"]
    )
    return Activity(**{**raw, "ancestors": tuple(raw["ancestors"]), "children": tuple(raw["children"]),
                       "consumes": tuple(raw["consumes"]), "transitions": transitions})
