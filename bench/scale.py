#!/usr/bin/env python
"""Scaling with engine processes: throughput of 1, 2, 4 ... engine processes on one redis-server.

Issue: "with 2 and 4 engine processes the throughput grows until Redis saturates; report the curve
and where the limit is (Redis CPU versus engine CPU)".

For each k of ``--engines`` the script starts k *member* processes (this script again, with
``--role member``); each is one ``HotMesh.init(engine=True)`` with the echo workers of the scenario's
topics. The parent is the publisher: a client-only HotMesh (``engine=False``) that deploys and
activates ``bench/bench.yaml`` once, then per round publishes a short warm-up and then ``--n`` jobs
with ``pub``, keeping at most ``--inflight`` jobs started but not completed, and waits until all of
them completed. A job counts as completed when its job hash gets its ``EXPIRE`` (keyspace
notification ``__keyevent@0__:expire``, as in ``hotmesh_bench.py``). Then the members are stopped
(``HotMesh.stop``) and the next round starts with k' fresh members.

Usage::

    python bench/scale.py [--engines 1,2,4] [--n 5000] [--scenario seq|fan] [--inflight 500]
        [--warmup 200] [--port P] [--out results.jsonl] [--tag default] [--timeout 3600]
        [--stall-s 120] [--expire-seconds 1] [--working-tree]

Redis: ``--port`` or ``REDIS_PORT`` names a running redis-server on 127.0.0.1 (it is FLUSHDB'd!);
without either a private one is started on a free loopback port (``hotmesh_core.RedisServer``).
Every process imports one copy of ``hotmesh_core/`` taken at start (as ``run.py`` does), so edits
made to the working tree during the run do not mix versions between rounds; ``--working-tree``
imports the live tree instead. ``env.hotmesh_core_path`` in the JSON says which one ran.

Per round, bracketed by ``CONFIG RESETSTAT`` / ``INFO``:

| figure | meaning |
|---|---|
| wf/s | n / seconds from the first ``pub`` to the last completion |
| redis CPU | ``used_cpu_user + used_cpu_sys`` delta / wall: cores used by redis-server |
| engine procs CPU | sum over the k members of utime+stime (``/proc/<pid>/stat``) / wall |
| engine CPU ms/wf | the same CPU seconds / n: the engines' cost per workflow |
| publisher CPU | the parent (``pub`` calls and the keyspace listener), ``time.process_time`` / wall |
| machine busy cores | ``/proc/stat`` (all processes on the box, other sessions included) |
| cmds/wf | ``INFO commandstats`` calls / n without the harness's own commands (``info``, ``config``...) |
| limit | see below |

The limit of a row: ``redis-bound`` if redis CPU > 0.9 core; else ``engine CPU-bound`` if the members
used at least 85 % of what they could get: the cores left to them (cores - redis - publisher - other
load = members + idle), but at most one core per member (one Python process, one event loop);
else ``other`` (nothing CPU-saturated: round trips, lock/contention, or a saturated publisher).

Prints progress lines and the markdown table on stderr, one JSON line on stdout (appended to
``--out`` too). Exit status 1 if a round failed or did not complete every job. Figures only: it
never asserts on timings. ``soak.py`` reuses the member role and the helpers of this file.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import contextlib
import gc
import json
import logging
import os
import platform
import re
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from common import (  # bench/common.py (bench/ is the script's directory)
    BENCH_APP,
    BENCH_JOB_PREFIX,
    BENCH_TOPICS,
    BENCH_WORKER_TOPICS,
    HARNESS_CMDS,
    NPROC,
    async_client,
    busy_cores,
    cell,
    copy_core,
    cpu_model,
    echo,
    markdown_table,
    proc_cpu_seconds,
    proc_stat,
    proc_status_kb,
    redis_url,
    start_redis,
    version_of,
    write_result,
)

HERE = Path(__file__).resolve().parent
APP = BENCH_APP
JOB_PREFIX = BENCH_JOB_PREFIX
TOPICS = {k: BENCH_TOPICS[k] for k in ("seq", "fan")}
WORKER_TOPICS = BENCH_WORKER_TOPICS
# commands issued by the harness itself (measurement), excluded from hotmesh_core's counts
SCALE_HARNESS_CMDS = HARNESS_CMDS | {"zcard", "xlen", "flushdb"}


def use_copy_of_core(copy: bool) -> None:
    """Run on one copy of ``hotmesh_core/`` taken now (like run.py): the working tree may change
    while the rounds run. The members inherit it through ``$HOTMESH_BENCH_SRC`` and ``$PYTHONPATH``."""
    src = os.environ.get("HOTMESH_BENCH_SRC")
    if not src and copy:
        tmp = copy_core(Path(tempfile.mkdtemp(prefix="hotmesh-bench-src-")))
        atexit.register(shutil.rmtree, tmp, True)
        src = str(tmp)
        os.environ["HOTMESH_BENCH_SRC"] = src
        os.environ["PYTHONPATH"] = os.pathsep.join([src, *filter(None, [os.environ.get("PYTHONPATH")])])
    if src and src not in sys.path:
        sys.path.insert(0, src)


def log(text: str) -> None:
    print(f"[{Path(sys.argv[0]).stem}] {text}", file=sys.stderr, flush=True)


def r(value: float, digits: int = 2) -> float:
    return round(value, digits)


# ---------- redis ----------
def harness_client(port: int) -> aioredis.Redis:
    client: aioredis.Redis = async_client(redis_url(port))
    return client


async def redis_snapshot(admin: aioredis.Redis) -> dict[str, Any]:
    info = await admin.info()
    cs = await admin.info("commandstats")
    cmdstats = {k[len("cmdstat_"):]: int(v["calls"]) for k, v in cs.items()
                if k.startswith("cmdstat_") and isinstance(v, dict)}
    return {"cpu": float(info["used_cpu_user"]) + float(info["used_cpu_sys"]),
            "used_memory": int(info["used_memory"]), "clients": int(info.get("connected_clients", 0)),
            "cmdstats": cmdstats}


def app_commands(cmdstats: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in cmdstats.items() if k not in SCALE_HARNESS_CMDS}


# ---------- completion tracking ----------
class StallError(RuntimeError):
    pass


class JobTracker:
    """Counts job completions from ``expire`` keyspace events and bounds the jobs in flight.

    ``started(jid, release)`` registers a job whose ``pub`` returned; ``release`` is called once when
    its completion arrives (or at once if it arrived before ``pub`` returned).
    """

    def __init__(self, port: int) -> None:
        self.client = harness_client(port)
        self.pubsub = self.client.pubsub(ignore_subscribe_messages=True)
        self.task: asyncio.Task[None] | None = None
        self.pending: dict[str, Callable[[], None]] = {}
        self.early: set[str] = set()
        self.completed = 0
        self.failed = 0
        self.target = 0
        self.last_progress = time.monotonic()
        self.all_done = asyncio.Event()

    async def start(self) -> None:
        await self.client.config_set("notify-keyspace-events", "Eg")
        await self.pubsub.subscribe("__keyevent@0__:expire")
        self.task = asyncio.create_task(self._listen(), name="keyspace listener")

    async def close(self) -> None:
        if self.task:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task
        with contextlib.suppress(Exception):
            await self.pubsub.aclose()
        with contextlib.suppress(Exception):
            await self.client.config_set("notify-keyspace-events", "")
        with contextlib.suppress(Exception):
            await self.client.aclose()

    def reset(self, target: int) -> None:
        self.pending.clear()
        self.early.clear()
        self.completed = self.failed = 0
        self.target = target
        self.last_progress = time.monotonic()
        self.all_done.clear()

    async def _listen(self) -> None:
        while True:
            message = await self.pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if not message or message.get("type") != "message":
                continue
            key = message["data"]
            if isinstance(key, str) and key.startswith(JOB_PREFIX):
                self._completed(key[len(JOB_PREFIX):])

    def _completed(self, jid: str) -> None:
        release = self.pending.pop(jid, None)
        if release is None:
            self.early.add(jid)             # before pub returned, or not one of this phase's jobs
            return
        release()
        self._count()

    def _count(self) -> None:
        self.completed += 1
        self.last_progress = time.monotonic()
        if self.completed + self.failed >= self.target:
            self.all_done.set()

    def started(self, jid: str, release: Callable[[], None]) -> None:
        if jid in self.early:
            self.early.discard(jid)
            release()
            self._count()
        else:
            self.pending[jid] = release

    def failed_one(self) -> None:
        self.failed += 1
        self.last_progress = time.monotonic()
        if self.completed + self.failed >= self.target:
            self.all_done.set()

    def status(self) -> str:
        return f"{self.completed}/{self.target} completed, {self.failed} pub calls failed, " \
               f"{len(self.pending)} in flight"

    async def wait_progress(self, awaitable: Any, stall_s: float) -> Any:
        """Await ``awaitable``; raise StallError when no job completes for ``stall_s`` seconds."""
        task = asyncio.ensure_future(awaitable)
        try:
            while True:
                done, _ = await asyncio.wait({task}, timeout=1.0)
                if done:
                    return task.result()
                if time.monotonic() - self.last_progress > stall_s:
                    raise StallError(f"no job completed for {stall_s:.0f} s: {self.status()}")
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task


async def drive(hm: Any, topic: str, n: int, tracker: JobTracker, inflight: int, tag: str,
                stall_s: float) -> dict[str, Any]:
    """``pub`` n jobs, at most ``inflight`` started and not completed at any time; wait for all."""
    tracker.reset(n)
    slots = asyncio.Semaphore(inflight)
    errors: dict[str, int] = {}
    first_error: list[str] = []
    tasks: set[asyncio.Task[None]] = set()

    async def one(i: int) -> None:
        try:
            jid = await hm.pub(topic, {"a": f"{tag}{i}"})
        except Exception as exc:
            message = re.sub(r"[\w-]{16,}", "<id>", str(exc))[:160]    # group by kind, not by job id
            kind = f"{type(exc).__name__}: {message}"
            errors[kind] = errors.get(kind, 0) + 1
            if not first_error:
                first_error.append("".join(traceback.format_exception(exc)))
            slots.release()
            tracker.failed_one()
            return
        tracker.started(jid, slots.release)

    t0 = time.perf_counter()
    try:
        for i in range(n):
            if slots.locked():
                await tracker.wait_progress(slots.acquire(), stall_s)
            else:
                await slots.acquire()
            task = asyncio.create_task(one(i))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        t_pub = time.perf_counter()
        await tracker.wait_progress(tracker.all_done.wait(), stall_s)
    finally:
        for task in list(tasks):
            task.cancel()
    t1 = time.perf_counter()
    return {"seconds": t1 - t0, "lastPubStartedSec": t_pub - t0, "completed": tracker.completed,
            "pubErrors": tracker.failed, "pubErrorKinds": errors,
            "firstPubError": first_error[0] if first_error else None}


# ---------- member processes ----------
def member_sample(tracing: bool) -> dict[str, Any]:
    """What a member reports on ``sample``: its memory, gc, task and descriptor counts."""
    import tracemalloc

    status = proc_status_kb()
    out: dict[str, Any] = {
        "pid": os.getpid(),
        "rssKb": status.get("VmRSS"), "hwmKb": status.get("VmHWM"), "threads": status.get("Threads"),
        "gcCounts": list(gc.get_count()), "gcObjects": len(gc.get_objects()),
        "gcCollections": [s["collections"] for s in gc.get_stats()],
        "tasks": len(asyncio.all_tasks()), "cpuSec": r(time.process_time(), 3),
    }
    with contextlib.suppress(OSError):
        out["fds"] = len(os.listdir("/proc/self/fd"))
    if tracing:
        current, peak = tracemalloc.get_traced_memory()
        out["tracemallocKb"] = current // 1024
        out["tracemallocPeakKb"] = peak // 1024
    return out


async def member_main(a: argparse.Namespace) -> int:
    """``--role member``: one engine + the scenario's echo workers; commands on stdin, JSON on stdout.

    stdin lines: ``sample`` (reply: member_sample), ``stop`` (HotMesh.stop, reply, exit); EOF = stop.
    """
    import tracemalloc

    from hotmesh_core import HotMesh, Settings, Worker

    if a.tracemalloc:
        tracemalloc.start()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format=f"[member {os.getpid()}] %(levelname)s %(name)s: %(message)s")
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    def reply(body: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(body) + "\n")
        sys.stdout.flush()

    options: dict[str, Any] = {"expire_seconds": a.expire_seconds}
    hm = await HotMesh.init(APP, redis_url(a.port), engine=True,
                            workers=[Worker(t, echo(t)) for t in WORKER_TOPICS[a.scenario]],
                            settings=Settings(**options))
    reply({"ready": True, "pid": os.getpid(), "guid": hm.guid})
    try:
        while True:
            line = (await reader.readline()).decode().strip()
            if line == "sample":
                reply({"sample": member_sample(a.tracemalloc)})
            elif line in ("stop", ""):
                break
            else:
                reply({"error": f"unknown command {line!r}"})
    finally:
        await asyncio.wait_for(hm.stop(), 30)
    reply({"stopped": True, "cpuSec": r(time.process_time(), 3)})
    return 0


@dataclass
class Member:
    """One member process (``scale.py --role member``), driven over its stdin/stdout."""

    port: int
    scenario: str
    expire_seconds: int = 1
    tracemalloc: bool = False
    proc: asyncio.subprocess.Process | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    async def start(self, timeout: float = 60.0) -> None:
        args = [sys.executable, str(HERE / "scale.py"), "--role", "member", "--port", str(self.port),
                "--scenario", self.scenario, "--expire-seconds", str(self.expire_seconds)]
        if self.tracemalloc:
            args.append("--tracemalloc")
        self.proc = await asyncio.create_subprocess_exec(*args, stdin=asyncio.subprocess.PIPE,
                                                         stdout=asyncio.subprocess.PIPE)
        RUNNING.append(self)
        self.info = await self._read(timeout)
        if not self.info.get("ready"):
            raise RuntimeError(f"member {self.pid} did not start: {self.info}")

    async def _read(self, timeout: float) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdout is not None
        while True:
            line = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
            if not line:
                code = await asyncio.wait_for(self.proc.wait(), 5)
                raise RuntimeError(f"member {self.pid} exited (status {code})")
            text = line.decode().strip()
            if text.startswith("{"):
                body: dict[str, Any] = json.loads(text)
                return body

    async def command(self, text: str, timeout: float = 30.0) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write(text.encode() + b"\n")
        await self.proc.stdin.drain()
        return await self._read(timeout)

    async def sample(self) -> dict[str, Any]:
        body = await self.command("sample")
        sample: dict[str, Any] = body["sample"]
        return sample

    async def stop(self, timeout: float = 45.0) -> None:
        """Ask for a clean ``HotMesh.stop``; SIGKILL if it does not exit within ``timeout``."""
        if self.proc is None or self.proc.returncode is not None:
            return
        try:
            await self.command("stop", timeout)
            await asyncio.wait_for(self.proc.wait(), timeout)
        except Exception as exc:  # noqa: BLE001 - whatever went wrong, the process must go
            log(f"member {self.pid} did not stop cleanly ({type(exc).__name__}: {exc}); killing it")
            self.kill()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.proc.wait(), 10)

    def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()


RUNNING: list[Member] = []     # every member started, killed at exit if still alive


def kill_leftovers() -> None:
    for member in RUNNING:
        member.kill()


async def stop_members(members: Iterable[Member]) -> None:
    await asyncio.gather(*(m.stop() for m in members), return_exceptions=True)


async def start_members(k: int, o: argparse.Namespace, tracing: bool = False) -> list[Member]:
    members = [Member(o.port, o.scenario, o.expire_seconds, tracing) for _ in range(k)]
    outs = await asyncio.gather(*(m.start() for m in members), return_exceptions=True)
    failed = [out for out in outs if isinstance(out, BaseException)]
    if failed:
        await stop_members(m for m in members if m.proc is not None)
        raise RuntimeError(f"{len(failed)}/{k} members failed to start: {failed[0]!r}")
    return members


async def publisher(o: argparse.Namespace) -> Any:
    """FLUSHDB, then a client-only HotMesh that deploys and activates bench.yaml."""
    from hotmesh_core import HotMesh, Settings

    admin = harness_client(o.port)
    try:
        await admin.flushdb()
    finally:
        await admin.aclose()
    options: dict[str, Any] = {"expire_seconds": o.expire_seconds}
    hm = await HotMesh.init(APP, redis_url(o.port), engine=False, settings=Settings(**options))
    version = await hm.deploy(HERE / "bench.yaml")
    if not await hm.activate(version):
        raise RuntimeError("activation failed")
    return hm


async def close_publisher(tracker: JobTracker, hm: Any, admin: aioredis.Redis) -> None:
    """Stop the keyspace listener, the publisher's HotMesh and the admin client, whatever fails."""
    await tracker.close()
    if hm is not None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(hm.stop(), 15)
    with contextlib.suppress(Exception):
        await admin.aclose()


