"""``@conditional``: the ternary, equality and relational operators, and nullish coalescing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..js import (
    UNDEFINED,
    greater_or_equal,
    greater_than,
    loose_equals,
    lower_or_equal,
    lower_than,
    strict_equals,
    truthy,
)


def ternary(condition: Any, if_true: Any = UNDEFINED, if_false: Any = UNDEFINED) -> Any:
    """``condition ? if_true : if_false`` with JavaScript truthiness."""
    return if_true if truthy(condition) else if_false


def equality(left: Any, right: Any = UNDEFINED) -> bool:
    """``left == right`` (loose: ``1 == '1'``, ``null == undefined``)."""
    return loose_equals(left, right)


def strict_equality(left: Any, right: Any = UNDEFINED) -> bool:
    """``left === right``."""
    return strict_equals(left, right)


def inequality(left: Any, right: Any = UNDEFINED) -> bool:
    """``left != right``."""
    return not loose_equals(left, right)


def strict_inequality(left: Any, right: Any = UNDEFINED) -> bool:
    """``left !== right``."""
    return not strict_equals(left, right)


def greater_than_(left: Any, right: Any = UNDEFINED) -> bool:
    """``left > right``."""
    return greater_than(left, right)


def less_than_(left: Any, right: Any = UNDEFINED) -> bool:
    """``left < right``."""
    return lower_than(left, right)


def greater_than_or_equal(left: Any, right: Any = UNDEFINED) -> bool:
    """``left >= right``."""
    return greater_or_equal(left, right)


def less_than_or_equal(left: Any, right: Any = UNDEFINED) -> bool:
    """``left <= right``."""
    return lower_or_equal(left, right)


def nullish(value: Any, fallback: Any = UNDEFINED) -> Any:
    """``value ?? fallback``: the fallback only when value is null or undefined."""
    return fallback if value is None or value is UNDEFINED else value


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "ternary": ternary,
    "equality": equality,
    "strict_equality": strict_equality,
    "inequality": inequality,
    "strict_inequality": strict_inequality,
    "greater_than": greater_than_,
    "less_than": less_than_,
    "greater_than_or_equal": greater_than_or_equal,
    "less_than_or_equal": less_than_or_equal,
    "nullish": nullish,
}
