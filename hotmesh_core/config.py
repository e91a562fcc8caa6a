"""Settings: one frozen dataclass; every timing knob keeps the reference's environment variable name."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Any


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value not in (None, "") else default


def _env_ints(name: str) -> tuple[int, ...]:
    value = os.environ.get(name, "").replace(" ", "")
    return tuple(int(part) for part in value.split(",") if part)


#: the throttle (ms) of a paused consumer: it reads nothing until resumed (``HotMesh.throttle(-1)``)
PAUSED = 2_147_483_647


@dataclass(frozen=True)
class Settings:
    """Runtime settings of one HotMesh instance (all optional)."""

    namespace: str = "hmsh"
    #: idle time (ms) before a stalled stream message is reclaimed by another consumer
    reclaim_delay_ms: int = field(default_factory=lambda: _env_int("HMSH_XCLAIM_DELAY_MS", 60_000))
    #: a message delivered more than this many times fails its activity with code 999
    reclaim_count: int = field(default_factory=lambda: _env_int("HMSH_XCLAIM_COUNT", 3))
    #: how often (ms) each consumer looks for stalled messages
    reclaim_interval_ms: int = field(default_factory=lambda: _env_int("HMSH_XCLAIM_INTERVAL_MS", 0))
    #: how often (ms) a busy consumer drops acked entries from its stream (``streams.Trimmer``)
    trim_interval_ms: int = field(default_factory=lambda: _env_int("HMSH_TRIM_INTERVAL_MS", 1000))
    #: timer resolution (seconds)
    fidelity_seconds: float = field(default_factory=lambda: _env_float("HMSH_FIDELITY_SECONDS", 5))
    #: XREADGROUP BLOCK (ms)
    block_time_ms: int = field(default_factory=lambda: _env_int("HMSH_BLOCK_TIME_MS", 10_000))
    #: messages fetched per XREADGROUP
    read_count: int = field(default_factory=lambda: _env_int("HMSH_READ_COUNT", 64))
    #: default job expiry (seconds) after completion when the graph sets none
    expire_seconds: int = field(default_factory=lambda: _env_int("HMSH_EXPIRE_JOB_SECONDS", 1))
    #: size cap (bytes, serialized JSON) on job input, worker output and signal data
    max_payload_bytes: int = field(default_factory=lambda: _env_int("HMSH_MAX_PAYLOAD_BYTES", 1 << 20))
    #: default pubsub timeout (seconds)
    pubsub_timeout: float = 1.0
    #: lease (seconds) of the time-hook scout role; renewed by its holder
    scout_lease_seconds: float = 15.0
    #: hash-slot shards (keys.py): 0 = the app's recorded count, else 1 on one Redis and one per master
    #: on a Redis Cluster; fixed for an app's life once recorded (its job keys depend on it)
    shards: int = field(default_factory=lambda: _env_int("HMSH_SHARDS", 0))
    #: the shards whose streams this process reads (its engine, its workers and its time scouts),
    #: e.g. ``(0, 2)`` or ``HMSH_CONSUME_SHARDS=0,2``; empty: every shard. A fleet may split an app's
    #: shards between processes (one group near each master); every shard needs a reader somewhere.
    #: Writes are not affected: any process starts, signals and answers jobs of every shard.
    consume_shards: tuple[int, ...] = field(default_factory=lambda: _env_ints("HMSH_CONSUME_SHARDS"))
    #: quorum ping round delay (ms)
    quorum_delay_ms: int = 250
    #: how long (seconds) a command keeps retrying on new connections after Redis went away,
    #: before it fails with ``ConnectionLostError``
    reconnect_seconds: float = field(default_factory=lambda: _env_float("HMSH_RECONNECT_SECONDS", 30))
    #: accept a Redis whose ``maxmemory-policy`` may evict keys (job state, streams) under memory
    #: pressure; without it ``init`` refuses such a server with ``RedisConfigError``
    allow_eviction: bool = field(default_factory=lambda: _env_flag("HMSH_ALLOW_EVICTION"))
    #: log a warning naming the code that blocks this process's event loop longer than this
    #: (seconds; ``stall.LoopWatch``); 0 turns the detector off
    stall_warning_seconds: float = field(default_factory=lambda: _env_float("HMSH_STALL_WARNING_SECONDS", 1.0))
    #: evaluation time (ms) the mappings of one activity step may take in all before they fail with
    #: ``PipeError`` (``pipe.evaluator.time_budget``); half the stall warning, so a heavy mapping is
    #: stopped before it blocks the engine's loop long enough to be reported. 0: no budget
    mapping_budget_ms: int = field(default_factory=lambda: _env_int("HMSH_MAPPING_BUDGET_MS", 500))
    #: activity steps one job may take (leg 1 and leg 2 of every activity, cycles included) before
    #: it is stopped with code 508; a graph's ``limits: {steps: N}`` overrides it. 0: no limit
    max_steps: int = field(default_factory=lambda: _env_int("HMSH_MAX_STEPS", 10_000))
    #: cycle iterations one job may take (every ``cycle`` activity's re-entries, summed) before it
    #: is stopped with code 508; a graph's ``limits: {cycles: N}`` overrides it. 0: no limit
    max_cycles: int = field(default_factory=lambda: _env_int("HMSH_MAX_CYCLES", 1_000))
    #: OpenTelemetry spans and metrics (``tracing.py``; needs the ``otel`` extra). Off by default
    tracing: bool = field(default_factory=lambda: _env_flag("HMSH_TRACING"))

    def __post_init__(self) -> None:
        if self.reclaim_interval_ms <= 0:
            object.__setattr__(self, "reclaim_interval_ms", max(100, self.reclaim_delay_ms // 2))

    def with_options(self, **options: Any) -> Settings:
        known = {k: v for k, v in options.items() if v is not None}
        if "consume_shards" in known:
            known["consume_shards"] = tuple(int(n) for n in known["consume_shards"])
        return replace(self, **known)
