"""The fields the DSL accepts (spec 2.1 to 2.7), in one place."""

from __future__ import annotations

import re

ROOT_FIELDS = ("app",)
APP_FIELDS = ("id", "version", "settings", "graphs")
GRAPH_FIELDS = ("subscribes", "publishes", "expire", "persistent", "input", "output", "activities",
                "transitions", "hooks", "title", "description", "limits")
LIMIT_FIELDS = ("steps", "cycles")    # a graph's runaway limits per job (Settings.max_steps, max_cycles)

COMMON_FIELDS = ("type", "title", "subtype", "input", "output", "job", "telemetry", "emit", "persist",
                 "persistent", "statusThreshold", "statusThresholdType", "expire")
TYPE_FIELDS: dict[str, tuple[str, ...]] = {
    "trigger": ("stats",),
    "worker": ("topic", "retry"),
    "await": ("topic", "await", "retry"),
    "hook": ("sleep", "hook", "cycle"),
    "cycle": ("ancestor",),
    "signal": ("topic", "key_name", "key_value", "signal", "status", "code", "resolver"),
    "interrupt": ("target", "topic", "reason", "throw", "code", "descend", "expire", "stack"),
}
LEGACY_TYPES = {"activity": "hook"}

# Activity fields whose values are resolved at run time (mapping expressions may appear in them).
EXPRESSION_FIELDS = ("topic", "sleep", "emit", "persist", "persistent", "expire", "statusThreshold",
                     "telemetry", "stats", "await", "key_name", "key_value", "status", "code",
                     "target", "reason", "throw", "descend", "stack")
MAPS_BLOCKS = ("input", "output", "job", "hook", "signal", "resolver")

TRANSITION_FIELDS = ("to", "conditions")
CONDITION_FIELDS = ("code", "gate", "match")
MATCH_FIELDS = ("expected", "actual")
HOOK_RULE_FIELDS = ("to", "conditions")
GATES = ("and", "or")

STATS_FIELDS = ("id", "key", "granularity", "measures", "parent", "adjacent")
MEASURE_FIELDS = ("measure", "target")
MEASURES = ("count", "sum", "avg", "mdn", "index", "max", "min")
SIGNAL_SUBTYPES = ("one", "all")

# A `hook:` block may be the signal payload's JSON schema itself (as in the reference's apps).
JSON_SCHEMA_KEYWORDS = frozenset({
    "$schema", "$id", "$ref", "$comment", "$defs", "definitions", "type", "title", "description",
    "properties", "patternProperties", "additionalProperties", "required", "items", "enum", "const",
    "examples", "default", "format", "nullable", "oneOf", "anyOf", "allOf", "not", "minimum",
    "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength", "pattern",
    "minItems", "maxItems", "uniqueItems", "minProperties", "maxProperties", "multipleOf",
})

MAX_ACTIVITIES = 5000        # per app
MAX_GRAPH_DEPTH = 256        # activities from a trigger to its deepest descendant

ACTIVITY_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
CODE_KEY = re.compile(r"^[0-9]{1,4}$")


def fields_of(activity_type: str) -> tuple[str, ...]:
    return COMMON_FIELDS + TYPE_FIELDS[activity_type]


def quoted(names: tuple[str, ...] | list[str]) -> str:
    return ", ".join(names)
