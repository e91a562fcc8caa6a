"""Value encoding for job fields (spec 4.3): every value is stored as a string.

``str`` unchanged (a string that itself starts with ``/`` is escaped as ``/s"<json>"``); ``True``/``False``
``/t`` ``/f``; numbers ``/d<n>``; ``None`` ``/n``; objects and arrays ``/s<JSON>``. JavaScript's
``undefined`` is never written. Decoding reverses it exactly.
"""

from __future__ import annotations

import json
import math
from typing import Any

_DUMPS = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def dumps(value: Any) -> str:
    """Compact JSON; NaN and infinities become null (as JSON.stringify does)."""
    try:
        return _DUMPS(value)
    except ValueError:
        return _DUMPS(_finite(value))


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def encode(value: Any) -> str:
    if isinstance(value, str):
        return "/s" + dumps(value) if value.startswith("/") else value
    if value is True:
        return "/t"
    if value is False:
        return "/f"
    if value is None:
        return "/n"
    if isinstance(value, int):
        return f"/d{value}"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 2**53:
            return f"/d{int(value)}"
        return "/d" + (repr(value) if math.isfinite(value) else "NaN" if math.isnan(value)
                       else ("Infinity" if value > 0 else "-Infinity"))
    return "/s" + dumps(value)


def decode(text: str) -> Any:
    if not text.startswith("/") or len(text) < 2:
        return text
    tag = text[1]
    if tag == "t":
        return True
    if tag == "f":
        return False
    if tag == "n":
        return None
    if tag == "d":
        body = text[2:]
        try:
            return int(body)
        except ValueError:
            return float(body.replace("Infinity", "inf"))
    if tag == "s":
        return json.loads(text[2:])
    return text


def unflatten(flat: dict[str, Any]) -> dict[str, Any]:
    """``{"a/b": 1, "c": 2}`` -> ``{"a": {"b": 1}, "c": 2}``; numeric segments stay dict keys."""
    tree: dict[str, Any] = {}
    for path in sorted(flat):
        node = tree
        parts = path.split("/")
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[parts[-1]] = flat[path]
    return tree
