"""Validation: every DSL error is a ManifestError carrying its file, line and activity id."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from hotmesh_core.compiler import compile_app, load_manifest, plan
from hotmesh_core.errors import ManifestError

MANIFESTS = Path(__file__).parent / "manifests"


def line_of(text: str, marker: str) -> int:
    hits = [n for n, line in enumerate(text.splitlines(), 1) if marker in line]
    assert len(hits) == 1, (marker, hits)
    return hits[0]


def app(*graphs: str, head: str = "id: demo\n  version: '1'") -> str:
    """A manifest around ``graphs`` (each the YAML of one or more graph list items)."""
    items = "\n".join(textwrap.dedent(graph).strip("\n") for graph in graphs)
    return f"app:\n  {head}\n  graphs:\n" + textwrap.indent(items, "    ") + "\n"


def with_hooks(graph: str, hooks: str) -> str:
    """``graph`` plus a ``hooks:`` section (``hooks`` is the YAML under it, any indentation)."""
    return textwrap.dedent(graph).strip("\n") + "\n  hooks:\n" + textwrap.indent(textwrap.dedent(hooks).strip("\n"), "    ")


def error_of(tmp_path: Path, text: str) -> tuple[ManifestError, Path]:
    path = tmp_path / "hotmesh.yaml"
    path.write_text(text)
    with pytest.raises(ManifestError) as caught:
        compile_app(load_manifest(path))
    return caught.value, path


def assert_error(tmp_path: Path, text: str, reason: str, marker: str | None,
                 activity: str | None) -> ManifestError:
    error, path = error_of(tmp_path, text)
    assert error.reason == reason
    assert error.file == str(path)
    assert error.line == (None if marker is None else line_of(text, marker))
    assert error.activity == activity
    return error


SIMPLE = """
- subscribes: s.test
  activities:
    t1: {type: trigger}
    a1: {type: hook}
  transitions:
    t1: [{to: a1}]
