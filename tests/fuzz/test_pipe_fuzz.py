"""Fuzzing ``@pipe`` (issue 13, item 7): random pipes built from the real function registry, random
arguments and random ``{...}`` strings. Evaluating a mapping value either returns or raises a
``HotMeshError`` (``PipeError``): never another exception, and never a hang (``hang_guard``).
The static ``check`` the compiler runs obeys the same rule."""

from __future__ import annotations

from typing import Any

from hypothesis import event, given
from hypothesis import strategies as st

from hotmesh_core.errors import HotMeshError
from hotmesh_core.pipe import FUNCTIONS, REDUCE_VARIABLES, check, resolve

from .strategies import FLOATS, INTS, TEXT, json_values
from .support import hang_guard

NAMES = sorted(f"{namespace}.{name}" for namespace, table in FUNCTIONS.items() for name in table)
FUNCTION_CELLS = st.one_of(
    st.sampled_from([f"{{@{name}}}" for name in NAMES]),
    st.builds(lambda text: f"{{@{text}}}", TEXT),                    # unknown or malformed names
    st.sampled_from(["{@}", "{@.}", "{@string.}", "{@.split}", "{@string._x}", "{@__class__.x}",
                     "{@string.split.x}", "{@string.constructor}", "{@object.__init__}"]),
)
REFERENCES = st.one_of(
    st.sampled_from(["{a.output.data.x}", "{a.output.data.items}", "{a.output.data.items.1.name}",
                     "{a.output.data.items.length}", "{a.output.data}", "{$job.metadata.jid}",
                     "{$self.hook.data}", "{$hook.data.id}", "{missing.path}", "{a..b}", "{ a }", "{}",
                     "{{a}}", "{a.output.data.deep}", "{a.output.data.text}"]),
    st.sampled_from(sorted(REDUCE_VARIABLES)).map(lambda v: f"{{{v}}}"),
    st.builds(lambda text: f"{{{text}}}", TEXT),                     # random {...} strings
)
# Arguments: JSON values, JavaScript-ish numbers, huge counts and sizes, odd text, and expressions.
ARGUMENTS = st.one_of(json_values(max_leaves=6), FLOATS, INTS, TEXT, REFERENCES, FUNCTION_CELLS,
                      st.sampled_from([10**6, 10**9, -1, 2**31, 2**53, 1e21, 100, 101, 36, 37, 0.5, "1e400"]))


@st.composite
def rows(draw: st.DrawFn, depth: int) -> list[Any]:
    """The rows of one pipe: a first row of cells, then function rows, nested pipes and reduces."""
    out: list[Any] = [draw(st.lists(ARGUMENTS, max_size=4))]
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["call", "pipe", "reduce"] if depth > 0 else ["call"]))
        if kind == "call":
            out.append([draw(FUNCTION_CELLS), *draw(st.lists(ARGUMENTS, max_size=3))])
        else:
            out.append({f"@{kind}": draw(rows(depth - 1))})
    return out


PIPES = st.builds(lambda r: {"@pipe": r}, rows(2))
# Malformed pipes: the rows are not a list of lists, extra keys, empty, only nested pipes.
MALFORMED = st.one_of(
    st.builds(lambda v: {"@pipe": v}, json_values(max_leaves=6)),
    st.builds(lambda r, v: {"@pipe": r, "x": v}, rows(1), json_values(max_leaves=3)),
    st.just({"@pipe": [{"@pipe": [["{@math.random}"]]}]}),
    st.just({"@pipe": [{"@reduce": [["{$output}"]]}]}),
    st.builds(lambda r: {"@reduce": r}, rows(1)),
)
MAPPING_VALUES = st.recursive(
    st.one_of(PIPES, MALFORMED, REFERENCES, FUNCTION_CELLS, json_values(max_leaves=4)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(TEXT, inner, max_size=3)),
    max_leaves=4)

CONTEXT: dict[str, Any] = {
    "a": {"output": {"data": {
        "x": 5, "text": "Luke Birdeau", "items": [{"name": "first"}, {"name": "second"}],
        "nothing": None, "flag": False, "big": 2**64, "deep": {"n": {"n": {"n": [1, [2, [3]]]}}},
    }}},
    "$job": {"metadata": {"jid": "job-1"}},
    "$self": {"hook": {"data": {"id": "h1"}}, "output": {"data": {}}},
}


def evaluate(value: Any, context: dict[str, Any]) -> None:
    """The property: ``check`` and ``resolve`` return or raise a HotMeshError, within the guard."""
    with hang_guard():
        for name, run in (("check", lambda: check(value)), ("resolve", lambda: resolve(value, context))):
            try:
                run()
            except HotMeshError as exc:
                event(f"{name}: {type(exc).__name__}")
            else:
                event(f"{name}: returned")


@given(PIPES)
def test_random_pipes_return_or_raise_a_hotmesh_error(pipe: dict[str, Any]) -> None:
    evaluate(pipe, CONTEXT)


@given(MAPPING_VALUES, json_values(max_leaves=10))
def test_random_mapping_values_and_data_return_or_raise_a_hotmesh_error(value: Any, data: Any) -> None:
    context = {**CONTEXT, "b": {"output": {"data": data}}}
    evaluate(value, context)
    evaluate({"@pipe": [["{b.output.data}"], [value]]}, context)


@given(st.sampled_from(NAMES), st.lists(ARGUMENTS, max_size=4))
def test_every_function_with_random_arguments_returns_or_raises_a_hotmesh_error(
        name: str, arguments: list[Any]) -> None:
    evaluate({"@pipe": [arguments, [f"{{@{name}}}"]]}, CONTEXT)
    evaluate({"@pipe": [[f"{{@{name}}}", *arguments]]}, CONTEXT)
