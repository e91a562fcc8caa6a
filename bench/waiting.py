#!/usr/bin/env python
"""hotmesh_core benchmark: many durable workflows waiting at once on one Redis.

Issue: "one million durable workflows waiting at once on one Redis (each parked in a time hook or
a web hook). Report bytes per waiting job, the time to start them, and how fast they are released
when their timers fire or their signals arrive; fit within the machine's memory with room to spare."

App ``wait`` (deployed from ``bench/wait.yaml``), two graphs; the job id is the input ``id``:

* ``wait.timer``:  trigger ``t0`` -> hook ``t1`` with a ``sleep`` (a time hook) of ``(due - now) / 1000``
  seconds (a ``@pipe`` over the input's absolute ``due``, epoch ms, and ``@date.now``, evaluated when
  the hook opens, at least 1 ms), which maps ``fired: true`` into the job when the timer fires; then
  the job completes. So every timer of a round comes due at the same instant, however long the
  jobs took to start and park.
* ``wait.signal``: trigger ``s0`` -> hook ``s1`` waiting on hook topic ``wait.go`` (a web hook; the
  signal ``{"id": <jid>, "v": ...}`` matches ``$job.metadata.jid``), which maps ``answer``.

Both graphs set ``expire`` (``--expire``, default one day) so that completed job hashes stay
readable: the release counts come from reading every job's status afterwards.

Processes: ``--procs`` P child processes (multiprocessing, spawn), each with its own
``HotMesh.init(engine=True)``: they publish the jobs (the trigger step runs in the caller), run the
engine routers that park them (hook leg 1) and release them (leg 2), one of them holds the
time-hook scout role, and they send the signals. The parent process only measures: one plain
redis-py client (INFO, ZCARD, XINFO, pipelined HMGET), never on the jobs' path.

Per round (a calibration round of ``--calibrate`` jobs, then the measured round of ``--n`` jobs):

1. **start**: the signal jobs, then (once they are all parked) the timer jobs, split over the P
   processes, each keeping at most ``--concurrency`` ``pub`` calls in flight. A kind is parked when
   every ``pub`` returned, the engine stream has no pending or undelivered entry (every hook's
   leg 1 ran) and, for timers, the timers zset holds every timer. Figures per kind: seconds until
   the ``pub`` calls returned and until every job was parked (the engines may lag the publishers),
   and both as jobs/s. Every timer job gets the same absolute due time ``due_at`` = timer start +
   projected time to park them (timer jobs / parked jobs/s x ``--safety``) + ``--sleep`` seconds,
   where the rate is the lower of the calibration's and, with ``--kind both``, this round's signal
   jobs' (same scale; a calibration of a few thousand jobs overestimates it, so give ``--kind
   timer`` alone a larger ``--safety``). A timer published after ``due_at`` is counted as ``late``; timers that came
   due before every job was parked are reported as a failure (raise ``--sleep`` or ``--safety``).
2. **parked**: after ``--settle`` seconds, the ``used_memory`` delta against the snapshot before the
   start, divided by N, is the figure "bytes per waiting job"; also DBSIZE, INFO memory, the redis-server RSS (``/proc/<pid>/status``)
   and a breakdown from ``MEMORY USAGE`` (sampled job hashes and signal keys, the timers zset and,
   if the engine keeps one, the job index zset per member, the engine stream). Every signal job's status is read (pipelined
   ``HGET :``) to count the ones waiting.
3. **release timers**: wait until ``due_at``; done when the timers zset is empty and the engine
   stream drained. Figures: seconds from ``due_at`` until then, jobs/s, and from the jobs' own
   last-update time (``m/ju``) the completion-time percentiles after ``due_at``.
4. **release signals**: the P processes send ``HotMesh.hook("wait.go", {"id", "v"})`` for every
   signal job (``--concurrency`` in flight each); done when all calls returned and the stream
   drained. Same figures, measured from the first signal.

After each release every job's status is read: ``released`` counts status <= 0 (completed),
``waiting`` > 0, ``missing`` no hash. Then "bytes per completed job" (the hashes stay, see expire).
Per phase also: CPU seconds of redis-server and of the P processes, and the cores busy with other
work on the box (``/proc/stat`` minus redis, the P processes and this one): when that is high, the
timings of the phase are disturbed.

Memory guard: the calibration round's bytes per job (the larger of waiting and completed) x N x
1.25 must fit in half of ``MemAvailable`` (``/proc/meminfo``, read after calibration); otherwise
the script exits with status 2 before starting the measured round.

Usage::

    python bench/waiting.py [--n 1000000] [--kind both|timer|signal] [--procs 2] [--concurrency 200]
        [--sleep 30] [--safety 1.5] [--calibrate C] [--expire 86400] [--settle 2] [--out FILE]
        [--port P | REDIS_URL=...] [--fidelity S] [--timeout 3600] [--stall 120]

``--n`` is the total (``both``: half timers, half signals). Redis: ``--port`` (127.0.0.1) or
``$REDIS_URL`` names a running server (its database is FLUSHDB'd at the start and left as it is at
the end); otherwise a private redis-server (no persistence) is started on a free loopback port and
stopped at exit. Output: progress on stderr, then a markdown table and one JSON line (the last line)
on stdout; ``--out FILE`` appends the JSON line. Exit status: 0 all jobs released, 1 some job not
released or a phase failed, 2 setup failed or the memory guard refused.

The script prints figures; it never asserts on timings.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from common import (  # bench/common.py (bench/ is the script's directory)
    busy_cores,
    cell,
    core_dirty,
    cpu_model,
    git_head,
    human,
    ju_ms,
    markdown_table,
    meminfo,
    pct,
    proc_memory_bytes,
    proc_stat,
    redacted,
    start_redis,
    stream_backlog,
    sync_client,
    write_result,
)
from procpool import Pool, bounded
from redis.exceptions import ResponseError

HERE = Path(__file__).resolve().parent
APP = "wait"
VERSION = "1"
TOPIC = {"timer": "wait.timer", "signal": "wait.signal"}
HOOK_TOPIC = "wait.go"
PREFIX = {"timer": "t", "signal": "s"}
DEFAULT_RATE = 100.0        # jobs/s assumed for the calibration round's timers (nothing measured yet)
STATUS_CHUNK = 10_000       # HMGETs per pipeline when reading every job's status
SAMPLE = 25                 # MEMORY USAGE samples per kind
POLL_S = 0.1
GUARD_HEADROOM = 1.25
GUARD_SHARE = 0.5

WAIT_YAML = HERE / "wait.yaml"       # the app; @EXPIRE@ is replaced by --expire


def job_id(prefix: str, kind: str, i: int) -> str:
    return f"{prefix}{PREFIX[kind]}{i:08d}"


def r(value: float | None, digits: int = 1) -> float | None:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return None
    return round(value, digits)


def log(text: str) -> None:
    print(f"[waiting {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


# ================================================================================================
# child process: one HotMesh (engine + publisher + signaller), see procpool.py
# ================================================================================================
async def session(url: str, settings: dict[str, Any]) -> tuple[dict[str, Any], Callable[[], Any]]:
    """Run in each child: one ``HotMesh.init(engine=True)``; ops ``start`` (pub jobs) and ``hook`` (signals)."""
    from hotmesh_core import HotMesh, Settings

    hm = await HotMesh.init(APP, url, engine=True, settings=Settings(**settings))

    async def start(cmd: dict[str, Any]) -> dict[str, Any]:
        return await _start_jobs(hm, cmd)

    async def hook(cmd: dict[str, Any]) -> dict[str, Any]:
        return await _send_signals(hm, cmd)

    async def close() -> None:
        await asyncio.wait_for(hm.stop(), 30)

    return {"start": start, "hook": hook}, close


@dataclass
class _Tally:
    errors: int = 0
    first_error: str | None = None
    late: int = 0
    unmatched: int = 0

    def fail(self, exc: BaseException) -> None:
        self.errors += 1
        if self.first_error is None:
            self.first_error = "".join(traceback.format_exception(exc))[-2000:]


async def _start_jobs(hm: Any, cmd: dict[str, Any]) -> dict[str, Any]:
    kind: str = cmd["kind"]
    prefix: str = cmd["prefix"]
    lo: int = cmd["lo"]
    due_at: float | None = cmd.get("due_at")
    due_ms = int(due_at * 1000) if due_at is not None else None
    topic = TOPIC[kind]
    tally = _Tally()

    async def one(offset: int) -> None:
        data: dict[str, Any] = {"id": job_id(prefix, kind, lo + offset)}
        if due_at is not None:
            if time.time() >= due_at:
                tally.late += 1
            data["due"] = due_ms
        try:
            await hm.pub(topic, data)
        except Exception as exc:  # noqa: BLE001 - counted and reported
            tally.fail(exc)

    t0 = time.perf_counter()
    await bounded(cmd["concurrency"], cmd["hi"] - lo, one)
    return {"n": cmd["hi"] - lo, "seconds": time.perf_counter() - t0, "errors": tally.errors,
            "firstError": tally.first_error, "late": tally.late}


async def _send_signals(hm: Any, cmd: dict[str, Any]) -> dict[str, Any]:
    prefix: str = cmd["prefix"]
    lo: int = cmd["lo"]
    tally = _Tally()

    async def one(offset: int) -> None:
        jid = job_id(prefix, "signal", lo + offset)
        try:
            if await hm.hook(HOOK_TOPIC, {"id": jid, "v": offset}) is None:
                tally.unmatched += 1
        except Exception as exc:  # noqa: BLE001 - counted and reported
            tally.fail(exc)

    t0 = time.perf_counter()
    await bounded(cmd["concurrency"], cmd["hi"] - lo, one)
    return {"n": cmd["hi"] - lo, "seconds": time.perf_counter() - t0, "errors": tally.errors,
            "firstError": tally.first_error, "unmatched": tally.unmatched}


# ================================================================================================
# parent: orchestration and measurement
# ================================================================================================
class GuardRefused(RuntimeError):
    pass


class PhaseError(RuntimeError):
    pass


@dataclass
class Options:
    n: int
    kind: str
    procs: int
    concurrency: int
    sleep: float
    safety: float
    calibrate: int
    expire: int
    settle: float
    out: Path | None
    url: str | None
    fidelity: float | None
    timeout: float
    stall: float

    def split(self, total: int) -> tuple[int, int]:
        """(timer jobs, signal jobs) of ``total``."""
        if self.kind == "timer":
            return total, 0
        if self.kind == "signal":
            return 0, total
        return total // 2, total - total // 2


@dataclass
class Mark:
    """Resource counters at one instant (parent wall clock, redis CPU, children CPU, machine)."""

    t: float
    redis_cpu: float
    children_cpu: float
    parent_cpu: float
    stat: dict[str, int] | None


class WaitBench:
    def __init__(self, opts: Options, url: str) -> None:
        from hotmesh_core.keys import JobFields, Keys

        self.o = opts
        self.url = url
        self.admin = sync_client(url)
        self.keys = Keys(APP)
        self.streams = self.keys.engine_streams()
        self.semaphore = JobFields.SEMAPHORE
        self.updated = JobFields.meta("ju")
        self.pool = Pool(opts.procs, session, (url, self.settings()), "waiting proc", opts.timeout, PhaseError)
        self.redis_pid: int | None = None
        self.result: dict[str, Any] = {"bench": "waiting", "impl": "python", "n": opts.n, "kind": opts.kind,
                                       "procs": opts.procs, "concurrency": opts.concurrency}
        self.failures: list[str] = []

    # -- setup and teardown ----------------------------------------------------------------------
    def setup(self) -> None:
        import hotmesh_core

        self.admin.flushdb()
        server = self.admin.info("server")
        self.redis_pid = int(server.get("process_id") or 0) or None
        if self.redis_pid and not Path(f"/proc/{self.redis_pid}").exists():
            self.redis_pid = None   # not on this machine
        mem = meminfo()
        self.result["env"] = {
            "python": platform.python_version(),
            "hotmesh_core": f"{getattr(hotmesh_core, '__version__', '?')} from {Path(hotmesh_core.__file__).parent}",
            "git": f"{git_head() or '?'}{' with uncommitted changes in hotmesh_core/' if core_dirty() else ''}",
            "redis_py": redis.__version__,
            "redis": server.get("redis_version"),
            "redisUrl": redacted(self.url),
            "cpus": os.cpu_count(),
            "cpuModel": cpu_model(),
            "memTotalBytes": mem.get("MemTotal"),
            "memAvailableBytesAtStart": mem.get("MemAvailable"),
            "settings": self.settings(),
            "graphExpireSeconds": self.o.expire,
        }
        asyncio.run(self._deploy())
        self.spawn()

    def settings(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.o.fidelity is not None:
            out["fidelity_seconds"] = self.o.fidelity
        return out

    async def _deploy(self) -> None:
        from hotmesh_core import HotMesh, Settings

        hm = await HotMesh.init(APP, self.url, engine=False, settings=Settings(**self.settings()))
        try:
            version = await hm.deploy(WAIT_YAML.read_text().replace("@EXPIRE@", str(self.o.expire)))
            if not await hm.activate(version):
                raise RuntimeError(f"activation of version {version} failed")
        finally:
            await hm.stop()

    @property
    def children(self) -> list[Any]:
        return self.pool.children

    def spawn(self) -> None:
        self.pool.start()
        log(f"{len(self.children)} processes up (engine + publisher each): "
            f"pids {[c.pid for c in self.children]}")

    def close(self) -> None:
        self.pool.close(log)
        with contextlib.suppress(Exception):
            self.admin.close()

    # -- redis observations ----------------------------------------------------------------------
    def redis_cpu(self) -> float:
        info = self.admin.info("cpu")
        return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])

    def mark(self) -> Mark:
        return Mark(time.time(), self.redis_cpu(), self.pool.cpu(), time.process_time(), proc_stat())

    @staticmethod
    def usage(a: Mark, b: Mark) -> dict[str, Any]:
        wall = max(1e-9, b.t - a.t)
        out: dict[str, Any] = {"wallSec": r(wall, 3), "redisCpuSec": r(b.redis_cpu - a.redis_cpu, 2),
                               "processesCpuSec": r(b.children_cpu - a.children_cpu, 2),
                               "redisCpuUtil": r((b.redis_cpu - a.redis_cpu) / wall, 2),
                               "processesCpuUtil": r((b.children_cpu - a.children_cpu) / wall, 2),
                               "parentCpuSec": r(b.parent_cpu - a.parent_cpu, 2),
                               "machineBusyCores": None, "otherBusyCores": None}
        busy = busy_cores(a.stat, b.stat, wall)
        if busy is not None:
            ours = (b.redis_cpu - a.redis_cpu) + (b.children_cpu - a.children_cpu) + (b.parent_cpu - a.parent_cpu)
            out["machineBusyCores"] = r(busy, 2)
            out["otherBusyCores"] = r(busy - ours / wall, 2)   # other work on the box: disturbs timings
        return out

    def backlog(self) -> tuple[bool, int]:
        """(drained, work left) of the engine streams (``common.stream_backlog``)."""
        return stream_backlog(self.admin, self.streams)

    def timers(self) -> int:
        return int(self.admin.zcard(self.keys.timers()))

    def job_indexes(self) -> list[str]:
        """The app's job index zsets (jid -> created ms), if this engine version keeps one."""
        indexes = getattr(self.keys, "job_indexes", None)
        return list(indexes()) if callable(indexes) else []

    def memory(self) -> dict[str, Any]:
        info = self.admin.info("memory")
        out: dict[str, Any] = {k: info.get(k) for k in (
            "used_memory", "used_memory_human", "used_memory_dataset", "used_memory_overhead",
            "used_memory_rss", "used_memory_peak", "mem_fragmentation_ratio")}
        out["dbsize"] = int(self.admin.dbsize())
        if self.redis_pid:
            status = proc_memory_bytes(self.redis_pid)
            out["redisVmRSS"] = status.get("VmRSS")
            out["redisVmHWM"] = status.get("VmHWM")
        return out

    def progress(self, label: str, every: float = 10.0) -> Callable[[], None]:
        last = [time.monotonic()]

        def tick() -> None:
            if time.monotonic() - last[0] < every:
                return
            last[0] = time.monotonic()
            _, work = self.backlog()
            used = self.admin.info("memory")["used_memory"]
            log(f"{label}: dbsize {self.admin.dbsize()}, timers parked {self.timers()}, "
                f"engine backlog {work}, used_memory {human(used)}")
        return tick

    def state(self) -> tuple[Any, ...]:
        """Changes whenever the engines make progress: the timers left, and per engine stream group
        the last delivered id and the pending count."""
        out: list[Any] = [self.timers()]
        for stream in self.streams:
            with contextlib.suppress(ResponseError):
                out += [(g.get("last-delivered-id"), g.get("pending")) for g in self.admin.xinfo_groups(stream)]
        return tuple(out)

    def wait_until(self, what: str, check: Callable[[], bool], timeout: float,
                   tick: Callable[[], None] | None = None) -> float:
        """Poll ``check`` every POLL_S; returns the wall time (time.time()) it first held. Gives up
        after ``timeout`` seconds, or after ``--stall`` seconds without any progress (``state``)."""
        deadline = time.monotonic() + timeout
        last_state = self.state()
        last_change = time.monotonic()
        while True:
            if check():
                return time.time()
            now = time.monotonic()
            if now > deadline:
                raise PhaseError(f"{what}: not reached within {timeout:.0f} s")
            current = self.state()
            if current != last_state:
                last_state, last_change = current, now
            elif now - last_change > self.o.stall:
                _, work = self.backlog()
                raise PhaseError(f"{what}: no progress for {self.o.stall:.0f} s (timers left {self.timers()}, "
                                 f"engine backlog {work})")
            if tick is not None:
                tick()
            time.sleep(POLL_S)

    def read_status(self, prefix: str, kind: str, count: int) -> tuple[dict[str, int], list[int]]:
        """Status of every job of ``kind``: counts and the completed jobs' last-update times (ms)."""
        counts = {"released": 0, "waiting": 0, "missing": 0, "interrupted": 0}
        done_ms: list[int] = []
        cache: dict[str, int] = {}
        for lo in range(0, count, STATUS_CHUNK):
            pipe = self.admin.pipeline(transaction=False)
            for i in range(lo, min(count, lo + STATUS_CHUNK)):
                pipe.hmget(self.keys.job(job_id(prefix, kind, i)), self.semaphore, self.updated)
            for status, updated in pipe.execute():
                if status is None:
                    counts["missing"] += 1
                    continue
                value = int(status)
                if value > 0:
                    counts["waiting"] += 1
                    continue
                counts["released"] += 1
                if value < -100_000_000:
                    counts["interrupted"] += 1
                ms = ju_ms(updated, cache) if updated else None
                if ms is not None:
                    done_ms.append(ms)
        return counts, done_ms

    def breakdown(self, prefix: str, n_timer: int, n_signal: int) -> dict[str, Any]:
        """MEMORY USAGE of sampled keys and of the shared zsets and streams (bytes)."""
        def sample_avg(keys: list[str]) -> float | None:
            sizes = [self.admin.memory_usage(k) for k in keys]
            found = [s for s in sizes if s is not None]
            return sum(found) / len(found) if found else None

        def spread(count: int) -> list[int]:
            return sorted({int(i * count / SAMPLE) for i in range(SAMPLE)}) if count else []

        out: dict[str, Any] = {}
        first_kind = "timer" if n_timer else "signal"
        with contextlib.suppress(ResponseError):
            # listpack (compact) or hashtable: values over hash-max-listpack-value bytes force a hashtable
            out["jobHashEncoding"] = self.admin.object("encoding", self.keys.job(job_id(prefix, first_kind, 0)))
        if n_timer:
            out["timerJobHash"] = r(sample_avg([self.keys.job(job_id(prefix, "timer", i)) for i in spread(n_timer)]))
            zset = self.admin.memory_usage(self.keys.timers(), samples=1000) or 0
            out["timersZsetPerTimer"] = r(zset / max(1, self.timers()))
        if n_signal:
            ids = [job_id(prefix, "signal", i) for i in spread(n_signal)]
            out["signalJobHash"] = r(sample_avg([self.keys.job(j) for j in ids]))
            out["signalKey"] = r(sample_avg([self.keys.signal(HOOK_TOPIC, j) for j in ids]))
        indexed = 0
        index_bytes = 0
        for key in self.job_indexes():
            indexed += int(self.admin.zcard(key))
            index_bytes += int(self.admin.memory_usage(key, samples=1000) or 0)
        if indexed:
            out["jobIndexZsetPerJob"] = r(index_bytes / indexed)
        out["engineStreamBytes"] = sum(int(self.admin.memory_usage(s) or 0) for s in self.streams)
        out["engineStreamLength"] = sum(int(self.admin.xlen(s)) for s in self.streams)
        keyspace = self.admin.info("keyspace")
        out["keyspace"] = {db: v for db, v in keyspace.items() if isinstance(v, dict)}
        return out

    # -- one round -------------------------------------------------------------------------------
    def start_kind(self, label: str, kind: str, prefix: str, count: int,
                   due_at: float | None) -> dict[str, Any]:
        """Start ``count`` jobs of ``kind`` from every process; return once every one is parked
        (all ``pub`` calls returned, the engine stream drained, for timers the zset complete)."""
        commands: list[dict[str, Any] | None] = []
        for lo, hi in self.pool.ranges(count):
            commands.append({"op": "start", "kind": kind, "prefix": prefix, "lo": lo, "hi": hi,
                             "due_at": due_at, "concurrency": self.o.concurrency} if hi > lo else None)
        timers_before = self.timers()
        m0 = self.mark()
        t0 = time.time()
        replies = self.pool.command_all(commands, self.progress(f"{label} start {kind}"))
        t1 = time.time()
        errors = sum(int(x.get("errors", 0)) for x in replies)
        crashed = [x["error"] for x in replies if "error" in x]
        first = next((x.get("firstError") for x in replies if x.get("firstError")), None)
        if crashed:
            raise PhaseError(f"{label} start {kind}: a process failed:\n{crashed[0]}")

        def parked() -> bool:
            # every pub returned and the engine stream is drained: every hook's leg 1 ran
            if not self.backlog()[0]:
                return False
            if due_at is None:
                return True
            return time.time() >= due_at or self.timers() >= timers_before + count

        limit = max(120.0, (due_at - time.time()) if due_at else 0.0, count / 20)
        t_parked = self.wait_until(f"{label}: every {kind} job parked", parked, limit,
                                   self.progress(f"{label} parking {kind}"))
        m1 = self.mark()
        out: dict[str, Any] = {"n": count, "seconds": r(t1 - t0, 3), "jobsPerSec": r(count / max(1e-9, t1 - t0)),
                               "allParkedSec": r(t_parked - t0, 3),
                               "parkedJobsPerSec": r(count / max(1e-9, t_parked - t0)),
                               "errors": errors, "usage": self.usage(m0, m1)}
        if due_at is not None:
            out["late"] = sum(int(x.get("late", 0)) for x in replies)
            if t_parked >= due_at:
                self.failures.append(
                    f"{label}: the timers came due ({due_at - t0:.1f} s after their start) before every "
                    f"timer job was parked ({t_parked - t0:.1f} s): raise --sleep or --safety; the parked "
                    "figures include released timers")
        if errors:
            out["firstError"] = first
            self.failures.append(f"{label} start {kind}: {errors}/{count} pub calls raised; first:\n{first}")
        log(f"{label} start {kind}: {count} pub calls returned in {t1 - t0:.2f} s = {out['jobsPerSec']} jobs/s, "
            f"all parked after {t_parked - t0:.2f} s = {out['parkedJobsPerSec']} jobs/s"
            f"{f', {errors} errors' if errors else ''}")
        return out

    def latency(self, done_ms: list[int], ref: float) -> dict[str, Any]:
        if not done_ms:
            return {}
        s = sorted((ms / 1000 - ref) for ms in done_ms)
        return {"firstSec": r(s[0], 3), "p50Sec": r(pct(s, 50), 3), "p90Sec": r(pct(s, 90), 3),
                "p99Sec": r(pct(s, 99), 3), "lastSec": r(s[-1], 3),
                # the release rate once it is under way (ms resolution of the jobs' timestamps)
                "jobsPerSecFirstToLast": r((len(s) - 1) / (s[-1] - s[0])) if s[-1] > s[0] else None}

    def run_round(self, label: str, prefix: str, total: int, rate: float, margin: float) -> dict[str, Any]:
        """Start, park, measure, release; ``rate`` (jobs/s) projects how long the timers take to park,
        ``margin`` seconds more before they come due."""
        o = self.o
        n_timer, n_signal = o.split(total)
        out: dict[str, Any] = {"n": total, "timerJobs": n_timer, "signalJobs": n_signal, "start": {},
                               "release": {}}
        log(f"{label}: {total} jobs ({n_timer} timers, {n_signal} signals)")
        self.wait_until("quiet before start", lambda: self.backlog()[0], 120)
        time.sleep(o.settle)
        mem0 = self.memory()
        out["memoryBefore"] = mem0

        # ---- 1. start, 2. parked ----
        if n_signal:
            out["start"]["signal"] = self.start_kind(label, "signal", prefix, n_signal, None)
        due_at: float | None = None
        if n_timer:
            if n_signal:
                # the signal jobs just parked at this round's scale: the better estimate for the timers
                rate = min(rate, out["start"]["signal"]["parkedJobsPerSec"] or rate)
            out["timerProjectionJobsPerSec"] = r(rate)
            projected = n_timer / max(rate, 1e-9) * o.safety
            due_at = time.time() + projected + margin
            out["timerDueInSec"] = r(due_at - time.time(), 2)
            log(f"{label}: timers due in {due_at - time.time():.1f} s (projected start {projected:.1f} s "
                f"at {rate:.0f} jobs/s x safety {o.safety}, + {margin} s)")
            out["start"]["timer"] = self.start_kind(label, "timer", prefix, n_timer, due_at)
        starts = list(out["start"].values())
        out["start"]["total"] = {
            "n": total,
            "seconds": r(sum(x["seconds"] for x in starts), 3),
            "jobsPerSec": r(total / max(1e-9, sum(x["seconds"] for x in starts))),
            "allParkedSec": r(sum(x["allParkedSec"] for x in starts), 3),
            "parkedJobsPerSec": r(total / max(1e-9, sum(x["allParkedSec"] for x in starts))),
        }
        time.sleep(o.settle)
        mem1 = self.memory()
        parked_fig: dict[str, Any] = {
            "waitingTimers": self.timers(),
            "bytesPerWaitingJob": r((mem1["used_memory"] - mem0["used_memory"]) / max(1, total)),
            "datasetBytesPerWaitingJob": r((mem1["used_memory_dataset"] - mem0["used_memory_dataset"]) / max(1, total)),
            "keysPerWaitingJob": r((mem1["dbsize"] - mem0["dbsize"]) / max(1, total), 3),
            "usedMemoryDelta": mem1["used_memory"] - mem0["used_memory"],
            "memory": mem1,
            "breakdown": self.breakdown(prefix, n_timer, n_signal),
        }
        if n_signal:
            counts, _ = self.read_status(prefix, "signal", n_signal)
            parked_fig["signalJobs"] = counts
            parked_fig["waitingSignals"] = counts["waiting"]
        parked_fig["processRss"] = [c.rss for c in self.children]
        out["parked"] = parked_fig
        waiting = [f"{parked_fig['waitingTimers']} timers"] if n_timer else []
        waiting += [f"{parked_fig.get('waitingSignals')} signals"] if n_signal else []
        log(f"{label}: parked {', '.join(waiting)}: "
            f"{parked_fig['bytesPerWaitingJob']} bytes/job, used_memory {mem1['used_memory_human']}, "
            f"dbsize {mem1['dbsize']}, redis RSS {human(mem1.get('redisVmRSS'))}")

        # ---- 3. release timers ----
        if n_timer and due_at is not None:
            out["release"]["timer"] = self.release_timers(label, prefix, n_timer, due_at)
        # ---- 4. release signals ----
        if n_signal:
            out["release"]["signal"] = self.release_signals(label, prefix, n_signal)

        time.sleep(o.settle)
        mem2 = self.memory()
        out["completed"] = {"bytesPerCompletedJob": r((mem2["used_memory"] - mem0["used_memory"]) / max(1, total)),
                            "memory": mem2}
        return out

    def release_timers(self, label: str, prefix: str, count: int, due_at: float) -> dict[str, Any]:
        wait_s = due_at - time.time()
        if wait_s > 0:
            log(f"{label}: waiting {wait_s:.1f} s for the timers to come due")
            time.sleep(max(0.0, wait_s - 1.0))
        m0 = self.mark()
        while time.time() < due_at:
            time.sleep(0.005)
        first_moved: list[float] = []

        def all_done() -> bool:
            left = self.timers()
            if left < count and not first_moved:
                first_moved.append(time.time())
            return left == 0 and self.backlog()[0]

        limit = max(120.0, count / 50)
        t_done = self.wait_until(f"{label}: timer release", all_done, limit, self.progress("timer release"))
        m1 = self.mark()
        counts, done_ms = self.read_status(prefix, "timer", count)
        seconds = t_done - due_at
        out: dict[str, Any] = {
            "n": count, **counts,
            "seconds": r(seconds, 3),
            "jobsPerSec": r(counts["released"] / max(1e-9, seconds)),
            "firstTimerMovedSec": r(first_moved[0] - due_at, 3) if first_moved else None,
            "completedAfterDue": self.latency(done_ms, due_at),
            "usage": self.usage(m0, m1),
        }
        last = out["completedAfterDue"].get("lastSec")
        if last:
            out["jobsPerSecByLastCompletion"] = r(counts["released"] / max(1e-3, last))
        if counts["released"] != count:
            self.failures.append(f"{label}: {counts['released']}/{count} timer jobs released: {counts}")
        log(f"{label}: timers released {counts['released']}/{count} in {seconds:.2f} s after due "
            f"= {out['jobsPerSec']} jobs/s; completion after due {out['completedAfterDue']}")
        return out

    def release_signals(self, label: str, prefix: str, count: int) -> dict[str, Any]:
        commands: list[dict[str, Any] | None] = []
        for lo, hi in self.pool.ranges(count):
            commands.append({"op": "hook", "prefix": prefix, "lo": lo, "hi": hi,
                             "concurrency": self.o.concurrency} if hi > lo else None)
        m0 = self.mark()
        t0 = time.time()
        replies = self.pool.command_all(commands, self.progress("signal release"))
        t_returned = time.time()
        crashed = [x["error"] for x in replies if "error" in x]
        if crashed:
            raise PhaseError(f"signals: a process failed:\n{crashed[0]}")
        limit = max(120.0, count / 50)
        t_done = self.wait_until(f"{label}: signal release", lambda: self.backlog()[0], limit,
                                 self.progress("signal release"))
        m1 = self.mark()
        counts, done_ms = self.read_status(prefix, "signal", count)
        errors = sum(int(x.get("errors", 0)) for x in replies)
        unmatched = sum(int(x.get("unmatched", 0)) for x in replies)
        seconds = t_done - t0
        out: dict[str, Any] = {
            "n": count, **counts,
            "seconds": r(seconds, 3),
            "jobsPerSec": r(counts["released"] / max(1e-9, seconds)),
            "hookCallsReturnedSec": r(t_returned - t0, 3),
            "hookErrors": errors,
            "hooksUnmatched": unmatched,
            "completedAfterFirstSignal": self.latency(done_ms, t0),
            "usage": self.usage(m0, m1),
        }
        last = out["completedAfterFirstSignal"].get("lastSec")
        if last:
            out["jobsPerSecByLastCompletion"] = r(counts["released"] / max(1e-3, last))
        if errors or unmatched:
            first = next((x.get("firstError") for x in replies if x.get("firstError")), None)
            out["firstError"] = first
            self.failures.append(f"{label}: {errors} hook calls raised, {unmatched} found no waiting hook; "
                                 f"first error:\n{first}")
        if counts["released"] != count:
            self.failures.append(f"{label}: {counts['released']}/{count} signal jobs released: {counts}")
        log(f"{label}: signals released {counts['released']}/{count} in {seconds:.2f} s "
            f"= {out['jobsPerSec']} jobs/s (hook calls returned after {t_returned - t0:.2f} s)")
        return out

    # -- the whole run ---------------------------------------------------------------------------
    def run(self) -> int:
        o = self.o
        rate = DEFAULT_RATE
        if o.calibrate > 0:
            # DEFAULT_RATE is conservative for a few thousand jobs: a short margin is enough
            cal = self.run_round("calibration", "c", o.calibrate, DEFAULT_RATE, min(o.sleep, 5.0))
            self.result["calibration"] = cal
            timer_start = cal["start"].get("timer") or cal["start"].get("signal") or {}
            rate = float(timer_start.get("parkedJobsPerSec") or DEFAULT_RATE)
            per_job = max(cal["parked"]["bytesPerWaitingJob"] or 0.0, cal["completed"]["bytesPerCompletedJob"] or 0.0)
            projected = per_job * o.n * GUARD_HEADROOM
            available = meminfo().get("MemAvailable", 0)
            guard = {"bytesPerJob": per_job, "projectedBytes": int(projected), "memAvailableBytes": available,
                     "limitBytes": int(available * GUARD_SHARE), "headroom": GUARD_HEADROOM}
            self.result["memoryGuard"] = guard
            log(f"memory guard: {o.n} jobs x {per_job:.0f} bytes x {GUARD_HEADROOM} = {human(projected)}; "
                f"limit {GUARD_SHARE:.0%} of MemAvailable {human(available)} = {human(available * GUARD_SHARE)}")
            if available and projected > available * GUARD_SHARE:
                raise GuardRefused(
                    f"refusing to start {o.n} jobs: projected Redis memory {human(projected)} "
                    f"({per_job:.0f} bytes/job from the calibration x {GUARD_HEADROOM}) exceeds "
                    f"{GUARD_SHARE:.0%} of MemAvailable ({human(available)}); use a smaller --n")
            if self.failures:
                log("calibration problems: " + " | ".join(self.failures))
        else:
            log(f"no calibration (--calibrate 0): no memory guard; timers projected at {rate:.0f} jobs/s")
        t0 = time.time()
        self.result["run"] = self.run_round("run", "", o.n, rate, o.sleep)
        self.result["run"]["totalSec"] = r(time.time() - t0, 1)
        self.result["processes"] = [{"pid": c.pid, "cpuSec": r(c.cpu, 2), "rss": c.rss, "warnings": c.warnings}
                                    for c in self.children]
        return 0


