"""The public facade: one ``HotMesh`` per app per process (spec 6). The API and the wiring only.

Roles per process: an optional engine (consumes the engine stream) and any number of workers
(each consumes its topic's stream). There is no server: processes cooperate through Redis.

Where the work is done: ``engine`` and ``activities/`` (the steps), ``worker`` (callbacks),
``router`` (stream consumption, reclaim), ``task`` (timers), ``quorum`` (the control plane),
``listener`` (this instance's pub/sub), ``deployment`` (versions), ``deadletters``, ``store`` (reads
and the step script), all on one ``seam.Redis`` connection (``wire.Wire``, or ``cluster.ClusterRedis`` for a
Redis Cluster URL).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

from . import deployment, rerun
from . import messages as msgs
from .activities import trigger
from .activities.control import interrupt_job
from .activities.hooks import webhook_message
from .activities.stats import job_key_and_slice, slices
from .cluster import ClusterRedis, connect
from .compiler.model import CompiledApp
from .config import Settings
from .context import job_output
from .deadletters import DeadLetter, DeadLetters
from .deployment import Plan, VersionInfo
from .engine import Engine
from .errors import (
    JobError,
    JobNotFoundError,
    JobTimeoutError,
    RedisCommandError,
    RedisConfigError,
    RedisPermissionError,
    ShardConfigError,
    TopicNotFoundError,
    ValidationError,
)
from .exporter import export_job
from .keys import ENGINE_GROUP, WORKER_GROUP, JobFields, Keys, check_id
from .listener import EventCallback, Listener, SubCallback
from .quorum import Quorum
from .redis_server import resolve_url
from .router import Router
from .seam import Redis, pairs
from .stall import watch_loop
from .store import Store
from .streams import backlog, groups
from .task import TimeScout
from .tracing import Telemetry
from .util import guid as new_guid
from .util import parse_timestamp
from .worker import Worker, WorkerRunner

__all__ = ["HotMesh", "Plan", "VersionInfo"]

log = logging.getLogger("hotmesh")
log.addHandler(logging.NullHandler())

#: ``list_jobs`` looks at no more job keys than this
JOB_SCAN_LIMIT = 20_000


class HotMesh:
    """Start with ``await HotMesh.init(app_id=..., redis_url=..., engine=True, workers=[...])``."""

    def __init__(self, app_id: str, redis: Redis, settings: Settings, guid: str | None = None) -> None:
        self.app_id = check_id("app id", app_id)
        self.redis = redis
        self.settings = settings
        self.guid = guid or new_guid()
        self.url = redis.url
        self.keys = Keys(app_id, settings.namespace, settings.shards)
        self.consumed = self.keys.consumed(settings.consume_shards)     # the shards this process reads
        self.store = Store(redis, self.keys)
        self.engine: Engine | None = None
        self.routers: list[Router] = []
        self.workers: list[WorkerRunner] = []
        self.scout: TimeScout | None = None          # shard 0's (``scouts``: one per shard)
        self.scouts: list[TimeScout] = []
        self.quorum = Quorum(self, engine=lambda: self.engine, routers=lambda: self.routers,
                             workers=lambda: self.workers)
        self.listener = Listener(redis.subscriber(), self.keys, self.guid, self.quorum.on_message,
                                 finished=self._finished_outputs, give_up_seconds=settings.reconnect_seconds)
        self._dead_letters = DeadLetters(redis, self.keys)
        self._stopped = False
        self._unwatch: Callable[[], None] = lambda: None
        self.telemetry: Telemetry | None = None
        if settings.tracing:
            from .tracing import start
            self.telemetry = start(self.app_id, self.guid, self.store.read_fields)

    # -- lifecycle -----------------------------------------------------------------------------
    @classmethod
    async def init(cls, app_id: str, redis_url: str | None = None, *, engine: bool = True,
                   workers: Iterable[Worker] = (), settings: Settings | None = None,
                   guid: str | None = None, **options: Any) -> HotMesh:
        """Connect (``redis_url``, else ``$REDIS_URL``, else an embedded redis-server), join the
        app's quorum and start the engine and the workers asked for. Raises ``ConnectionLostError``,
        ``RedisAuthError``... when Redis cannot be used; nothing is left running then."""
        settings = (settings or Settings()).with_options(**options)
        redis = connect(resolve_url(redis_url), reconnect_seconds=settings.reconnect_seconds)
        try:
            shards = await _resolve_shards(redis, check_id("app id", app_id), settings)
            hm = cls(app_id, redis, settings.with_options(shards=shards), guid)
        except BaseException:
            await redis.close()
            raise
        try:
            await hm._start(engine, workers)
        except BaseException:
            await hm.stop()
            raise
        return hm

    async def _start(self, engine: bool, workers: Iterable[Worker]) -> None:
        await self.redis.call("PING")
        await self._check_eviction()
        self._unwatch = watch_loop(self.settings.stall_warning_seconds)
        await self.listener.start()
        if engine:
            self.engine = self._new_engine()
            for stream in self.engine_streams():
                self.routers.append(Router(self.redis, stream, ENGINE_GROUP, self.guid, self.engine.consume,
                                           self.settings, self.engine.exhausted))
        for worker in workers:
            runner = WorkerRunner(self, worker, self._respond_here)
            self.workers.append(runner)
            for stream in runner.streams:        # one per shard
                self.routers.append(Router(self.redis, stream, WORKER_GROUP, self.guid, runner.handle,
                                           self.settings, runner.exhausted, concurrency=worker.concurrency))
        throttles = pairs(await self.redis.call("HGETALL", self.keys.throttles()))
        for router in self.routers:
            if router.group == WORKER_GROUP:
                initial = throttles.get(self.keys.worker_topic(router.stream), throttles.get(":"))
            else:
                initial = throttles.get(":")
            if initial:
                router.set_throttle(int(initial))
            await router.start()
        if self.engine is not None and engine:
            self.scouts = [TimeScout(self, shard) for shard in self.consumed]
            self.scout = self.scouts[0]
            self.engine.on_timer = self._nudge_scouts  # a step that registers a timer wakes the scouts
            for scout in self.scouts:
                scout.start()
            if self.telemetry is not None:
                self.telemetry.sample_timers(self._timer_count)

    def engine_streams(self) -> list[str]:
        """The engine streams this process reads: one per shard it consumes."""
        return [self.keys.engine_stream_of(n) for n in self.consumed]

    def _nudge_scouts(self) -> None:
        for scout in self.scouts:
            scout.nudge()

    async def _timer_count(self) -> int:
        counts = await self.redis.pipeline([["ZCARD", self.keys.timers(n)] for n in self.keys.shard_ids])
        return sum(int(c) for c in counts)

    async def _check_eviction(self) -> None:
        """Refuse a Redis that may evict job state (BullMQ warns the same way), unless allowed."""
        try:
            info = await self.redis.call("INFO", "memory")
        except RedisPermissionError:      # an ACL user without INFO: nothing to check with
            log.debug("cannot read maxmemory-policy (INFO refused); not checked")
            return
        policy = next((line.split(":", 1)[1].strip() for line in str(info).splitlines()
                       if line.startswith("maxmemory_policy:")), "noeviction")
        if policy == "noeviction":
            return
        text = (f"redis has maxmemory-policy {policy}: under memory pressure it can evict job state and "
                "streams, losing jobs. Set it to noeviction (CONFIG SET maxmemory-policy noeviction), or "
                "accept the risk with Settings(allow_eviction=True) / HMSH_ALLOW_EVICTION=1")
        if not self.settings.allow_eviction:
            raise RedisConfigError(text)
        log.warning("%s", text)

    async def stop(self, drain_seconds: float = 5.0) -> None:
        """Stop consuming, let in-flight steps and callbacks finish (``drain_seconds`` at most;
        what is cut off stays pending and is reclaimed by another process), release leases,
        close every connection. Returns within about ``drain_seconds`` + 2 s whatever the
        callbacks do. Safe to call twice, and after a failed ``init``."""
        if self._stopped:
            return
        self._stopped = True
        self._unwatch()
        await asyncio.gather(*(scout.stop() for scout in self.scouts))
        if self.telemetry is not None:
            await self.telemetry.close()
        await asyncio.gather(*(router.stop(drain_seconds) for router in self.routers))
        for runner in self.workers:
            runner.close()
        with contextlib.suppress(Exception):
            await self.listener.close()
        await self.redis.close()

    async def __aenter__(self) -> HotMesh:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- deploy and activate -------------------------------------------------------------------
    async def plan(self, source: str | Path) -> CompiledApp:
        """Validate and compile ``source`` (a path or YAML text) for this app; nothing is stored."""
        return deployment.compile_for(self.app_id, source)[0]

    async def deploy(self, source: str | Path) -> str:
        """Compile and store a version; the active version does not change (use ``activate``)."""
        return await deployment.deploy(self.store, self.keys, source)

    async def review(self, source: str | Path) -> Plan:
        """Validate ``source`` and compare it with the active version: warnings, and the breaking
        changes (removed activities, transitions, hooks) that would strand running jobs."""
        return await deployment.review(self.store, self.keys, source)

    async def activate(self, version: str, *, delay_ms: int | None = None) -> bool:
        """Make ``version`` the active one through the quorum protocol (see ``quorum.py``).

        Raises ``QuorumError`` when the engines do not agree; the previous version stays active.
        """
        return await self.quorum.activate(str(version), delay_ms)

    # -- versions (read) -----------------------------------------------------------------------
    async def versions(self) -> list[VersionInfo]:
        """Every deployed version, oldest first: label, ``deployed``/``activated``, when, active."""
        return await deployment.versions(self.store)

    async def active_version(self) -> str | None:
        return await self.store.active_version()

    async def source(self, version: str) -> str | None:
        """The YAML text of ``version`` as it was deployed (None if never deployed)."""
        return await self.store.source(str(version))

    async def compiled(self, version: str) -> CompiledApp | None:
        """The compiled app of ``version`` (None if never deployed)."""
        raw = await self.store.compiled(str(version))
        return CompiledApp.from_json(raw) if raw is not None else None

    # -- the fleet -----------------------------------------------------------------------------
    async def roll_call(self, delay: float = 0.25) -> list[dict[str, Any]]:
        """A profile of every engine and worker of the app that answers within ``delay`` seconds."""
        return await self.quorum.roll_call(delay)

    def members(self) -> list[dict[str, Any]]:
        """This process's own members (its engine, each worker): role, topic, stream, counts, throttle."""
        return self.quorum.members()

    async def stream_stats(self, stream: str, group: str) -> dict[str, int]:
        """``backlog`` (pending + undelivered), ``pending`` and ``consumers`` of one consumer group."""
        every = await groups(self.redis, stream)
        found = next((g for g in every if g.get("name") == group), {})
        return {"backlog": await backlog(self.redis, stream, every), "pending": int(found.get("pending") or 0),
                "consumers": int(found.get("consumers") or 0)}

    async def queue_report(self, topics: Iterable[str] = ()) -> dict[str, Any]:
        """What is waiting, read in one pipeline whatever the number of jobs (dashboards poll it).

        ``streams``: one dict per engine stream and per worker stream of ``topics``: ``length``
        (XLEN; acked entries stay until trimmed), ``pending`` and ``per_consumer`` (XPENDING),
        ``lag`` and ``consumers`` (XINFO GROUPS), ``oldest_id`` / ``oldest_age_ms`` (the oldest
        pending entry, its age from its id's time) and ``oldest_deliveries``; ``timers`` (ZCARD)
        and ``next_timer_ms`` (the earliest due time); ``dead_letters`` (XLEN of the dead-letter
        stream); ``now_ms`` (Redis TIME); ``commands``: how many commands were sent.

        Two commands plus two per shard, plus four per stream (each stream is per shard). A stream or consumer group that does not exist yet
        makes the pipeline fail; then each stream is read on its own (still a fixed number)."""
        shards = self.keys.shard_ids
        dead = self.keys.dead_letters()
        streams: list[tuple[str, str, str | None]] = [(s, ENGINE_GROUP, None) for s in self.keys.engine_streams()]
        streams += [(s, WORKER_GROUP, t) for t in dict.fromkeys(topics) for s in self.keys.worker_streams(t)]
        head: list[list[Any]] = [["TIME"], ["XLEN", dead]]
        for n in shards:
            head += [["ZCARD", self.keys.timers(n)], ["ZRANGE", self.keys.timers(n), 0, 0, "WITHSCORES"]]

        def reads(stream: str, group: str) -> list[list[Any]]:
            return [["XLEN", stream], ["XINFO", "GROUPS", stream], ["XPENDING", stream, group],
                    ["XPENDING", stream, group, "-", "+", 1]]

        commands = head + [c for stream, group, _ in streams for c in reads(stream, group)]
        sent = len(commands)
        try:
            replies = await self.redis.pipeline(commands)
        except RedisCommandError:            # a stream or group missing: read each stream alone
            replies = await self.redis.pipeline(head)
            sent += len(head)
            for stream, group, _ in streams:
                (length,) = await self.redis.pipeline([["XLEN", stream]])
                try:
                    rest = await self.redis.pipeline(reads(stream, group)[1:])
                except RedisCommandError:
                    rest = [[], None, []]
                sent += 4
                replies += [length, *rest]
        seconds, micros = replies[0]
        now_ms = int(seconds) * 1000 + int(micros) // 1000
        due = [int(float(first[1])) for first in replies[3:len(head):2] if first]
        report: dict[str, Any] = {"now_ms": now_ms, "timers": sum(int(c) for c in replies[2:len(head):2]),
                                  "next_timer_ms": min(due) if due else None,
                                  "dead_letters": int(replies[1]), "streams": [], "commands": sent}
        for n, (stream, group, topic) in enumerate(streams):
            length, info, summary, oldest = replies[len(head) + 4 * n:len(head) + 4 * n + 4]
            found = next((pairs(g) for g in info or [] if pairs(g).get("name") == group), {})
            oldest_id = summary[1] if summary and int(summary[0]) else None
            report["streams"].append({
                "stream": stream, "role": "engine" if group == ENGINE_GROUP else "worker", "topic": topic,
                "group": group, "length": int(length), "pending": int(summary[0]) if summary else 0,
                "lag": int(found["lag"]) if found.get("lag") is not None else None,
                "consumers": int(found.get("consumers") or 0),
                "per_consumer": {name: int(count) for name, count in (summary[3] or [])} if summary else {},
                "oldest_id": oldest_id,
                "oldest_age_ms": max(0, now_ms - int(oldest_id.split("-")[0])) if oldest_id else None,
                "oldest_deliveries": int(oldest[0][3]) if oldest else None})
        return report

    async def throttle(self, ms: int, *, topic: str | None = None, guid: str | None = None) -> int:
        """Sleep ``ms`` before each read (``-1`` pauses, ``0`` resumes): every consumer of the app,
        one worker ``topic``, or one instance ``guid``. Persists (except per guid) so processes
        that start later obey it. Returns how many members applied it."""
        if topic is not None:
            check_id("topic", topic)
        return await self.quorum.throttle(int(ms), topic=topic, guid=guid)

    # -- jobs ----------------------------------------------------------------------------------
    def _new_engine(self) -> Engine:
        return Engine(self.store, self.keys, self.settings, self.guid, throttled=lambda: any(
            r.throttle_ms for r in self.routers if r.group == ENGINE_GROUP), telemetry=self.telemetry)

    def _require_engine(self) -> Engine:
        if self.engine is None:
            self.engine = self._new_engine()   # a client-only process can still start jobs
        return self.engine

    async def _respond_here(self, message: dict[str, Any], ack: tuple[str, str, str]) -> bool:
        """A worker's reply, handled by this process's engine if it has one (``Engine.respond_here``)."""
        return self.engine is not None and await self.engine.respond_here(message, ack)

    async def pub(self, topic: str, data: dict[str, Any] | None = None, *, pending: float | None = None,
                  search: dict[str, Any] | None = None, markers: dict[str, Any] | None = None,
                  trc: str | None = None) -> str:
        """Start a job and return its id (fire and forget)."""
        check_id("topic", topic)
        engine = self._require_engine()
        job = await trigger.prepare(engine, topic, data if data is not None else {}, pending=pending,
                                    search=search, markers=markers, trc=trc)
        await trigger.commit(engine, job)
        return job.jid

    async def pubsub(self, topic: str, data: dict[str, Any] | None = None, *,
                     timeout: float | None = None) -> dict[str, Any]:
        """Start a job and wait for its outcome ``{"metadata", "data"}``; raises ``JobError`` on error."""
        check_id("topic", topic)
        engine = self._require_engine()
        job = await trigger.prepare(engine, topic, data if data is not None else {}, ngn=self.guid)
        future = self.listener.expect(job.jid)
        try:
            await trigger.commit(engine, job)
            wait = self.settings.pubsub_timeout if timeout is None else timeout
            try:
                output = await asyncio.wait_for(asyncio.shield(future), wait)
            except TimeoutError:
                late = await self._finished_output(job.jid)   # pub/sub is best-effort (G6)
                if late is None:
                    raise JobTimeoutError(f"timeout waiting for job {job.jid}", job.jid) from None
                output = late
        finally:
            self.listener.forget(job.jid)
        return _raise_if_error(output)

    async def _finished_outputs(self, jids: list[str]) -> dict[str, dict[str, Any]]:
        """The outcomes of those of ``jids`` that finished (semaphore 0), in two round trips at most."""
        semaphores = await self.redis.pipeline([["HGET", self.keys.job(jid), JobFields.SEMAPHORE]
                                                for jid in jids])
        done = [jid for jid, sem in zip(jids, semaphores, strict=True) if sem is not None and int(sem) <= 0]
        if not done:
            return {}
        rows = await self.redis.pipeline([["HGETALL", self.keys.job(jid)] for jid in done])
        return {jid: job_output(pairs(raw)) for jid, raw in zip(done, rows, strict=True) if raw}

    async def _finished_output(self, jid: str) -> dict[str, Any] | None:
        return (await self._finished_outputs([jid])).get(jid)

    async def add(self, message: dict[str, Any]) -> str:
        """Add a raw message to the engine stream (e.g. a later response for a pending activity)."""
        if not isinstance(message.get("metadata"), dict):
            raise ValidationError("message needs a metadata object")
        meta = {**message["metadata"], "guid": message["metadata"].get("guid") or new_guid()}
        body = {**message, "metadata": meta, "type": message.get("type", msgs.RESPONSE)}
        text = msgs.check_size("message", body, self.settings.max_payload_bytes)
        stream_id: str = await self.redis.call("XADD", self.keys.engine_stream(meta.get("jid")), "*",
                                               "message", text)
        return stream_id

    async def get_status(self, jid: str) -> int:
        check_id("job id", jid)
        value = await self.store.read_field(jid, JobFields.SEMAPHORE)
        if value is None:
            raise JobNotFoundError(f"Job {jid} not found", job_id=jid)
        return int(value)

    async def get_state(self, topic: str, jid: str) -> dict[str, Any]:
        check_id("job id", jid)
        raw = await self.store.read_job(jid)
        if not raw:
            raise JobNotFoundError(f"Job {jid} not found", job_id=jid)
        return job_output(raw)

    async def get_raw(self, jid: str) -> dict[str, str]:
        check_id("job id", jid)
        return await self.store.read_job(jid)

    async def job_fields(self, jids: list[str], fields: list[str]) -> list[list[str | None]]:
        """The raw job-hash ``fields`` of many jobs, in one round trip (a row of Nones for a job
        that is gone). Field names: ``keys.JobFields``."""
        for jid in jids:
            check_id("job id", jid)
        if not fields:
            return [[] for _ in jids]
        return await self.redis.pipeline([["HMGET", self.keys.job(jid), *fields] for jid in jids])

    async def export(self, jid: str) -> dict[str, Any]:
        """The job as a tree: ``process`` keyed by dimension segments, activities at their address."""
        raw = await self.get_raw(jid)
        if not raw:
            raise JobNotFoundError(f"Job {jid} not found", job_id=jid)
        version = raw.get(JobFields.meta("vrs"))
        app = await self.compiled(version) if version else None
        return export_job(raw, app)

    async def scrub(self, jid: str) -> None:
        check_id("job id", jid)
        await self.redis.call("DEL", self.keys.job(jid))

    async def list_jobs(self, *, limit: int = 100, offset: int = 0, newest_first: bool = True,
                        scan_limit: int = JOB_SCAN_LIMIT) -> list[tuple[str, int]]:
        """Job ids with their creation time (ms), newest first: the jobs whose hash still exists.

        There is no per-job index to keep up (it would cost every job a command and outlive the
        jobs it lists): the app's job keys are scanned, at most ``scan_limit`` of them, and their
        creation times read in one pipeline. With more jobs than that the list is a sample;
        look a job up by its id instead."""
        keys: list[str] = []
        cursor = "0"
        while len(keys) < scan_limit:
            cursor, found = await self.redis.call("SCAN", cursor, "MATCH", self.keys.job_pattern(), "COUNT", 1000)
            keys += found
            if cursor == "0":
                break
        keys = keys[:scan_limit]
        rows: list[tuple[str, int]] = []
        for start in range(0, len(keys), 1000):
            values = await self.redis.pipeline([["HMGET", key, JobFields.meta("jid"), JobFields.meta("jc")]
                                                for key in keys[start:start + 1000]])
            rows += [(jid, parse_timestamp(jc)) for jid, jc in values if jid]
        rows.sort(key=lambda r: (r[1], r[0]), reverse=newest_first)
        return rows[offset:offset + limit]

    async def resume(self, jid: str, activity: str | None = None, data: dict[str, Any] | None = None, *,
                     merge: bool = True) -> dict[str, Any]:
        """Re-open failed job ``jid`` at its failed ``activity`` (default: the one that failed last)
        with the input that activity received, or ``data`` merged over it (``merge=False``:
        replacing it). One atomic step; the job then runs on and completes as usual (``sub``
        listeners of its topic hear the outcome). Recorded in the run's history (``export``).
        Returns ``jid``, ``activity``, ``dad``, ``input``, ``edited``, ``at``. Raises
        ``JobNotFoundError`` (404), ``JobNotFailedError`` (409: running, done, interrupted, or
        resumed concurrently), ``ValidationError`` (400: unknown activity, bad data)."""
        return await rerun.resume(self._require_engine(), jid, activity, data, merge=merge, by=self.guid)

    async def rerun(self, jid: str, data: dict[str, Any] | None = None, *, merge: bool = True) -> dict[str, Any]:
        """Start a new job of ``jid``'s graph with ``jid``'s input (``data`` merged over it, or
        replacing it with ``merge=False``), linked both ways in the jobs' history. Returns the new
        ``jid``, ``from``, ``topic``, ``input``, ``edited``, ``at``."""
        return await rerun.rerun(self._require_engine(), jid, data, merge=merge, by=self.guid)

    async def interrupt(self, topic: str, jid: str, *, reason: str | None = None, throw: bool = True,
                        code: int = 410, expire: int | None = None, descend: bool = False,
                        suppress: bool = False, stack: str | None = None) -> bool:
        """Stop a running job (status drops below -1e8). Its parent (if awaiting) and ``pubsub``
        caller receive error ``code`` (410) unless ``throw=False``; ``descend`` interrupts the
        children it awaits too. Raises ``JobCompletedError`` if it already ended (unless ``suppress``).
        """
        check_id("topic", topic)
        check_id("job id", jid)
        options = {"reason": reason, "throw": throw, "code": code, "expire": expire, "descend": descend,
                   "stack": stack}
        return await interrupt_job(self._require_engine(), jid, options, suppress=suppress)

    async def hook(self, topic: str, data: dict[str, Any], *, status: str = "success",
                   code: int = 200) -> str | None:
        """Send a signal to the web hook waiting for it; returns the stream id, or None if none waits.

        ``status="pending"`` keeps the hook open (its children run again, in a new dimension);
        the registration is removed when a signal with code 200 closes it.
        """
        check_id("hook topic", topic)
        if not isinstance(data, dict):
            raise ValidationError("signal data must be a JSON object")
        msgs.check_size("signal data", data, self.settings.max_payload_bytes)
        if status not in ("success", "pending", "error"):
            raise ValidationError(f"signal status must be success, pending or error, not {status!r}")
        found = await webhook_message(self._require_engine(), topic, data, status, int(code))
        if found is None:
            return None
        stream, message = found
        stream_id: str = await self.redis.call("XADD", stream, "*", "message", message)
        return stream_id

    async def _stats_target(self, topic: str, data: dict[str, Any]) -> tuple[str, str | None]:
        """The job key ``data`` resolves to under the trigger of ``topic``, and its granularity."""
        index = await self._require_engine().active_app()
        trigger_id = index.app.subscriptions.get(topic)
        if trigger_id is None:
            raise TopicNotFoundError(f"no graph subscribes to '{topic}'")
        trigger_activity = index.app.activities[trigger_id]
        entry = {"input": {"data": data}, "output": {"data": data}}
        found = job_key_and_slice(trigger_activity, {"$self": entry, trigger_id: entry})
        if found is None:
            raise ValidationError(f"the stats key of '{topic}' does not resolve from {data!r}")
        return found[0], (trigger_activity.stats or {}).get("granularity")

    async def get_stats(self, topic: str, data: dict[str, Any], *, range: str = "1h") -> dict[str, Any]:
        """Aggregates of the trigger's ``stats.measures`` for the job key ``data`` resolves to."""
        job_key, granularity = await self._stats_target(topic, data)
        buckets = slices(granularity, range)
        shards = len(self.keys.shard_ids)           # each shard keeps the stats of its own jobs
        replies = await self.redis.pipeline([["HGETALL", self.keys.stats(job_key, b, n)]
                                             for b in buckets for n in self.keys.shard_ids])
        segments = []
        for i, bucket in enumerate(buckets):
            totals: dict[str, float] = {}
            for raw in replies[i * shards:(i + 1) * shards]:
                for k, v in pairs(raw).items():
                    totals[k] = totals.get(k, 0.0) + float(v)
            segments.append({"time": bucket, **totals})
        return {"key": job_key, "range": range, "segments": segments}

    async def get_ids(self, topic: str, data: dict[str, Any], facets: list[str], *,
                      range: str = "1h") -> dict[str, list[str]]:
        """Job ids indexed by the trigger's ``index`` measures, per facet ``"<path>:<value>"``: in
        the order they were indexed, shard by shard in a sharded app."""
        job_key, granularity = await self._stats_target(topic, data)
        out: dict[str, list[str]] = {}
        for facet in facets:
            path, _, value = facet.partition(":")
            ids: list[str] = []
            for bucket in slices(granularity, range):
                for n in self.keys.shard_ids:
                    ids += await self.store.list_range(self.keys.stats_index(job_key, bucket, path, value, n))
            out[facet] = ids
        return out

    # -- dead letters --------------------------------------------------------------------------
    async def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        """Messages that could not be handled (newest first), with where they came from and why."""
        return await self._dead_letters.list(limit)

    async def dead_letter(self, letter_id: str) -> DeadLetter | None:
        """One dead letter by its id (None if there is no such letter)."""
        return await self._dead_letters.get(letter_id)

    async def replay_dead_letter(self, letter_id: str) -> str | None:
        """Put a dead letter's message back on its stream; its new stream id (None if no such letter)."""
        return await self._dead_letters.replay(letter_id)

    async def discard_dead_letter(self, letter_id: str) -> bool:
        return await self._dead_letters.discard(letter_id)

    # -- subscriptions and live events ---------------------------------------------------------
    async def sub(self, topic: str, callback: SubCallback) -> None:
        """Call ``callback(topic, job_output)`` for each job outcome published on ``topic``."""
        await self.listener.sub(topic, callback)

    async def unsub(self, topic: str) -> None:
        await self.listener.unsub(topic)

    async def psub(self, pattern: str, callback: SubCallback) -> None:
        await self.listener.psub(pattern, callback)

    async def punsub(self, pattern: str) -> None:
        await self.listener.punsub(pattern)

    async def watch(self, seconds: float = 30.0) -> None:
        """Ask every engine of the app to publish live activity events for ``seconds``.

        Events arrive on ``hmsh:<app>:e:<jid>`` (``listen_events``); call again before the time
        runs out to keep them flowing (the studio does so every few seconds).
        """
        if self.engine:
            self.engine.watch(seconds)
        await self.redis.call("PUBLISH", self.keys.quorum_channel(), msgs.build(
            {"originator": self.guid}, type="watch", seconds=seconds))

    async def listen_events(self, callback: EventCallback) -> Callable[[], Awaitable[None]]:
        """Call ``callback(event)`` for each live activity event of the app's jobs (while someone
        ``watch``es); returns the coroutine function that stops it. ``events_generation`` grows
        when the connection was lost and events may have been missed."""
        return await self.listener.listen_events(callback)

    @property
    def events_generation(self) -> int:
        return self.listener.generation


