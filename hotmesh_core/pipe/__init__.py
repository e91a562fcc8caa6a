"""Mapping expressions and ``@pipe`` (spec 2.8 to 2.10).

Public contract (used by the compiler and the engine):

- ``UNDEFINED``: the JavaScript ``undefined`` (a missing path). Mapped keys resolving to it are dropped.
- ``resolve(value, context)``: evaluate one mapping value (results are JSON-ready: dates become ISO
  strings, undefined members are dropped).
- ``map_rules(rules, context)``: resolve every key of a dict of rules; drop UNDEFINED results.
- ``scan(value)``: the references and function names a value uses (compiler, at plan time); ``syntax``
  defines what an expression, a function, a reference and a reduce variable are.
- ``check(value)``: raise ``PipeError`` for unknown functions or malformed pipes (plan time).
- ``FUNCTIONS``: the explicit registry ``{namespace: {name: callable}}``.

``strict_equals``, ``loose_equals`` and ``truthy`` are the JavaScript ``===``, ``==`` and truthiness the
functions use, exported for transition conditions.
"""

from __future__ import annotations

from .evaluator import check, map_rules, resolve
from .functions import FUNCTIONS
from .js import UNDEFINED, Undefined, loose_equals, strict_equals, to_number, to_string, truthy
from .limits import MAX_OUTPUT_SIZE, MAX_PIPE_DEPTH, MAX_PIPE_ROWS, MAX_REDUCE_ITERATIONS
from .syntax import REDUCE_VARIABLES, Scan, scan

__all__ = [
    "FUNCTIONS",
    "MAX_OUTPUT_SIZE",
    "MAX_PIPE_DEPTH",
    "MAX_PIPE_ROWS",
    "MAX_REDUCE_ITERATIONS",
    "REDUCE_VARIABLES",
    "UNDEFINED",
    "Scan",
    "Undefined",
    "check",
    "loose_equals",
    "map_rules",
    "resolve",
    "scan",
    "strict_equals",
    "to_number",
    "to_string",
    "truthy",
]