def env_info(server: dict[str, Any]) -> dict[str, Any]:
    import hotmesh_core

    return {"python": platform.python_version(), "hotmesh_core": str(getattr(hotmesh_core, "__version__", "?")),
            "hotmesh_core_path": str(Path(hotmesh_core.__file__).parent), "redis_py": version_of("redis"),
            "hiredis": version_of("hiredis"), "redis": server.get("redis_version"), "cpus": NPROC,
            "cpuModel": cpu_model()}


# ---------- the scaling run ----------
def verdict(row: dict[str, Any]) -> str:
    text = limit_of(row)
    other = row.get("otherBusyCores")
    if other is not None and other > 0.3:
        text += f"; box shared: other processes used {other:.2f} cores, the row is disturbed"
    return text


def limit_of(row: dict[str, Any]) -> str:
    redis_cpu = row["redisCpuCores"]
    members = row["engineCpuCores"]
    idle = row["idleCores"]
    pub_cpu = row["publisherCpuCores"]
    if redis_cpu > 0.9:
        return f"redis-bound (redis-server {redis_cpu:.2f} core)"
    # a member is one Python process (one event loop, the GIL): it cannot use more than one core
    room = min(float(row["engines"]), members + idle) if idle is not None else float(row["engines"])
    if members >= 0.85 * room:
        if room >= row["engines"] - 0.05:
            return f"engine CPU-bound (engines {members:.2f} cores of {row['engines']} processes: each near 1 core)"
        other = max(0.0, row["otherBusyCores"] or 0.0)
        return (f"engine CPU-bound (engines {members:.2f} of the {room:.2f} cores left after "
                f"redis {redis_cpu:.2f}, publisher {pub_cpu:.2f}, other load {other:.2f})")
    why = f"{idle:.2f} cores idle" if idle is not None else "idle unknown"
    if pub_cpu > 0.9:
        why += f"; the publisher process is saturated ({pub_cpu:.2f} core)"
    return f"other ({why}, redis {redis_cpu:.2f}, engines {members:.2f}: no CPU saturated)"


