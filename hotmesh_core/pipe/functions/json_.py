"""``@json``: ``JSON.stringify`` and ``JSON.parse`` with JavaScript's output.

``stringify`` prints numbers as JavaScript does (``1``, not ``1.0``; NaN and Infinity as ``null``),
drops undefined object members, writes undefined array items as ``null`` and dates as ISO strings.
A replacer may only be an array of keys to keep (a replacer function cannot be written in YAML).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import datetime
from typing import Any

from ...errors import PipeError
from .. import jsdate
from ..js import (
    UNDEFINED,
    Undefined,
    check_size,
    is_number,
    js_num,
    number_to_string,
    to_integer_or_infinity,
    to_string,
)


class _Printer:
    def __init__(self, indent: str, allowed: list[str] | None) -> None:
        self.indent = indent
        self.allowed = allowed
        self.active: set[int] = set()

    def value(self, value: Any, margin: str) -> str | None:
        if value is UNDEFINED or callable(value):
            return None
        if value is None:
            return "null"
        if isinstance(value, bool):
            return "true" if value else "false"
        if is_number(value):
            return number_to_string(value) if math.isfinite(value) else "null"
        if isinstance(value, str):
            return json.dumps(value, ensure_ascii=False)
        if isinstance(value, datetime):
            time = jsdate.from_datetime(value)
            return "null" if time is None else json.dumps(jsdate.iso_string(time))
        if isinstance(value, list | tuple | dict):
            if id(value) in self.active:
                raise PipeError("@json.stringify: cannot serialize a circular structure")
            if len(self.active) > 256:
                raise PipeError("@json.stringify: structure nested too deeply")
            self.active.add(id(value))
            try:
                return self._object(value, margin) if isinstance(value, dict) else self._array(value, margin)
            finally:
                self.active.discard(id(value))
        raise PipeError(f"@json.stringify: cannot serialize {type(value).__name__}")

    def _wrap(self, parts: list[str], margin: str, brackets: str) -> str:
        if not parts:
            return brackets
        if not self.indent:
            return brackets[0] + ",".join(parts) + brackets[1]
        inner = margin + self.indent
        return f"{brackets[0]}\n{inner}" + f",\n{inner}".join(parts) + f"\n{margin}{brackets[1]}"

    def _array(self, items: list[Any] | tuple[Any, ...], margin: str) -> str:
        inner = margin + self.indent
        return self._wrap([self.value(item, inner) or "null" for item in items], margin, "[]")

    def _object(self, members: dict[Any, Any], margin: str) -> str:
        inner = margin + self.indent
        colon = ": " if self.indent else ":"
        by_key = {to_string(key): item for key, item in members.items()}
        keys = list(by_key) if self.allowed is None else [key for key in self.allowed if key in by_key]
        parts: list[str] = []
        for key in keys:
            printed = self.value(by_key[key], inner)
            if printed is not None:
                parts.append(json.dumps(key, ensure_ascii=False) + colon + printed)
        return self._wrap(parts, margin, "{}")


def _indent(space: Any) -> str:
    if is_number(space):
        return " " * int(min(10, max(0, to_integer_or_infinity(space))))
    if isinstance(space, str):
        return space[:10]
    return ""


def stringify(value: Any, replacer: Any = UNDEFINED, space: Any = UNDEFINED) -> str | Undefined:
    """``JSON.stringify(value, replacer, space)``: compact unless ``space`` (a count or a string) is given."""
    allowed: list[str] | None = None
    if isinstance(replacer, list):
        allowed = []
        for key in replacer:
            if isinstance(key, str) or is_number(key):
                name = to_string(key)
                if name not in allowed:
                    allowed.append(name)
    printed = _Printer(_indent(space), allowed).value(value, "")
    if printed is None:
        return UNDEFINED
    check_size(len(printed), "@json.stringify result")
    return printed


def _parse_int(text: str) -> int | float:
    return js_num(float(text)) if len(text) > 400 else js_num(int(text))


def _reject_constant(name: str) -> Any:
    raise ValueError(f"unexpected token {name}")


def parse(text: Any = UNDEFINED, reviver: Any = UNDEFINED) -> Any:
    """``JSON.parse(text)``: numbers become JavaScript numbers (``1.0`` parses as ``1``); NaN is rejected."""
    try:
        return json.loads(
            to_string(text),
            parse_float=lambda literal: js_num(float(literal)),
            parse_int=_parse_int,
            parse_constant=_reject_constant,
        )
    except (ValueError, RecursionError) as exc:
        raise PipeError(f"@json.parse: invalid JSON ({exc})") from exc


FUNCTIONS: dict[str, Callable[..., Any]] = {"stringify": stringify, "parse": parse}
