"""``@symbol``: constants that YAML cannot spell (``{@symbol.undefined}``, ``{@symbol.NaN}``...)."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from ..js import NAN, UNDEFINED, Undefined


def null() -> None:
    """``null``."""
    return None


def undefined() -> Undefined:
    """``undefined`` (a mapped key resolving to it is dropped)."""
    return UNDEFINED


def whitespace() -> str:
    """A single space."""
    return " "


def object_() -> dict[str, Any]:
    """A new empty object."""
    return {}


def array() -> list[Any]:
    """A new empty array."""
    return []


def pos_infinity() -> float:
    """``Infinity``."""
    return math.inf


def neg_infinity() -> float:
    """``-Infinity``."""
    return -math.inf


def nan() -> float:
    """``NaN``."""
    return NAN


def date() -> datetime:
    """``new Date()``: the current time (UTC, millisecond precision)."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "null": null,
    "undefined": undefined,
    "whitespace": whitespace,
    "object": object_,
    "array": array,
    "posInfinity": pos_infinity,
    "negInfinity": neg_infinity,
    "NaN": nan,
    "date": date,
}
