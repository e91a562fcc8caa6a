"""The quorum: the pub/sub control plane every HotMesh instance of an app joins (spec 6.1, 7).

Messages on ``hmsh:<app>:q:`` (JSON): ``ping``/``pong`` (health rounds, roll call), ``activate``
(version switch-over), ``throttle``/``throttled`` (slow or pause consumers), ``watch`` (live
events). Activation (spec 7.2) without a central server:

1. the leader takes ``w:activate`` (SET NX PX); a second caller waits and reports the outcome;
2. four ping rounds: every engine and every worker answers each with a pong; the counts of
   rounds 1 to 3 must be equal and non-zero (everyone answered four times in a row);
3. the fifth message, ``activate`` with ``cache_mode: nocache``, makes every engine read the
   active version from Redis on every message until it sees the new one;
4. the leader checks it heard its own ``activate`` and writes the single switch-over
   (``HSET hmsh:<app>:a: version <v> active true``): from that write on, every engine starts
   new jobs on the new version. Jobs keep the version they started with.
If the counts disagree, the lock is released and the rounds run again with twice the delay
(three retries), then ``QuorumError``. When no member answers at all, no engine runs that could
be left behind, and the switch-over is written at once. Engines also re-read the active version every few
seconds, so an engine that missed the broadcast cannot stay on the old version.
"""

from __future__ import annotations

import asyncio
import logging
import os
import resource
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .config import PAUSED
from .errors import QuorumError, VersionNotFoundError
from .keys import ENGINE_GROUP
from .protocols import EngineControl, Host
from .router import Router
from .serializer import dumps
from .streams import backlog
from .util import guid
from .worker import WorkerRunner

log = logging.getLogger("hotmesh.quorum")

LEADER = "activate"     # the lease of the activation leader
ROUNDS = 4
RETRIES = 3


def system_profile() -> dict[str, Any]:
    info: dict[str, Any] = {"pid": os.getpid(), "load": list(os.getloadavg()), "cpus": os.cpu_count()}
    usage = resource.getrusage(resource.RUSAGE_SELF)
    info["cpu_seconds"] = round(usage.ru_utime + usage.ru_stime, 3)
    info["max_rss_mb"] = round(usage.ru_maxrss / 1024, 1)
    try:
        meminfo = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines() if ":" in line)
        total = int(meminfo["MemTotal"].split()[0]) / 1048576
        free = int(meminfo["MemAvailable"].split()[0]) / 1048576
        info.update(total_memory_gb=round(total, 2), free_memory_gb=round(free, 2),
                    used_memory_gb=round(total - free, 2))
    except (OSError, KeyError, ValueError):
        pass
    return info


