"""``@array``: Array.prototype methods with the array as the first argument.

Like JavaScript, ``pop``, ``push``, ``reverse``, ``shift``, ``sort``, ``splice`` and ``unshift`` change the
array in place; the evaluator hands functions copies of job data, so only the pipe's own values change.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from functools import cmp_to_key
from typing import Any

from ...errors import PipeError
from ..js import (
    UNDEFINED,
    array_join,
    check_size,
    describe,
    get_property,
    less_than,
    strict_equals,
    to_integer_or_infinity,
    to_string,
    truthy,
)
from . import string as string_functions


def _array(value: Any, name: str) -> list[Any]:
    if not isinstance(value, list):
        raise PipeError(f"@array.{name} expects an array, got {describe(value)}")
    return value


def relative_index(value: Any, length: int, default: int) -> int:
    """A relative start/end index (negative counts from the end), clamped to ``0..length``."""
    if value is UNDEFINED:
        return default
    index = to_integer_or_infinity(value)
    if index < 0:
        return int(max(length + index, 0))
    return int(min(index, length))


def get(array: Any, index: Any = 0) -> Any:
    """``array?.[index || 0]``: the element (or key, for an object) at ``index``; undefined if absent."""
    if array is None or array is UNDEFINED:
        return UNDEFINED
    return get_property(array, index if truthy(index) else 0)


def length(array: Any) -> Any:
    """``array?.length`` (strings too); undefined for other values."""
    if isinstance(array, list | str):
        return len(array)
    return UNDEFINED


def concat(array: Any, *items: Any) -> Any:
    """A new array of ``array`` followed by each item (arrays are spread one level)."""
    if isinstance(array, str):
        return string_functions.concat(array, *items)
    result = list(_array(array, "concat"))
    for item in items:
        if isinstance(item, list):
            check_size(len(result) + len(item), "@array.concat result")
            result.extend(item)
        else:
            result.append(item)
    check_size(len(result), "@array.concat result")
    return result


def index_of(array: Any, search: Any = UNDEFINED, from_index: Any = UNDEFINED) -> int:
    """The first index of an element ``=== search`` at or after ``from_index``, else -1."""
    if isinstance(array, str):
        return string_functions.index_of(array, search, from_index)
    items = _array(array, "indexOf")
    start = relative_index(from_index, len(items), 0)
    for index in range(start, len(items)):
        if strict_equals(items[index], search):
            return index
    return -1


def join(array: Any, separator: Any = UNDEFINED) -> str:
    """The elements as strings (null and undefined as empty) joined by ``separator`` (default ``,``)."""
    items = _array(array, "join")
    return array_join(items, "," if separator is UNDEFINED else to_string(separator))


def last_index_of(array: Any, search: Any = UNDEFINED, from_index: Any = UNDEFINED) -> int:
    """The last index of an element ``=== search`` at or before ``from_index`` (default: the end), else -1."""
    if isinstance(array, str):
        return string_functions.last_index_of(array, search, from_index)
    items = _array(array, "lastIndexOf")
    if not items:
        return -1
    if from_index is UNDEFINED:
        start = len(items) - 1
    else:
        position = to_integer_or_infinity(from_index)
        start = int(min(position, len(items) - 1)) if position >= 0 else int(len(items) + position)
    for index in range(start, -1, -1):
        if strict_equals(items[index], search):
            return index
    return -1


def pop(array: Any) -> Any:
    """Remove and return the last element (undefined when empty)."""
    items = _array(array, "pop")
    return items.pop() if items else UNDEFINED


def push(array: Any, *items: Any) -> list[Any]:
    """Append the items and return the array itself (not its length), as the reference does."""
    target = _array(array, "push")
    check_size(len(target) + len(items), "@array.push result")
    target.extend(items)
    return target


def reverse(array: Any) -> list[Any]:
    """Reverse in place and return the array."""
    items = _array(array, "reverse")
    items.reverse()
    return items


def shift(array: Any) -> Any:
    """Remove and return the first element (undefined when empty)."""
    items = _array(array, "shift")
    return items.pop(0) if items else UNDEFINED


def slice_(array: Any, start: Any = UNDEFINED, end: Any = UNDEFINED) -> Any:
    """A new array of ``array[start:end]`` with JavaScript relative indices."""
    if isinstance(array, str):
        return string_functions.slice_(array, start, end)
    items = _array(array, "slice")
    return items[relative_index(start, len(items), 0) : relative_index(end, len(items), len(items))]


def _locale_key(text: str) -> tuple[str, str, str]:
    # Approximates ICU root collation: accents and case are secondary and tertiary differences,
    # and lower case sorts before upper case ("a" < "A" < "b").
    folded = text.casefold()
    base = "".join(char for char in unicodedata.normalize("NFD", folded) if not unicodedata.combining(char))
    return base, folded, text.swapcase()


def locale_compare(left: str, right: str) -> int:
    """An approximation of ``String.prototype.localeCompare`` (-1, 0 or 1)."""
    left_key, right_key = _locale_key(left), _locale_key(right)
    return (left_key > right_key) - (left_key < right_key)


def _ascending(left: Any, right: Any) -> int:
    if strict_equals(left, right):
        return 0
    if left is None:
        return -1
    if right is None:
        return 1
    if isinstance(left, str) and isinstance(right, str):
        return locale_compare(left, right)
    return -1 if less_than(left, right) else 1


def _descending(left: Any, right: Any) -> int:
    if strict_equals(left, right):
        return 0
    if left is None:
        return 1
    if right is None:
        return -1
    if isinstance(left, str) and isinstance(right, str):
        return locale_compare(right, left)
    return -1 if less_than(right, left) else 1


def sort(array: Any, order: Any = "ASCENDING") -> list[Any]:
    """Sort in place: nulls first ascending and last descending, strings locale-compared; undefined
    elements always go last, as Array.prototype.sort puts them."""
    items = _array(array, "sort")
    comparator = _descending if order == "DESCENDING" else _ascending
    defined = [item for item in items if item is not UNDEFINED]
    missing = len(items) - len(defined)
    defined.sort(key=cmp_to_key(comparator))
    items[:] = defined + [UNDEFINED] * missing
    return items


def splice(array: Any, start: Any = UNDEFINED, delete_count: Any = UNDEFINED, *items: Any) -> list[Any]:
    """Remove ``delete_count`` elements at ``start`` (all to the end when omitted), insert ``items``;
    return the removed elements."""
    target = _array(array, "splice")
    begin = relative_index(start, len(target), 0)
    if delete_count is UNDEFINED:
        count = len(target) - begin if start is not UNDEFINED else 0
    else:
        count = int(min(max(to_integer_or_infinity(delete_count), 0), len(target) - begin))
    check_size(len(target) - count + len(items), "@array.splice result")
    removed = target[begin : begin + count]
    target[begin : begin + count] = items
    return removed


def unshift(array: Any, *items: Any) -> int:
    """Insert the items at the start and return the new length."""
    target = _array(array, "unshift")
    check_size(len(target) + len(items), "@array.unshift result")
    target[0:0] = items
    return len(target)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "get": get,
    "length": length,
    "concat": concat,
    "indexOf": index_of,
    "join": join,
    "lastIndexOf": last_index_of,
    "pop": pop,
    "push": push,
    "reverse": reverse,
    "shift": shift,
    "slice": slice_,
    "sort": sort,
    "splice": splice,
    "unshift": unshift,
}
