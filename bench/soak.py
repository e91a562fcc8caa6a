#!/usr/bin/env python
"""Soak: memory of an engine process over a long run (default 100,000 ``bench.seq`` jobs).

Issue: "Memory of an engine process flat over a 100,000-job soak."

One *member* process (``scale.py --role member``: ``HotMesh.init(engine=True)`` with the echo workers
of the scenario) is the engine whose memory is measured; this process is the publisher (a client-only
HotMesh that deploys and activates ``bench/bench.yaml``). Jobs are published with ``pub`` in batches
of ``--every`` jobs, at most ``--inflight`` started and not completed at any time (completion = the
job hash's ``EXPIRE`` keyspace event, as in ``hotmesh_bench.py``). After each batch, once every job
of it completed and ``--settle-ms`` passed (the job hashes expire after ``--expire-seconds``), the
script takes a sample, and one before the first job:

| column | what |
|---|---|
| engine RSS | VmRSS of the member (``/proc/<pid>/status``), and its change since the first sample after warm-up |
| gc objects, tasks, fds | ``len(gc.get_objects())``, ``len(asyncio.all_tasks())``, open descriptors of the member |
| tracemalloc | the member's traced Python heap (only with ``--tracemalloc``: it slows the engine) |
| publisher RSS, tasks | the same for this process (``pub`` calls, keyspace listener) |
| redis used_memory, DBSIZE | ``INFO memory`` / ``DBSIZE``, plus the entries of the streams |

Verdict: growth of the engine's RSS from the first sample after warm-up (the one after the first batch)
to the last, in MB, in % and per 10k jobs (also a least-squares slope over those samples);
"flat" when the growth is under 5 %. Figures only, never asserted.

Usage::

    python bench/soak.py [--n 100000] [--every 10000] [--inflight 500] [--scenario seq|fan]
        [--tracemalloc] [--settle-ms 1500] [--port P] [--out results.jsonl] [--tag default]
        [--timeout 14400] [--stall-s 120] [--expire-seconds 1] [--working-tree]

Redis: ``--port`` or ``REDIS_PORT`` names a running redis-server on 127.0.0.1 (it is FLUSHDB'd!);
without either a private one is started on a free loopback port. Both processes import one copy of
``hotmesh_core/`` taken at start unless ``--working-tree`` (see ``scale.py``). Progress lines and the table go to
stderr, one JSON line to stdout (appended to ``--out`` too). Exit status 1 if a batch failed or a
job did not complete.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import sys
import time
import traceback
from collections.abc import Iterable
from typing import Any

from common import NPROC, cell, cpu_model, markdown_table, proc_status_kb, write_result
from scale import (
    TOPICS,
    JobTracker,
    add_common,
    close_publisher,
    drive,
    env_info,
    harness_client,
    log,
    publisher,
    r,
    run_with_redis,
    start_members,
    stop_members,
)

FLAT_PCT = 5.0


async def redis_figures(admin: Any, hm: Any, scenario: str) -> dict[str, Any]:
    from scale import WORKER_TOPICS

    info = await admin.info("memory")
    out: dict[str, Any] = {"usedMemory": int(info["used_memory"]), "dbsize": int(await admin.dbsize()),
                           "streamEntries": None}
    with contextlib.suppress(Exception):     # key names from the HotMesh instance; figures only
        streams = list(hm.keys.engine_streams()) + [hm.keys.worker_stream(t) for t in WORKER_TOPICS[scenario]]
        out["streamEntries"] = sum([int(await admin.xlen(k)) for k in streams])
    return out


def growth(samples: list[dict[str, Any]], key: str, scale: float = 1.0) -> dict[str, Any] | None:
    """Change of ``sample[key]`` from the first sample after warm-up to the last one."""
    points = [(s["jobs"], s[key] * scale) for s in samples if s.get(key) is not None]
    if len(points) < 2:
        return None
    after = points[1:] if len(points) >= 3 else points   # points[0] is before the first job
    (j0, v0), (j1, v1) = after[0], after[-1]
    out: dict[str, Any] = {"fromJobs": j0, "toJobs": j1, "first": r(v0, 3), "last": r(v1, 3),
                           "growth": r(v1 - v0, 3), "growthPct": r(100 * (v1 - v0) / v0, 2) if v0 else None,
                           "per10kJobs": r(10_000 * (v1 - v0) / (j1 - j0), 3) if j1 > j0 else None,
                           "slopePer10kJobs": None}
    if len(after) >= 3:
        mx = sum(j for j, _ in after) / len(after)
        my = sum(v for _, v in after) / len(after)
        den = sum((j - mx) ** 2 for j, _ in after)
        if den:
            out["slopePer10kJobs"] = r(10_000 * sum((j - mx) * (v - my) for j, v in after) / den, 3)
    return out


def table(samples: list[dict[str, Any]], tracing: bool) -> str:
    base = samples[1]["engineRssMb"] if len(samples) > 1 else samples[0]["engineRssMb"]
    header = ["jobs", "batch wf/s", "engine RSS MB", "Δ RSS MB", "gc objects", "tasks", "fds",
              *(["tracemalloc MB"] if tracing else []),
              "publisher RSS MB", "publisher tasks", "redis used_memory MB", "DBSIZE", "stream entries"]
    rows = [[s["jobs"], cell(s.get("batchWorkflowsPerSec"), ".1f"), cell(s["engineRssMb"], ".1f"),
             cell(s["engineRssMb"] - base, "+.1f"), cell(s["engineGcObjects"], "d"), cell(s["engineTasks"], "d"),
             cell(s.get("engineFds"), "d"),
             *([cell(s.get("engineTracemallocMb"), ".2f")] if tracing else []),
             cell(s["publisherRssMb"], ".1f"), cell(s["publisherTasks"], "d"), cell(s["redisUsedMemoryMb"], ".2f"),
             cell(s["redisDbsize"], "d"), cell(s["redisStreamEntries"], "d")] for s in samples]
    return markdown_table(header, rows, "r" * len(header))


async def soak_main(o: argparse.Namespace) -> int:
    topic = TOPICS[o.scenario]
    result: dict[str, Any] = {"tag": o.tag, "impl": "python", "bench": "soak", "scenario": o.scenario,
                              "topic": topic, "n": o.n, "every": o.every, "inflight": o.inflight,
                              "tracemalloc": o.tracemalloc, "cpus": NPROC, "completed": 0, "pubErrors": 0,
                              "samples": [], "errors": {}}
    admin = harness_client(o.port)
    tracker = JobTracker(o.port)
    hm: Any = None
    members: list[Any] = []
    t_start = time.perf_counter()
    try:
        result["env"] = env_info(await admin.info("server"))
        hm = await publisher(o)
        await tracker.start()
        members = await start_members(1, o, tracing=o.tracemalloc)
        member = members[0]
        result["enginePid"] = member.pid

        async def sample(jobs: int, batch: dict[str, Any] | None) -> None:
            m = await member.sample()
            own = proc_status_kb()
            red = await redis_figures(admin, hm, o.scenario)
            s: dict[str, Any] = {
                "jobs": jobs, "t": r(time.perf_counter() - t_start, 1),
                "batchWorkflowsPerSec": r(o.every / batch["seconds"], 1) if batch else None,
                "engineRssMb": r(m["rssKb"] / 1024, 2), "engineHwmMb": r(m["hwmKb"] / 1024, 2),
                "engineGcObjects": m["gcObjects"], "engineGcCounts": m["gcCounts"],
                "engineGcCollections": m["gcCollections"], "engineTasks": m["tasks"],
                "engineFds": m.get("fds"), "engineThreads": m.get("threads"), "engineCpuSec": m["cpuSec"],
                "engineTracemallocMb": r(m["tracemallocKb"] / 1024, 3) if "tracemallocKb" in m else None,
                "publisherRssMb": r(own.get("VmRSS", 0) / 1024, 2), "publisherTasks": len(asyncio.all_tasks()),
                "publisherGcObjects": len(gc.get_objects()),
                "redisUsedMemoryMb": r(red["usedMemory"] / 2**20, 3), "redisDbsize": red["dbsize"],
                "redisStreamEntries": red["streamEntries"],
            }
            result["samples"].append(s)
            log(f"{jobs} jobs: engine RSS {s['engineRssMb']} MB, {s['engineGcObjects']} gc objects, "
                f"{s['engineTasks']} tasks; publisher RSS {s['publisherRssMb']} MB; redis "
                f"{s['redisUsedMemoryMb']} MB, {s['redisDbsize']} keys"
                + (f"; batch {s['batchWorkflowsPerSec']} wf/s" if batch else ""))

        await sample(0, None)
        done = 0
        while done < o.n:
            size = min(o.every, o.n - done)
            batch = await drive(hm, topic, size, tracker, o.inflight, f"s{done}.", o.stall_s)
            result["completed"] += batch["completed"]
            result["pubErrors"] += batch["pubErrors"]
            if batch["pubErrorKinds"]:
                result["errors"][f"batch@{done}"] = {"kinds": batch["pubErrorKinds"], "first": batch["firstPubError"]}
            done += size
            await asyncio.sleep(o.settle_ms / 1000)
            await sample(done, batch if size == o.every else {"seconds": batch["seconds"] * o.every / size})
    except Exception as exc:
        text = "".join(traceback.format_exception(exc))
        log(f"FAILED\n{text}")
        result["errors"]["run"] = text
    finally:
        await stop_members(members)
        await close_publisher(tracker, hm, admin)
    seconds = time.perf_counter() - t_start
    result["seconds"] = r(seconds, 1)
    samples = result["samples"]
    result["growth"] = {
        "engineRssMb": growth(samples, "engineRssMb"),
        "engineGcObjects": growth(samples, "engineGcObjects"),
        "engineTasks": growth(samples, "engineTasks"),
        "engineTracemallocMb": growth(samples, "engineTracemallocMb"),
        "publisherRssMb": growth(samples, "publisherRssMb"),
        "redisUsedMemoryMb": growth(samples, "redisUsedMemoryMb"),
        "redisDbsize": growth(samples, "redisDbsize"),
    }
    rss = result["growth"]["engineRssMb"]
    if rss is None or rss["growthPct"] is None:
        result["verdict"] = "no verdict (fewer than two samples)"
    else:
        flat = abs(rss["growthPct"]) < FLAT_PCT
        result["verdict"] = (
            f"{'flat' if flat else 'GROWS'}: engine RSS {rss['first']:.1f} -> {rss['last']:.1f} MB from "
            f"{rss['fromJobs']} to {rss['toJobs']} jobs: {rss['growth']:+.2f} MB ({rss['growthPct']:+.2f} %), "
            f"{rss['per10kJobs']:+.3f} MB per 10k jobs"
            + (f" (least-squares slope {rss['slopePer10kJobs']:+.3f} MB per 10k jobs)"
               if rss["slopePer10kJobs"] is not None else "")
            + f"; flat means under {FLAT_PCT:.0f} %")
    lines = [result["verdict"]]
    for key, label, unit in (("publisherRssMb", "publisher RSS", "MB"), ("redisUsedMemoryMb", "redis used_memory", "MB"),
                             ("engineGcObjects", "engine gc objects", ""), ("engineTasks", "engine tasks", "")):
        g = result["growth"][key]
        if g is not None and g["per10kJobs"] is not None:
            lines.append(f"{label}: {g['first']:g} -> {g['last']:g}{' ' + unit if unit else ''} "
                         f"({g['growth']:+g}, {g['per10kJobs']:+g} per 10k jobs)")
    if samples:
        print(f"\nsoak: {o.scenario}, n={o.n}, sample every {o.every} jobs, at most {o.inflight} jobs in flight, "
              f"{NPROC} cores ({cpu_model()}); {result['completed']}/{o.n} completed in {seconds:.0f} s\n\n"
              f"{table(samples, o.tracemalloc)}\n\n" + "\n".join(lines) + "\n", file=sys.stderr, flush=True)
    result["workflowsPerSec"] = r(result["completed"] / seconds, 1) if seconds else None
    if not result["errors"]:
        del result["errors"]
    write_result(result, o.out)
    return 1 if result.get("errors") or result["completed"] != o.n else 0


def parse_args(argv: Iterable[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--n", type=int, default=100_000, help="jobs in all")
    p.add_argument("--every", type=int, default=10_000, help="jobs per batch; one sample after each")
    p.add_argument("--tracemalloc", action="store_true", help="trace the engine's Python heap (slow)")
    p.add_argument("--settle-ms", type=int, default=1500,
                   help="pause after each batch before sampling (completed job hashes expire)")
    p.add_argument("--timeout", type=float, default=14_400.0, help="whole run (s); the member is killed after it")
    add_common(p)
    o = p.parse_args(list(argv) if argv is not None else None)
    if o.n <= 0 or o.every <= 0:
        p.error("--n and --every must be positive")
    return o


def main(argv: Iterable[str] | None = None) -> int:
    return run_with_redis(parse_args(argv), soak_main)


if __name__ == "__main__":
    sys.exit(main())