class Quorum:
    """One instance's part in the quorum. ``hm`` gives the Redis access and identity; ``engine``,
    ``routers`` and ``workers`` tell what this process runs now (its members, what a throttle
    reaches, the engine to switch versions or publish live events), as ``HotMesh`` holds them."""

    def __init__(self, hm: Host, *, engine: Callable[[], EngineControl | None],
                 routers: Callable[[], Sequence[Router]], workers: Callable[[], Sequence[WorkerRunner]]) -> None:
        self.hm = hm
        self._engine = engine
        self._routers = routers
        self._workers = workers
        self._pongs: dict[str, list[dict[str, Any]]] = {}     # round id -> pongs heard
        self._acks: dict[str, int] = {}
        self.activations_heard: set[str] = set()
        self.heard: list[dict[str, Any]] = []                 # recent control messages (tests, studio)
        self.started = time.time()

    # -- receiving ---------------------------------------------------------------------------
    async def on_message(self, body: dict[str, Any]) -> None:
        kind = body.get("type")
        self.heard = (self.heard + [body])[-200:]
        if kind == "ping":
            await self._pong(body)
        elif kind == "pong":
            pongs = self._pongs.get(body.get("round", ""))
            if pongs is not None and body.get("originator") == self.hm.guid:
                pongs.append(body)
        elif kind == "activate":
            version = str(body.get("until_version"))
            self.activations_heard.add(version)
            engine = self._engine()
            if engine and body.get("cache_mode") == "nocache":
                engine.check_version_until(version)
        elif kind == "throttle":
            members = self._apply_throttle(body)
            if members and body.get("originator"):
                await self._publish({"type": "throttled", "originator": body["originator"],
                                     "ack": body.get("ack"), "guid": self.hm.guid, "members": members})
        elif kind == "throttled":
            if body.get("originator") == self.hm.guid and body.get("ack") in self._acks:
                self._acks[body["ack"]] += int(body.get("members") or 1)
        elif kind == "watch" and (engine := self._engine()):
            engine.watch(float(body.get("seconds", 30)))

    def members(self) -> list[dict[str, Any]]:
        """This instance's quorum members: its engine and each of its workers."""
        out: list[dict[str, Any]] = []
        routers = {r.stream: r for r in self._routers()}
        engine = self._engine()
        if engine:
            streams = [r.stream for r in routers.values() if r.group == ENGINE_GROUP]
            engine_routers = [routers[s] for s in streams]
            out.append({"guid": self.hm.guid, "role": "engine", "topic": None,
                        "stream": streams[0] if streams else self.hm.keys.engine_stream(),
                        "streams": streams,
                        "counts": {**engine.counts,
                                   "processed": sum(r.processed for r in engine_routers),
                                   "failed": sum(r.failed for r in engine_routers)},
                        "throttle": engine_routers[0].throttle_ms if engine_routers else 0})
        for runner in self._workers():
            router = routers.get(runner.streams[0])
            out.append({"guid": self.hm.guid, "role": "worker", "topic": runner.worker.topic,
                        "stream": runner.streams[0], "streams": list(runner.streams),
                        "counts": {str(k): v for k, v in runner.counts.items()},
                        "throttle": router.throttle_ms if router else 0})
        return out

    async def _pong(self, ping: dict[str, Any]) -> None:
        system = system_profile() if ping.get("details") else None
        for member in self.members():
            pong: dict[str, Any] = {"type": "pong", "originator": ping.get("originator"),
                                    "round": ping.get("round"), "guid": member["guid"],
                                    "member": f"{member['guid']}:{member['role']}:{member['topic'] or ''}"}
            if ping.get("details"):
                pong["profile"] = {**member, "app_id": self.hm.app_id, "namespace": self.hm.keys.namespace,
                                   "inited": self.started, "timestamp": time.time(), "system": system,
                                   "reclaim_delay": self.hm.settings.reclaim_delay_ms,
                                   "reclaim_count": self.hm.settings.reclaim_count}
            await self._publish(pong)

    def _apply_throttle(self, body: dict[str, Any]) -> int:
        """Apply a throttle to the matching routers; returns how many members (the engine, each
        worker) it reached."""
        if body.get("guid") and body["guid"] != self.hm.guid:
            return 0
        topic = body.get("topic")
        ms = int(body.get("throttle") or 0)
        members: set[str] = set()
        for router in self._routers():
            is_engine = router.group == "ENGINE"
            worker_topic = None if is_engine else self.hm.keys.worker_topic(router.stream)
            if topic is None or topic == worker_topic:
                router.set_throttle(ms)
                members.add("engine" if is_engine else f"worker:{worker_topic}")
        return len(members)

    async def _publish(self, body: dict[str, Any]) -> int:
        count: int = await self.hm.redis.call("PUBLISH", self.hm.keys.quorum_channel(), dumps(body))
        return count

    # -- asking ------------------------------------------------------------------------------
    async def ping_round(self, delay: float, *, details: bool = False) -> list[dict[str, Any]]:
        round_id = guid()
        self._pongs[round_id] = []
        try:
            await self._publish({"type": "ping", "originator": self.hm.guid, "round": round_id,
                                 "details": details})
            await asyncio.sleep(delay)
            return list(self._pongs[round_id])
        finally:
            self._pongs.pop(round_id, None)

    async def _health_rounds(self, delay: float) -> list[int]:
        """Four ping rounds, ``delay`` apart; each round's pongs are counted by its id after a last
        ``delay``, so a pong that arrives late (a busy engine) still counts for its own round."""
        rounds = [guid() for _ in range(ROUNDS)]
        for round_id in rounds:
            self._pongs[round_id] = []
        try:
            for round_id in rounds:
                await self._publish({"type": "ping", "originator": self.hm.guid, "round": round_id,
                                     "details": False})
                await asyncio.sleep(delay)
            await asyncio.sleep(delay)
            return [len({p["member"] for p in self._pongs[r]}) for r in rounds]
        finally:
            for round_id in rounds:
                self._pongs.pop(round_id, None)

    async def roll_call(self, delay: float = 0.25) -> list[dict[str, Any]]:
        pongs = await self.ping_round(delay, details=True)
        profiles = [p["profile"] for p in pongs if "profile" in p]
        depths: dict[str, int] = {}
        for profile in profiles:
            # a member reads one stream per shard: its depth is the sum over them
            streams = profile.get("streams") or [profile["stream"]]
            for stream in streams:
                if stream not in depths:
                    depths[stream] = await backlog(self.hm.redis, stream)
            profile["stream_depth"] = sum(depths[s] for s in streams)
        profiles.sort(key=lambda p: (p["role"], p.get("topic") or "", p["guid"]))
        return profiles

    async def throttle(self, ms: int, *, topic: str | None = None, guid: str | None = None,
                       wait: float = 0.25) -> int:
        value = PAUSED if ms < 0 else int(ms)
        keys = self.hm.keys
        if guid is None:
            if topic is not None:
                await self.hm.redis.call("HSET", keys.throttles(), topic, value)
            else:
                await self.hm.redis.transaction([["DEL", keys.throttles()],
                                                 ["HSET", keys.throttles(), ":", value]])
        ack = os.urandom(6).hex()
        self._acks[ack] = 0
        try:
            await self._publish({"type": "throttle", "throttle": value, "topic": topic, "guid": guid,
                                 "originator": self.hm.guid, "ack": ack})
            await asyncio.sleep(wait)
            return self._acks[ack]
        finally:
            self._acks.pop(ack, None)

    async def activate(self, version: str, delay_ms: int | None = None) -> bool:
        hm = self.hm
        if await hm.store.compiled(version) is None:
            raise VersionNotFoundError(f"version '{version}' of app '{hm.app_id}' was never deployed")
        delay = (delay_ms or hm.settings.quorum_delay_ms) / 1000
        for attempt in range(RETRIES + 1):
            if not await hm.store.take_lease(LEADER, hm.guid, int(6 * delay * 1000) + 1000):
                return await self._await_other(version, delay)
            try:
                counts = await self._health_rounds(delay)
                log.info("activate %s: pong counts %s", version, counts)
                if not any(counts):
                    # nobody is running: no engine can be left on the old version, switch now
                    await hm.store.set_active(version)
                    return True
                if len(set(counts)) == 1:
                    await self._publish({"type": "activate", "cache_mode": "nocache",
                                         "until_version": version, "originator": hm.guid})
                    await asyncio.sleep(delay)
                    if version not in self.activations_heard:
                        raise QuorumError(f"UntilVersion not received for version {version}")
                    await hm.store.set_active(version)
                    return True
            finally:
                await hm.store.release_lease(LEADER, hm.guid)
            log.warning("activate %s: quorum counts disagree %s (attempt %d)", version, counts, attempt + 1)
            delay *= 2
        raise QuorumError(f"Quorum not reached. Version {version} not activated.")

    async def _await_other(self, version: str, delay: float) -> bool:
        """Another process leads an activation: wait for it and report whether ``version`` is live."""
        deadline = time.monotonic() + 6 * delay * (2 ** (RETRIES + 1))
        while time.monotonic() < deadline:
            await asyncio.sleep(delay)
            if await self.hm.store.active_version() == version:
                return True
            if not await self.hm.store.lease_held(LEADER):
                break
        if await self.hm.store.active_version() == version:
            return True
        raise QuorumError(f"another activation was in progress and version {version} is not active")