async def one_round(k: int, o: argparse.Namespace, hm: Any, tracker: JobTracker,
                    admin: aioredis.Redis) -> dict[str, Any]:
    topic = TOPICS[o.scenario]
    log(f"k={k}: starting {k} member process(es)")
    members = await start_members(k, o)
    try:
        pids = [m.pid for m in members]
        if o.warmup:
            w = await drive(hm, topic, o.warmup, tracker, o.inflight, f"w{k}.", o.stall_s)
            log(f"k={k}: warm-up {w['completed']}/{o.warmup} in {w['seconds']:.1f} s")
        await asyncio.sleep(0.5)
        await admin.config_resetstat()
        r0 = await redis_snapshot(admin)
        m0 = [proc_cpu_seconds(p) or 0.0 for p in pids]
        p0, s0, t0 = time.process_time(), proc_stat(), time.perf_counter()
        res = await drive(hm, topic, o.n, tracker, o.inflight, f"k{k}.", o.stall_s)
        t1, s1, p1 = time.perf_counter(), proc_stat(), time.process_time()
        m1 = [proc_cpu_seconds(p) or 0.0 for p in pids]
        r1 = await redis_snapshot(admin)
        rss = [proc_status_kb(p).get("VmRSS", 0) / 1024 for p in pids]
    finally:
        await stop_members(members)
    wall = t1 - t0
    cmds = app_commands(r1["cmdstats"])
    member_cpu = [(b - a) / wall for a, b in zip(m0, m1, strict=True)]
    busy = busy_cores(s0, s1, wall)
    row: dict[str, Any] = {
        "engines": k,
        "workflows": o.n,
        "completed": res["completed"],
        "pubErrors": res["pubErrors"],
        "seconds": r(res["seconds"], 3),
        "lastPubStartedSec": r(res["lastPubStartedSec"], 3),
        "workflowsPerSec": r(o.n / res["seconds"], 1),
        "redisCpuCores": r((r1["cpu"] - r0["cpu"]) / wall),
        "engineCpuCores": r(sum(member_cpu)),
        "engineCpuCoresEach": [r(x) for x in member_cpu],
        "engineCpuMsPerWorkflow": r(1000 * sum(member_cpu) * wall / o.n),
        "publisherCpuCores": r((p1 - p0) / wall),
        "machineBusyCores": None if busy is None else r(busy),
        "idleCores": None if busy is None else r(NPROC - busy),
        "otherBusyCores": None,
        "redisCommandsPerWorkflow": r(sum(cmds.values()) / o.n),
        "cmdBreakdownPerWorkflow": {c: r(v / o.n, 3) for c, v in sorted(cmds.items())},
        "redisConnectedClients": r1["clients"],
        "engineRssMb": [r(x, 1) for x in rss],
    }
    if busy is not None:
        row["otherBusyCores"] = r(busy - row["redisCpuCores"] - row["engineCpuCores"] - row["publisherCpuCores"])
    if res["pubErrorKinds"]:
        row["pubErrorKinds"] = res["pubErrorKinds"]
        row["firstPubError"] = res["firstPubError"]
    row["limit"] = verdict(row)
    log(f"k={k}: {row['workflowsPerSec']} wf/s, redis {row['redisCpuCores']} core, engines "
        f"{row['engineCpuCores']} ({row['engineCpuCoresEach']}), publisher {row['publisherCpuCores']}, "
        f"machine {row['machineBusyCores']}, {row['redisCommandsPerWorkflow']} cmds/wf; {row['limit']}")
    return row


