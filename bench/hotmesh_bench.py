#!/usr/bin/env python
"""hotmesh_core benchmark harness: the Python counterpart of ``../shared/reference/bench.js``.

One process = one scenario x one repetition, with the reference's phases and figures so that the
two JSON lines can be compared key by key:

    FLUSHDB -> HotMesh.init (1 engine + 8 in-process workers) -> deploy bench.yaml -> activate
    -> probe job -> idle baseline -> warmup -> phases (``pub`` throughput, concurrent ``pubsub``
       throughput, sequential ``pubsub`` latency), each phase bracketed by CONFIG RESETSTAT / INFO.

Usage::

    python bench/hotmesh_bench.py --scenario trigger|seq|fan [--n 2000] [--lat 200] [--warmup 20]
        [--phases pub,pubsub,lat] [--rep 1] [--out results.jsonl] [--tag default]
        [--idle-ms 5000] [--settle-ms 3000] [--port P | --redis-url URL] [--tls] [--tracing] [--uvloop]

Redis: ``--redis-url`` (used as is, ``rediss://...?ssl_ca_certs=...`` for TLS), else ``--port`` or
``REDIS_PORT``, names an already running redis-server (it is FLUSHDB'd!); without any a private
redis-server is started on a free loopback port (``--tls``: a TLS-only one with a throwaway CA).

Completion detection for fire-and-forget ``pub``: a completed job hash gets exactly one
``EXPIRE hmsh:<app>:j:<jid>`` (``Settings.expire_seconds`` = 1, like the reference default). The
harness enables keyspace notifications for generic commands (``notify-keyspace-events Eg``) and
counts ``expire`` events on job keys. Notifications are server-internal and do not show up in
``INFO commandstats``, so the command counts are hotmesh_core's own traffic (plus the idle
background polling, measured separately).

Client-side counts: every redis-py connection of the HotMesh instance is counted by wrapping
``AbstractConnection.pack_command`` (one command each, MULTI and EXEC included) and
``AbstractConnection.send_packed_command`` (one round trip per packed send: a single command, a
whole MULTI/EXEC pipeline, an EVALSHA, a health-check PING). The harness's own connections use
``HarnessConnection`` and are not counted.

The script prints figures; it never asserts on timings.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import re
import sys
import time
import traceback
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from common import (  # bench/common.py (bench/ is the script's directory)
    ALL_WORKER_TOPICS,
    BENCH_APP,
    BENCH_JOB_PREFIX,
    BENCH_TOPICS,
    HARNESS_CMDS,
    append_line,
    busy_cores,
    cpu_model,
    echo,
    is_tls,
    pct,
    proc_stat,
    redacted,
    redis_url,
    start_redis,
    version_of,
    with_query,
)
from redis.asyncio.connection import AbstractConnection, Connection, SSLConnection

HERE = Path(__file__).resolve().parent
APP = BENCH_APP
JOB_PREFIX = BENCH_JOB_PREFIX
TOPICS = BENCH_TOPICS
PUB_TIMEOUT_S = 120.0


# ---------- client-side round-trip counter ----------
@dataclass
class ClientCounts:
    cmds: dict[str, int] = field(default_factory=dict)
    round_trips: int = 0
    total: int = 0
    counting: bool = False

    def reset(self) -> None:
        self.cmds = {}
        self.round_trips = 0
        self.total = 0


COUNTS = ClientCounts()


class HarnessConnection(Connection):
    """A connection of the harness itself (admin, keyspace subscriber): never counted."""

    bench_harness = True


class HarnessSSLConnection(SSLConnection):
    """The same over TLS (``rediss://``)."""

    bench_harness = True


def _command_name(args: tuple[Any, ...]) -> str:
    first = args[0] if args else b"?"
    if isinstance(first, bytes | bytearray | memoryview):
        first = bytes(first).decode(errors="replace")
    return str(first).split(" ", 1)[0].lower()


def install_counter() -> None:
    """Wrap redis-py's async connection: one command per ``pack_command``, one round trip per send."""
    if getattr(AbstractConnection, "_bench_counting_installed", False):
        return
    original_pack = AbstractConnection.pack_command
    original_send = AbstractConnection.send_packed_command

    def pack_command(self: AbstractConnection, *args: Any) -> list[bytes]:
        if COUNTS.counting and not getattr(self, "bench_harness", False):
            name = _command_name(args)
            COUNTS.cmds[name] = COUNTS.cmds.get(name, 0) + 1
            COUNTS.total += 1
        return original_pack(self, *args)

    async def send_packed_command(self: AbstractConnection, command: Any, check_health: bool = True) -> None:
        if COUNTS.counting and not getattr(self, "bench_harness", False):
            COUNTS.round_trips += 1
        await original_send(self, command, check_health)

    AbstractConnection.pack_command = pack_command  # type: ignore[method-assign]
    AbstractConnection.send_packed_command = send_packed_command  # type: ignore[method-assign]
    AbstractConnection._bench_counting_installed = True  # type: ignore[attr-defined]

    # hotmesh_core's multiplexed hot-path connection (wire.py): one command per queued command,
    # one round trip per socket write (the commands of one event-loop turn share it)
    from hotmesh_core import wire

    original_queue = wire._Protocol.queue
    original_flush = wire._Protocol.flush

    def queue(self: Any, args: tuple[Any, ...]) -> Any:
        if COUNTS.counting:
            name = _command_name(args)
            COUNTS.cmds[name] = COUNTS.cmds.get(name, 0) + 1
            COUNTS.total += 1
        return original_queue(self, args)

    def flush(self: Any) -> None:
        if COUNTS.counting and self.buffer and not self.closed:
            COUNTS.round_trips += 1
        original_flush(self)

    wire._Protocol.queue = queue  # type: ignore[method-assign]
    wire._Protocol.flush = flush  # type: ignore[method-assign]


def harness_client(url: str) -> aioredis.Redis:
    """A client of the harness (not counted); TLS for ``rediss://`` URLs, with the URL's ssl_* options."""
    cls = HarnessSSLConnection if is_tls(url) else HarnessConnection
    pool = aioredis.ConnectionPool.from_url(url, decode_responses=True, connection_class=cls)
    return aioredis.Redis(connection_pool=pool)


# ---------- helpers ----------
def r(value: float, digits: int) -> float:
    return round(value, digits)


@dataclass
class Snapshot:
    t: float
    cpu_process: float
    redis_cpu: float
    used_memory: int
    total_commands: int
    keys: int
    clients: int
    cmdstats: dict[str, dict[str, int]]
    stat: dict[str, int] | None


async def snapshot(admin: aioredis.Redis) -> Snapshot:
    # one after the other: a second pooled connection would add a HELLO to the counts
    info = await admin.info()
    cs = await admin.info("commandstats")
    keys = await admin.dbsize()
    cmdstats = {k[len("cmdstat_"):]: {"calls": int(v["calls"]), "usec": int(v["usec"])}
                for k, v in cs.items() if k.startswith("cmdstat_") and isinstance(v, dict)}
    return Snapshot(
        t=time.perf_counter(),
        cpu_process=time.process_time(),
        redis_cpu=float(info["used_cpu_user"]) + float(info["used_cpu_sys"]),
        used_memory=int(info["used_memory"]),
        total_commands=int(info["total_commands_processed"]),
        keys=int(keys),
        clients=int(info.get("connected_clients", 0)),
        cmdstats=cmdstats,
        stat=proc_stat(),
    )


def summarize_cmdstats(cs: dict[str, dict[str, int]], divisor: int) -> dict[str, Any]:
    total = 0
    usec = 0
    per: dict[str, float] = {}
    for name, v in cs.items():
        if name in HARNESS_CMDS:
            continue
        total += v["calls"]
        usec += v["usec"]
        per[name] = r(v["calls"] / divisor, 3)
    return {"total": total, "usec": usec, "perWorkflow": r(total / divisor, 2),
            "usecPerWorkflow": r(usec / divisor, 1), "breakdown": per}


def loadavg1m() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:
        return math.nan


class PhaseError(RuntimeError):
    pass


# ---------- the benchmark ----------
@dataclass
class Options:
    scenario: str
    n: int
    lat: int
    warmup: int
    phases: list[str]
    rep: str
    out: Path
    tag: str
    idle_ms: int
    settle_ms: int
    url: str
    concurrency: int
    max_connections: int
    profile: str | None
    expire_seconds: int
    tls: bool = False
    tracing: bool = False
    uvloop: bool = False


PhaseBody = Callable[[], Awaitable[dict[str, Any]]]


class Bench:
    def __init__(self, opts: Options) -> None:
        self.o = opts
        self.topic = TOPICS[opts.scenario]
        self.admin = harness_client(opts.url)
        self.sub = harness_client(opts.url)
        self.completed: set[str] = set()
        self.on_complete: Callable[[str], None] | None = None
        self.result: dict[str, Any] = {"tag": opts.tag, "impl": "python", "scenario": opts.scenario,
                                       "topic": self.topic, "rep": opts.rep, "n": opts.n}
        self.hm: Any = None
        self._listener: asyncio.Task[None] | None = None

    def log(self, text: str) -> None:
        print(f"[{self.o.scenario} rep{self.o.rep}] {text}", file=sys.stderr, flush=True)

    # -- keyspace-notification completion listener --
    async def _listen(self, pubsub: Any) -> None:
        while True:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if not message or message.get("type") != "message":
                continue
            key = message["data"]
            if isinstance(key, str) and key.startswith(JOB_PREFIX):
                jid = key[len(JOB_PREFIX):]
                if jid not in self.completed:
                    self.completed.add(jid)
                    if self.on_complete is not None:
                        self.on_complete(jid)

    async def run(self) -> dict[str, Any]:
        try:
            return await self._run()
        except Exception as exc:
            self.result.setdefault("errors", {})["setup"] = "".join(traceback.format_exception(exc))
            self.log(f"setup FAILED\n{self.result['errors']['setup']}")
            self.result.setdefault("phases", {})
            return self.result

    async def _run(self) -> dict[str, Any]:
        import hotmesh_core
        from hotmesh_core import HotMesh, Settings, Worker

        o = self.o
        admin = self.admin
        await admin.flushdb()
        await admin.config_set("notify-keyspace-events", "Eg")

        server = await admin.info("server")
        if o.tracing:
            install_otel_sdk()
        # ``tracing`` only when asked: a baseline core (``run.py --baseline``) may predate it
        settings = Settings(expire_seconds=o.expire_seconds, **({"tracing": True} if o.tracing else {}))
        self.result = result = {
            "tag": o.tag,
            "impl": "python",
            "scenario": o.scenario,
            "topic": self.topic,
            "rep": o.rep,
            "n": o.n,
            "env": {
                "python": platform.python_version(),
                "hotmesh_core": str(getattr(hotmesh_core, "__version__", "?")),
                "redis_py": version_of("redis"),
                "hiredis": version_of("hiredis"),
                "redis": server.get("redis_version"),
                "cpus": os.cpu_count(),
                "cpuModel": cpu_model(),
                "redisUrl": redacted(o.url),
                "hotmesh_core_path": str(Path(hotmesh_core.__file__).parent),
                "tracing": "on: SDK providers, spans batched to a dropping exporter, metrics in memory"
                           if o.tracing else "off",
                "eventLoop": type(asyncio.get_running_loop()).__module__,
                "concurrency": o.concurrency or "all N at once (like bench.js)",
                "maxConnections": o.max_connections or "hotmesh_core default",
                "expire": f"Settings.expire_seconds={settings.expire_seconds}: completed job hash gets "
                          f"EXPIRE {settings.expire_seconds}",
            },
            "phases": {},
            "errors": {},
        }

        install_counter()
        url = with_query(o.url, max_connections=o.max_connections if o.max_connections > 0 else None)
        self.hm = hm = await HotMesh.init(
            APP, url, engine=True,
            workers=[Worker(topic, echo(topic)) for topic in ALL_WORKER_TOPICS], settings=settings)
        version = await hm.deploy((HERE / "bench.yaml").read_text())
        if not await hm.activate(version):
            raise RuntimeError("activation failed")

        pubsub = self.sub.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe("__keyevent@0__:expire")
        self._listener = asyncio.create_task(self._listen(pubsub), name="keyspace listener")

        # sanity: one job end-to-end
        probe = await hm.pubsub(self.topic, {"a": "probe"}, timeout=10)
        result["probeOutput"] = probe.get("data")
        self.log(f"probe: {probe.get('data')}")

        # ---- idle baseline: background commands while nothing runs ----
        await asyncio.sleep(1.0)
        await admin.config_resetstat()
        COUNTS.reset()
        COUNTS.counting = True
        i0 = await snapshot(admin)
        await asyncio.sleep(o.idle_ms / 1000)
        i1 = await snapshot(admin)
        COUNTS.counting = False
        idle_sec = i1.t - i0.t
        idle_sum = summarize_cmdstats(i1.cmdstats, 1)
        result["idle"] = {
            "seconds": r(idle_sec, 2),
            "commands": idle_sum["total"],
            "commandsPerSec": r(idle_sum["total"] / idle_sec, 2),
            "breakdown": idle_sum["breakdown"],
            "clientRoundTrips": COUNTS.round_trips,
            "redisConnectedClients": i1.clients,
        }

        # ---- warmup ----
        for i in range(o.warmup):
            await hm.pubsub(self.topic, {"a": f"w{i}"}, timeout=10)
        await asyncio.sleep(1.5)

        if "pub" in o.phases:
            await self.measure("pub", o.n, self.phase_pub)
        if "pubsub" in o.phases:
            await self.measure("pubsub_concurrent", o.n, self.phase_pubsub)
        if "lat" in o.phases:
            await self.measure("pubsub_sequential", o.lat, self.phase_lat)

        if not result["errors"]:
            del result["errors"]
        return result

    async def close(self) -> None:
        if self._listener:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._listener
        if self.hm is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.hm.stop(), 15)
        with contextlib.suppress(Exception):
            await self.admin.config_set("notify-keyspace-events", "")
        for client in (self.sub, self.admin):
            with contextlib.suppress(Exception):
                await client.aclose()

    # -- one phase, bracketed by CONFIG RESETSTAT / INFO --
    async def measure(self, name: str, divisor: int, body: PhaseBody) -> None:
        admin = self.admin
        await asyncio.sleep(0.2)
        await admin.config_resetstat()
        COUNTS.reset()
        s0 = await snapshot(admin)
        COUNTS.counting = True
        profiler: Any = None
        if self.o.profile == name:
            import cProfile
            profiler = cProfile.Profile()
            profiler.enable()
        error: str | None = None
        extra: dict[str, Any] = {}
        try:
            extra = await body()
        except PhaseError as exc:  # report, keep going with the next phase
            error = str(exc)
        except Exception as exc:
            error = "".join(traceback.format_exception(exc))
        finally:
            if profiler is not None:
                profiler.disable()
        s1 = await snapshot(admin)
        COUNTS.counting = False
        if profiler is not None:
            self._profile_report(profiler, name)
        if error is not None:
            self.result["errors"][name] = error
            self.log(f"{name}: FAILED\n{error}")
            await asyncio.sleep(self.o.settle_ms / 1000)
            return
        wall_sec = s1.t - s0.t
        seconds = float(extra.get("seconds", wall_sec))
        cs = summarize_cmdstats(s1.cmdstats, divisor)
        idle_cmds = self.result["idle"]["commandsPerSec"] * wall_sec
        py_cpu = s1.cpu_process - s0.cpu_process
        redis_cpu = s1.redis_cpu - s0.redis_cpu
        ph: dict[str, Any] = {
            "workflows": divisor,
            "seconds": r(seconds, 3),
            "workflowsPerSec": r(divisor / seconds, 1),
            "redisCommands": cs["total"],
            "redisCommandsPerWorkflow": cs["perWorkflow"],
            "redisCommandsPerWorkflowIdleAdjusted": r((cs["total"] - idle_cmds) / divisor, 2),
            "redisUsecPerWorkflow": cs["usecPerWorkflow"],
            "totalCommandsProcessedPerWorkflow": r((s1.total_commands - s0.total_commands) / divisor, 2),
            "clientCommandsPerWorkflow": r(COUNTS.total / divisor, 2),
            "clientRoundTripsPerWorkflow": r(COUNTS.round_trips / divisor, 2),
            "cmdBreakdownPerWorkflow": cs["breakdown"],
            "clientCmdBreakdownPerWorkflow": {k: r(v / divisor, 3) for k, v in sorted(COUNTS.cmds.items())},
            "pythonCpuSec": r(py_cpu, 2),
            "pythonCpuUtil": r(py_cpu / wall_sec, 2),
            "redisCpuSec": r(redis_cpu, 2),
            "redisCpuUtil": r(redis_cpu / wall_sec, 2),
            "machineBusyCores": None,
            "otherBusyCores": None,
            "stealPct": None,
            "loadavg1m": loadavg1m(),
            "redisUsedMemoryDelta": s1.used_memory - s0.used_memory,
            "keysBefore": s0.keys,
            "keysAfter": s1.keys,
            "redisConnectedClients": s1.clients,
            **extra.get("fields", {}),
        }
        busy = busy_cores(s0.stat, s1.stat, wall_sec)
        if busy is not None and s0.stat and s1.stat:
            ph["machineBusyCores"] = r(busy, 2)
            ph["otherBusyCores"] = r(ph["machineBusyCores"] - ph["pythonCpuUtil"] - ph["redisCpuUtil"], 2)
            ph["stealPct"] = r(100 * (s1.stat["steal"] - s0.stat["steal"])
                               / max(1, s1.stat["total"] - s0.stat["total"]), 2)
        # memory after settle (expire = 1 s: job hashes should disappear)
        await asyncio.sleep(self.o.settle_ms / 1000)
        s2 = await snapshot(admin)
        ph["redisUsedMemoryDeltaAfterSettle"] = s2.used_memory - s0.used_memory
        ph["bytesPerJobAtCompletion"] = r((s1.used_memory - s0.used_memory) / divisor, 1)
        ph["bytesPerJobAfterSettle"] = r((s2.used_memory - s0.used_memory) / divisor, 1)
        ph["keysAfterSettle"] = s2.keys
        self.result["phases"][name] = ph
        line = (f"{name}: {ph['workflowsPerSec']} wf/s, {ph['redisCommandsPerWorkflow']} cmds/wf, "
                f"{ph['clientRoundTripsPerWorkflow']} rt/wf, python cpu {ph['pythonCpuUtil']}, "
                f"redis cpu {ph['redisCpuUtil']}")
        if "latencyMs" in ph:
            lat = ph["latencyMs"]
            line += f", p50 {lat['p50']} ms, p90 {lat['p90']} ms, p99 {lat['p99']} ms"
        self.log(line)

    def _profile_report(self, profiler: Any, name: str) -> None:
        import io
        import pstats

        out = HERE / f"profile-{self.o.scenario}-{name}.prof"
        profiler.dump_stats(str(out))
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(25)
        self.log(f"cProfile of {name} written to {out}; top functions (cumulative):\n{text.getvalue()}")

    async def fan_out(self, calls: list[Callable[[], Awaitable[Any]]]) -> list[Any]:
        """Start all calls at once (bench.js: one Promise.all), or at most ``--concurrency`` at a time.

        Returns each call's result or exception; nothing keeps running after it returns.
        """
        limit = asyncio.Semaphore(self.o.concurrency) if self.o.concurrency > 0 else None

        async def bounded(call: Callable[[], Awaitable[Any]]) -> Any:
            if limit is None:
                return await call()
            async with limit:
                return await call()

        return await asyncio.gather(*(bounded(call) for call in calls), return_exceptions=True)

    @staticmethod
    def raise_failures(what: str, outs: list[Any]) -> None:
        errors = [out for out in outs if isinstance(out, BaseException)]
        if not errors:
            return
        kinds: dict[str, int] = {}
        for exc in errors:
            message = re.sub(r"[\w-]{16,}", "<id>", str(exc))[:160]   # group by kind, not by job id
            key = f"{type(exc).__module__}.{type(exc).__name__}: {message}"
            kinds[key] = kinds.get(key, 0) + 1
        first = "".join(traceback.format_exception(errors[0]))
        raise PhaseError(f"{len(errors)}/{len(outs)} {what} calls raised {kinds}; first traceback:\n{first}")

    # ---- phase 1: N concurrent fire-and-forget pub, wait for all completions ----
    async def phase_pub(self) -> dict[str, Any]:
        n = self.o.n
        hm = self.hm
        self.completed.clear()
        jids: set[str] = set()
        all_done = asyncio.Event()
        seen = 0

        def check() -> None:
            if not all_done.is_set() and len(jids) == n and all(j in self.completed for j in jids):
                all_done.set()

        def on_complete(_jid: str) -> None:
            nonlocal seen
            seen += 1
            if seen >= n:
                check()

        self.on_complete = on_complete

        def call(i: int) -> Callable[[], Awaitable[None]]:
            async def one() -> None:
                jids.add(await hm.pub(self.topic, {"a": f"p{i}"}))
            return one

        try:
            t0 = time.perf_counter()
            outs = await self.fan_out([call(i) for i in range(n)])
            t_pub = time.perf_counter()
            self.raise_failures("pub", outs)
            check()
            try:
                await asyncio.wait_for(all_done.wait(), PUB_TIMEOUT_S)
            except TimeoutError:
                done = sum(1 for j in jids if j in self.completed)
                raise PhaseError(f"pub phase timed out after {PUB_TIMEOUT_S:.0f} s: {done}/{n} jobs "
                                 f"completed ({len(jids)} pub calls returned)") from None
            t1 = time.perf_counter()
        finally:
            self.on_complete = None
        return {"seconds": t1 - t0, "fields": {"pubCallsReturnedSec": r(t_pub - t0, 3),
                                               "concurrency": self.o.concurrency or n}}

    # ---- phase 2: N concurrent pubsub (request/response), wait for all ----
    async def phase_pubsub(self) -> dict[str, Any]:
        hm = self.hm

        def call(i: int) -> Callable[[], Awaitable[Any]]:
            async def one() -> Any:
                return await hm.pubsub(self.topic, {"a": f"c{i}"}, timeout=120)
            return one

        t0 = time.perf_counter()
        outs = await self.fan_out([call(i) for i in range(self.o.n)])
        t1 = time.perf_counter()
        self.raise_failures("pubsub", outs)
        ok = sum(1 for out in outs if isinstance(out, dict) and out.get("metadata", {}).get("js") == 0)
        return {"seconds": t1 - t0, "fields": {"completedOk": ok, "concurrency": self.o.concurrency or self.o.n}}

    # ---- phase 3: sequential pubsub latency ----
    async def phase_lat(self) -> dict[str, Any]:
        hm = self.hm
        lat: list[float] = []
        t0 = time.perf_counter()
        for i in range(self.o.lat):
            a = time.perf_counter()
            await hm.pubsub(self.topic, {"a": f"l{i}"}, timeout=10)
            lat.append((time.perf_counter() - a) * 1000)
        t1 = time.perf_counter()
        s = sorted(lat)
        return {
            "seconds": t1 - t0,
            "fields": {"latencyMs": {
                # s is not empty (--lat >= 1): pct gives a number
                "p50": r(pct(s, 50), 2), "p90": r(pct(s, 90), 2), "p99": r(pct(s, 99), 2),  # type: ignore[arg-type]
                "mean": r(sum(lat) / len(lat), 2), "min": r(s[0], 2), "max": r(s[-1], 2),
            }},
        }


