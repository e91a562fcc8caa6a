"""Fuzzing payloads (issue 13, item 7): arbitrary Python values (JSON, floats NaN/±inf, bytes, sets,
tuples, datetimes, non-string keys, lone surrogates, deep nesting) through ``pub``, ``pubsub``,
``hook`` (signal data) and ``add``, against a real redis-server. A payload that is plain JSON is
accepted and comes back equal to its JSON form (job data, signal data, the raw message); any other
is refused with a ``PayloadError`` and nothing is written.

Refusals are checked on the quiet database (client-only, so a whole-database snapshot can be
compared exactly); ``pubsub`` and ``hook`` run their accepted payloads through a real engine."""

from __future__ import annotations

import asyncio
import json
import math
from typing import Any

import pytest
from hypothesis import event, example, given, settings
from hypothesis import strategies as st

from hotmesh_core import HotMesh, PayloadError
from hotmesh_core.messages import MAX_PAYLOAD_DEPTH

from ..conftest import MeshFactory
from ..helpers import assert_eventually
from .conftest import Quiet
from .strategies import KEYS, json_values, nested, python_values
from .support import snapshot

FLOW = """
app:
  id: {APP}
  version: '1'
  graphs:
    - subscribes: f.pub
      expire: 3600
      activities:
        t1: { type: trigger, job: { maps: { in: '{$self.input.data}' } } }
    - subscribes: f.signal
      expire: 3600
      activities:
        t2: { type: trigger }
        wait:
          type: hook
          job: { maps: { got: '{$self.hook.data.p}' } }
      transitions:
        t2: [ { to: wait } ]
      hooks:
        f.signal.resume:
          - to: wait
            conditions:
              match:
                - expected: '{$job.metadata.jid}'
                  actual: '{$self.hook.data.id}'
"""
CALL_TIMEOUT = 20.0     # seconds: a call that takes longer is a hang, and fails the example

