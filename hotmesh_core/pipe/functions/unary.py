"""``@unary``: the prefix operators ``!``, ``+``, ``-`` and ``~``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..js import js_num, to_int32, to_number, truthy


def not_(value: Any) -> bool:
    """``!value``."""
    return not truthy(value)


def positive(value: Any) -> int | float:
    """``+value`` (ToNumber)."""
    return js_num(to_number(value))


def negative(value: Any) -> int | float:
    """``-value``."""
    return js_num(-to_number(value))


def bitwise_not(value: Any) -> int:
    """``~value`` on the 32-bit integer."""
    return ~to_int32(value)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "not": not_,
    "positive": positive,
    "negative": negative,
    "bitwise_not": bitwise_not,
}
