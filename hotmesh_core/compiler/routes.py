"""Warnings about where a graph's transitions lead at run time (``plan`` and ``deploy`` report them).

Both are legal graphs that do what the reference does, and both are usually mistakes:

- a ``cycle`` whose loop (its ancestor, down to the cycle activity) has no conditional transition:
  nothing can end it, so the job runs until its cycle limit stops it with code 508;
- a transition with no ``conditions`` out of a ``worker`` or ``await``: it is taken on every outcome
  (spec Q2), so when the worker fails its error flows into the next activity (which then fails on
  the missing output, or hides the error) instead of ending the job with the worker's own error.
"""

from __future__ import annotations

from .topology import GraphSpec

#: activity types whose outcome can be an error from outside the engine (a worker, a child job)
FALLIBLE = ("worker", "await")


def route_warnings(spec: GraphSpec) -> list[str]:
    return [*_cycles_without_exit(spec), *_failures_passed_on(spec)]


def _cycles_without_exit(spec: GraphSpec) -> list[str]:
    warnings = []
    for aid, node in spec.activities.items():
        if spec.types[aid] != "cycle":
            continue
        ancestors = spec.ancestors[aid]
        loop = [*ancestors[ancestors.index(node["ancestor"]):], aid]
        if any(_conditional(spec, source, target) for source, target in zip(loop, loop[1:], strict=False)):
            continue
        warnings.append(f"{aid}: the loop back to '{loop[0]}' ({' -> '.join(loop)}) has no conditional "
                        "transition, so nothing ends it: each job runs until its cycle limit stops it "
                        "(code 508); put conditions on a transition of the loop")
    return warnings


def _conditional(spec: GraphSpec, source: str, target: str) -> bool:
    return any(item["to"] == target and "conditions" in item for item in spec.edges.get(source, []))


def _failures_passed_on(spec: GraphSpec) -> list[str]:
    warnings = []
    for aid in spec.activities:
        if spec.types[aid] not in FALLIBLE:
            continue
        blind = [item["to"] for item in spec.edges.get(aid, []) if "conditions" not in item]
        if blind:
            targets = ", ".join(f"'{target}'" for target in blind)
            warnings.append(f"{aid}: its transition to {targets} has no conditions, so it is also taken "
                            f"when {aid} fails: the error goes on to {targets} instead of ending the job, "
                            f"and the caller never sees {aid}'s own error; give it conditions: {{code: 200}} "
                            "(or the codes it handles)")
    return warnings