PAYLOADS = st.one_of(json_values(), python_values())      # about half of them plain JSON
INPUTS = st.one_of(st.builds(lambda v: {"p": v}, PAYLOADS), st.dictionaries(KEYS, PAYLOADS, max_size=3))
# Engine round trips cost a job each: fewer examples than the pure properties, in every profile.
engine_examples = settings(max_examples=max(10, settings.default.max_examples // 3))


def plain_json(value: Any, depth: int = 0) -> bool:
    """The payload contract, written out independently of ``messages.check_json``: JSON scalars
    (finite floats, text UTF-8 can carry), lists and tuples, string-keyed dicts, at most
    ``MAX_PAYLOAD_DEPTH`` containers deep."""
    if value is None or isinstance(value, bool | int):
        return True
    if isinstance(value, str):
        return _utf8(value)
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list | tuple):
        return depth < MAX_PAYLOAD_DEPTH and all(plain_json(item, depth + 1) for item in value)
    if isinstance(value, dict):
        return depth < MAX_PAYLOAD_DEPTH and all(
            isinstance(key, str) and _utf8(key) and plain_json(item, depth + 1) for key, item in value.items())
    return False


def _utf8(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def as_json(value: Any) -> Any:
    return json.loads(json.dumps(value))


async def refused_with_nothing_written(quiet: Quiet, call: Any) -> None:
    """``call()`` (on the quiet database) raises PayloadError and leaves every key as it was."""
    before = snapshot(quiet.redis)
    with pytest.raises(PayloadError):
        await asyncio.wait_for(call(), CALL_TIMEOUT)
    assert snapshot(quiet.redis) == before
    event("refused")


@pytest.fixture
async def deployed(quiet: Quiet) -> Quiet:
    """The quiet database with FLOW deployed and active (jobs start there; no engine runs them)."""
    await quiet.hm.activate(await quiet.hm.deploy(FLOW.replace("{APP}", quiet.hm.app_id)))
    return quiet


@pytest.fixture
async def engine(mesh: MeshFactory) -> HotMesh:
    """An engine on database 0 running FLOW: where accepted payloads make real jobs."""
    return await mesh(FLOW)


@given(INPUTS)
@example({"p": "\ud800"})                     # a lone surrogate: was UnicodeEncodeError
@example({"\udfff": 1})
@example({"p": nested(MAX_PAYLOAD_DEPTH - 1)})
@example({"p": nested(MAX_PAYLOAD_DEPTH, lists=True)})
async def test_pub_accepts_json_and_refuses_the_rest_writing_nothing(deployed: Quiet, data: dict[Any, Any]) -> None:
    if not plain_json(data):
        await refused_with_nothing_written(deployed, lambda: deployed.hm.pub("f.pub", data))
        return
    jid = await asyncio.wait_for(deployed.hm.pub("f.pub", data), CALL_TIMEOUT)
    state = await deployed.hm.get_state("f.pub", jid)
    assert state["data"].get("in", {}) == as_json(data)
    event("accepted")


@engine_examples
@given(INPUTS)
@example({"p": [1.5, -0.0, 2**64, "\u2028", {"": None}]})
async def test_pubsub_accepts_json_and_refuses_the_rest_writing_nothing(
        engine: HotMesh, deployed: Quiet, data: dict[Any, Any]) -> None:
    if not plain_json(data):
        await refused_with_nothing_written(deployed, lambda: deployed.hm.pubsub("f.pub", data, timeout=5))
        return
    job = await asyncio.wait_for(engine.pubsub("f.pub", data, timeout=CALL_TIMEOUT), CALL_TIMEOUT + 5)
    assert job["data"].get("in", {}) == as_json(data)
    event("accepted")


@engine_examples
@given(PAYLOADS)
@example("\ud800")
async def test_signal_data_is_accepted_as_json_or_refused_writing_nothing(
        engine: HotMesh, quiet: Quiet, value: Any) -> None:
    if not plain_json(value):
        await refused_with_nothing_written(quiet, lambda: quiet.hm.hook("f.signal.resume", {"id": "j", "p": value}))
        return
    jid = await engine.pub("f.signal", {})
    await assert_eventually(lambda: engine.redis.call("EXISTS", engine.keys.signal("f.signal.resume", jid)))
    assert await engine.hook("f.signal.resume", {"id": jid, "p": value}) is not None

    async def done() -> bool:
        return await engine.get_status(jid) == 0

    await assert_eventually(done, timeout=CALL_TIMEOUT)
    state = await engine.get_state("f.signal", jid)
    assert state["data"].get("got") == as_json(value)
    event("accepted")


@given(PAYLOADS, st.one_of(st.none(), PAYLOADS))
@example({"when": "\ud800"}, None)
@example([1], {"\ud800": 1})
async def test_add_accepts_json_messages_and_refuses_the_rest_writing_nothing(
        quiet: Quiet, data: Any, extra: Any) -> None:
    """A raw message carries ``data`` and an extra field; it is stored as its JSON text."""
    message = {"metadata": {"jid": "fuzz-job", "aid": "a1"}, "data": data, "extra": extra}
    if not plain_json(message):
        await refused_with_nothing_written(quiet, lambda: quiet.hm.add(message))
        return
    stream_id = await asyncio.wait_for(quiet.hm.add(message), CALL_TIMEOUT)
    [(found_id, fields)] = quiet.redis.xrange(quiet.hm.keys.engine_stream("fuzz-job"), stream_id, stream_id)
    stored = json.loads(fields[b"message"])
    assert (stored["data"], stored["extra"]) == (as_json(data), as_json(extra))
    event("accepted")


def test_a_mapped_value_with_a_lone_surrogate_is_a_payload_error() -> None:
    """Found by fuzzing: ``@json.parse`` of ``"\\ud800"`` yields a lone surrogate, and the size check
    of a mapped (non-strict) payload raised UnicodeEncodeError inside the engine's step."""
    from hotmesh_core.messages import check_size
    from hotmesh_core.pipe import resolve

    value = resolve({"@pipe": [['"\\ud800"'], ["{@json.parse}"]]}, {})
    assert value == "\ud800"
    with pytest.raises(PayloadError, match="lone surrogate"):
        check_size("input of a1", {"x": value}, 1 << 20, strict=False)
