"""``@bitwise``: JavaScript's 32-bit integer operators (``&``, ``|``, ``^``, ``<<``, ``>>``, ``>>>``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..js import UNDEFINED, to_int32, to_uint32


def and_(left: Any, right: Any = UNDEFINED) -> int:
    """``left & right``."""
    return to_int32(left) & to_int32(right)


def or_(left: Any, right: Any = UNDEFINED) -> int:
    """``left | right``."""
    return to_int32(left) | to_int32(right)


def xor(left: Any, right: Any = UNDEFINED) -> int:
    """``left ^ right``."""
    return to_int32(left) ^ to_int32(right)


def left_shift(value: Any, count: Any = UNDEFINED) -> int:
    """``value << count`` (wraps to a signed 32-bit integer)."""
    return to_int32(to_int32(value) << (to_uint32(count) & 31))


def right_shift(value: Any, count: Any = UNDEFINED) -> int:
    """``value >> count`` (sign-propagating)."""
    return to_int32(value) >> (to_uint32(count) & 31)


def unsigned_right_shift(value: Any, count: Any = UNDEFINED) -> int:
    """``value >>> count`` (zero-filling; the result is unsigned)."""
    return to_uint32(value) >> (to_uint32(count) & 31)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "and": and_,
    "or": or_,
    "xor": xor,
    "leftShift": left_shift,
    "rightShift": right_shift,
    "unsignedRightShift": unsigned_right_shift,
}
