"""Versions and the activation quorum (spec 7, S22), throttle and roll call, in one process."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from hotmesh_core import AppNotFoundError, HotMesh, QuorumError, Worker, WorkerMessage

from ..conftest import fast_settings
from ..helpers import assert_eventually

APP = """
app:
  id: {APP}
  version: '{V}'
  graphs:
    - subscribes: ver.test
      expire: 60
      activities:
        t1: { type: trigger, job: { maps: { version: '{V}' } } }
        a1: { type: worker, topic: ver.work, job: { maps: { worked: true } } }
{EXTRA}
      transitions:
        t1: [ { to: a1 } ]
{EXTRA_T}
"""


def version(v: str, extra: str = "", extra_t: str = "") -> str:
    return APP.replace("{V}", v).replace("{EXTRA}", extra).replace("{EXTRA_T}", extra_t)


async def work(message: WorkerMessage) -> dict[str, Any]:
    return {}


async def test_s22_activation_quorum_across_instances(mesh, redis_url, app_id) -> None:
    a = await mesh(version("1"), workers={"ver.work": work})
    b = await mesh(None, workers={"ver.work": work})
    heard: list[dict[str, Any]] = []
    listener = a.redis.subscriber()
    await listener.subscribe(a.keys.quorum_channel(), lambda channel, data: heard.append(json.loads(data)))
    try:
        await a.deploy(version("2").replace("{APP}", a.app_id))
        assert (await a.pubsub("ver.test", {}))["data"]["version"] == "1"    # deploy does not switch
        results = await asyncio.gather(a.activate("2", delay_ms=100), b.activate("2", delay_ms=100))
        assert results == [True, True]
        await asyncio.sleep(0.2)
    finally:
        await listener.close()
    pings = [m for m in heard if m["type"] == "ping"]
    activates = [m for m in heard if m["type"] == "activate"]
    assert len(pings) == 4 and len(activates) == 1
    assert activates[0]["cache_mode"] == "nocache" and activates[0]["until_version"] == "2"
    for ping in pings:      # two instances, each an engine and a worker: four pongs a round
        assert len([m for m in heard if m["type"] == "pong" and m.get("round") == ping["round"]]) == 4
    record_ = await a.store.app_record()
    assert record_["version"] == "2" and record_["active"] == "true"
    assert record_["versions/2"].startswith("activated:")
    for hm in (a, b):
        assert (await hm.pubsub("ver.test", {}))["data"]["version"] == "2"


async def test_running_jobs_finish_on_their_version(mesh, sync_redis) -> None:
    gate = asyncio.Event()

    async def held(message: WorkerMessage) -> dict[str, Any]:
        await gate.wait()
        return {}

    hm = await mesh(version("1"), workers={"ver.work": held})
    old = [await hm.pub("ver.test", {}) for _ in range(5)]
    await hm.deploy(version("2", extra="        a2: { type: hook, job: { maps: { added: true } } }",
                             extra_t="        a1: [ { to: a2 } ]").replace("{APP}", hm.app_id))
    await hm.activate("2")
    new = await hm.pub("ver.test", {})
    gate.set()
    for jid in old:
        await assert_eventually(lambda jid=jid: sync_redis.hget(hm.keys.job(jid), ":") == "0")
        state = await hm.get_state("ver.test", jid)
        assert state["metadata"]["vrs"] == "1" and state["data"] == {"version": "1", "worked": True}
    await assert_eventually(lambda: sync_redis.hget(hm.keys.job(new), ":") == "0")
    assert (await hm.get_state("ver.test", new))["data"] == {"version": "2", "worked": True, "added": True}


async def test_review_names_breaking_changes(mesh) -> None:
    hm = await mesh(version("1", extra="        a2: { type: hook }", extra_t="        a1: [ { to: a2 } ]"))
    plan = await hm.review(version("2").replace("{APP}", hm.app_id))
    assert plan.active == "1"
    assert any("a2" in change for change in plan.breaking)
    added = version("3", extra="        a2: { type: hook }\n        a3: { type: hook }",
                    extra_t="        a1: [ { to: a2 }, { to: a3 } ]")
    assert not (await hm.review(added.replace("{APP}", hm.app_id))).breaking


async def test_no_active_version_is_a_clear_error(mesh) -> None:
    hm = await mesh(version("1"), activate=False)
    with pytest.raises(AppNotFoundError, match="no active version"):
        await hm.pub("ver.test", {})


async def test_quorum_not_reached_leaves_the_old_version(mesh, monkeypatch) -> None:
    hm = await mesh(version("1"), workers={"ver.work": work})
    await hm.deploy(version("2").replace("{APP}", hm.app_id))
    flaky = iter(range(100))

    async def uneven(delay: float) -> list[int]:
        await asyncio.sleep(0)
        return [next(flaky) % 3 + 1 for _ in range(4)]    # the counts never agree

    monkeypatch.setattr(hm.quorum, "_health_rounds", uneven)
    with pytest.raises(QuorumError, match="Quorum not reached. Version 2 not activated."):
        await hm.activate("2", delay_ms=1)
    assert (await hm.store.app_record())["version"] == "1"


async def test_later_process_reads_the_active_version(mesh, redis_url, app_id) -> None:
    first = await mesh(version("1"), workers={"ver.work": work})
    await first.deploy(version("2").replace("{APP}", first.app_id))
    await first.activate("2")
    late = await HotMesh.init(app_id, redis_url, workers=[Worker("ver.work", work)], settings=fast_settings())
    try:
        assert (await late.pubsub("ver.test", {}))["data"]["version"] == "2"
    finally:
        await late.stop()


async def test_throttle_pause_resume_and_roll_call(mesh, sync_redis) -> None:
    ran: list[str] = []
    hm = await mesh(version("1"), workers={"ver.work": lambda m: ran.append(m.metadata["jid"]) or {}})
    assert await hm.throttle(-1, topic="ver.work") == 1          # one member serves that topic
    assert sync_redis.hget(hm.keys.throttles(), "ver.work") == "2147483647"
    jid = await hm.pub("ver.test", {})
    await asyncio.sleep(0.6)
    assert ran == []                                             # paused
    profiles = await hm.roll_call(delay=0.2)
    roles = sorted((p["role"], p["topic"] or "") for p in profiles)
    assert roles == [("engine", ""), ("worker", "ver.work")]
    worker = next(p for p in profiles if p["role"] == "worker")
    assert worker["throttle"] == 2147483647 and worker["stream_depth"] == 1
    assert "free_memory_gb" in worker["system"] and "cpu_seconds" in worker["system"]
    assert await hm.throttle(0, topic="ver.work") == 1
    await assert_eventually(lambda: ran == [jid])
    assert await hm.throttle(10) == 2                            # everyone: engine and worker
    assert sync_redis.hgetall(hm.keys.throttles()) == {":": "10"}
    await hm.throttle(0)


async def test_throttle_persists_for_processes_that_start_later(mesh, redis_url, app_id) -> None:
    hm = await mesh(version("1"), workers={"ver.work": work})
    await hm.throttle(-1, topic="ver.work")
    await hm.throttle(25)
    await hm.throttle(-1, topic="ver.work")
    late = await HotMesh.init(app_id, redis_url, workers=[Worker("ver.work", work)], settings=fast_settings())
    try:
        throttles = {"engine" if r.group == "ENGINE" else late.keys.worker_topic(r.stream): r.throttle_ms
                     for r in late.routers}
        assert throttles == {"engine": 25, "ver.work": 2147483647}
    finally:
        await late.stop()
