"""T8 backpressure (reliability.md section 5): a producer far faster than the consumers.

(b) 10,000 jobs published as fast as one client can into one slow worker, on a Redis whose
``maxmemory`` (``noeviction``) cannot hold them all: ``pub`` fails loudly with
``RedisOutOfMemoryError`` (a ``HotMeshError``) and writes nothing (the same job id published again
later is accepted, not a duplicate); Redis stays under ``maxmemory``; every accepted job completes
exactly once once the worker catches up; the backlog and pending lists drain to 0.
(c) ``throttle(-1)`` pauses every consumer of the app and ``throttle(0)`` resumes them: nothing
moves while paused, nothing is lost after.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
import redis

from hotmesh_core import HotMesh, HotMeshError, RedisOutOfMemoryError, RedisServer

from ..conftest import fast_settings
from ..helpers import assert_eventually
from .harness import EXPECTED, FAULT_APP, Fleet, all_done, check

SLOW_APP = """
app:
  id: {APP}
  version: '1'
  graphs:
    - subscribes: bp.test
      expire: 5
      activities:
        t: { type: trigger, stats: { id: '{$self.input.data.id}' } }
        w: { type: worker, topic: f.one, input: { maps: { x: 1, pad: '{t.output.data.pad}' } },
             job: { maps: { a: '{$self.output.data.n}' } } }
      transitions:
        t: [ { to: w } ]
"""
JOBS = 10_000
HEADROOM_MB = 12          # maxmemory = used_memory after deploy + this
PAD = "x" * 1000          # ~2.5 KB per waiting job: 10,000 of them do not fit in the headroom


def verify(client: redis.Redis, app: str, open_jobs: list[str], good: set[str], bad: set[str],
           window: int = 3000) -> list[str]:
    """Look at the oldest ``window`` open jobs: a done one goes to ``good`` (``:done`` 1, its data)
    or ``bad``. Jobs expire 5 s after completion, so each is judged while it still exists."""
    head = open_jobs[:window]
    with client.pipeline(transaction=False) as pipe:
        for jid in head:
            pipe.hmget(f"hmsh:{app}:j:{jid}", [":", ":done", "d/a", "l/w,0,0"])
        rows = pipe.execute()
    left = []
    for jid, (state, done, data, ledger) in zip(head, rows, strict=True):
        if state != "0":
            left.append(jid)
        elif done == "1" and data == "/d2" and ledger == "888000001000001":
            good.add(jid)
        else:
            bad.add(jid)
    return left + open_jobs[window:]


@pytest.mark.chaos
@pytest.mark.timeout(400)
async def test_publisher_faster_than_slow_worker_under_maxmemory(app_id: str, tmp_path: Path) -> None:
    server = RedisServer(port=0, data_dir=tmp_path / "redis").start()
    client = redis.Redis.from_url(server.url, decode_responses=True)
    fleet = Fleet(server.url, app_id, tmp_path)
    hm = await HotMesh.init(app_id, server.url, engine=False, settings=fast_settings())
    try:
        await hm.activate(await hm.deploy(SLOW_APP.replace("{APP}", app_id)))
        fleet.start("engine")
        fleet.start("worker", topics="f.one", work="0.02,0.04")
        baseline = int(client.info("memory")["used_memory"])
        limit = baseline + HEADROOM_MB * 2**20
        client.config_set("maxmemory", limit)
        assert client.config_get("maxmemory-policy")["maxmemory-policy"] == "noeviction"
        good: set[str] = set()
        bad: set[str] = set()
        open_jobs: list[str] = []
        refusals: list[BaseException] = []
        peak, backlog_peak, began = baseline, 0, time.monotonic()
        for i in range(JOBS):
            while True:
                try:
                    open_jobs.append(await hm.pub("bp.test", {"id": f"b{i}", "pad": PAD}))
                    break
                except RedisOutOfMemoryError as exc:        # full: back off, publish it again
                    refusals.append(exc)
                    await asyncio.sleep(0.2)
                    open_jobs = verify(client, app_id, open_jobs, good, bad)
            if i % 200 == 0:
                peak = max(peak, int(client.info("memory")["used_memory"]))
                backlog_peak = max(backlog_peak, len(open_jobs))
        published_s = time.monotonic() - began
        while open_jobs and time.monotonic() - began < 300:
            await asyncio.sleep(0.25)
            peak = max(peak, int(client.info("memory")["used_memory"]))
            open_jobs = verify(client, app_id, open_jobs, good, bad)
        drained_s = time.monotonic() - began
        pending = 0
        for key in client.scan_iter(match=f"hmsh:{app_id}:x:*"):
            pending += sum(int(g["pending"]) for g in client.xinfo_groups(key))
        print(f"\nT8b backpressure: jobs={JOBS} completed={len(good)} bad={len(bad)} open={len(open_jobs)} "
              f"pub refusals (OOM)={len(refusals)} maxmemory={limit / 2**20:.1f} MB "
              f"peak used_memory={peak / 2**20:.1f} MB (baseline {baseline / 2**20:.1f} MB) "
              f"peak backlog={backlog_peak} jobs; published in {published_s:.1f} s, drained in {drained_s:.1f} s; "
              f"pending={pending}")
        assert refusals, "maxmemory was never reached: the test did not apply backpressure"
        assert all(isinstance(exc, HotMeshError) for exc in refusals)
        assert "maxmemory" in str(refusals[0])
        for jid in sorted(bad)[:1]:
            print("a job that ended wrong:", jid, client.hgetall(f"hmsh:{app_id}:j:{jid}"))
        assert not open_jobs and not bad and len(good) == JOBS
        assert peak <= limit + 2**20, "Redis went past maxmemory"
        await assert_eventually(lambda: sum(int(g["pending"]) for key in client.scan_iter(
            match=f"hmsh:{app_id}:x:*") for g in client.xinfo_groups(key)) == 0, timeout=30)
    finally:
        fleet.stop_all()
        await hm.stop()
        client.close()
        server.stop()


async def test_throttle_pauses_and_resumes_consumption(mesh, fleet: Fleet, sync_redis: redis.Redis,
                                                       app_id: str) -> None:
    """T8c: consumers paused by ``throttle(-1)`` take nothing; ``throttle(0)`` and all complete."""
    hm = await mesh(FAULT_APP, engine=False)
    fleet.start("engine")
    fleet.start("worker")
    assert await hm.throttle(-1) >= 2
    jids = [await hm.pub("fault.test", {"id": f"th{i}"}) for i in range(200)]
    await asyncio.sleep(2)
    ran = fleet.oracle.read_text().splitlines() if fleet.oracle.exists() else []
    done = [j for j in jids if sync_redis.hget(f"hmsh:{app_id}:j:{j}", ":") == "0"]
    assert not ran and not done, f"{len(ran)} callbacks ran, {len(done)} jobs done while paused"
    paused_at = time.monotonic()
    assert await hm.throttle(0) >= 2
    await assert_eventually(lambda: all_done(sync_redis, app_id, jids), timeout=60, interval=0.25)
    report = check(sync_redis, app_id, jids, fleet.oracle, EXPECTED)
    print(f"\nT8c throttle: paused 2 s with 200 jobs waiting, 0 moved; resumed, all done in "
          f"{time.monotonic() - paused_at:.1f} s: {report}")
    assert not report.lost and not report.dup_engine and not report.wrong_data