def table(rows: list[dict[str, Any]]) -> str:
    header = ["engines", "wf/s", "speedup vs 1", "redis CPU (cores)", "engine procs CPU (cores total)",
              "engine CPU ms/wf", "publisher CPU (cores)", "machine busy cores", "cmds/wf", "limit"]
    cells: list[list[Any]] = []
    for row in rows:
        if "error" in row:
            cells.append([row["engines"], "FAILED", *["-"] * 7, row["error"][:120]])
            continue
        cells.append([row["engines"], cell(row["workflowsPerSec"], ".1f"), cell(row.get("speedup"), ".2f"),
                      cell(row["redisCpuCores"], ".2f"), cell(row["engineCpuCores"], ".2f"),
                      cell(row["engineCpuMsPerWorkflow"], ".2f"), cell(row["publisherCpuCores"], ".2f"),
                      cell(row["machineBusyCores"], ".2f"), cell(row["redisCommandsPerWorkflow"], ".1f"),
                      row["limit"]])
    return markdown_table(header, cells, "r" * 9 + "l")


def summary(rows: list[dict[str, Any]]) -> str:
    ok = [row for row in rows if "error" not in row]
    if not ok:
        return "no round completed"
    best = max(ok, key=lambda row: row["workflowsPerSec"])
    text = (f"peak {best['workflowsPerSec']} wf/s with {best['engines']} engine process(es) "
            f"(x{best.get('speedup') or 1:.2f} of the first row) on {NPROC} cores; at the peak: {best['limit']}")
    return text


