"""Check what each mapping expression reads, and derive ``consumes`` (spec 2.8, 3.1 step 8).

A reference ``{x.…}`` must name an activity of the same graph or a system variable
(``$self $job $app $graph $hook``); reduce variables are ignored; functions and pipes are checked by
``pipe.check``, the evaluator's own plan-time check. ``$self`` (and ``$hook``, an alias of
``$self.hook``) means the activity whose field holds the expression (for a transition, the activity
it leaves). The syntax itself (what is an expression, a reference...) is ``pipe.syntax``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..errors import PipeError
from ..pipe import check
from ..pipe.syntax import SYSTEM_VARIABLES, head, path, reference_problem, scan
from .fields import CODE_KEY, EXPRESSION_FIELDS, MAPS_BLOCKS
from .topology import GraphSpec
from .yaml_safe import LineDict, LineList, located


@dataclass(frozen=True)
class Expression:
    """One run-time value and where it sits: ``node[key]`` in the YAML, labelled ``label``."""

    label: str
    value: Any
    node: LineDict | LineList
    key: Any


def activity_expressions(node: LineDict) -> Iterator[Expression]:
    """Every value of an activity that is resolved at run time (maps rule by rule)."""
    for key in EXPRESSION_FIELDS:
        if key in node:
            yield Expression(key, node[key], node, key)
    for block in MAPS_BLOCKS:
        section = node.get(block)
        if isinstance(section, LineDict):
            yield from _maps(block, section)
            if block == "job":
                for code, sub in section.items():
                    if CODE_KEY.match(code) and isinstance(sub, LineDict):
                        yield from _maps(f"job.{code}", sub)


def _maps(label: str, section: LineDict) -> Iterator[Expression]:
    maps = section.get("maps")
    if isinstance(maps, LineDict):
        for key, value in maps.items():
            yield Expression(f"{label}.maps.{key}", value, maps, key)


def transition_expressions(spec: GraphSpec, source: str) -> Iterator[Expression]:
    """The ``actual`` side of each condition of the transitions leaving ``source``."""
    for item in spec.edges.get(source, []):
        conditions = item.get("conditions")
        if isinstance(conditions, LineDict):
            for index, entry in enumerate(conditions.get("match") or []):
                yield Expression(f"transition {source} -> {item['to']} match[{index}].actual",
                                 entry["actual"], entry, "actual")


def hook_expressions(spec: GraphSpec, target: str) -> Iterator[Expression]:
    """The ``expected`` side of the hook rules routed to ``target`` (read from the job)."""
    for topic, rules in spec.hook_rules.items():
        for rule in rules:
            if rule["to"] == target:
                for index, entry in enumerate(rule["conditions"]["match"]):
                    yield Expression(f"hook '{topic}' match[{index}].expected", entry["expected"],
                                     entry, "expected")


def hook_signal_expressions(spec: GraphSpec) -> Iterator[tuple[str, Expression]]:
    """The ``actual`` side of every hook rule (resolved against the signal payload)."""
    for topic, rules in spec.hook_rules.items():
        for rule in rules:
            for index, entry in enumerate(rule["conditions"]["match"]):
                yield rule["to"], Expression(f"hook '{topic}' match[{index}].actual", entry["actual"],
                                             entry, "actual")


def graph_expressions(spec: GraphSpec) -> Iterator[Expression]:
    """Graph ``expire``/``persistent``: copied onto every activity, resolved per activity."""
    for key in ("expire", "persistent"):
        if key in spec.node:
            yield Expression(key, spec.node[key], spec.node, key)


def check_expression(expression: Expression, spec: GraphSpec, activity: str | None,
                     graph_of: dict[str, str], warnings: list[str]) -> None:
    """Raise a located ManifestError if the expression is malformed or reads something unknown."""
    try:
        check(expression.value)
    except PipeError as exc:
        raise located(f"invalid expression in '{expression.label}': {exc.message}",
                      expression.node, expression.key, activity=activity) from None
    for reference in scan(expression.value).references:
        _check_reference(reference, expression, spec, activity, graph_of, warnings)


def _check_reference(reference: str, expression: Expression, spec: GraphSpec, activity: str | None,
                     graph_of: dict[str, str], warnings: list[str]) -> None:
    where = expression.node, expression.key
    problem = reference_problem(reference)
    if problem:
        raise located(f"'{{{reference}}}' in '{expression.label}' {problem}", *where, activity=activity)
    first = head(reference)
    parts = reference.split(".")
    if first.startswith("$"):
        if first not in SYSTEM_VARIABLES:
            raise located(f"'{{{reference}}}' in '{expression.label}' uses unknown variable '{first}' "
                          f"(known: {', '.join(sorted(SYSTEM_VARIABLES))})", *where, activity=activity)
        if first == "$job" and len(parts) > 1 and parts[1] not in ("data", "metadata"):
            warnings.append(f"{activity or spec.subscribes}: '{{{reference}}}' reads neither "
                            "$job.data nor $job.metadata")
        return
    if first not in spec.activities:
        if first in graph_of:
            raise located(f"'{{{reference}}}' in '{expression.label}' reads activity '{first}' of graph "
                          f"'{graph_of[first]}'; a job only reads activities of its own graph",
                          *where, activity=activity)
        raise located(f"'{{{reference}}}' in '{expression.label}' references non-existent activity "
                      f"'{first}'", *where, activity=activity)
    if len(parts) > 1 and parts[1] not in ("input", "output", "hook"):
        warnings.append(f"{activity or spec.subscribes}: '{{{reference}}}' reads '{parts[1]}'; activity "
                        "paths start with input, output or hook")
    elif len(parts) > 1 and parts[1] == "input" and spec.types[first] != "trigger":
        warnings.append(f"{activity or spec.subscribes}: '{{{reference}}}' reads the input of "
                        f"'{first}', which is never stored (only a trigger's input is)")


def consumed(expressions: list[Expression], own: str, spec: GraphSpec) -> tuple[str, ...]:
    """Sorted ids of the activities (of this graph) whose state these expressions read."""
    ids: set[str] = set()
    for expression in expressions:
        for reference in scan(expression.value).references:
            first = path(reference)[0]
            if first == "$self":
                ids.add(own)
            elif first in spec.activities:
                ids.add(first)
    return tuple(sorted(ids))
