"""The syntax of mapping values, defined once (spec 2.8, 2.9): the compiler and the evaluator both read it.

- A string is an expression only when the *whole* string is ``{...}``: it starts with ``{`` and ends
  with ``}`` (the reference's ``startsWith('{') && endsWith('}')``). There is no interpolation:
  ``"hello {a.b}"`` is a literal, and so is ``"{a.b}\\n"``. The text between the braces is the *term*.
- A term starting with ``@`` names a function, ``{@namespace.function}``.
- Any other term is a reference, a ``.``-separated path: an activity id or a special name first
  (``$job $self $app $graph $hook``; ``$hook`` is an alias of ``$self.hook``), or a reduce variable
  (``$input $output $item $key $index``, also with a path below, ``{$item.name}``), which only exists
  inside a ``@reduce`` body and is not a data reference.
- A mapping ``{'@pipe': [rows...]}`` is a pipe; a row is a list of cells, a nested ``{'@pipe': ...}``
  or a ``{'@reduce': ...}``. Cells are expressions or literals: a list or object *inside a cell* is a
  literal and is not scanned. Outside pipes, objects are walked by value (never by key), lists by item.

This module uses the standard library only, so anything may import it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

PIPE = "@pipe"
REDUCE = "@reduce"
FUNCTION = "@"
REDUCE_VARIABLES = frozenset({"$input", "$output", "$item", "$key", "$index"})
SYSTEM_VARIABLES = frozenset({"$self", "$job", "$app", "$graph", "$hook"})
_HOOK_ALIAS = ("$hook", ("$self", "hook"))


@dataclass(frozen=True)
class Scan:
    """What a mapping value uses: data ``references`` (``a.output.data.x``) and ``functions`` (``string.split``)."""

    references: tuple[str, ...] = ()
    functions: tuple[str, ...] = ()


def expression(value: Any) -> str | None:
    """The term inside a whole-value expression ``{...}``, or None for anything else (a literal)."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == "{" and value[-1] == "}":
        return value[1:-1]
    return None


def is_dynamic(value: Any) -> bool:
    """True for a ``{...}`` string or a ``{'@pipe': ...}`` mapping: a value resolved at run time."""
    return expression(value) is not None or (isinstance(value, Mapping) and PIPE in value)


def function_name(term: str | None) -> str | None:
    """``namespace.function`` when ``term`` names a function (``@namespace.function``), else None."""
    if term is not None and term.startswith(FUNCTION):
        return term[len(FUNCTION):]
    return None


def head(term: str) -> str:
    """The first path segment of a reference: an activity id, a special name or a reduce variable."""
    return term.split(".", 1)[0]


def is_reduce_variable(term: str) -> bool:
    """True for ``$item``, ``$item.name``... (the current ``@reduce`` iteration, not job data)."""
    return head(term) in REDUCE_VARIABLES


def path(term: str) -> list[str]:
    """The segments a reference walks, with ``$hook`` spelled as ``$self.hook``."""
    segments = term.split(".")
    alias, target = _HOOK_ALIAS
    return [*target, *segments[1:]] if segments[0] == alias else segments


def reference_problem(term: str) -> str | None:
    """Why the reference ``{term}`` can never resolve to anything (an empty path or segment), or None."""
    if not term:
        return "is an empty reference"
    segments = term.split(".")
    if any(not segment for segment in segments):
        return "has an empty path segment"
    if any(segment != segment.strip() for segment in segments):
        return "has a path segment with surrounding spaces"
    if any(c in term for c in "{}"):
        return "has braces inside the reference"
    return None


def parts(value: Any) -> Iterator[Any]:
    """The pipe mappings and the plain cells (strings, scalars) of a mapping value, in order.

    Objects are walked by value and lists by item; a ``{'@pipe': ...}`` mapping is yielded whole.
    """
    if isinstance(value, Mapping) and PIPE not in value:
        for nested in value.values():
            yield from parts(nested)
    elif isinstance(value, list):
        for nested in value:
            yield from parts(nested)
    else:
        yield value


def scan(value: Any) -> Scan:
    """The data references and function names ``value`` uses, in order of first use, without duplicates.

    Reduce variables are not data references. Malformed parts are skipped, not reported (validating
    pipes needs the function registry: that is ``hotmesh_core.pipe.check``).
    """
    references: dict[str, None] = {}
    names: dict[str, None] = {}

    def cell(item: Any) -> None:
        term = expression(item)
        if term is None:
            return
        name = function_name(term)
        if name is not None:
            names[name] = None
        elif not is_reduce_variable(term):
            references[term] = None

    def pipe(rows: Any) -> None:
        for row in rows if isinstance(rows, list) else ():
            if isinstance(row, list):
                for item in row:
                    cell(item)
            elif isinstance(row, Mapping):
                for key in (PIPE, REDUCE):
                    if key in row:
                        pipe(row[key])

    for part in parts(value):
        if isinstance(part, Mapping):
            pipe(part[PIPE])
        else:
            cell(part)
    return Scan(tuple(references), tuple(names))
