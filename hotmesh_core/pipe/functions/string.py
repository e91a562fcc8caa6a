"""``@string``: String.prototype methods with the string as the first argument.

Patterns are plain strings, never regular expressions (no user regex can run here): ``replace`` replaces
the first occurrence, as JavaScript does for a string pattern, and ``search`` finds the first occurrence.
Numbers and booleans are accepted as subjects and converted with ToString; null and undefined raise,
as calling a method on them does in JavaScript.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...errors import PipeError
from ..js import (
    JS_WHITESPACE,
    UNDEFINED,
    array_join,
    check_size,
    describe,
    is_number,
    strict_equals,
    to_integer_or_infinity,
    to_number,
    to_string,
    to_uint32,
)


def _text(value: Any, name: str) -> str:
    if isinstance(value, str):
        return value
    if value is None or value is UNDEFINED or isinstance(value, list | dict):
        raise PipeError(f"@string.{name} expects a string, got {describe(value)}")
    return to_string(value)


def _search_string(value: Any) -> str:
    return to_string(value)


def _same_value_zero(left: Any, right: Any) -> bool:
    both_nan = is_number(left) and is_number(right) and left != left and right != right
    return both_nan or strict_equals(left, right)


def _clamp(value: Any, length: int, default: int) -> int:
    if value is UNDEFINED:
        return default
    return int(min(max(to_integer_or_infinity(value), 0), length))


def split(text: Any, separator: Any = UNDEFINED, limit: Any = UNDEFINED) -> list[str]:
    """Split on a plain separator; an empty separator splits into characters; no separator gives ``[text]``."""
    subject = _text(text, "split")
    if separator is UNDEFINED:
        parts = [subject]
    else:
        pattern = to_string(separator)
        parts = list(subject) if pattern == "" else subject.split(pattern)
    return parts if limit is UNDEFINED else parts[: to_uint32(limit)]


def char_at(text: Any, index: Any = UNDEFINED) -> str:
    """The character at ``index`` (default 0), or '' when out of range."""
    subject = _text(text, "charAt")
    position = to_integer_or_infinity(index)
    return subject[int(position)] if 0 <= position < len(subject) else ""


def concat(*strings: Any) -> str:
    """All arguments joined with no separator (null and undefined contribute nothing)."""
    return array_join(list(strings), "")


def includes(text: Any, search: Any = UNDEFINED, position: Any = UNDEFINED) -> bool:
    """Whether ``search`` occurs at or after ``position``; for an array subject, whether it holds ``search``."""
    if isinstance(text, list):
        start = relative(position, len(text), 0)
        return any(_same_value_zero(item, search) for item in text[start:])
    subject = _text(text, "includes")
    return _search_string(search) in subject[_clamp(position, len(subject), 0) :]


def index_of(text: Any, search: Any = UNDEFINED, from_index: Any = UNDEFINED) -> int:
    """The first index of ``search`` at or after ``from_index``, else -1."""
    subject = _text(text, "indexOf")
    return subject.find(_search_string(search), _clamp(from_index, len(subject), 0))


def last_index_of(text: Any, search: Any = UNDEFINED, from_index: Any = UNDEFINED) -> int:
    """The last index of ``search`` starting at or before ``from_index`` (default: the end), else -1."""
    subject = _text(text, "lastIndexOf")
    pattern = _search_string(search)
    number = to_number(from_index)
    start = len(subject) if number != number else _clamp(from_index, len(subject), len(subject))
    return subject.rfind(pattern, 0, start + len(pattern))


def relative(value: Any, length: int, default: int) -> int:
    """A relative index (negative counts from the end), clamped to ``0..length``."""
    if value is UNDEFINED:
        return default
    index = to_integer_or_infinity(value)
    return int(max(length + index, 0)) if index < 0 else int(min(index, length))


def slice_(text: Any, start: Any = UNDEFINED, end: Any = UNDEFINED) -> Any:
    """``text[start:end]`` with JavaScript relative indices (an array subject gives an array)."""
    if isinstance(text, list):
        return text[relative(start, len(text), 0) : relative(end, len(text), len(text))]
    subject = _text(text, "slice")
    return subject[relative(start, len(subject), 0) : relative(end, len(subject), len(subject))]


def to_lower_case(text: Any) -> str:
    """Lower case."""
    return _text(text, "toLowerCase").lower()


def to_upper_case(text: Any) -> str:
    """Upper case."""
    return _text(text, "toUpperCase").upper()


def trim(text: Any) -> str:
    """Strip JavaScript whitespace and line terminators from both ends."""
    return _text(text, "trim").strip(JS_WHITESPACE)


def trim_start(text: Any) -> str:
    """Strip leading whitespace."""
    return _text(text, "trimStart").lstrip(JS_WHITESPACE)


def trim_end(text: Any) -> str:
    """Strip trailing whitespace."""
    return _text(text, "trimEnd").rstrip(JS_WHITESPACE)


def _padding(subject: str, max_length: Any, fill: Any, name: str) -> str:
    target = to_integer_or_infinity(max_length)
    if target <= len(subject):
        return ""
    check_size(target, f"@string.{name} result")
    filler = " " if fill is UNDEFINED else to_string(fill)
    if not filler:
        return ""
    needed = int(target) - len(subject)
    return (filler * (needed // len(filler) + 1))[:needed]


def pad_start(text: Any, max_length: Any = UNDEFINED, fill: Any = UNDEFINED) -> str:
    """Pad on the left with ``fill`` (default space) up to ``max_length`` characters."""
    subject = _text(text, "padStart")
    return _padding(subject, max_length, fill, "padStart") + subject


def pad_end(text: Any, max_length: Any = UNDEFINED, fill: Any = UNDEFINED) -> str:
    """Pad on the right with ``fill`` (default space) up to ``max_length`` characters."""
    subject = _text(text, "padEnd")
    return subject + _padding(subject, max_length, fill, "padEnd")


def _substitution(replacement: str, matched: str, before: str, after: str) -> str:
    # GetSubstitution for a string pattern: $$, $&, $` and $' are special; $1 etc. stay literal.
    out: list[str] = []
    index = 0
    while index < len(replacement):
        char = replacement[index]
        following = replacement[index + 1 : index + 2]
        if char == "$" and following in ("$", "&", "`", "'"):
            out.append({"$": "$", "&": matched, "`": before, "'": after}[following])
            index += 2
        else:
            out.append(char)
            index += 1
    return "".join(out)


def replace(text: Any, search: Any = UNDEFINED, replacement: Any = UNDEFINED) -> str:
    """Replace the first occurrence of the plain string ``search`` (``$&``, ``$$``, `` $` ``, ``$'`` expand)."""
    subject = _text(text, "replace")
    pattern = _search_string(search)
    position = subject.find(pattern)
    if position < 0:
        return subject
    before, after = subject[:position], subject[position + len(pattern) :]
    inserted = _substitution(to_string(replacement), pattern, before, after)
    check_size(len(before) + len(inserted) + len(after), "@string.replace result")
    return before + inserted + after


def search(text: Any, pattern: Any = UNDEFINED) -> int:
    """The index of the first occurrence of the plain string ``pattern``, else -1 (no regular expressions)."""
    subject = _text(text, "search")
    return subject.find("" if pattern is UNDEFINED else to_string(pattern))


def substring(text: Any, start: Any = UNDEFINED, end: Any = UNDEFINED) -> str:
    """``String.prototype.substring``: indices clamp to ``0..length`` (NaN is 0) and swap when reversed."""
    subject = _text(text, "substring")
    begin, finish = _clamp(start, len(subject), 0), _clamp(end, len(subject), len(subject))
    return subject[min(begin, finish) : max(begin, finish)]


def starts_with(text: Any, search: Any = UNDEFINED, position: Any = UNDEFINED) -> bool:
    """Whether ``search`` occurs at ``position`` (default 0)."""
    subject = _text(text, "startsWith")
    return subject.startswith(_search_string(search), _clamp(position, len(subject), 0))


def ends_with(text: Any, search: Any = UNDEFINED, end_position: Any = UNDEFINED) -> bool:
    """Whether the first ``end_position`` characters (default all) end with ``search``."""
    subject = _text(text, "endsWith")
    return subject[: _clamp(end_position, len(subject), len(subject))].endswith(_search_string(search))


def repeat(text: Any, count: Any = UNDEFINED) -> str:
    """``text`` repeated ``count`` times (a negative or infinite count is an error)."""
    subject = _text(text, "repeat")
    times = to_integer_or_infinity(count)
    if times < 0 or times == float("inf"):
        raise PipeError(f"@string.repeat: invalid count {to_string(count)}")
    if not subject:
        return ""
    check_size(len(subject) * times, "@string.repeat result")
    return subject * int(times)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "split": split,
    "charAt": char_at,
    "concat": concat,
    "includes": includes,
    "indexOf": index_of,
    "lastIndexOf": last_index_of,
    "slice": slice_,
    "toLowerCase": to_lower_case,
    "toUpperCase": to_upper_case,
    "trim": trim,
    "trimStart": trim_start,
    "trimEnd": trim_end,
    "padStart": pad_start,
    "padEnd": pad_end,
    "replace": replace,
    "search": search,
    "substring": substring,
    "startsWith": starts_with,
    "endsWith": ends_with,
    "repeat": repeat,
}
