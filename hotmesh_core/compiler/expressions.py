"""What a mapping value reads: ``{x.y.z}`` references and ``{@ns.fn}`` functions (spec 2.8, 2.9).

A string is an expression only when its whole text is ``{...}``. Values are walked recursively:
objects (their values, not their keys), lists, ``@pipe`` rows and nested ``@pipe``/``@reduce``.
This module works without ``hotmesh_core.pipe``; when the pipe package exposes ``FUNCTIONS``,
function names are checked against that registry, otherwise against the namespace catalog.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

REDUCE_VARIABLES = frozenset({"$input", "$output", "$item", "$key", "$index"})
SYSTEM_VARIABLES = frozenset({"$self", "$job", "$app", "$graph", "$hook"})
NAMESPACES = frozenset({"array", "bitwise", "conditional", "cron", "date", "json", "logical", "math",
                        "number", "object", "string", "symbol", "unary"})
_EXPRESSION = re.compile(r"^\{([^{}]+)\}$")
_FUNCTION = re.compile(r"^[A-Za-z][A-Za-z0-9_]*\.[A-Za-z][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Scan:
    """References (``x.y.z``, braces removed) and function names (``ns.fn``) found in a value."""

    references: tuple[str, ...] = ()
    functions: tuple[str, ...] = ()


def expression_text(value: Any) -> str | None:
    """The text inside the braces when ``value`` is a whole-string expression, else None."""
    if isinstance(value, str):
        match = _EXPRESSION.match(value)
        if match:
            return match.group(1)
    return None


def is_expression(value: Any) -> bool:
    """True for a ``{...}`` string or a ``{'@pipe': [...]}`` mapping: resolved at run time."""
    if expression_text(value) is not None:
        return True
    return isinstance(value, Mapping) and "@pipe" in value


def scan(value: Any) -> Scan:
    references: list[str] = []
    functions: list[str] = []
    _collect(value, references, functions)
    return Scan(tuple(dict.fromkeys(references)), tuple(dict.fromkeys(functions)))


def _collect(value: Any, references: list[str], functions: list[str]) -> None:
    if isinstance(value, str):
        text = expression_text(value)
        if text is None:
            return
        if text.startswith("@"):
            functions.append(text[1:])
        elif head(text) not in REDUCE_VARIABLES:
            references.append(text)
    elif isinstance(value, Mapping):
        for item in value.values():
            _collect(item, references, functions)
    elif isinstance(value, list):
        for item in value:
            _collect(item, references, functions)


def head(reference: str) -> str:
    """The first path segment: an activity id or a system variable."""
    return reference.split(".", 1)[0]


def function_problem(name: str) -> str | None:
    """Why ``{@name}`` is not a callable function, or None when it is."""
    if not _FUNCTION.match(name):
        return f"malformed function reference '{{@{name}}}' (expected '{{@namespace.function}}')"
    namespace, function = name.split(".")
    registry = _registry()
    if registry is None:
        if namespace not in NAMESPACES:
            return f"unknown function namespace '@{namespace}' in '{{@{name}}}'"
        return None
    if namespace not in registry or function not in registry[namespace]:
        return f"unknown function '{{@{name}}}'"
    return None


def pipe_problem(value: Any) -> str | None:
    """The first structural problem of the ``@pipe``/``@reduce`` expressions inside ``value``."""
    if isinstance(value, Mapping):
        if "@pipe" in value:
            if len(value) != 1:
                return "a '@pipe' mapping must have no other keys"
            return _rows_problem(value["@pipe"], "@pipe", reduce_body=False)
        if "@reduce" in value:
            return "'@reduce' is only allowed as a row of a '@pipe'"
        for item in value.values():
            problem = pipe_problem(item)
            if problem:
                return problem
    elif isinstance(value, list):
        for item in value:
            problem = pipe_problem(item)
            if problem:
                return problem
    return None


def _rows_problem(rows: Any, name: str, *, reduce_body: bool) -> str | None:
    if not isinstance(rows, list) or not rows:
        return f"'{name}' must be a non-empty list of rows"
    for index, row in enumerate(rows):
        if isinstance(row, Mapping):
            if len(row) == 1 and "@pipe" in row:
                problem = _rows_problem(row["@pipe"], "@pipe", reduce_body=False)
            elif len(row) == 1 and "@reduce" in row:
                if index == 0 and not reduce_body:
                    return "'@reduce' needs a previous row ([iterable, initial])"
                problem = _rows_problem(row["@reduce"], "@reduce", reduce_body=True)
            else:
                problem = f"row {index} of '{name}' must be a list or a nested '@pipe'/'@reduce'"
            if problem:
                return problem
        elif isinstance(row, list):
            if index > 0 and not (row and str(expression_text(row[0]) or "").startswith("@")):
                return f"row {index} of '{name}' must start with a function ('{{@namespace.function}}')"
            for cell in row:
                problem = pipe_problem(cell)
                if problem:
                    return problem
        else:
            return f"row {index} of '{name}' must be a list of cells"
    return None


def _registry() -> Mapping[str, Mapping[str, Any]] | None:
    try:
        from .. import pipe
    except ImportError:
        return None
    functions = getattr(pipe, "FUNCTIONS", None)
    return functions if isinstance(functions, Mapping) else None
