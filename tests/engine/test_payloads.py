"""Issue 13 item 1, the payload contract, against a real redis-server: every value that is not plain
JSON, and every payload nested deeper than the limit, is refused with a ``PayloadError`` (400) that
names the path of the bad value, before anything is written; a worker returning such a value fails
its job with that error instead of crashing."""

from __future__ import annotations

import asyncio
import datetime
import decimal
from typing import Any

import pytest

from hotmesh_core import HotMeshError, PayloadError
from hotmesh_core.messages import MAX_PAYLOAD_DEPTH, check_json

FLOW = """
app:
  id: {APP}
  version: '1'
  graphs:
    - subscribes: p.test
      expire: 60
      activities:
        t1: { type: trigger }
        a1: { type: worker, topic: p.work, input: { maps: { x: '{t1.output.data.x}' } },
              job: { maps: { y: '{$self.output.data.y}' } } }
      transitions:
        t1: [ { to: a1 } ]
"""


def nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = {"n": value}
    return value


def nested_lists(depth: int) -> Any:
    value: Any = []
    for _ in range(depth):
        value = [value]
    return value


BAD: list[tuple[str, Any, str]] = [
    ("datetime", {"when": datetime.datetime(2026, 12, 4)}, "job input.when"),
    ("date in a list", {"items": [1, 2, {"d": datetime.date(2026, 1, 1)}]}, "job input.items[2].d"),
    ("bytes", {"blob": b"\x00\x01"}, "job input.blob"),
    ("set", {"tags": {"a", "b"}}, "job input.tags"),
    ("NaN", {"score": float("nan")}, "job input.score"),
    ("Infinity", {"x": {"y": float("inf")}}, "job input.x.y"),
    ("-Infinity", {"x": [float("-inf")]}, "job input.x[0]"),
    ("int key", {"m": {1: "one"}}, "job input.m"),
    ("None key", {"m": {None: "x"}}, "job input.m"),
    ("tuple key", {"m": {(1, 2): "x"}}, "job input.m"),
    ("Decimal", {"price": decimal.Decimal("1.10")}, "job input.price"),
    ("object", {"o": object()}, "job input.o"),
    ("5,000 deep", {"deep": nested(5000)}, "job input.deep" + ".n" * (MAX_PAYLOAD_DEPTH - 1)),
    ("5,000 deep lists", {"deep": nested_lists(5000)},
     "job input.deep" + "[0]" * (MAX_PAYLOAD_DEPTH - 1)),
]


@pytest.mark.parametrize(("value", "path"), [(v, p) for _, v, p in BAD], ids=[n for n, _, _ in BAD])
def test_check_json_names_the_bad_path(value: Any, path: str) -> None:
    with pytest.raises(PayloadError) as caught:
        check_json("job input", value)
    assert caught.value.code == 400
    assert caught.value.path == path
    assert caught.value.message.startswith(path)


def test_plain_json_passes_at_the_limit() -> None:
    check_json("x", {"a": [1, 2.5, True, None, "s", {"b": []}], "t": (1, 2)})
    check_json("x", nested(MAX_PAYLOAD_DEPTH))   # 64 objects, one inside the other
    with pytest.raises(PayloadError, match="deeper than"):
        check_json("x", nested(MAX_PAYLOAD_DEPTH + 1))


def app_keys(sync_redis: Any, app_id: str) -> dict[str, str]:
    """Every key of the app but the worker streams' consumer bookkeeping, with its type and size."""
    out = {}
    for key in sync_redis.scan_iter(match=f"hmsh:{app_id}:*", count=1000):
        kind = sync_redis.type(key)
        size = {"hash": sync_redis.hlen, "stream": sync_redis.xlen, "list": sync_redis.llen,
                "zset": sync_redis.zcard, "set": sync_redis.scard}.get(kind)
        out[key] = f"{kind}:{size(key) if size else sync_redis.strlen(key)}"
    return out


async def test_hostile_payloads_are_refused_with_nothing_written(mesh, sync_redis, app_id) -> None:
    calls: list[Any] = []
    hm = await mesh(FLOW, workers={"p.work": lambda m: calls.append(m) or {"y": 1}})
    before = app_keys(sync_redis, app_id)
    for name, value, path in BAD:
        with pytest.raises(PayloadError) as caught:
            await hm.pub("p.test", value)
        assert caught.value.path == path, name
        with pytest.raises(PayloadError):
            await hm.pubsub("p.test", value, timeout=2)
        signal_path = path.replace("job input", "signal data")
        with pytest.raises(PayloadError) as caught:
            await hm.hook("p.signal", value)
        assert caught.value.path == signal_path, name
        for extra in ("search", "markers"):
            with pytest.raises(PayloadError):
                await hm.pub("p.test", {"x": 1}, **{extra: value})
    with pytest.raises(PayloadError, match=r"message.data.when is a datetime"):
        await hm.add({"metadata": {"jid": "j", "aid": "a1"}, "data": {"when": datetime.datetime.now()}})
    assert app_keys(sync_redis, app_id) == before
    assert calls == []
    # still healthy: a plain job runs
    job = await hm.pubsub("p.test", {"x": 7}, timeout=10)
    assert job["data"]["y"] == 1


@pytest.mark.parametrize(("output", "path"), [
    ({"y": datetime.datetime(2026, 1, 1)}, "output of worker 'p.work'.y"),
    ({"y": float("nan")}, "output of worker 'p.work'.y"),
    ({"y": {1: 2}}, "output of worker 'p.work'.y"),
])
async def test_a_worker_returning_non_json_fails_its_job_with_the_path(mesh, output: Any, path: str) -> None:
    hm = await mesh(FLOW, workers={"p.work": lambda m: output})
    with pytest.raises(HotMeshError) as caught:
        await hm.pubsub("p.test", {"x": 1}, timeout=10)
    assert caught.value.code == 400
    assert path in caught.value.message


async def test_a_callback_returning_none_fails_its_job_saying_how_to_park(mesh, caplog) -> None:
    hm = await mesh(FLOW, workers={"p.work": lambda m: None})
    with pytest.raises(HotMeshError) as caught:
        await hm.pubsub("p.test", {"x": 1}, timeout=10)
    assert caught.value.code == 500
    assert "returned None" in caught.value.message and "hotmesh_core.PARK" in caught.value.message
    assert any("returned None" in r.getMessage() for r in caplog.records)


async def test_park_leaves_the_activity_open_for_a_later_response(mesh, sync_redis) -> None:
    from hotmesh_core import PARK, WorkerMessage

    seen: list[WorkerMessage] = []
    hm = await mesh(FLOW, workers={"p.work": lambda m: seen.append(m) or PARK})
    jid = await hm.pub("p.test", {"x": 5})
    for _ in range(100):
        if seen:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.2)
    assert await hm.get_status(jid) > 0          # parked: no response was sent
    meta = seen[0].metadata
    await hm.add({"metadata": {k: meta[k] for k in ("jid", "gid", "dad", "aid")}, "data": {"y": 10},
                  "status": "success", "code": 200})
    for _ in range(100):
        if await hm.get_status(jid) <= 0:
            break
        await asyncio.sleep(0.05)
    assert (await hm.get_state("p.test", jid))["data"]["y"] == 10