# ================================================================================================
# report
# ================================================================================================
def summary(result: dict[str, Any]) -> dict[str, Any]:
    """The headline figures (also in the JSON line, key ``summary``)."""
    run = result.get("run") or {}
    parked = run.get("parked") or {}
    rel = run.get("release") or {}
    start = run.get("start") or {}
    out: dict[str, Any] = {
        "n": run.get("n"),
        "timerJobs": run.get("timerJobs"),
        "signalJobs": run.get("signalJobs"),
        "startJobsPerSec": (start.get("total") or {}).get("jobsPerSec"),
        "startSec": (start.get("total") or {}).get("seconds"),
        "allParkedSec": (start.get("total") or {}).get("allParkedSec"),
        "bytesPerWaitingJob": parked.get("bytesPerWaitingJob"),
        "usedMemory": (parked.get("memory") or {}).get("used_memory"),
        "redisRss": (parked.get("memory") or {}).get("redisVmRSS"),
        "dbsize": (parked.get("memory") or {}).get("dbsize"),
        "bytesPerCompletedJob": (run.get("completed") or {}).get("bytesPerCompletedJob"),
    }
    for kind in ("timer", "signal"):
        if kind in rel:
            out[f"{kind}Released"] = rel[kind].get("released")
            out[f"{kind}ReleaseSec"] = rel[kind].get("seconds")
            out[f"{kind}ReleaseJobsPerSec"] = rel[kind].get("jobsPerSec")
    return out