async def _resolve_shards(redis: Redis, app_id: str, settings: Settings) -> int:
    """The app's shard count (``keys.py``): the one its registry records (1 for an app deployed
    before it had one), else ``settings.shards``, else one per master on a Redis Cluster and 1 on
    one Redis; more than one is recorded on first use, since every job key depends on it. An
    explicit ``shards`` other than the app's is refused (``ShardConfigError``)."""
    store = Store(redis, Keys(app_id, settings.namespace))
    if await store.carry_over_registry():
        log.info("app %s: registry moved from %s to %s", app_id, store.keys.legacy_app_registry(),
                 store.keys.app_registry())
    registry = store.keys.app_registry()
    recorded, known = await redis.pipeline([["HGET", registry, "shards"], ["EXISTS", registry]])
    if recorded is None and known:
        recorded = 1                          # deployed before it had shards: the unsharded layout
    if recorded is None:
        wanted = settings.shards
        if wanted <= 0:
            wanted = len(await redis.masters()) if isinstance(redis, ClusterRedis) else 1
        if wanted <= 1:
            return 1                          # nothing recorded: one shard, the reference's layout
        await redis.call("HSETNX", registry, "shards", wanted)
        recorded = await redis.call("HGET", registry, "shards")
    shards = int(recorded)
    if settings.shards > 0 and settings.shards != shards:
        raise ShardConfigError(f"app '{app_id}' has {shards} shard(s) (recorded in {registry} when it was first "
                          f"used; its job keys depend on it), not {settings.shards}: drop the shards "
                          "setting (HMSH_SHARDS) or use a new app id")
    return shards


def _raise_if_error(output: dict[str, Any]) -> dict[str, Any]:
    err = output.get("metadata", {}).get("err")
    if err:
        error = json.loads(err) if isinstance(err, str) else err
        jid = output["metadata"].get("jid", "")
        raise JobError(error.get("message", "job failed"), int(error.get("code", 500)), jid, error)
    return output
