"""The time scout (``task.py``, ``scripts/scout.lua``): its lease is held only while a timer is
near, so an idle engine sends almost nothing; a timer registered by any process still fires on
time, and a holder that dies hands the role over within one lease. Real redis-server, counted
with ``INFO commandstats``."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import redis

from hotmesh_core import HotMesh
from hotmesh_core.task import IDLE_POLL_SECONDS

from ..conftest import fast_settings

NAP = """
app:
  id: {APP}
  version: '1'
  graphs:
    - subscribes: {APP}.nap
      expire: 60
      activities:
        t1: { type: trigger }
        s1: { type: hook, sleep: '{t1.output.data.s}', job: { maps: { slept: true } } }
      transitions:
        t1: [ { to: s1 } ]
"""


def commands(client: redis.Redis) -> int:
    """Every command Redis ran so far, those inside scripts included."""
    stats: dict[str, Any] = client.info("commandstats")
    return sum(int(v["calls"]) for v in stats.values())


async def started(redis_url: str, app_id: str, **settings: Any) -> HotMesh:
    hm = await HotMesh.init(app_id, redis_url, settings=fast_settings(fidelity_seconds=1, **settings))
    return hm


async def test_an_idle_engine_polls_no_timers_and_holds_no_lease(server, app_id: str) -> None:
    """Engine with no worker: over 6 s idle it sends its stream read (BLOCK, 10 s default) and
    one reclaim round at most; the scout ran once at start and gave no lease."""
    client = redis.Redis.from_url(server.url, decode_responses=True)
    hm = await started(server.url, app_id, block_time_ms=10_000, reclaim_interval_ms=30_000)
    try:
        await hm.activate(await hm.deploy(NAP.replace("{APP}", app_id)))
        await asyncio.sleep(1.0)                       # settle: the activation's own traffic
        assert hm.scout is not None
        polls = hm.scout.polls
        before, began = commands(client), time.monotonic()
        await asyncio.sleep(6)
        spent = commands(client) - before - 1         # less this INFO itself
        seconds = time.monotonic() - began
        assert hm.scout.polls == polls, "the scout polled with no timer anywhere"
        assert client.exists(*[hm.keys.scout_lease(n) for n in hm.keys.shard_ids]) == 0
        # the only commands: at most one blocking read renewed and one reclaim (XAUTOCLAIM)
        assert spent <= 3, f"{spent} commands in {seconds:.1f} s idle"
    finally:
        await hm.stop()
        client.close()


async def test_timers_fire_on_time_and_the_lease_goes_when_they_are_done(server, app_id: str) -> None:
    client = redis.Redis.from_url(server.url, decode_responses=True)
    first = await started(server.url, app_id)
    second = await started(server.url, app_id)
    leases = [first.keys.scout_lease(n) for n in first.keys.shard_ids]       # one per shard
    try:
        await first.activate(await first.deploy(NAP.replace("{APP}", app_id)))
        await asyncio.sleep(0.3)
        assert client.exists(*leases) == 0
        # the timer is registered by whichever engine takes the trigger; each nudges its own scout
        began = time.monotonic()
        jobs = [await (first if i % 2 else second).pub(f"{app_id}.nap", {"s": 2}) for i in range(6)]
        await asyncio.sleep(0.3)
        held = {client.get(lease) for lease in leases} - {None}
        assert held and held <= {first.guid, second.guid}, "no scout took the lease for a near timer"
        for jid in jobs:
            while (await first.get_state(f"{app_id}.nap", jid)).get("data", {}).get("slept") is not True:
                assert time.monotonic() - began < 2 + 1 + 3, f"timer of {jid} late"
                await asyncio.sleep(0.05)
        fired_at = time.monotonic() - began
        assert fired_at >= 2, "a timer fired early"
        # nothing left near: the holder gives the lease up at its next poll (within fidelity)
        deadline = time.monotonic() + 3
        while client.exists(*leases):
            assert time.monotonic() < deadline, "the lease outlived the last timer"
            await asyncio.sleep(0.05)
    finally:
        await first.stop()
        await second.stop()
        client.close()


async def test_a_dead_holder_hands_over_within_one_lease(server, app_id: str) -> None:
    """A holder that died (its lease left behind, as after kill -9): another engine's scout waits
    out the lease's own time to live, not its idle poll, then takes over and fires the timer."""
    client = redis.Redis.from_url(server.url, decode_responses=True)
    hm = await started(server.url, app_id, scout_lease_seconds=2)
    try:
        await hm.activate(await hm.deploy(NAP.replace("{APP}", app_id)))
        for n in hm.keys.shard_ids:
            client.set(hm.keys.scout_lease(n), "a-dead-process", px=2000)
        began = time.monotonic()
        jid = await hm.pub(f"{app_id}.nap", {"s": 1})
        while (await hm.get_state(f"{app_id}.nap", jid)).get("data", {}).get("slept") is not True:
            assert time.monotonic() - began < 2 + 1 + 2, "the role was not taken over within a lease"
            await asyncio.sleep(0.05)
        assert time.monotonic() - began < IDLE_POLL_SECONDS
    finally:
        await hm.stop()
        client.close()
