"""Issue 13 item 3, against a real redis-server: a per-worker ``timeout`` (a callback past it fails
with code 504, retried by the activity's retry policy for 504), and a loop-stall detector that names
the ``async def`` callback blocking the event loop."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import pytest

from hotmesh_core import HotMesh, JobError, ValidationError, Worker, WorkerMessage
from hotmesh_core.stall import LoopWatch
from hotmesh_core.worker import TIMEOUT_CODE

from ..conftest import fast_settings

FLOW = """
app:
  id: {APP}
  version: '1'
  graphs:
    - subscribes: lim.once
      expire: 60
      activities:
        t1: { type: trigger }
        a1: { type: worker, topic: lim.work, input: { maps: { stuck: '{t1.output.data.stuck}' } },
              job: { maps: { y: '{$self.output.data.y}' } } }
      transitions:
        t1: [ { to: a1 } ]
    - subscribes: lim.retry
      expire: 60
      activities:
        t2: { type: trigger }
        a2: { type: worker, topic: lim.work, retry: { '504': [2] }, job: { maps: { y: '{$self.output.data.y}' } } }
      transitions:
        t2: [ { to: a2 } ]
"""


async def start(redis_url: str, app_id: str, callback: Any, **worker: Any) -> HotMesh:
    hm = await HotMesh.init(app_id, redis_url, engine=True, workers=[Worker("lim.work", callback, **worker)],
                            settings=fast_settings())
    await hm.activate(await hm.deploy(FLOW.replace("{APP}", app_id)))
    return hm


async def test_an_async_callback_past_its_timeout_fails_with_504(redis_url, app_id) -> None:
    async def never(message: WorkerMessage) -> dict[str, Any]:
        await asyncio.sleep(3600)
        return {"y": 1}

    hm = await start(redis_url, app_id, never, timeout=0.3)
    try:
        started = time.monotonic()
        with pytest.raises(JobError) as caught:
            await hm.pubsub("lim.once", {}, timeout=10)
        assert caught.value.code == TIMEOUT_CODE == 504
        assert "timeout of 0.3 s" in str(caught.value)
        assert time.monotonic() - started < 3
    finally:
        await hm.stop()


async def test_a_timed_out_callback_is_retried_by_the_policy(redis_url, app_id) -> None:
    calls: list[Any] = []

    async def slow_then_fast(message: WorkerMessage) -> dict[str, Any]:
        calls.append(message.metadata.get("try"))
        if len(calls) < 3:
            await asyncio.sleep(3600)
        return {"y": len(calls)}

    hm = await start(redis_url, app_id, slow_then_fast, timeout=0.3)
    try:
        job = await hm.pubsub("lim.retry", {}, timeout=10)
        assert job["data"] == {"y": 3}
        assert calls == [None, 1, 2]
    finally:
        await hm.stop()


async def test_a_sync_callback_past_its_timeout_fails_and_the_engine_goes_on(redis_url, app_id) -> None:
    def stuck(message: WorkerMessage) -> dict[str, Any]:
        if message.data.get("stuck"):
            time.sleep(2)
        return {"y": 2}

    hm = await start(redis_url, app_id, stuck, timeout=0.3)
    try:
        with pytest.raises(JobError) as caught:
            await hm.pubsub("lim.once", {"stuck": True}, timeout=10)
        assert caught.value.code == 504
        job = await hm.pubsub("lim.once", {}, timeout=10)     # the pool is not held up
        assert job["data"] == {"y": 2}
    finally:
        await hm.stop()


def test_a_timeout_must_be_positive() -> None:
    with pytest.raises(ValidationError, match="timeout"):
        Worker("lim.work", lambda m: {}, timeout=0)


async def test_a_blocking_async_callback_is_named_by_the_stall_detector(redis_url, app_id, caplog) -> None:
    async def blocks(message: WorkerMessage) -> dict[str, Any]:
        time.sleep(1.2)                       # the mistake: blocks the whole loop
        return {"y": 3}

    caplog.set_level(logging.WARNING, logger="hotmesh.stall")
    hm = await HotMesh.init(app_id, redis_url, engine=True, workers=[Worker("lim.work", blocks)],
                            settings=fast_settings(stall_warning_seconds=0.4))
    try:
        await hm.activate(await hm.deploy(FLOW.replace("{APP}", app_id)))
        job = await hm.pubsub("lim.once", {}, timeout=10)
        assert job["data"] == {"y": 3}
        for _ in range(20):
            if any("ran again" in r.getMessage() for r in caplog.records):
                break
            await asyncio.sleep(0.1)
        texts = [r.getMessage() for r in caplog.records if r.name == "hotmesh.stall"]
        assert any("blocked for" in t and "blocks" in t and "worker 'lim.work'" in t for t in texts), texts
        assert any("ran again after" in t for t in texts), texts
    finally:
        await hm.stop()


async def test_loop_watch_is_quiet_on_a_loop_that_is_not_blocked() -> None:
    seen: list[str] = []
    watch = LoopWatch(0.3, report=seen.append)
    watch.start()
    try:
        for _ in range(10):
            await asyncio.sleep(0.05)
        assert seen == [] and watch.stalls == 0
        time.sleep(0.6)
        await asyncio.sleep(0.3)
        assert watch.stalls == 1 and "test_loop_watch_is_quiet" in seen[0], seen
    finally:
        watch.stop()