async def scale_main(o: argparse.Namespace) -> int:
    engines = [int(x) for x in re.split(r"[,\s]+", o.engines.strip()) if x]
    result: dict[str, Any] = {"tag": o.tag, "impl": "python", "bench": "scale", "scenario": o.scenario,
                              "topic": TOPICS[o.scenario], "n": o.n, "inflight": o.inflight, "warmup": o.warmup,
                              "engines": engines, "cpus": NPROC, "rows": [], "errors": {}}
    admin = harness_client(o.port)
    tracker = JobTracker(o.port)
    hm: Any = None
    try:
        result["env"] = env_info(await admin.info("server"))
        hm = await publisher(o)
        await tracker.start()
        for k in engines:
            try:
                row = await one_round(k, o, hm, tracker, admin)
            except Exception as exc:
                text = "".join(traceback.format_exception(exc))
                log(f"k={k}: FAILED\n{text}")
                result["errors"][f"engines={k}"] = text
                row = {"engines": k, "workflows": o.n, "completed": tracker.completed,
                       "error": f"{type(exc).__name__}: {exc}"}
                await asyncio.sleep(2)       # let the stragglers finish before the next round
            result["rows"].append(row)
        base = next((row for row in result["rows"] if "error" not in row), None)
        for row in result["rows"]:
            if base is not None and "error" not in row:
                row["speedup"] = r(row["workflowsPerSec"] / base["workflowsPerSec"])
    finally:
        await close_publisher(tracker, hm, admin)
    result["summary"] = summary(result["rows"])
    print(f"\nscenario {o.scenario}, n={o.n} per round, at most {o.inflight} jobs in flight, {NPROC} cores "
          f"({cpu_model()}); cores = CPU seconds / wall seconds\n\n{table(result['rows'])}\n\n{result['summary']}\n",
          file=sys.stderr, flush=True)
    incomplete = [row for row in result["rows"] if row.get("completed") != o.n or "error" in row]
    if not result["errors"]:
        del result["errors"]
    write_result(result, o.out)
    return 1 if incomplete or result.get("errors") else 0


