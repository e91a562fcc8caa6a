"""Stream messages (spec 5.1): the reference's StreamData JSON, kept so a reference worker interoperates."""

from __future__ import annotations

import json
import math
import re
from typing import Any

from .errors import PayloadError, PayloadTooLargeError, ValidationError
from .serializer import dumps
from .tracing import ZERO_SPAN as ZERO_SPAN  # re-exported: the untraced context
from .tracing import ZERO_TRACE as ZERO_TRACE
from .tracing import stamp
from .util import guid

TRANSITION = "transition"
AWAIT = "await"
RESULT = "result"
RESPONSE = "response"
TIMEHOOK = "timehook"
WEBHOOK = "webhook"
INTERRUPT = "interrupt"     # interrupt another job (from an interrupt activity)
COMPLETE = "complete"       # hotmesh_core's own: run the job-completion tasks (engine to engine)


def metadata(jid: str, gid: str, dad: str, aid: str, *, trc: str | None = None, spn: str | None = None,
             topic: str | None = None, message_guid: str | None = None, **extra: Any) -> dict[str, Any]:
    """A message's metadata. ``trc``/``spn``: its job's trace context (zeros when untraced); with
    ``trc`` and no ``spn``, the traced step building it fills them in (``tracing.stamp``)."""
    meta: dict[str, Any] = {"guid": message_guid or guid(), "jid": jid, "gid": gid, "dad": dad, "aid": aid}
    if topic is not None:
        meta["topic"] = topic
    meta["spn"] = spn or ZERO_SPAN
    meta["trc"] = trc or ZERO_TRACE
    if spn is None and trc is not None and trc != ZERO_TRACE:    # untraced jobs: no context lookup
        stamp(meta, jid, topic is not None)
    meta.update(extra)
    return meta


def build(meta: dict[str, Any], *, type: str | None = None, data: Any = None, status: str | None = None,
          code: int | None = None, **extra: Any) -> str:
    message: dict[str, Any] = {"metadata": meta}
    if type is not None:
        message["type"] = type
    if data is not None:
        message["data"] = data
    if status is not None:
        message["status"] = status
    if code is not None:
        message["code"] = code
    message.update(extra)
    return dumps(message)


def parse(raw: str | bytes) -> dict[str, Any]:
    """Parse a stream entry's ``message`` field; malformed input raises ``ValidationError``."""
    try:
        message = json.loads(raw)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"stream message is not JSON: {exc}") from None
    if not isinstance(message, dict) or not isinstance(message.get("metadata"), dict):
        raise ValidationError("stream message has no metadata object")
    return message


MAX_PAYLOAD_DEPTH = 64
"""How deep a payload from outside may nest (objects and arrays): deeper is a ``PayloadError``."""

_SCALARS = (int, type(None))   # bool is an int
_SURROGATE = re.compile("[\ud800-\udfff]")
"""A lone surrogate: a Python string may hold one (``json.loads('"\\ud800"')``), UTF-8 cannot."""


def _not_utf8(text: str) -> bool:
    return not text.isascii() and _SURROGATE.search(text) is not None


def check_json(what: str, payload: Any, max_depth: int = MAX_PAYLOAD_DEPTH) -> None:
    """Refuse a payload that is not plain JSON, naming the path of the first bad value: keys must
    be strings, values str, int, bool, None, finite floats, dicts and lists (tuples pass as
    arrays), nested at most ``max_depth`` deep. Iterative, so no payload can exhaust the stack."""
    stack: list[tuple[Any, str, int]] = [(payload, what, 0)]
    pop, push = stack.pop, stack.append
    while stack:
        value, path, depth = pop()
        if isinstance(value, _SCALARS):
            continue
        if isinstance(value, str):
            if _not_utf8(value):
                raise PayloadError(f"{path} holds a lone surrogate, which UTF-8 (and so Redis) cannot carry",
                                   path=path)
            continue
        if isinstance(value, float):
            if not math.isfinite(value):
                raise PayloadError(f"{path} is {value!r}, which JSON cannot carry: use null or a string",
                                   path=path)
            continue
        if isinstance(value, dict):
            if depth >= max_depth:
                raise PayloadError(f"{path} nests deeper than {max_depth} levels", path=path)
            for key, item in value.items():
                if not isinstance(key, str):
                    raise PayloadError(f"{path} has a {type(key).__name__} key {key!r}: JSON keys are "
                                       "strings", path=path)
                if _not_utf8(key):
                    raise PayloadError(f"{path} has a key {key!r} with a lone surrogate, which UTF-8 "
                                       "cannot carry", path=path)
                push((item, f"{path}.{key}", depth + 1))
            continue
        if isinstance(value, list | tuple):
            if depth >= max_depth:
                raise PayloadError(f"{path} nests deeper than {max_depth} levels", path=path)
            for index, item in enumerate(value):
                push((item, f"{path}[{index}]", depth + 1))
            continue
        raise PayloadError(f"{path} is a {type(value).__name__}, which is not JSON (convert it to a "
                           "string, number, list or object first)", path=path)


def check_size(what: str, payload: Any, limit: int, *, strict: bool = True) -> str:
    """Serialize ``payload`` and refuse it when it exceeds ``limit`` bytes (nothing is written).
    ``strict`` (a payload from outside: job input, signal data, a worker's output, a raw message)
    first refuses anything that is not plain JSON (``check_json``)."""
    if strict:
        check_json(what, payload)
    text = dumps(payload)
    try:
        size = len(text.encode())
    except UnicodeEncodeError:     # not strict: a value mapped inside the engine (@json.parse of "\ud800")
        raise PayloadError(f"{what} holds a lone surrogate, which UTF-8 (and so Redis) cannot carry",
                           path=what) from None
    if size > limit:
        raise PayloadTooLargeError(f"{what} is {size} bytes; the limit is {limit} bytes", size=size,
                                   limit=limit)
    return text
