"""Apply mapping rules: job maps into job fields, transitions into children (spec 2.5, 2.8)."""

from __future__ import annotations

import math
import re
from typing import Any

from .compiler.model import Activity
from .errors import PipeError
from .keys import JobFields
from .pipe import UNDEFINED, resolve
from .serializer import dumps, encode

_SIZED = re.compile(r"^(?P<name>.+)\[(?P<spec>\d+|-|_)\]$")


def _is_rule_leaf(rule: Any) -> bool:
    return not isinstance(rule, dict) or "@pipe" in rule or not rule


def job_map_fields(rules: Any, ctx: dict[str, Any]) -> dict[str, str]:
    """Resolve ``job.maps`` into job-hash fields (``d/<path>``, markers ``-k``, search ``_k``).

    Nested rule objects are flattened by the rule tree, so two activities writing ``a/x`` and
    ``a/y`` both keep their value (the reference's behaviour).
    """
    fields: dict[str, str] = {}
    if not isinstance(rules, dict):
        return fields

    def walk(node: dict[str, Any], prefix: str) -> None:
        for key, rule in node.items():
            sized = _SIZED.match(key) if not prefix else None
            if sized:
                value = resolve(rule, ctx)
                if value is UNDEFINED:
                    continue
                spec, name = sized["spec"], sized["name"]
                if spec in ("-", "_"):
                    if not isinstance(value, dict):
                        raise PipeError(f"job map '{key}' must resolve to an object")
                    for k, v in value.items():
                        if not str(k).startswith(spec):
                            raise PipeError(f"job map '{key}': key '{k}' must start with '{spec}'")
                        fields[str(k)] = v if isinstance(v, str) else dumps(v)
                else:
                    fields[JobFields.data(name)] = encode(value)
                continue
            path = f"{prefix}{key}"
            if _is_rule_leaf(rule):
                value = resolve(rule, ctx)
                if value is not UNDEFINED:
                    fields[JobFields.data(path)] = encode(value)
            else:
                walk(rule, path + "/")

    walk(rules, "")
    return fields


def job_map_paths(rules: Any) -> list[str]:
    """The ``d/<path>`` fields a set of job maps can write (to know what to read back)."""
    paths: list[str] = []
    if not isinstance(rules, dict):
        return paths

    def walk(node: dict[str, Any], prefix: str) -> None:
        for key, rule in node.items():
            sized = _SIZED.match(key) if not prefix else None
            if sized:
                if sized["spec"] not in ("-", "_"):
                    paths.append(JobFields.data(sized["name"]))
            elif _is_rule_leaf(rule):
                paths.append(JobFields.data(f"{prefix}{key}"))
            else:
                walk(rule, f"{prefix}{key}/")

    walk(rules, "")
    return paths


def strict_equal(a: Any, b: Any) -> bool:
    """JavaScript ``===`` for JSON values: same type family and value; objects never equal."""
    if a is UNDEFINED or b is UNDEFINED:
        return a is b
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        if isinstance(a, float) and math.isnan(a):
            return False
        return a == b
    if isinstance(a, dict | list) or isinstance(b, dict | list):
        return False
    return type(a) is type(b) and a == b


def children_for(activity: Activity, code: int, ctx: dict[str, Any]) -> list[str]:
    """Evaluate the activity's transitions for a response code; every passing edge is taken."""
    taken: list[str] = []
    for transition in activity.transitions:
        cond = transition.conditions
        if cond is None:
            taken.append(transition.to)
            continue
        if code not in cond.code:
            continue
        if not cond.match:
            taken.append(transition.to)
            continue
        results = [strict_equal(m.expected, resolve(m.actual, ctx)) for m in cond.match]
        if (all(results) if cond.gate != "or" else any(results)):
            taken.append(transition.to)
    return taken


def truthy(value: Any) -> bool:
    """JavaScript truthiness."""
    if value is UNDEFINED or value is None or value is False:
        return False
    if isinstance(value, int | float) and not isinstance(value, bool):
        return not (value == 0 or (isinstance(value, float) and math.isnan(value)))
    if isinstance(value, str):
        return value != ""
    return True