def add_common(p: argparse.ArgumentParser) -> None:
    """Options shared by scale.py and soak.py (and the member role)."""
    p.add_argument("--scenario", default="seq", choices=sorted(TOPICS))
    p.add_argument("--port", type=int, default=int(os.environ.get("REDIS_PORT") or 0),
                   help="redis-server on 127.0.0.1 (FLUSHDB'd!); default $REDIS_PORT, else a private one")
    p.add_argument("--inflight", type=int, default=500, help="at most this many jobs started and not completed")
    p.add_argument("--out", type=Path, default=None, help="append the JSON line to this file")
    p.add_argument("--tag", default="default")
    p.add_argument("--stall-s", type=float, default=120.0,
                   help="fail a phase when no job completes for this many seconds")
    p.add_argument("--expire-seconds", type=int, default=1,
                   help="Settings.expire_seconds of every HotMesh (1: the reference's default)")
    p.add_argument("--working-tree", action="store_true",
                   help="import hotmesh_core from the working tree in every process instead of one copy "
                        "taken at start (edits made during the run would then mix versions)")


def run_with_redis(o: argparse.Namespace, body: Callable[[argparse.Namespace], Any]) -> int:
    """Start a private redis-server unless ``--port``; run ``body`` under ``--timeout``."""
    use_copy_of_core(not o.working_tree)
    private: Any = None
    if not o.port:
        private = start_redis()                         # free loopback port, no persistence
        o.port = private.port

    async def guarded() -> int:
        try:
            code: int = await asyncio.wait_for(body(o), o.timeout)
            return code
        except TimeoutError:
            log(f"TIMEOUT after {o.timeout:.0f} s")
            write_result({"tag": o.tag, "bench": Path(sys.argv[0]).stem, "errors": {"timeout": o.timeout}}, o.out)
            return 1
        finally:
            await stop_members(RUNNING)

    try:
        return asyncio.run(guarded())
    except Exception:
        print("BENCH ERROR", traceback.format_exc(), file=sys.stderr)
        return 2
    finally:
        kill_leftovers()
        if private:
            private.stop()


def parse_args(argv: Iterable[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--role", default="main", choices=["main", "member"],
                   help="member: one engine process driven by the main process (internal)")
    p.add_argument("--engines", default="1,2,4", help="engine process counts, one round each")
    p.add_argument("--n", type=int, default=5000, help="jobs per round")
    p.add_argument("--warmup", type=int, default=200, help="jobs per round before the measured ones")
    p.add_argument("--timeout", type=float, default=3600.0, help="whole run (s); members are killed after it")
    p.add_argument("--tracemalloc", action="store_true", help=argparse.SUPPRESS)   # member role (soak.py)
    add_common(p)
    return p.parse_args(list(argv) if argv is not None else None)


def main(argv: Iterable[str] | None = None) -> int:
    o = parse_args(argv)
    if o.role == "member":
        if not o.port:
            raise SystemExit("--role member needs --port")
        use_copy_of_core(False)             # the parent's copy, if it made one
        return asyncio.run(member_main(o))
    return run_with_redis(o, scale_main)


if __name__ == "__main__":
    sys.exit(main())
