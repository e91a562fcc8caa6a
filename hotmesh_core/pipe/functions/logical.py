"""``@logical``: ``&&`` and ``||``, which return one of their operands (not a boolean)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..js import UNDEFINED, truthy


def and_(left: Any, right: Any = UNDEFINED) -> Any:
    """``left && right``: left when it is falsy, else right."""
    return right if truthy(left) else left


def or_(left: Any, right: Any = UNDEFINED) -> Any:
    """``left || right``: left when it is truthy, else right."""
    return left if truthy(left) else right


FUNCTIONS: dict[str, Callable[..., Any]] = {"and": and_, "or": or_}
