"""Compilation of the spec's scenario graphs (section 13) into the engine's model."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from hotmesh_core.compiler import CompiledApp, compile_app, diff_breaking, load_manifest, plan
from hotmesh_core.compiler.model import Conditions, HookRule, Match, Transition

MANIFESTS = Path(__file__).parent / "manifests"
FIXTURES = ["s2.yaml", "s3.yaml", "s4.yaml", "s5.yaml", "s6.yaml", "s11.yaml", "kitchen.yaml",
            "refapp/hotmesh.yaml"]


def compiled(name: str) -> CompiledApp:
    return compile_app(load_manifest(MANIFESTS / name))


def test_s2_worker_data_flow() -> None:
    app = compiled("s2.yaml")
    assert (app.id, app.version, app.settings) == ("conf", "1", {})
    assert app.subscriptions == {"s2.test": "t1"}
    t1, a1 = app.activities["t1"], app.activities["a1"]
    assert (t1.parent, t1.ancestors, t1.children, t1.consumes) == (None, (), ("a1",), ())
    assert t1.transitions == (Transition("a1"),)
    assert (a1.parent, a1.ancestors, a1.children, a1.transitions) == ("t1", ("t1",), (), ())
    assert a1.consumes == ("a1", "t1")
    assert (a1.topic, a1.subtype) == ("work.do", "work.do")
    assert a1.input_maps == {"x": "{t1.output.data.a}"}
    assert a1.job_maps == {"b": "{$self.output.data.y}"}
    assert (t1.expire, a1.expire) == (120, 120)
    assert (a1.graph, a1.trigger, a1.file, a1.line) == ("s2.test", "t1", "s2.yaml", 10)
    graph = app.graph_of("s2.test")
    assert (graph.trigger, graph.activities, graph.expire) == ("t1", ("t1", "a1"), 120)


def test_s3_parallel_fan_out() -> None:
    app = compiled("s3.yaml")
    t1 = app.activities["t1"]
    assert t1.children == ("a1", "a2")
    assert t1.transitions == (Transition("a1"), Transition("a2"))
    for aid in ("a1", "a2"):
        assert (app.activities[aid].parent, app.activities[aid].ancestors) == ("t1", ("t1",))
        assert app.activities[aid].consumes == (aid, "t1")
    assert app.activities["a2"].subtype == "work.do.more"


def test_s4_sequence() -> None:
    app = compiled("s4.yaml")
    a1, a2 = app.activities["a1"], app.activities["a2"]
    assert (a1.children, a2.parent, a2.ancestors) == (("a2",), "a1", ("t1", "a1"))
    assert a2.consumes == ("a1", "a2")


def test_s5_conditional_transitions() -> None:
    app = compiled("s5.yaml")
    t1, a1 = app.activities["t1"], app.activities["a1"]
    pipe = {"@pipe": [["{t1.output.data.a}", "goodbye"], ["{@conditional.equality}"]]}
    assert t1.transitions[0].to == "a1"
    conditions = t1.transitions[0].conditions
    assert conditions is not None
    assert (conditions.code, conditions.gate) == ((200,), "and")
    assert conditions.match[0] == Match(False, pipe)
    assert conditions.match[1].actual["@pipe"][0] == ["{t1.output.data.a}", "bye"]
    assert a1.transitions == (Transition("a2", Conditions(match=(Match(True, {
        "@pipe": [["{a1.output.data.y}", "hello world"], ["{@conditional.equality}"]]}),))),)
    assert t1.consumes == ("t1",)           # its transition conditions read t1
    assert a1.consumes == ("a1", "t1")


def test_s6_await_composition() -> None:
    app = compiled("s6.yaml")
    assert app.subscriptions == {"parent.test": "p0", "child.test": "k0"}
    p0, p1, k0 = (app.activities[a] for a in ("p0", "p1", "k0"))
    assert (p0.stats, p0.consumes) == ({"id": "{$self.input.data.id}"}, ("p0",))
    assert (p1.type, p1.topic, p1.subtype, p1.await_child) == ("await", "child.test", "child.test", True)
    assert p1.input_maps["n"] == 7
    assert p1.consumes == ("p0", "p1")
    assert (k0.graph, k0.trigger, k0.ancestors, k0.children, k0.consumes) == ("child.test", "k0", (), (), ("k0",))


def test_s11_cycle() -> None:
    app = compiled("s11.yaml")
    a1, w1, c1 = (app.activities[a] for a in ("a1", "w1", "c1"))
    assert (a1.cycle, w1.cycle, c1.cycle) == (True, False, False)
    assert (c1.type, c1.ancestor, c1.ancestors, c1.parent) == ("cycle", "a1", ("t1", "a1", "w1"), "w1")
    assert w1.children == ("c1",)
    assert w1.consumes == ("t1", "w1")
    assert w1.transitions[0].conditions == Conditions(match=(Match(True, {
        "@pipe": [["{w1.output.data.counter}", 5], ["{@conditional.less_than}"]]}),))
    assert (w1.expire, c1.expire) == (60, 60)


def test_s12_pivot_is_marked_by_its_cycle_activity() -> None:
    app = compiled("s11.yaml")
    assert app.activities["a2"].cycle is True           # no `cycle: true` in its YAML
    assert app.activities["w2"].transitions == (Transition("c2", Conditions(code=(500,))),)


def test_hooks_refs_and_schemas() -> None:
    app = compiled("refapp/hotmesh.yaml")
    rule = HookRule("order.routed", "route", "{place.output.data.id}", "{$self.hook.data.id}")
    assert app.hooks == {"order.routed": rule}
    graph = app.graph_of("order.placed")
    assert graph.hooks == {"order.routed": [rule]}
    assert (graph.publishes, graph.input_schema["type"], graph.output_schema["properties"]) == (
        "order.done", "object", {"destination": {"type": "string"}})
    route = app.activities["route"]
    assert route.hook_topic == "order.routed"
    assert route.consumes == ("place", "route")       # the rule's `expected` is read from the job
    assert route.job_maps == {"destination": "{$self.hook.data.destination}"}
    assert app.activities["ship"].consumes == ("place", "route")
    assert (route.file, route.line) == ("graphs/order.yaml", 25)      # relative to the app folder
    doze = app.activities["doze"]
    assert (doze.sleep, doze.consumes, doze.expire) == ("{$job.data.seconds}", (), 30)
    assert app.settings == {"region": "eu", "retries": 2}


def test_every_type_keeps_its_fields() -> None:
    app = compiled("kitchen.yaml")
    assert app.version == "2"
    assert app.subscriptions == {"kitchen.run": "start", ".kitchen.taste": "sip"}
    start, cook, taste, ring, legacy, halt = (app.activities[a] for a in
                                              ("start", "cook", "taste", "ring", "legacy", "halt"))
    assert (start.emit, start.persistent, start.expire) == (True, True, 90)
    assert cook.retry == {"500": [3], "404": [1]}
    assert cook.code_job_maps == {"422": {"rejected": "{$self.output.data.reason}"}}
    assert cook.expire == 5                            # its own expire wins over the graph's
    assert cook.transitions == (Transition("taste", Conditions(code=(200, 202))),
                                Transition("ring", Conditions(code=(422,))), Transition("legacy"))
    assert (taste.await_child, taste.topic) == (False, ".kitchen.taste")
    assert (ring.subtype, ring.key_name, ring.key_value, ring.signal_maps) == (
        "all", "group", "{$job.data.group}", {"done": True})
    assert ring.resolver_maps == {"data": {"group": "{start.output.data.group}"}, "scrub": True}
    assert ring.consumes == ("start",)
    assert (legacy.type, legacy.status_threshold, legacy.telemetry) == ("hook", 2, {"dish": "{cook.output.data.dish}"})
    assert (halt.target, halt.topic, halt.reason, halt.throw, halt.code, halt.descend) == (
        "{start.output.data.other}", "kitchen.run", "enough", False, 409, True)
    assert app.activities["bell"].hook_topic == "kitchen.bell"
    assert app.hooks["kitchen.bell"].actual == "{$hook.data.id}"


@pytest.mark.parametrize("name", FIXTURES)
def test_json_round_trip(name: str) -> None:
    app = compiled(name)
    text = app.to_json()
    assert CompiledApp.from_json(text) == app
    assert CompiledApp.from_json(text).to_json() == text


def test_compiled_app_does_not_depend_on_where_it_was_loaded_from(tmp_path: Path) -> None:
    text = (MANIFESTS / "s2.yaml").read_text()
    moved = tmp_path / "elsewhere" / "s2.yaml"
    moved.parent.mkdir()
    moved.write_text(text)
    assert compiled("s2.yaml").to_json() == compile_app(load_manifest(moved)).to_json()
    from_text = compile_app(load_manifest(text))
    assert (from_text.activities["a1"].file, from_text.activities["a1"].line) == (None, 10)


def test_plan_reports_warnings_without_deploying() -> None:
    result = plan(MANIFESTS / "s2.yaml")
    assert result.app == compiled("s2.yaml") and result.warnings == ()
    text = (MANIFESTS / "s2.yaml").read_text().replace("'{t1.output.data.a}'", "'{t1.ouput.data.a}'")
    assert plan(text).warnings == ("a1: '{t1.ouput.data.a}' reads 'ouput'; activity paths start with input, "
                                   "output or hook",)


def test_diff_breaking_names_what_a_new_version_removes() -> None:
    old = compiled("s4.yaml")
    assert diff_breaking(old, old) == []
    assert diff_breaking(compiled("s2.yaml"), old) == [
        "graph 's2.test' was removed",
        "activity 'a1' moved from graph 's2.test' to 's4.test'",
        "activity 't1' moved from graph 's2.test' to 's4.test'",
    ]
    new = replace(old, activities={**old.activities,
                                   "a1": replace(old.activities["a1"], type="hook", children=(), transitions=())})
    new.activities.pop("a2")
    assert diff_breaking(old, new) == [
        "activity 'a1' changed type from worker to hook",
        "transition a1 -> a2 was removed",
        "activity 'a2' (graph 's4.test') was removed",
    ]
    assert diff_breaking(new, old) == ["activity 'a1' changed type from hook to worker"]