def parse_args(argv: Iterable[str] | None = None) -> Options:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--scenario", default="trigger", choices=sorted(TOPICS))
    p.add_argument("--n", type=int, default=2000, help="jobs per throughput phase")
    p.add_argument("--lat", type=int, default=200, help="sequential pubsub calls")
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--phases", default="pub,pubsub,lat")
    p.add_argument("--rep", default="1")
    p.add_argument("--out", type=Path, default=HERE / "results.jsonl")
    p.add_argument("--tag", default="default")
    p.add_argument("--idle-ms", type=int, default=5000)
    p.add_argument("--settle-ms", type=int, default=3000)
    p.add_argument("--port", type=int, default=int(os.environ.get("REDIS_PORT") or 0),
                   help="redis-server on 127.0.0.1 (FLUSHDB'd!); default $REDIS_PORT, else a private one")
    p.add_argument("--redis-url", default="",
                   help="redis URL, used as is (FLUSHDB'd!), e.g. rediss://127.0.0.1:P/0?ssl_ca_certs=ca.pem; "
                        "wins over --port")
    p.add_argument("--tls", action="store_true",
                   help="the private redis-server (no --port/--redis-url) speaks TLS only, with a throwaway CA")
    p.add_argument("--concurrency", type=int, default=0,
                   help="bound on in-flight pub/pubsub calls in the throughput phases "
                        "(0: all N at once, like bench.js)")
    p.add_argument("--max-connections", type=int, default=0,
                   help="redis-py pool size for HotMesh, as ?max_connections= in its redis URL "
                        "(0: hotmesh_core's default)")
    p.add_argument("--profile", default=None, choices=["pub", "pubsub_concurrent", "pubsub_sequential"],
                   help="run cProfile over this phase (slows it down) and print the top functions")
    p.add_argument("--expire-seconds", type=int, default=1,
                   help="Settings.expire_seconds (default 1, like the reference's default; diagnosis only)")
    p.add_argument("--tracing", action="store_true",
                   help="Settings.tracing on, with OpenTelemetry SDK providers (spans batched and dropped)")
    p.add_argument("--uvloop", action="store_true",
                   help="run the process on uvloop's event loop instead of asyncio's (its TLS transport is C)")
    a = p.parse_args(list(argv) if argv is not None else None)
    url = a.redis_url or (redis_url(a.port) if a.port else "")
    if a.tls and url:
        p.error("--tls starts a private TLS redis-server: give a rediss:// --redis-url for a running one instead")
    return Options(scenario=a.scenario, n=a.n, lat=a.lat, warmup=a.warmup,
                   phases=[x.strip() for x in a.phases.split(",") if x.strip()], rep=str(a.rep),
                   out=a.out, tag=a.tag, idle_ms=a.idle_ms, settle_ms=a.settle_ms, url=url,
                   concurrency=a.concurrency, max_connections=a.max_connections, profile=a.profile,
                   expire_seconds=a.expire_seconds, tls=a.tls, tracing=a.tracing, uvloop=a.uvloop)


def install_otel_sdk() -> None:
    """SDK tracer and meter providers, as a traced deployment has them: spans go through a
    ``BatchSpanProcessor`` to an exporter that drops them, metrics aggregate in memory."""
    from opentelemetry import metrics, trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    class Drop(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(Drop()))
    trace.set_tracer_provider(provider)
    metrics.set_meter_provider(MeterProvider(metric_readers=[InMemoryMetricReader()]))


async def amain(opts: Options) -> int:
    bench = Bench(opts)
    try:
        result = await bench.run()
    finally:
        await bench.close()
    append_line(opts.out, json.dumps(result))
    print(json.dumps(result, indent=1))
    return 1 if result.get("errors") else 0


def main(argv: Iterable[str] | None = None) -> int:
    opts = parse_args(argv)
    private: Any = None
    if not opts.url:
        private = start_redis(tls=opts.tls)             # free loopback port, no persistence
        opts.url = private.url
    try:
        if opts.uvloop:
            import uvloop

            return uvloop.run(amain(opts))
        return asyncio.run(amain(opts))
    except Exception:
        print("BENCH ERROR", traceback.format_exc(), file=sys.stderr)
        return 2
    finally:
        if private:
            private.stop()


if __name__ == "__main__":
    sys.exit(main())
