"""The one expression syntax shared by the compiler and the evaluator (hotmesh_core.pipe.syntax, spec 2.8)."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from hotmesh_core.pipe import resolve, syntax
from hotmesh_core.pipe.js import UNDEFINED
from hotmesh_core.pipe.syntax import (
    Scan,
    expression,
    function_name,
    head,
    is_dynamic,
    is_reduce_variable,
    parts,
    path,
    reference_problem,
    scan,
)


def pipe(*rows: Any) -> dict[str, Any]:
    return {"@pipe": list(rows)}


def reduce(*rows: Any) -> dict[str, Any]:
    return {"@reduce": list(rows)}


# value -> the term inside the braces (None: a literal). The rule is the reference's
# startsWith('{') && endsWith('}'): whole values only, no interpolation.
WHOLE_VALUES = [
    ("{a.output.data.x}", "a.output.data.x"),
    ("{$job.data.x}", "$job.data.x"),
    ("{@date.now}", "@date.now"),
    ("{$item.name}", "$item.name"),
    ("{}", ""),
    ("{ a.b }", " a.b "),
    ('{"k": 1}', '"k": 1'),
    ("{a{b}c}", "a{b}c"),
    ("hello {a.b}", None),
    ("{a.b} world", None),
    ("x {a.b} y", None),
    ("{a.b}\n", None),
    ("\n{a.b}", None),
    ("{a.b", None),
    ("a.b}", None),
    ("{", None),
    ("}", None),
    ("", None),
    (5, None),
    (None, None),
    (["{a.b}"], None),
    ({"@pipe": [["{a.b}"]]}, None),
]


@pytest.mark.parametrize(("value", "term"), WHOLE_VALUES)
def test_whole_value_expressions(value: Any, term: str | None) -> None:
    assert expression(value) == term


@pytest.mark.parametrize(("value", "term"), [(v, t) for v, t in WHOLE_VALUES if isinstance(v, str)])
def test_the_evaluator_resolves_exactly_the_whole_value_expressions(value: str, term: str | None) -> None:
    context = {"a": {"b": "resolved"}}
    result = resolve(value, context)
    if term is None:
        assert result == value
    elif term == "a.b":
        assert result == "resolved"
    elif term.startswith("@"):
        assert result is not UNDEFINED
    else:
        assert result is UNDEFINED


@pytest.mark.parametrize(("value", "dynamic"), [
    ("{a.b}", True),
    ({"@pipe": [["x"]]}, True),
    ({"@pipe": "malformed"}, True),
    ("hello {a.b}", False),
    ({"@reduce": [["x"]]}, False),
    ({"k": "{a.b}"}, False),
    (["{a.b}"], False),
    (3, False),
])
def test_is_dynamic(value: Any, dynamic: bool) -> None:
    assert is_dynamic(value) is dynamic


@pytest.mark.parametrize(("term", "name", "first", "reduce_variable", "segments"), [
    ("@string.split", "string.split", "@string", False, ["@string", "split"]),
    ("a.output.data.x", None, "a", False, ["a", "output", "data", "x"]),
    ("$job.data.x", None, "$job", False, ["$job", "data", "x"]),
    ("$hook.data.x", None, "$hook", False, ["$self", "hook", "data", "x"]),
    ("$hook", None, "$hook", False, ["$self", "hook"]),
    ("$hooks.x", None, "$hooks", False, ["$hooks", "x"]),
    ("$item", None, "$item", True, ["$item"]),
    ("$item.full_name", None, "$item", True, ["$item", "full_name"]),
    ("$output", None, "$output", True, ["$output"]),
    ("$input", None, "$input", True, ["$input"]),
    ("$key", None, "$key", True, ["$key"]),
    ("$index", None, "$index", True, ["$index"]),
    ("$items", None, "$items", False, ["$items"]),
])
def test_terms(term: str, name: str | None, first: str, reduce_variable: bool, segments: list[str]) -> None:
    assert function_name(term) == name
    assert head(term) == first
    assert is_reduce_variable(term) is reduce_variable
    assert path(term) == segments


def test_function_name_of_no_term() -> None:
    assert function_name(None) is None


# value -> (data references, function names), in order of first use, without duplicates.
SCANS: list[tuple[Any, tuple[str, ...], tuple[str, ...]]] = [
    ("{a.output.data.x}", ("a.output.data.x",), ()),
    ("{@date.now}", (), ("date.now",)),
    ("hello {a.output.data.x}", (), ()),
    ("{a.b}\n", (), ()),
    ("{$item.x}", (), ()),
    ("{$hook.data.id}", ("$hook.data.id",), ()),
    ({"k": "{a.b}", "{c.d}": "literal key"}, ("a.b",), ()),
    ([["{a.b}"], "{c.d}", "{a.b}"], ("a.b", "c.d"), ()),
    (pipe(["{a.b}", " "], ["{@string.split}", 0], ["{@array.get}"]), ("a.b",), ("string.split", "array.get")),
    (pipe(pipe(["{a.b}"]), pipe(["{c.d}"]), ["{@math.add}"]), ("a.b", "c.d"), ("math.add",)),
    (pipe(["{a.list}", []], reduce(["{$output}", "{$item.n}", "{$key}", "{$index}", "{$input}"],
                                   ["{@array.push}", "{j.k}"])),
     ("a.list", "j.k"), ("array.push",)),
    # a list or an object inside a pipe cell is a literal (the evaluator copies it): not scanned
    (pipe([{"k": "{a.b}"}, ["{c.d}"]], ["{@object.keys}"]), (), ("object.keys",)),
    # outside a pipe, '@reduce' is an ordinary key of an object: its values are mapped
    (reduce(["{a.b}"]), ("a.b",), ()),
    # a pipe mapping reads its rows only
    ({"@pipe": [["{a.b}"]], "extra": "{c.d}"}, ("a.b",), ()),
    # malformed parts are skipped
    ({"@pipe": "nonsense"}, (), ()),
    (pipe(["{a.b}"], "junk", {"@other": ["{c.d}"]}), ("a.b",), ()),
    (12, (), ()),
    (None, (), ()),
]


@pytest.mark.parametrize(("value", "references", "functions"), SCANS)
def test_scan(value: Any, references: tuple[str, ...], functions: tuple[str, ...]) -> None:
    assert scan(value) == Scan(references, functions)


@pytest.mark.parametrize(("value", "found"), [
    ("{a.b}", ["{a.b}"]),
    ({"x": 1, "y": ["{a.b}", {"z": None}]}, [1, "{a.b}", None]),
    ({"x": pipe(["{a.b}"]), "{key}": "v"}, [pipe(["{a.b}"]), "v"]),
    ([pipe(["a"]), reduce(["b"])], [pipe(["a"]), "b"]),
    ({}, []),
    ([], []),
])
def test_parts(value: Any, found: list[Any]) -> None:
    """Objects by value, lists by item, pipe mappings whole: what scan and check both walk."""
    assert list(parts(value)) == found


@pytest.mark.parametrize(("term", "problem"), [
    ("a.output.data.x", None),
    ("$job.data.x", None),
    ("$self", None),
    ('"k": 1', None),  # well formed, though no activity has that id: the compiler says so
    ("", "is an empty reference"),
    ("a..b", "has an empty path segment"),
    (".a", "has an empty path segment"),
    ("a.", "has an empty path segment"),
    (" a.b", "has a path segment with surrounding spaces"),
    ("a. b", "has a path segment with surrounding spaces"),
    ("a{b}", "has braces inside the reference"),
])
def test_reference_problem(term: str, problem: str | None) -> None:
    assert reference_problem(term) == problem


def test_the_syntax_module_imports_only_the_standard_library() -> None:
    tree = ast.parse(Path(syntax.__file__).read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            assert node.level == 0 and node.module is not None
            assert node.module.split(".")[0] in {"__future__", "collections", "dataclasses", "typing"}
        elif isinstance(node, ast.Import):
            raise AssertionError(f"unexpected import {ast.dump(node)}")