"""


# -- app and graph fields --------------------------------------------------------------------------
def test_app_id_must_be_safe(tmp_path: Path) -> None:
    text = app(SIMPLE, head="id: 'my app'\n  version: '1'")
    assert_error(tmp_path, text, "invalid app id 'my app': use 1 to 128 characters from A-Z a-z 0-9 . _ -",
                 "id: 'my app'", None)


def test_version_is_required_and_becomes_a_string(tmp_path: Path) -> None:
    assert_error(tmp_path, app(SIMPLE, head="id: demo"), "app 'version' is required (a label such as '1')",
                 "id: demo", None)
    assert_error(tmp_path, app(SIMPLE, head="id: demo\n  version: true"),
                 "app 'version' must be a string label, not True", "version: true", None)
    assert compile_app(load_manifest(app(SIMPLE, head="id: demo\n  version: 1"))).version == "1"
    result = plan(app(SIMPLE, head="id: demo\n  version: 2.0"))
    assert result.app.version == "2"
    assert result.warnings == ("app version 2.0 was read as a number and became '2'; quote it",)
    assert compile_app(load_manifest(app(SIMPLE, head="id: demo\n  version: 2026-11-27"))).version == "2026-11-27"


def test_unknown_app_field(tmp_path: Path) -> None:
    text = app(SIMPLE, head="id: demo\n  version: '1'\n  owner: me")
    assert_error(tmp_path, text, "unknown field 'owner' in app (allowed: id, version, settings, graphs)",
                 "owner: me", None)


def test_graphs_must_be_a_list(tmp_path: Path) -> None:
    text = "app:\n  id: demo\n  version: '1'\n  graphs: {a: 1}\n"
    assert_error(tmp_path, text, "'graphs' must be a non-empty list of graphs", "graphs:", None)


@pytest.mark.parametrize(("field", "value"), [("subscribes", "'s:test'"), ("publishes", "'s.*'")])
def test_graph_topics_must_be_safe(tmp_path: Path, field: str, value: str) -> None:
    graph = f"""
    - subscribes: s.test
      {field}: {value}
      activities:
        t1: {{type: trigger}}
    """
    if field == "subscribes":
        graph = graph.replace("- subscribes: s.test\n      ", "- ")
    text = app(graph)
    reason = f"invalid topic {value.strip(chr(39))!r}: use 1 to 128 characters from A-Z a-z 0-9 . _ -"
    assert_error(tmp_path, text, reason, f"{field}: {value}", None)


def test_private_subscribes_topic_is_allowed() -> None:
    compiled = compile_app(load_manifest(app(SIMPLE.replace("s.test", ".private.s"))))
    assert compiled.subscriptions == {".private.s": "t1"}


def test_unknown_graph_field(tmp_path: Path) -> None:
    text = app(SIMPLE.replace("  activities:", "  owner: me\n  activities:"))
    assert_error(tmp_path, text, "unknown field 'owner' in graph 's.test' (allowed: subscribes, publishes, "
                 "expire, persistent, input, output, activities, transitions, hooks, title, description, limits)",
                 "owner: me", None)


def test_two_triggers(tmp_path: Path) -> None:
    text = app(SIMPLE.replace("a1: {type: hook}", "a1: {type: trigger}"))
    assert_error(tmp_path, text, "graph 's.test' has 2 triggers: t1, a1", "a1: {type: trigger}", "a1")


def test_no_trigger(tmp_path: Path) -> None:
    text = app("""
    - subscribes: s.test
      activities:
        a1: {type: hook}
    """)
    assert_error(tmp_path, text, "graph 's.test' has no trigger", "activities:", None)


def test_activity_ids_are_unique_across_the_app(tmp_path: Path) -> None:
    text = app(SIMPLE, """
    - subscribes: other.test
      activities:
        t2: {type: trigger}
        a1: {type: hook}
      transitions:
        t2: [{to: a1}]
    """)
    error, _ = error_of(tmp_path, text)
    assert error.reason == ("duplicate activity id 'a1' (also in graph 's.test'); activity ids are unique "
                            "across the app")
    assert error.line == text.splitlines().index("        a1: {type: hook}", 10) + 1
    assert error.activity == "a1"


def test_two_graphs_cannot_subscribe_to_one_topic(tmp_path: Path) -> None:
    text = app(SIMPLE, SIMPLE.replace("t1", "t2").replace("a1", "a2"))
    error, _ = error_of(tmp_path, text)
    assert error.reason == "two graphs subscribe to 's.test'" and error.line == 11   # the second graph


# -- activities ------------------------------------------------------------------------------------
def test_unknown_activity_type(tmp_path: Path) -> None:
    text = app(SIMPLE.replace("a1: {type: hook}", "a1: {type: webhook}"))
    assert_error(tmp_path, text, "unknown activity type 'webhook' (expected one of: trigger, worker, await, "
                 "hook, cycle, signal, interrupt)", "a1: {type: webhook}", "a1")


def test_legacy_activity_type_becomes_hook() -> None:
    compiled = compile_app(load_manifest(app(SIMPLE.replace("a1: {type: hook}", "a1: {type: activity}"))))
    assert compiled.activities["a1"].type == "hook"


@pytest.mark.parametrize(("activity", "field", "kind"), [
    ("{type: worker, topic: w, sleep: 5}", "sleep", "worker"),
    ("{type: hook, topic: w}", "topic", "hook"),
    ("{type: trigger, retry: {'500': [1]}}", "retry", "trigger"),
    ("{type: cycle, ancestor: a0, stats: {}}", "stats", "cycle"),
])
def test_unknown_field_for_the_activity_type(tmp_path: Path, activity: str, field: str, kind: str) -> None:
    text = app(SIMPLE.replace("a1: {type: hook}", f"a1: {activity}"))
    error, _ = error_of(tmp_path, text)
    assert error.reason.startswith(f"unknown field '{field}' in a {kind} activity (allowed: type, title, ")
    assert (error.line, error.activity) == (8, "a1")


def test_activity_id_syntax(tmp_path: Path) -> None:
    text = app(SIMPLE.replace("a1: {type: hook}", "a.1: {type: hook}").replace("{to: a1}", "{to: a.1}"))
    assert_error(tmp_path, text, "invalid activity id 'a.1': use 1 to 128 characters from A-Z a-z 0-9 _ -",
                 "a.1: {type: hook}", "a.1")


def test_blocks_accept_maps_and_schema_only(tmp_path: Path) -> None:
    text = app(SIMPLE.replace("a1: {type: hook}", "a1:\n        type: hook\n        job: {mapz: {x: 1}}"))
    assert_error(tmp_path, text, "unknown field 'mapz' in 'job' (allowed: maps, schema or '<code>')",
                 "job: {mapz", "a1")
    text = app(SIMPLE.replace("a1: {type: hook}", "a1:\n        type: hook\n        output: {422: {maps: {}}}"))
    assert_error(tmp_path, text, "unknown field 'maps' in 'output.422' (allowed: schema)", "output:", "a1")
    text = app(SIMPLE.replace("a1: {type: hook}", "a1:\n        type: hook\n        input: {maps: [x]}"))
    assert_error(tmp_path, text, "'input.maps' must be a mapping of field names to values", "input:", "a1")


def test_hook_block_may_be_an_inline_json_schema(tmp_path: Path) -> None:
    ok = SIMPLE.replace("a1: {type: hook}", "a1:\n        type: hook\n        hook: {type: object, properties: {}}")
    assert compile_app(load_manifest(app(ok))).activities["a1"].type == "hook"
    bad = SIMPLE.replace("a1: {type: hook}", "a1:\n        type: hook\n        hook: {type: object, mapz: {}}")
    assert_error(tmp_path, app(bad), "unknown field 'type' in 'hook' (allowed: maps, schema)", "hook:", "a1")


def test_retry_shape(tmp_path: Path) -> None:
    text = app(SIMPLE.replace("a1: {type: hook}", "a1: {type: worker, topic: w, retry: {'500': 3}}"))
    assert_error(tmp_path, text, "'retry' must map status codes to [max retries], e.g. {'500': [3]}",
                 "retry:", "a1")


def test_worker_topic_must_be_safe_unless_it_is_an_expression(tmp_path: Path) -> None:
    text = app(SIMPLE.replace("a1: {type: hook}", "a1: {type: worker, topic: 'work do'}"))
    assert_error(tmp_path, text, "invalid topic 'work do': use 1 to 128 characters from A-Z a-z 0-9 . _ -",
                 "topic: 'work do'", "a1")
    mapped = SIMPLE.replace("a1: {type: hook}", "a1: {type: worker, topic: '{t1.output.data.topic}'}")
    assert compile_app(load_manifest(app(mapped))).activities["a1"].topic == "{t1.output.data.topic}"


def test_typed_fields(tmp_path: Path) -> None:
    text = app(SIMPLE.replace("a1: {type: hook}", "a1: {type: hook, sleep: soon}"))
    assert_error(tmp_path, text, "'sleep' must be a number or a mapping expression", "sleep: soon", "a1")
    text = app(SIMPLE.replace("a1: {type: hook}", "a1: {type: hook, emit: 'yes'}"))
    assert_error(tmp_path, text, "'emit' must be true or false or a mapping expression", "emit:", "a1")


# -- transitions and hook rules --------------------------------------------------------------------
def test_transition_to_unknown_activity(tmp_path: Path) -> None:
    text = app(SIMPLE.replace("t1: [{to: a1}]", "t1: [{to: a1}, {to: a9}]"))
    assert_error(tmp_path, text, "transition target 'a9' is not an activity of graph 's.test'",
                 "{to: a9}", "t1")


def test_transition_from_unknown_activity(tmp_path: Path) -> None:
    text = app(SIMPLE + "    a9: [{to: a1}]\n")
    assert_error(tmp_path, text, "transition source 'a9' is not an activity of graph 's.test'", "a9:", None)


def test_transition_into_another_graph(tmp_path: Path) -> None:
    text = app(SIMPLE, """
    - subscribes: other.test
      activities:
        t2: {type: trigger}
      transitions:
        t2: [{to: a1}]
    """)
    assert_error(tmp_path, text, "transition target 'a1' belongs to graph 's.test', not to graph 'other.test'",
                 "t2: [{to: a1}]", "t2")


def test_conditions_shape(tmp_path: Path) -> None:
    base = SIMPLE.replace("t1: [{to: a1}]", "t1:\n      - to: a1\n        conditions: COND")
    cases = [
        ("{code: ok}", "conditions 'code' must be an integer or a list of integers"),
        ("{code: [200, true]}", "conditions 'code' must be an integer or a list of integers"),
        ("{gate: xor}", "conditions 'gate' must be 'and' or 'or', not 'xor'"),
        ("{match: {expected: 1, actual: 1}}", "conditions 'match' must be a non-empty list of {expected, actual}"),
        ("{match: [{expected: 1}]}", "each 'match' entry must be a mapping with 'expected' and 'actual'"),
        ("{when: 1}", "unknown field 'when' in conditions (allowed: code, gate, match)"),
    ]
    for condition, reason in cases:
        text = app(base.replace("COND", condition))
        assert_error(tmp_path, text, reason, "conditions:", "t1")


def test_hook_rule_must_target_a_hook_activity(tmp_path: Path) -> None:
    text = app(with_hooks(SIMPLE.replace("a1: {type: hook}", "a1: {type: worker, topic: w}"), """
      s.resume:
        - to: a1
          conditions: {match: [{expected: '{$job.metadata.jid}', actual: '{$self.hook.data.id}'}]}
    """))
    assert_error(tmp_path, text, "hook topic 's.resume' targets 'a1', a worker activity; it must target a "
                 "hook activity", "- to: a1", "a1")


def test_hook_rule_to_unknown_activity_and_without_match(tmp_path: Path) -> None:
    text = app(with_hooks(SIMPLE, """
      s.resume:
        - to: nope
    """))
    assert_error(tmp_path, text, "hook topic 's.resume' target 'nope' is not an activity of graph 's.test'",
                 "- to: nope", None)
    text = app(with_hooks(SIMPLE, """
      s.resume:
        - to: a1
    """))
    assert_error(tmp_path, text, "the rule of hook topic 's.resume' needs conditions.match (expected: job "
                 "value, actual: signal value)", "- to: a1", "a1")


def test_hook_topic_must_be_safe(tmp_path: Path) -> None:
    text = app(SIMPLE + "  hooks:\n    'a b': []\n")
    assert_error(tmp_path, text, "invalid hook topic 'a b': use A-Z a-z 0-9 . _ -", "'a b'", None)


def test_second_parent(tmp_path: Path) -> None:
    text = app("""
    - subscribes: s.test
      activities:
        t1: {type: trigger}
        a1: {type: hook}
        a2: {type: hook}
      transitions:
        t1: [{to: a1}, {to: a2}]
        a1: [{to: a2}]
    """)
    assert_error(tmp_path, text, "activity 'a2' has 2 parents (t1, a1); every activity except the trigger "
                 "has exactly one parent", "a1: [{to: a2}]", "a2")


def test_unreachable_activity(tmp_path: Path) -> None:
    text = app(SIMPLE.replace("a1: {type: hook}", "a1: {type: hook}\n    lost: {type: hook}"))
    assert_error(tmp_path, text, "activity 'lost' is not reachable from the trigger 't1' (no transition leads "
                 "to it)", "lost:", "lost")


def test_transitions_must_not_form_a_cycle(tmp_path: Path) -> None:
    text = app("""
    - subscribes: s.test
      activities:
        t1: {type: trigger}
        a1: {type: hook}
        a2: {type: hook}
      transitions:
        t1: [{to: a1}]
        a1: [{to: a2}]
        a2: [{to: a1}]
    """)
    assert_error(tmp_path, text, "transitions form a cycle (a1 -> a2 -> a1); use a cycle activity to loop",
                 "a2: [{to: a1}]", "a2")


def test_trigger_cannot_be_a_transition_target(tmp_path: Path) -> None:
    text = app(SIMPLE + "    a1: [{to: t1}]\n")
    assert_error(tmp_path, text, "transitions form a cycle (t1 -> a1 -> t1); use a cycle activity to loop",
                 "a1: [{to: t1}]", "a1")
    text = app(SIMPLE.replace("a1: {type: hook}", "a1: {type: hook}\n    o1: {type: hook}") + "    o1: [{to: t1}]\n")
    assert_error(tmp_path, text, "the trigger 't1' cannot be the target of a transition", "o1: [{to: t1}]", "o1")


def test_cycle_activity_needs_an_ancestor(tmp_path: Path) -> None:
    graph = """
    - subscribes: s.test
      activities:
        t1: {type: trigger}
        a1: {type: hook}
        w1: {type: hook}
        c1: {type: cycle ANCESTOR}
      transitions:
        t1: [{to: a1}]
        a1: [{to: c1}]
        t1x: []
    """.replace("        t1x: []\n", "")
    assert_error(tmp_path, app(graph.replace(" ANCESTOR", "").replace("w1: {type: hook}", "")),
                 "cycle activity 'c1' needs 'ancestor': the id of the ancestor it re-enters", "c1: {type: cycle}",
                 "c1")
    text = app(graph.replace(" ANCESTOR", ", ancestor: w1").replace("t1: [{to: a1}]", "t1: [{to: a1}, {to: w1}]"))
    assert_error(tmp_path, text, "cycle activity 'c1' re-enters 'w1', which is not one of its ancestors "
                 "(t1, a1)", "c1: {type: cycle", "c1")
    text = app(graph.replace(" ANCESTOR", ", ancestor: t1").replace("w1: {type: hook}", ""))
    assert_error(tmp_path, text, "cycle activity 'c1' cannot re-enter the trigger 't1'; re-enter a hook "
                 "activity placed after the trigger", "c1: {type: cycle", "c1")


def test_errors_inside_a_ref_graph_point_at_that_file(tmp_path: Path) -> None:
    (tmp_path / "graphs").mkdir()
    graph = tmp_path / "graphs" / "g.yaml"
    graph.write_text("subscribes: g\nactivities:\n  t1: {type: trigger}\n  a1: {type: hook}\n")
    top = tmp_path / "hotmesh.yaml"
    top.write_text(app("- $ref: ./graphs/g.yaml"))
    with pytest.raises(ManifestError) as caught:
        compile_app(load_manifest(top))
    error = caught.value
    assert error.reason == "activity 'a1' is not reachable from the trigger 't1' (no transition leads to it)"
    assert (error.file, error.line, error.activity) == (str(graph), 4, "a1")
    assert str(error) == f"{graph}:4, activity 'a1': {error.reason}"


# -- mapping expressions ---------------------------------------------------------------------------
@pytest.mark.parametrize(("activity", "marker"), [
    ("{type: hook, job: {maps: {x: '{a9.output.data.x}'}}}", "a1: {type: hook"),
    ("{type: hook, sleep: '{a9.output.data.s}'}", "a1: {type: hook"),
    ("{type: worker, topic: '{a9.output.data.topic}'}", "a1: {type: worker"),
    ("{type: hook, emit: {'@pipe': [['{a9.output.data.e}']]}}", "a1: {type: hook"),
    ("{type: hook, statusThreshold: '{a9.output.data.n}'}", "a1: {type: hook"),
    ("\n        type: hook\n        output:\n          maps:\n            deep: {nested: ['{a9.output.data.n}']}",
     "deep: {nested"),
])
def test_reference_to_unknown_activity(tmp_path: Path, activity: str, marker: str) -> None:
    text = app(SIMPLE.replace("a1: {type: hook}", f"a1: {activity}"))
    error, _ = error_of(tmp_path, text)
    assert error.reason.startswith("'{a9.output.data.")
    assert error.reason.endswith("references non-existent activity 'a9'")
    assert (error.line, error.activity) == (line_of(text, marker), "a1")


def test_reference_in_trigger_stats_conditions_and_hook_rules(tmp_path: Path) -> None:
    stats = SIMPLE.replace("t1: {type: trigger}", "t1: {type: trigger, stats: {id: '{nope.input.data.id}'}}")
    assert_error(tmp_path, app(stats), "'{nope.input.data.id}' in 'stats' references non-existent activity "
                 "'nope'", "stats:", "t1")
    condition = SIMPLE.replace("t1: [{to: a1}]", "t1: [{to: a1, conditions: {match: [{expected: 1, "
                                                 "actual: '{nope.output.data.x}'}]}}]")
    assert_error(tmp_path, app(condition), "'{nope.output.data.x}' in 'transition t1 -> a1 match[0].actual' "
                 "references non-existent activity 'nope'", "conditions", "t1")
    rule = with_hooks(SIMPLE, """
      s.resume:
        - to: a1
          conditions:
            match:
              - expected: '{nope.output.data.id}'
                actual: '{$self.hook.data.id}'
    """)
    assert_error(tmp_path, app(rule), "'{nope.output.data.id}' in 'hook 's.resume' match[0].expected' "
                 "references non-existent activity 'nope'", "expected:", "a1")


def test_reference_to_an_activity_of_another_graph(tmp_path: Path) -> None:
    text = app(SIMPLE, """
    - subscribes: other.test
      activities:
        t2: {type: trigger, job: {maps: {x: '{a1.output.data.x}'}}}
    """)
    assert_error(tmp_path, text, "'{a1.output.data.x}' in 'job.maps.x' reads activity 'a1' of graph 's.test'; "
                 "a job only reads activities of its own graph", "t2: {type: trigger", "t2")


def test_unknown_system_variable(tmp_path: Path) -> None:
    text = app(SIMPLE.replace("a1: {type: hook}", "a1: {type: hook, job: {maps: {x: '{$jbo.data.x}'}}}"))
    assert_error(tmp_path, text, "'{$jbo.data.x}' in 'job.maps.x' uses unknown variable '$jbo' (known: $app, "
                 "$graph, $hook, $job, $self)", "a1: {type: hook", "a1")


def test_system_and_reduce_variables_are_accepted() -> None:
    rule = {"@pipe": [["{$job.data.items}", {}], {"@reduce": [["{@object.set}", "{$item.id}", "{$index}"]]}]}
    text = app(SIMPLE.replace("a1: {type: hook}", "a1: {type: hook, job: {maps: {x: RULE, y: '{$app.id}', "
                                                  "z: '{$graph.x}', w: '{$self.output.data.q}'}}}")
               .replace("RULE", str(rule)))
    assert compile_app(load_manifest(text)).activities["a1"].consumes == ("a1",)


def with_map(value: str) -> str:
    """The SIMPLE app whose hook ``a1`` maps ``x`` to ``value`` (YAML flow text)."""
    return app(SIMPLE.replace("a1: {type: hook}", f"a1: {{type: hook, job: {{maps: {{x: {value}}}}}}}"))


@pytest.mark.parametrize(("value", "reason"), [
    ("'{@strin.concat}'", "unknown function namespace @strin in @strin.concat"),
    ("{'@pipe': [['a', 'b'], ['{@string.constructor}']]}", "unknown function @string.constructor"),
    ("{'@pipe': [['a', 'b'], ['{@string._private}']]}",
     "forbidden function name @string._private: names may not start with '_'"),
    ("'{@string}'", "malformed function reference {@string}: expected {@namespace.function}"),
    ("{'@pipe': [['a'], ['b']]}", "pipe row 1 must start with a {@namespace.function}, got ['b']"),
    ("{'@pipe': 'a'}", "a pipe must be a non-empty list of rows, got 'a'"),
    ("{'@pipe': [['a']], y: 1}", "a {'@pipe'} object must have no other keys, got ['@pipe', 'y']"),
])
def test_functions_and_pipes_are_checked_by_the_evaluator(tmp_path: Path, value: str, reason: str) -> None:
    assert_error(tmp_path, with_map(value), f"invalid expression in 'job.maps.x': {reason}", "a1: {type: hook", "a1")


def test_known_functions_compile() -> None:
    good = with_map("{'@pipe': [['a', 'b'], ['{@string.concat}']]}")
    assert compile_app(load_manifest(good)).activities["a1"].job_maps["x"]["@pipe"][1] == ["{@string.concat}"]


def test_expression_errors_are_located_on_their_own_line(tmp_path: Path) -> None:
    text = app(SIMPLE.replace("a1: {type: hook}", "a1:\n        type: hook\n        job:\n          maps:\n"
                                                  "            fine: 1\n            bad: '{@nope.nope}'"))
    assert_error(tmp_path, text, "invalid expression in 'job.maps.bad': unknown function namespace @nope in "
                 "@nope.nope", "bad:", "a1")


@pytest.mark.parametrize(("value", "problem"), [
    ("'{}'", "is an empty reference"),
    ("'{t1..x}'", "has an empty path segment"),
    ("'{t1.output.data.x.}'", "has an empty path segment"),
    ("'{ t1.output.data.x }'", "has a path segment with surrounding spaces"),
    ("'{t1.output.{data}}'", "has braces inside the reference"),
])
def test_references_that_can_never_resolve(tmp_path: Path, value: str, problem: str) -> None:
    """The evaluator reads any ``{...}`` as a reference (``{}`` too), so the compiler says why it is empty."""
    assert_error(tmp_path, with_map(value), f"{value} in 'job.maps.x' {problem}",
                 "a1: {type: hook", "a1")


@pytest.mark.parametrize("value", ["'hello {a9.output.data.x}'", "'{a9.output.data.x} '", '"{a9.output.data.x}\\n"'])
def test_strings_that_are_not_whole_expressions_are_literals(value: str) -> None:
    compiled = compile_app(load_manifest(with_map(value)))
    assert compiled.activities["a1"].consumes == ()


def test_a_reduce_variable_may_start_a_reduce_body_row() -> None:
    """The evaluator takes ``[{$output}]`` as a row of a reduce body; the compiler agrees."""
    compile_app(load_manifest(with_map("{'@pipe': [['{t1.output.data.list}', 0], {'@reduce': [['{$output}'], "
                                       "['{$item}'], ['{@math.add}', 1]]}]}")))


def test_hook_alias_reads_the_own_activity() -> None:
    compiled = compile_app(load_manifest(with_map("'{$hook.data.x}'")))
    assert compiled.activities["a1"].consumes == ("a1",)


def test_await_topic_must_be_a_graph_of_the_app(tmp_path: Path) -> None:
    text = app(SIMPLE.replace("a1: {type: hook}", "a1: {type: await, topic: elsewhere}"))
    assert_error(tmp_path, text, "await topic 'elsewhere' is not subscribed by any graph of this app",
                 "a1: {type: await", "a1")


def test_hook_topics_are_app_wide(tmp_path: Path) -> None:
    rule = """
      s.resume:
        - to: HOOK
          conditions: {match: [{expected: '{$job.metadata.jid}', actual: '{$hook.data.id}'}]}
    """
    other = SIMPLE.replace("t1", "t2").replace("a1", "a2").replace("s.test", "o.test")
    text = app(with_hooks(SIMPLE, rule.replace("HOOK", "a1")), with_hooks(other, rule.replace("HOOK", "a2")))
    error, _ = error_of(tmp_path, text)
    assert error.reason == "hook topic 's.resume' is already routed by graph 's.test'"
    assert error.line == 22 and error.activity is None                           # the second `s.resume:`


def test_warnings() -> None:
    graph = SIMPLE.replace("a1: {type: hook}", "a1: {type: hook, job: {maps: {x: '{t1.outptu.data.x}'}}}")
    text = app(with_hooks(graph, """
      s.resume:
        - to: a1
          conditions: {match: [{expected: '{$job.metadata.jid}', actual: '{$hook.data.id}'}, {expected: 1, actual: 1}]}
        - to: a1
          conditions: {match: [{expected: 1, actual: 2}]}
    """))
    assert plan(text).warnings == (
        "hook topic 's.resume' has 2 rules; only the first is used",
        "hook topic 's.resume': only match[0] of the rule is used",
        "a1: '{t1.outptu.data.x}' reads 'outptu'; activity paths start with input, output or hook",
    )


def test_real_world_shapes_are_accepted() -> None:
    result = plan(MANIFESTS / "kitchen.yaml")
    assert result.warnings == (
        "cook: its transition to 'legacy' has no conditions, so it is also taken when cook fails: the error "
        "goes on to 'legacy' instead of ending the job, and the caller never sees cook's own error; give it "
        "conditions: {code: 200} (or the codes it handles)",)
    assert plan(MANIFESTS / "refapp" / "hotmesh.yaml").warnings == ()
