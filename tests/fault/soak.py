"""Soak with random kills (reliability.md T7): N jobs of a 3-activity DAG through 2 engine and 2 worker
processes while one of them is SIGKILLed at random every few seconds (and restarted a second later).

    python -m tests.fault.soak [--jobs 100000] [--kill-every 3,8] [--kills -1] [--dir DIR]
    make soak                     # the 100,000-job run

The checks are those of the fault battery (``harness.check``): every accepted job completed exactly
once (completion counter ``:done`` = 1, every ledger in its single final state, the expected data),
no job lost, the stream backlogs and pending lists drained to 0. Figures reported: throughput and
latency (``m/ju - m/jc`` of each job, the engine's own clock), worker re-runs, Redis memory (before,
peak, and after the completed job hashes are gone) and the RSS of the processes that lived through
the second half. Exit status 1 when a check fails. ``tests/fault/test_soak.py`` runs a small one.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from hotmesh_core import HotMesh, RedisServer, Settings
from hotmesh_core.util import parse_timestamp

from .harness import Fleet, Report, check, job_hashes

SOAK_APP = """
app:
  id: {APP}
  version: '1'
  graphs:
    - subscribes: soak.test
      expire: 3600
      activities:
        t: { type: trigger, stats: { id: '{$self.input.data.id}' } }
        w1: { type: worker, topic: f.one, input: { maps: { x: 1 } }, job: { maps: { a: '{$self.output.data.n}' } } }
        w2:
          type: worker
          topic: f.two
          input: { maps: { x: '{w1.output.data.n}' } }
          job: { maps: { b: '{$self.output.data.n}' } }
      transitions:
        t: [ { to: w1 } ]
        w1: [ { to: w2 } ]