def table(result: dict[str, Any]) -> str:
    env = result.get("env") or {}
    run = result.get("run") or {}
    lines = [
        f"waiting: N={result['n']} ({result['kind']}), {result['procs']} processes x {result['concurrency']} "
        f"in-flight calls; Redis {env.get('redis')} ({env.get('redisUrl')}); {env.get('cpus')} CPUs "
        f"({env.get('cpuModel')}), MemTotal {human(env.get('memTotalBytes'))}; hotmesh_core {env.get('git')}",
        "",
    ]
    rows: list[tuple[str, str, str]] = []

    def row(phase: str, figure: str, value: Any) -> None:
        rows.append((phase, figure, cell(value)))

    start = run.get("start") or {}
    for kind in ("signal", "timer"):
        s = start.get(kind)
        if s:
            row(f"start {kind}", "jobs", s["n"])
            row(f"start {kind}", "seconds until every pub call returned", s["seconds"])
            row(f"start {kind}", "pub calls/s", s["jobsPerSec"])
            row(f"start {kind}", "seconds until every job parked", s["allParkedSec"])
            row(f"start {kind}", "**parked jobs/s**", s["parkedJobsPerSec"])
            row(f"start {kind}", "pub errors", s["errors"])
            if "late" in s:
                row(f"start {kind}", "published after due time", s["late"])
            u = s["usage"]
            row(f"start {kind}", "CPU cores: redis / processes / other load on box",
                f"{u['redisCpuUtil']} / {u['processesCpuUtil']} / {u['otherBusyCores']}")
    total = start.get("total") or {}
    row("start all", "seconds until every job parked (kinds one after the other)", total.get("allParkedSec"))
    row("start all", "parked jobs/s", total.get("parkedJobsPerSec"))
    parked = run.get("parked") or {}
    mem = parked.get("memory") or {}
    b = parked.get("breakdown") or {}
    if parked:
        row("parked", "waiting timers (timers zset)", parked.get("waitingTimers"))
        if "waitingSignals" in parked:
            row("parked", "waiting signal jobs (status > 0)", parked.get("waitingSignals"))
        row("parked", "**bytes per waiting job** (used_memory delta / N)", parked.get("bytesPerWaitingJob"))
        row("parked", "dataset bytes per waiting job", parked.get("datasetBytesPerWaitingJob"))
        row("parked", "keys per waiting job", parked.get("keysPerWaitingJob"))
        row("parked", "used_memory", f"{mem.get('used_memory_human')} ({mem.get('used_memory')})")
        row("parked", "redis-server RSS (VmRSS)", human(mem.get("redisVmRSS")))
        row("parked", "DBSIZE", mem.get("dbsize"))
        for key, what in (("timerJobHash", "MEMORY USAGE timer job hash (avg of samples)"),
                          ("signalJobHash", "MEMORY USAGE signal job hash (avg of samples)"),
                          ("signalKey", "MEMORY USAGE signal key (avg of samples)"),
                          ("timersZsetPerTimer", "timers zset bytes per timer"),
                          ("jobIndexZsetPerJob", "job index zset bytes per job"),
                          ("engineStreamBytes", "engine stream bytes (all)"),
                          ("jobHashEncoding", "job hash encoding (OBJECT ENCODING)")):
            if key in b:
                row("parked", what, b[key])
        rss = [human(x) for x in parked.get("processRss") or []]
        row("parked", "process RSS (engine + publisher)", ", ".join(rss))
    rel = run.get("release") or {}
    t = rel.get("timer")
    if t:
        lat = t.get("completedAfterDue") or {}
        row("release timers", "released / N", f"{t['released']} / {t['n']}")
        row("release timers", "seconds from due time to all complete", t["seconds"])
        row("release timers", "**jobs/s**", t["jobsPerSec"])
        row("release timers", "first timer left the zset, s after due (polled)", t.get("firstTimerMovedSec"))
        row("release timers", "completed after due, s: first / p50 / p90 / p99 / last",
            f"{lat.get('firstSec')} / {lat.get('p50Sec')} / {lat.get('p90Sec')} / {lat.get('p99Sec')} / "
            f"{lat.get('lastSec')}")
        row("release timers", "jobs/s from first to last completion", lat.get("jobsPerSecFirstToLast"))
        u = t["usage"]
        row("release timers", "CPU cores: redis / processes / other load on box",
            f"{u['redisCpuUtil']} / {u['processesCpuUtil']} / {u['otherBusyCores']}")
    s = rel.get("signal")
    if s:
        lat = s.get("completedAfterFirstSignal") or {}
        row("release signals", "released / N", f"{s['released']} / {s['n']}")
        row("release signals", "seconds from first signal to all complete", s["seconds"])
        row("release signals", "**jobs/s**", s["jobsPerSec"])
        row("release signals", "all hook calls returned, s", s["hookCallsReturnedSec"])
        row("release signals", "hook errors / unmatched", f"{s['hookErrors']} / {s['hooksUnmatched']}")
        row("release signals", "completed after first signal, s: first / p50 / p90 / p99 / last",
            f"{lat.get('firstSec')} / {lat.get('p50Sec')} / {lat.get('p90Sec')} / {lat.get('p99Sec')} / "
            f"{lat.get('lastSec')}")
        row("release signals", "jobs/s from first to last completion", lat.get("jobsPerSecFirstToLast"))
        u = s["usage"]
        row("release signals", "CPU cores: redis / processes / other load on box",
            f"{u['redisCpuUtil']} / {u['processesCpuUtil']} / {u['otherBusyCores']}")
    completed = run.get("completed") or {}
    if completed:
        row("completed", "bytes per completed job (hashes kept: graph expire)", completed.get("bytesPerCompletedJob"))
        row("completed", "used_memory", (completed.get("memory") or {}).get("used_memory_human"))
    guard = result.get("memoryGuard")
    if guard:
        row("memory guard", "projected / limit (50% MemAvailable)",
            f"{human(guard['projectedBytes'])} / {human(guard['limitBytes'])}")
    warnings = {k: v for p in result.get("processes") or [] for k, v in (p.get("warnings") or {}).items()}
    if warnings:
        row("engine", "warnings logged", sum(warnings.values()))
    lines.append(markdown_table(["phase", "figure", "value"], rows, "llr"))
    return "\n".join(lines)


