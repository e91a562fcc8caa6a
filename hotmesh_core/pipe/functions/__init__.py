"""The function registry of ``@pipe``: ``{namespace: {name: callable}}``, built explicitly.

A mapping names a function as ``{@namespace.name}``. Names are looked up in these explicit tables
only, never with ``getattr`` (in the reference, ``{@string.constructor}`` reached inherited members),
and names starting with ``_`` are refused. Calls behave like JavaScript calls: extra arguments are
ignored and missing ones are ``undefined``; any failure surfaces as ``PipeError``.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Sequence
from typing import Any

from ...errors import PipeError
from ..js import UNDEFINED
from . import (
    array,
    bitwise,
    conditional,
    cron,
    date,
    json_,
    logical,
    math,
    number,
    object,
    string,
    symbol,
    unary,
)

Function = Callable[..., Any]

_TABLES: dict[str, dict[str, Function]] = {
    "array": array.FUNCTIONS,
    "bitwise": bitwise.FUNCTIONS,
    "conditional": conditional.FUNCTIONS,
    "cron": cron.FUNCTIONS,
    "date": date.FUNCTIONS,
    "json": json_.FUNCTIONS,
    "logical": logical.FUNCTIONS,
    "math": math.FUNCTIONS,
    "number": number.FUNCTIONS,
    "object": object.FUNCTIONS,
    "string": string.FUNCTIONS,
    "symbol": symbol.FUNCTIONS,
    "unary": unary.FUNCTIONS,
}
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


def _arity(function: Function) -> tuple[int, int | None]:
    """(required positional parameters, maximum positional parameters or None for ``*args``)."""
    required, maximum = 0, 0
    for parameter in inspect.signature(function).parameters.values():
        if parameter.kind is parameter.VAR_POSITIONAL:
            return required, None
        if parameter.kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD):
            maximum += 1
            if parameter.default is parameter.empty:
                required += 1
    return required, maximum


def _build() -> tuple[dict[str, dict[str, Function]], dict[tuple[str, str], tuple[int, int | None]]]:
    registry: dict[str, dict[str, Function]] = {}
    arities: dict[tuple[str, str], tuple[int, int | None]] = {}
    for namespace, table in _TABLES.items():
        registry[namespace] = {}
        for name, function in table.items():
            if not _NAME.fullmatch(name):
                raise RuntimeError(f"invalid @pipe function name {namespace}.{name}")
            registry[namespace][name] = function
            arities[namespace, name] = _arity(function)
    return registry, arities


FUNCTIONS, _ARITIES = _build()
"""Every ``@pipe`` function by namespace and JavaScript name (``FUNCTIONS['string']['split']``)."""


def lookup(reference: str) -> tuple[str, str]:
    """Validate ``namespace.name`` (without ``@`` or braces) and return its two parts."""
    namespace, dot, name = reference.partition(".")
    if not dot or not namespace or not name or "." in name:
        raise PipeError(f"malformed function reference {{@{reference}}}: expected {{@namespace.function}}")
    if namespace.startswith("_") or name.startswith("_"):
        raise PipeError(f"forbidden function name @{reference}: names may not start with '_'")
    table = FUNCTIONS.get(namespace)
    if table is None:
        raise PipeError(f"unknown function namespace @{namespace} in @{reference}")
    if name not in table:
        raise PipeError(f"unknown function @{namespace}.{name}")
    return namespace, name


def call(reference: str, arguments: Sequence[Any]) -> Any:
    """Call ``namespace.name`` with JavaScript call semantics; every failure becomes ``PipeError``."""
    namespace, name = lookup(reference)
    required, maximum = _ARITIES[namespace, name]
    values = list(arguments if maximum is None else arguments[:maximum])
    values.extend([UNDEFINED] * (required - len(values)))
    try:
        return FUNCTIONS[namespace][name](*values)
    except PipeError:
        raise
    except RecursionError as exc:
        raise PipeError(f"@{reference}: value nested too deeply") from exc
    except Exception as exc:  # a bug or a JavaScript TypeError/RangeError: fail the mapping, never hang
        raise PipeError(f"@{reference} failed: {type(exc).__name__}: {exc}") from exc


__all__ = ["FUNCTIONS", "Function", "call", "lookup"]
