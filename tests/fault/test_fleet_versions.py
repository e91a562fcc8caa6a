"""Versions across a fleet of processes (issue: versions and quorum): three engine processes and two
worker processes on one Redis; activation under load, and with an engine killed mid-protocol."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from hotmesh_core import QuorumError

from ..helpers import assert_eventually
from .harness import EXPECTED, FAULT_APP, all_done, check
from .test_faults import publish

V2 = FAULT_APP.replace("version: '1'", "version: '2'").replace(
    "k0: { type: trigger, stats: { id: '{$self.input.data.id}' } }",
    "k0: { type: trigger, stats: { id: '{$self.input.data.id}' }, job: { maps: { v: 2 } } }")


async def capture(hm: Any) -> tuple[list[dict[str, Any]], Any]:
    heard: list[dict[str, Any]] = []
    listener = hm.redis.subscriber()
    await listener.subscribe(hm.keys.quorum_channel(), lambda channel, data: heard.append(json.loads(data)))
    return heard, listener


async def test_activate_v2_while_500_v1_jobs_run(mesh, fleet, sync_redis, app_id) -> None:
    hm = await mesh(FAULT_APP, engine=False)
    for _ in range(3):
        fleet.start("engine")
    for _ in range(2):
        fleet.start("worker", work="0.05,0.2")
    old = await publish(hm, 500, "old", sleep=1)
    await hm.deploy(V2.replace("{APP}", app_id))
    heard, listener = await capture(hm)
    try:
        assert await hm.activate("2", delay_ms=150) is True
        await asyncio.sleep(0.3)
    finally:
        await listener.close()
    new = await publish(hm, 50, "new")
    await assert_eventually(lambda: all_done(sync_redis, app_id, old + new), timeout=90, interval=0.5)
    report = check(sync_redis, app_id, old, fleet.oracle, EXPECTED)
    assert not report.lost and not report.dup_engine and not report.wrong_data, str(report)
    assert {sync_redis.hget(hm.keys.job(j), "m/vrs") for j in old} == {"1"}
    assert {sync_redis.hget(hm.keys.job(j), "m/vrs") for j in new} == {"2"}
    # children started by the fleet's engines after the switch run version 2
    assert {sync_redis.hget(hm.keys.job(f"{j}-c"), "m/vrs") for j in new} == {"2"}
    assert {sync_redis.hget(hm.keys.job(f"{j}-c"), "d/v") for j in new} == {"/d2"}
    pings = [m for m in heard if m["type"] == "ping"]
    activates = [m for m in heard if m["type"] == "activate"]
    assert len(pings) == 4 and len(activates) == 1
    pongs = [len([m for m in heard if m["type"] == "pong" and m.get("round") == p["round"]]) for p in pings]
    # three engines, two worker processes serving two topics each, and this process (it starts
    # jobs, so it follows the version too): eight members, four rounds in a row
    assert pongs == [8, 8, 8, 8]
    print(f"\nfleet activation: pongs per round {pongs}, {len(old)} v1 jobs on v1, {len(new)} on v2")


async def test_activation_with_an_engine_killed_mid_protocol(mesh, fleet, sync_redis, app_id) -> None:
    hm = await mesh(FAULT_APP, engine=False)
    engines = [fleet.start("engine") for _ in range(3)]
    fleet.start("worker")
    await hm.deploy(V2.replace("{APP}", app_id))
    activation = asyncio.create_task(hm.activate("2", delay_ms=300))
    await asyncio.sleep(0.45)                 # inside the ping rounds
    fleet.kill(engines[0])
    try:
        outcome = await activation
    except QuorumError as exc:
        outcome = False
        print(f"\nactivation refused: {exc}")
    active = (await hm.store.app_record())["version"]
    assert active == ("2" if outcome else "1")
    jids = await publish(hm, 30, "after")
    await assert_eventually(lambda: all_done(sync_redis, app_id, jids), timeout=60, interval=0.5)
    versions = {sync_redis.hget(hm.keys.job(f"{j}-c"), "m/vrs") for j in jids}
    assert versions == {active}               # never split between versions
    print(f"\nkilled mid-protocol: activation {'succeeded' if outcome else 'failed'}; children on {versions}")