"""
SOAK_EXPECTED = {"a": 2, "b": 3}
#: a loaded 2-core machine can hold a message past a 1 s reclaim delay several times in a row:
#: longer delay and more deliveries, so no healthy job is failed as poison (code 999)
SOAK_SETTINGS = {"reclaim_delay_ms": 5000, "reclaim_count": 10, "expire_seconds": 3600}
PUB_CONCURRENCY = 200


@dataclass
class Soak:
    """The figures of one run (``__str__`` prints them)."""

    jobs: int
    report: Report | None = None
    kills: list[str] = field(default_factory=list)
    publish_s: float = 0.0
    run_s: float = 0.0
    throughput: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    stream_len: int = 0
    streams: int = 0
    memory_mb: dict[str, float] = field(default_factory=dict)
    rss_mb: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        r = self.report
        return (r is not None and not r.lost and not r.dup_engine and not r.wrong_data
                and r.pending_entries == 0 and r.stream_entries == 0 and self.stream_len <= self.streams)

    def __str__(self) -> str:
        memory = ", ".join(f"{k} {v:.1f} MB" for k, v in self.memory_mb.items())
        rss = ", ".join(f"{k} {v:+.1f} MB" if k.startswith("growth") else f"{k} {v:.1f} MB"
                        for k, v in self.rss_mb.items())
        return (f"soak: {self.jobs} jobs, {len(self.kills)} kills ({', '.join(self.kills)})\n"
                f"  checks: {self.report} xlen={self.stream_len} (of {self.streams} streams) -> {'OK' if self.ok else 'FAILED'}\n"
                f"  published in {self.publish_s:.1f} s; all done in {self.run_s:.1f} s: "
                f"{self.throughput:.0f} jobs/s, latency p50 {self.p50_ms:.0f} ms, p99 {self.p99_ms:.0f} ms\n"
                f"  redis used_memory: {memory}\n  python RSS: {rss}")


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def used_mb(client: redis.Redis) -> float:
    return int(client.info("memory")["used_memory"]) / 2**20


def done_count(client: redis.Redis, app: str, open_jobs: list[str], window: int = 5000) -> list[str]:
    """``open_jobs`` without those that completed, looking at the oldest ``window`` only (jobs
    finish roughly in order; reading all 100,000 every poll would slow the run it measures)."""
    head = open_jobs[:window]
    with client.pipeline(transaction=False) as pipe:
        for jid in head:
            pipe.hget(f"hmsh:{app}:j:{jid}", ":")
        states = pipe.execute()
    return [jid for jid, state in zip(head, states, strict=True) if state != "0"] + open_jobs[window:]


async def publish(hm: HotMesh, count: int) -> list[str]:
    jids: list[str] = []
    for start in range(0, count, PUB_CONCURRENCY):
        batch = range(start, min(count, start + PUB_CONCURRENCY))
        jids += await asyncio.gather(*(hm.pub("soak.test", {"id": f"s{i}"}) for i in batch))
    return jids


async def run(jobs: int, tmp: Path, *, kill_every: tuple[float, float] = (3.0, 8.0), max_kills: int = -1,
              work: str = "0,0.002",
              stall_s: float = 300.0, log: Any = print) -> Soak:
    """Start Redis and the fleet in ``tmp``, publish ``jobs`` jobs, kill and restart processes at
    random until every job is done (at most ``max_kills``, -1: no limit), then check."""
    app = "soak"
    server = RedisServer(port=0, data_dir=tmp / "redis", appendonly=True).start()
    client = redis.Redis.from_url(server.url, decode_responses=True)
    fleet = Fleet(server.url, app, tmp)
    hm = await HotMesh.init(app, server.url, engine=False, settings=Settings(**SOAK_SETTINGS))  # type: ignore[arg-type]
    soak = Soak(jobs)
    try:
        await hm.activate(await hm.deploy(SOAK_APP.replace("{APP}", app)))
        pools = {role: [fleet.start(role, settings=SOAK_SETTINGS, work=work) for _ in range(2)]
                 for role in ("engine", "worker")}
        soak.memory_mb["baseline"] = used_mb(client)
        began = time.monotonic()
        progress = {"done": 0}
        finished = asyncio.Event()

        async def kill_at_random() -> None:
            """While jobs are published and run: every few seconds SIGKILL a random engine or
            worker process and start a new one a second later."""
            while max_kills < 0 or len(soak.kills) < max_kills:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(finished.wait(), random.uniform(*kill_every))
                if finished.is_set():
                    return
                role = random.choice(list(pools))
                fleet.kill(pools[role].pop(random.randrange(len(pools[role]))))
                soak.kills.append(f"{role}@{progress['done']}")
                log(f"{progress['done']}/{jobs} done, {time.monotonic() - began:.0f} s: kill -9 {role}")
                await asyncio.sleep(1)
                pools[role].append(fleet.start(role, settings=SOAK_SETTINGS, work=work))

        killer = asyncio.create_task(kill_at_random())
        jids = await publish(hm, jobs)
        soak.publish_s = time.monotonic() - began
        open_jobs, peak = list(jids), soak.memory_mb["baseline"]
        progress_at, half_rss = time.monotonic(), {}
        while open_jobs:
            await asyncio.sleep(0.5)
            before = len(open_jobs)
            open_jobs = done_count(client, app, open_jobs)
            progress["done"] = jobs - len(open_jobs)
            peak = max(peak, used_mb(client))
            now = time.monotonic()
            if len(open_jobs) < before:
                progress_at = now
            elif now - progress_at > stall_s:
                log(f"no progress for {stall_s:.0f} s: {len(open_jobs)} jobs open")
                break
            if not half_rss and len(open_jobs) <= jobs // 2:
                half_rss = {p.pid: rss_mb(p.pid) for pool in pools.values() for p in pool}
        finished.set()
        await killer
        soak.run_s = time.monotonic() - began
        end_rss = {p.pid: rss_mb(p.pid) for pool in pools.values() for p in pool}
        soak.report = check(client, app, jids, fleet.oracle, SOAK_EXPECTED)
        latencies, first, last = [], None, 0
        for _, raw, _ in job_hashes(client, app, jids):
            created, updated = parse_timestamp(raw.get("m/jc")), parse_timestamp(raw.get("m/ju"))
            if created and updated and raw.get(":") == "0":
                latencies.append(updated - created)
                first, last = min(first or created, created), max(last, updated)
        if latencies:
            cuts = statistics.quantiles(latencies, n=100)
            soak.p50_ms, soak.p99_ms = cuts[49], cuts[98]
            soak.throughput = len(latencies) / max(0.001, (last - (first or last)) / 1000)
        soak.memory_mb["peak"] = peak
        soak.memory_mb["with jobs kept"] = used_mb(client)
        soak.stream_len, soak.streams = await drained(client, app)
        soak.memory_mb["after job expiry"] = await expire_jobs(client, app, jids)
        lived = [pid for pid in end_rss if half_rss.get(pid) and end_rss[pid]]
        if lived:
            soak.rss_mb["at half"] = sum(half_rss[p] or 0 for p in lived) / len(lived)
            soak.rss_mb["at end"] = sum(end_rss[p] or 0 for p in lived) / len(lived)
            soak.rss_mb["growth (mean of survivors)"] = soak.rss_mb["at end"] - soak.rss_mb["at half"]
        return soak
    finally:
        fleet.stop_all()
        await hm.stop()
        client.close()
        server.stop()


async def drained(client: redis.Redis, app: str, timeout: float = 30.0) -> tuple[int, int]:
    """``(XLEN, streams)`` of the app's streams once consumers trimmed their acked entries (every
    second). ``scripts/trim.lua`` trims with ``MINID <last-delivered id>``, which keeps that one
    acked entry: a drained stream has XLEN 0 or 1, never an entry to work on (``backlog`` 0)."""
    deadline = time.monotonic() + timeout
    while True:
        streams = list(client.scan_iter(match=f"hmsh:{app}:x:*"))
        total = sum(int(client.xlen(key)) for key in streams)
        if total <= len(streams) or time.monotonic() > deadline:
            return total, len(streams)
        await asyncio.sleep(0.5)


async def expire_jobs(client: redis.Redis, app: str, jids: list[str], timeout: float = 60.0) -> float:
    """Give the checked job hashes a 1 ms TTL (what their own ``expire`` does later) and return
    ``used_memory`` once Redis dropped them: what is left is the app's fixed cost, or a leak."""
    for start in range(0, len(jids), 1000):
        with client.pipeline(transaction=False) as pipe:
            for jid in jids[start:start + 1000]:
                pipe.pexpire(f"hmsh:{app}:j:{jid}", 1)
            pipe.execute()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(True for _ in client.scan_iter(match=f"hmsh:{app}:j:*", count=1000)):
        await asyncio.sleep(0.5)
    return used_mb(client)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--kill-every", default="3,8", help="seconds between kills: low,high")
    parser.add_argument("--kills", type=int, default=-1, help="at most this many kills (-1: no limit)")
    parser.add_argument("--work", default="0,0.002", help="seconds each worker callback sleeps: low,high")
    parser.add_argument("--dir", help="working directory (Redis data, logs, oracle); default: a temp dir")
    o = parser.parse_args(argv)
    low, high = (float(v) for v in o.kill_every.split(","))
    tmp = Path(o.dir) if o.dir else Path(tempfile.mkdtemp(prefix="hotmesh-soak-"))
    tmp.mkdir(parents=True, exist_ok=True)
    print(f"soak in {tmp}: {o.jobs} jobs, 2 engines + 2 workers, a kill every {low:g}-{high:g} s", flush=True)
    soak = asyncio.run(run(o.jobs, tmp, kill_every=(low, high), max_kills=o.kills, work=o.work,
                           log=lambda text: print(text, flush=True)))
    print(soak, flush=True)
    return 0 if soak.ok else 1


if __name__ == "__main__":
    sys.exit(main())
