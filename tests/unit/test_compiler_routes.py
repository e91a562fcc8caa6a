"""A graph's runaway ``limits`` (validated, compiled) and the route warnings of ``plan``: a cycle
whose loop has no exit, and a worker or await whose failure flows on through a transition with
no conditions."""

from __future__ import annotations

from pathlib import Path

import pytest

from hotmesh_core.compiler import plan
from hotmesh_core.examples import app_path

from .test_compiler_validate import app, assert_error

LOOP = """
- subscribes: l.test
  activities:
    t1: {type: trigger}
    a1: {type: hook, cycle: true}
    w1: {type: worker, topic: l.work}
    c1: {type: cycle, ancestor: a1}
  transitions:
    t1: [{to: a1}]
    a1: [{to: w1}]
    w1: [{to: c1, conditions: {code: 200}}]
"""


def test_limits_compile_onto_the_graph() -> None:
    compiled = plan(app(LOOP.replace("  activities:", "  limits: {steps: 50, cycles: 0}\n  activities:"))).app
    assert compiled.graphs[0].limits == {"steps": 50, "cycles": 0}
    assert plan(app(LOOP)).app.graphs[0].limits == {}


@pytest.mark.parametrize(("limits", "reason", "marker"), [
    ("limits: 5", "graph 'l.test' 'limits' must be a mapping {steps, cycles}", "limits: 5"),
    ("limits: {cycles: -1}", "graph 'l.test' limits.cycles must be a whole number (0: no limit), not -1",
     "limits: {cycles: -1}"),
    ("limits:\n    steps: 'many'", "graph 'l.test' limits.steps must be a whole number (0: no limit), "
     "not 'many'", "steps: 'many'"),
    ("limits: {loops: 3}", "unknown field 'loops' in graph 'l.test' limits (allowed: steps, cycles)",
     "limits: {loops: 3}"),
])
def test_bad_limits_are_located(tmp_path: Path, limits: str, reason: str, marker: str) -> None:
    text = app(LOOP.replace("  activities:", f"  {limits}\n  activities:"))
    assert_error(tmp_path, text, reason, marker, None)


def test_a_cycle_with_no_exit_is_warned_about() -> None:
    text = app(LOOP.replace("w1: [{to: c1, conditions: {code: 200}}]", "w1: [{to: c1}]"))
    assert plan(text).warnings == (
        "c1: the loop back to 'a1' (a1 -> w1 -> c1) has no conditional transition, so nothing ends it: "
        "each job runs until its cycle limit stops it (code 508); put conditions on a transition of the loop",
        "w1: its transition to 'c1' has no conditions, so it is also taken when w1 fails: the error goes on "
        "to 'c1' instead of ending the job, and the caller never sees w1's own error; give it conditions: "
        "{code: 200} (or the codes it handles)",
    )


def test_a_cycle_with_an_exit_anywhere_on_its_loop_is_not() -> None:
    assert plan(app(LOOP)).warnings == ()                                  # w1 -> c1 on success only
    gated = LOOP.replace("w1: {type: worker, topic: l.work}", "w1: {type: hook}").replace(
        "a1: [{to: w1}]", "a1: [{to: w1, conditions: {match: [{expected: true, actual: '{t1.output.data.go}'}]}}]")
    assert plan(app(gated.replace("w1: [{to: c1, conditions: {code: 200}}]", "w1: [{to: c1}]"))).warnings == ()


def test_an_await_whose_failure_flows_on_is_warned_about() -> None:
    text = app("""
    - subscribes: p.test
      activities:
        t1: {type: trigger}
        k1: {type: await, topic: c.test}
        h1: {type: hook}
        h2: {type: hook}
      transitions:
        t1: [{to: k1}]
        k1: [{to: h1}, {to: h2, conditions: {code: 500}}]
    - subscribes: c.test
      activities:
        t2: {type: trigger}
    """)
    assert [w.split(":")[0] for w in plan(text).warnings] == ["k1"]
    assert "its transition to 'h1' has no conditions" in plan(text).warnings[0]


@pytest.mark.parametrize("name", ["demo", "orders"])
def test_the_example_apps_plan_with_no_warnings(name: str) -> None:
    assert plan(app_path(name)).warnings == ()