# ================================================================================================
# main
# ================================================================================================
def parse_args(argv: Iterable[str] | None = None) -> Options:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=1_000_000, help="jobs in all (both: half timers, half signals)")
    p.add_argument("--kind", choices=("both", "timer", "signal"), default="both")
    p.add_argument("--procs", type=int, default=2, help="engine + publisher processes")
    p.add_argument("--concurrency", type=int, default=200, help="in-flight pub/hook calls per process")
    p.add_argument("--sleep", type=float, default=30.0,
                   help="seconds the timers stay parked after the projected end of the timer start")
    p.add_argument("--safety", type=float, default=1.5,
                   help="factor on the projected timer start time (calibrated rate)")
    p.add_argument("--calibrate", type=int, default=-1,
                   help="jobs of the calibration round (memory guard, start rate); "
                        "default min(2000, max(100, n/10)); 0: none (no guard)")
    p.add_argument("--expire", type=int, default=86_400, help="graph expire (s): completed jobs stay this long")
    p.add_argument("--settle", type=float, default=2.0, help="seconds before each memory snapshot")
    p.add_argument("--out", type=Path, default=None, help="append the JSON line to this file")
    p.add_argument("--port", type=int, default=int(os.environ.get("REDIS_PORT") or 0),
                   help="redis-server on 127.0.0.1 (FLUSHDB'd!); default $REDIS_PORT, then $REDIS_URL, "
                        "else a private one")
    p.add_argument("--fidelity", type=float, default=None, help="Settings.fidelity_seconds (default: engine's)")
    p.add_argument("--timeout", type=float, default=3600.0, help="cap (s) on one start or signal phase")
    p.add_argument("--stall", type=float, default=120.0,
                   help="give up waiting for a phase after this many seconds without engine progress")
    a = p.parse_args(list(argv) if argv is not None else None)
    if a.n < 2 or a.procs < 1 or a.concurrency < 1:
        p.error("--n must be >= 2, --procs and --concurrency >= 1")
    calibrate = a.calibrate if a.calibrate >= 0 else min(2000, max(100, a.n // 10))
    url = f"redis://127.0.0.1:{a.port}/0" if a.port else (os.environ.get("REDIS_URL") or None)
    return Options(n=a.n, kind=a.kind, procs=a.procs, concurrency=a.concurrency, sleep=a.sleep, safety=a.safety,
                   calibrate=calibrate, expire=a.expire, settle=a.settle, out=a.out, url=url,
                   fidelity=a.fidelity, timeout=a.timeout,
                   stall=a.stall)


def main(argv: Iterable[str] | None = None) -> int:
    opts = parse_args(argv)
    private: Any = None
    bench: WaitBench | None = None
    status = 0
    started = time.time()
    result: dict[str, Any] = {}
    try:
        url = opts.url
        if not url:
            private = start_redis()                         # free loopback port, no persistence
            url = private.url
        bench = WaitBench(opts, url)
        result = bench.result
        bench.setup()
        status = bench.run()
    except GuardRefused as exc:
        log(f"MEMORY GUARD: {exc}")
        result["refused"] = str(exc)
        status = 2
    except PhaseError as exc:
        log(f"FAILED: {exc}")
        result.setdefault("errors", []).append(str(exc))
        status = 1
    except Exception:
        text = traceback.format_exc()
        log(f"BENCH ERROR\n{text}")
        result.setdefault("errors", []).append(text)
        status = 2
    finally:
        if bench is not None:
            with contextlib.suppress(Exception):
                if "processes" not in result:
                    result["processes"] = [{"pid": c.pid, "cpuSec": r(c.cpu, 2), "rss": c.rss,
                                            "warnings": c.warnings} for c in bench.children]
            bench.close()
            if bench.failures:
                result.setdefault("errors", []).extend(bench.failures)
                status = status or 1
        if private:
            private.stop()
    result["wallSec"] = r(time.time() - started, 1)
    result["summary"] = summary(result)
    if result.get("run"):
        print(table(result))
        print()
    for error in result.get("errors") or []:
        log(f"problem: {error}")
    write_result(result, opts.out, default=str)
    return status


if __name__ == "__main__":
    sys.exit(main())
