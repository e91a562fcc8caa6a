"""The public facade: one ``HotMesh`` per app per process (spec 6).

Roles per process: an optional engine (consumes the engine stream) and any number of workers
(each consumes its topic's stream). There is no server: processes cooperate through Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from . import messages as msgs
from .activities import trigger
from .compiler.model import CompiledApp
from .config import Settings
from .connection import command_client, reader_client, resolve_url
from .context import job_output
from .engine import Engine
from .errors import (
    JobError,
    JobNotFoundError,
    JobTimeoutError,
    ManifestError,
    TopicNotFoundError,
    ValidationError,
)
from .keys import ENGINE_GROUP, WORKER_GROUP, JobFields, Keys, check_id
from .quorum import Quorum
from .router import Router
from .store import Store
from .task import TimeScout
from .types import RedisClient
from .util import guid as new_guid
from .util import parse_timestamp
from .wire import Wire
from .worker import Worker, WorkerRunner

log = logging.getLogger("hotmesh")

SubCallback = Callable[[str, dict[str, Any]], Any]


@dataclass(frozen=True)
class Plan:
    """What ``review`` found: the compiled app, warnings, and breaking changes against ``active``."""

    app: CompiledApp
    warnings: list[str]
    breaking: list[str]
    active: str | None


#: ``list_jobs`` looks at no more job keys than this
JOB_SCAN_LIMIT = 20_000


def _published_job(body: dict[str, Any]) -> dict[str, Any]:
    """A published outcome: the completion step sends ``job``; a completing step sends the raw
    metadata and data fields (``raw``), read inside its script."""
    if "raw" in body:
        return job_output(body["raw"])
    job: dict[str, Any] = body.get("job", {})
    return job


def connect(url: str | None, max_connections: int = 64) -> RedisClient:
    """A redis.asyncio command client with reconnect backoff; ``None`` starts the embedded Redis."""
    return command_client(resolve_url(url), max_connections)


class HotMesh:
    """Start with ``await HotMesh.init(app_id=..., redis_url=..., engine=True, workers=[...])``."""

    def __init__(self, app_id: str, client: RedisClient, settings: Settings, guid: str | None = None,
                 wire: Wire | None = None) -> None:
        self.app_id = check_id("app id", app_id)
        self.client = client
        self.settings = settings
        self.guid = guid or new_guid()
        self.url = ""
        self.keys = Keys(app_id, settings.namespace, settings.shards)
        self.store = Store(client, self.keys, wire)   # wire: the hot path's multiplexed connection
        self.engine: Engine | None = None
        self.routers: list[Router] = []
        self.workers: list[WorkerRunner] = []
        self._waiters: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._subs: dict[str, SubCallback] = {}
        self._psubs: dict[str, SubCallback] = {}
        self._pubsub = client.pubsub(ignore_subscribe_messages=True)
        self._listener: asyncio.Task[None] | None = None
        self._callbacks: set[asyncio.Task[Any]] = set()
        self.scout: TimeScout | None = None
        self.quorum = Quorum(self, engine=lambda: self.engine, routers=lambda: self.routers,
                             workers=lambda: self.workers)

    # -- lifecycle -----------------------------------------------------------------------------
    @classmethod
    async def init(cls, app_id: str, redis_url: str | None = None, *, engine: bool = True,
                   workers: Iterable[Worker] = (), settings: Settings | None = None,
                   guid: str | None = None, **options: Any) -> HotMesh:
        settings = (settings or Settings()).with_options(**options)
        url = resolve_url(redis_url)
        wire = Wire(url) if urlparse(url).scheme in ("redis", "unix") else None   # rediss://: the pool
        hm = cls(app_id, command_client(url, settings.max_connections), settings, guid, wire)
        hm.url = url
        await hm.client.ping()
        await hm._pubsub.subscribe(**{hm.keys.quorum_channel(hm.guid): hm._on_own,
                                      hm.keys.quorum_channel(): hm._on_quorum})
        hm._listener = asyncio.create_task(hm._listen(), name="hotmesh pubsub")
        def reader() -> RedisClient | Wire:
            """A consumer's own connection for its blocking reads (its timeout outlasts BLOCK)."""
            if hm.store.wire is not None:
                return Wire(url, timeout=settings.block_time_ms / 1000 + 5)
            return reader_client(url, settings.block_time_ms)

        if engine:
            hm.engine = hm._new_engine()
            for stream in hm.keys.engine_streams():
                hm.routers.append(Router(hm.client, reader(), stream, ENGINE_GROUP, hm.guid,
                                         hm._engine_handle,
                                         settings, hm._engine_exhausted, wire=hm.store.wire))
        for worker in workers:
            runner = WorkerRunner(hm, worker, hm._respond_here)
            hm.workers.append(runner)
            hm.routers.append(Router(hm.client, reader(), runner.stream, WORKER_GROUP, hm.guid,
                                     runner.handle,
                                     settings, hm._worker_exhausted(runner), concurrency=worker.concurrency,
                                     wire=hm.store.wire))
        throttles = await hm.client.hgetall(hm.keys.throttles())
        for router in hm.routers:
            if router.group == WORKER_GROUP:
                topic = router.stream[len(hm.keys.worker_stream("")):]
                initial = throttles.get(topic, throttles.get(":"))
            else:
                initial = throttles.get(":")
            if initial:
                router.set_throttle(int(initial))
            await router.start()
        if engine:
            hm.scout = TimeScout(hm)
            assert hm.engine is not None
            hm.engine.on_timer = hm.scout.nudge    # a step that registers a timer wakes the scout
            hm.scout.start()
        return hm

    async def stop(self) -> None:
        """Stop consuming, let in-flight steps finish, release leases, close connections."""
        if self.scout:
            await self.scout.stop()
        for router in self.routers:
            await router.stop()
        if self._listener:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._listener
        with contextlib.suppress(Exception):
            await self._pubsub.aclose()
        for future in self._waiters.values():
            future.cancel()
        if self.store.wire is not None:
            await self.store.wire.close()
        await self.client.aclose()

    async def __aenter__(self) -> HotMesh:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- deploy and activate -------------------------------------------------------------------
    async def plan(self, source: str | Path) -> Any:
        from .compiler import compile_app, load_manifest

        app = compile_app(load_manifest(source))
        if app.id != self.app_id:
            raise ManifestError(f"manifest app.id '{app.id}' does not match this app '{self.app_id}'")
        return app

    async def deploy(self, source: str | Path) -> str:
        """Compile and store a version; the active version does not change (use ``activate``)."""
        from .compiler import compile_app, load_manifest

        manifest = load_manifest(source)
        app = compile_app(manifest)
        if app.id != self.app_id:
            raise ManifestError(f"manifest app.id '{app.id}' does not match this app '{self.app_id}'")
        compiled = app.to_json()
        existing = await self.store.compiled(app.version)
        if existing is not None and existing != compiled:
            raise ManifestError(f"version '{app.version}' of app '{app.id}' is already deployed with other "
                                "content; deploy it under a new version label")
        hooks = {topic: json.dumps([rule.__dict__]) for topic, rule in app.hooks.items()}
        source_text = Path(source).read_text() if _is_path(source) else str(source)
        await self.store.save_version(app.version, compiled, source_text, hooks)
        streams = [(self.keys.engine_stream(), ENGINE_GROUP)] + [
            (s, ENGINE_GROUP) for s in self.keys.engine_streams()[1:]] + [
            (self.keys.worker_stream(a.topic), WORKER_GROUP) for a in app.activities.values()
            if a.type == "worker" and isinstance(a.topic, str) and not a.topic.startswith("{")]
        for stream, group in streams:
            with contextlib.suppress(ResponseError):
                await self.client.xgroup_create(stream, group, id="0", mkstream=True)
        return app.version

    async def activate(self, version: str, *, delay_ms: int | None = None) -> bool:
        """Make ``version`` the active one through the quorum protocol (see ``quorum.py``).

        Raises ``QuorumError`` when the engines do not agree; the previous version stays active.
        """
        return await self.quorum.activate(str(version), delay_ms)

    async def roll_call(self, delay: float = 0.25) -> list[dict[str, Any]]:
        """A profile of every engine and worker of the app that answers within ``delay`` seconds."""
        return await self.quorum.roll_call(delay)

    async def throttle(self, ms: int, *, topic: str | None = None, guid: str | None = None) -> int:
        """Sleep ``ms`` before each read (``-1`` pauses, ``0`` resumes): every consumer of the app,
        one worker ``topic``, or one instance ``guid``. Persists (except per guid) so processes
        that start later obey it. Returns how many members applied it."""
        if topic is not None:
            check_id("topic", topic)
        return await self.quorum.throttle(int(ms), topic=topic, guid=guid)

    async def review(self, source: str | Path) -> Plan:
        """Validate ``source`` and compare it with the active version: warnings, and the breaking
        changes (removed activities, transitions, hooks) that would strand running jobs."""
        from .compiler import diff_breaking, load_manifest
        from .compiler import plan as compiler_plan

        result = compiler_plan(load_manifest(source))
        app = result.app
        if app.id != self.app_id:
            raise ManifestError(f"manifest app.id '{app.id}' does not match this app '{self.app_id}'")
        breaking: list[str] = []
        active = await self.store.active_version()
        if active is not None:
            raw = await self.store.compiled(active)
            if raw is not None:
                from .compiler.model import CompiledApp

                breaking = diff_breaking(CompiledApp.from_json(raw), app)
        return Plan(app, list(result.warnings), breaking, active)

    # -- jobs ----------------------------------------------------------------------------------
    def _new_engine(self) -> Engine:
        return Engine(self.store, self.keys, self.settings, self.guid, throttled=lambda: any(
            r.throttle_ms for r in self.routers if r.group == ENGINE_GROUP))

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
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiters[job.jid] = future
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
            self._waiters.pop(job.jid, None)
        return _raise_if_error(output)

    async def _finished_output(self, jid: str) -> dict[str, Any] | None:
        raw = await self.store.read_job(jid)
        if not raw or int(raw.get(JobFields.SEMAPHORE, "1")) > 0:
            return None
        return job_output(raw)

    async def add(self, message: dict[str, Any]) -> str:
        """Add a raw message to the engine stream (e.g. a later response for a pending activity)."""
        if not isinstance(message.get("metadata"), dict):
            raise ValidationError("message needs a metadata object")
        meta = {**message["metadata"], "guid": message["metadata"].get("guid") or new_guid()}
        body = {**message, "metadata": meta, "type": message.get("type", msgs.RESPONSE)}
        text = msgs.check_size("message", body, self.settings.max_payload_bytes)
        stream_id: str = await self.client.xadd(self.keys.engine_stream(meta.get("jid")), {"message": text})
        return stream_id

    async def get_status(self, jid: str) -> int:
        check_id("job id", jid)
        value = await self.client.hget(self.keys.job(jid), JobFields.SEMAPHORE)
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

    async def export(self, jid: str) -> dict[str, Any]:
        """The job as a tree: ``process`` keyed by dimension segments, activities at their address."""
        from .exporter import export_job

        raw = await self.get_raw(jid)
        if not raw:
            raise JobNotFoundError(f"Job {jid} not found", job_id=jid)
        app = None
        version = raw.get(JobFields.meta("vrs"))
        if version:
            compiled = await self.store.compiled(version)
            app = CompiledApp.from_json(compiled) if compiled else None
        return export_job(raw, app)

    async def scrub(self, jid: str) -> None:
        check_id("job id", jid)
        await self.client.delete(self.keys.job(jid))

    async def interrupt(self, topic: str, jid: str, *, reason: str | None = None, throw: bool = True,
                        code: int = 410, expire: int | None = None, descend: bool = False,
                        suppress: bool = False, stack: str | None = None) -> bool:
        """Stop a running job (status drops below -1e8). Its parent (if awaiting) and ``pubsub``
        caller receive error ``code`` (410) unless ``throw=False``; ``descend`` interrupts the
        children it awaits too. Raises ``JobCompletedError`` if it already ended (unless ``suppress``).
        """
        from .activities.control import interrupt_job

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
        from .activities.hooks import webhook_message

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
        stream_id: str = await self.client.xadd(stream, {"message": message})
        return stream_id

    async def _stats_target(self, topic: str, data: dict[str, Any]) -> tuple[str, str | None]:
        """The job key ``data`` resolves to under the trigger of ``topic``, and its granularity."""
        from .activities.stats import job_key_and_slice

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
        from .activities.stats import slices

        job_key, granularity = await self._stats_target(topic, data)
        segments = []
        for bucket in slices(granularity, range):
            raw = await self.client.hgetall(self.keys.stats(job_key, bucket))
            segments.append({"time": bucket, **{k: float(v) for k, v in raw.items()}})
        return {"key": job_key, "range": range, "segments": segments}

    async def get_ids(self, topic: str, data: dict[str, Any], facets: list[str], *,
                      range: str = "1h") -> dict[str, list[str]]:
        """Job ids indexed by the trigger's ``index`` measures, per facet ``"<path>:<value>"``."""
        from .activities.stats import slices

        job_key, granularity = await self._stats_target(topic, data)
        out: dict[str, list[str]] = {}
        for facet in facets:
            path, _, value = facet.partition(":")
            ids: list[str] = []
            for bucket in slices(granularity, range):
                ids += await self.client.lrange(self.keys.stats_index(job_key, bucket, path, value), 0, -1)
            out[facet] = ids
        return out

    # -- subscriptions -------------------------------------------------------------------------
    async def sub(self, topic: str, callback: SubCallback) -> None:
        """Call ``callback(topic, job_output)`` for each job outcome published on ``topic``."""
        channel = self.keys.quorum_channel(topic)
        self._subs[channel] = callback
        await self._pubsub.subscribe(**{channel: self._on_job})

    async def unsub(self, topic: str) -> None:
        channel = self.keys.quorum_channel(topic)
        self._subs.pop(channel, None)
        await self._pubsub.unsubscribe(channel)

    async def psub(self, pattern: str, callback: SubCallback) -> None:
        channel = self.keys.quorum_channel(pattern)
        self._psubs[channel] = callback
        await self._pubsub.psubscribe(**{channel: self._on_job})

    async def punsub(self, pattern: str) -> None:
        channel = self.keys.quorum_channel(pattern)
        self._psubs.pop(channel, None)
        await self._pubsub.punsubscribe(channel)

    # -- pub/sub plumbing ----------------------------------------------------------------------
    async def _listen(self) -> None:
        backoff = 0.1
        while True:
            try:
                await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                backoff = 0.1
            except asyncio.CancelledError:
                raise
            except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
                log.warning("pub/sub connection lost (%s); reconnecting", exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                with contextlib.suppress(Exception):
                    await self._pubsub.connect()
                    await self._pubsub.on_connect(self._pubsub.connection)

    async def _on_own(self, message: dict[str, Any]) -> None:
        body = json.loads(message["data"])
        if body.get("type") == "job":
            future = self._waiters.get(body.get("topic", ""))
            if future and not future.done():
                future.set_result(_published_job(body))

    async def _on_quorum(self, message: dict[str, Any]) -> None:
        try:
            body = json.loads(message["data"])
        except ValueError:
            return
        if isinstance(body, dict):
            await self.quorum.on_message(body)

    async def watch(self, seconds: float = 30.0) -> None:
        """Ask every engine of the app to publish live activity events for ``seconds``.

        Events arrive on ``hmsh:<app>:e:<jid>`` (``keys.job_events_channel``); call again before
        the time runs out to keep them flowing (the studio does so every few seconds).
        """
        if self.engine:
            self.engine.watch(seconds)
        await self.client.publish(self.keys.quorum_channel(), msgs.build(
            {"originator": self.guid}, type="watch", seconds=seconds))

    async def list_jobs(self, *, limit: int = 100, offset: int = 0, newest_first: bool = True,
                        scan_limit: int = JOB_SCAN_LIMIT) -> list[tuple[str, int]]:
        """Job ids with their creation time (ms), newest first: the jobs whose hash still exists.

        There is no per-job index to keep up (it would cost every job a command and outlive the
        jobs it lists): the app's job keys are scanned, at most ``scan_limit`` of them, and their
        creation times read in one pipeline. With more jobs than that the list is a sample;
        look a job up by its id instead."""
        keys: list[str] = []
        async for key in self.client.scan_iter(match=self.keys.job_pattern(), count=1000):
            keys.append(key)
            if len(keys) >= scan_limit:
                break
        rows: list[tuple[str, int]] = []
        for start in range(0, len(keys), 1000):
            async with self.client.pipeline(transaction=False) as pipe:
                for key in keys[start:start + 1000]:
                    pipe.hmget(key, [JobFields.meta("jid"), JobFields.meta("jc")])
                values = await pipe.execute()
            rows += [(jid, parse_timestamp(jc)) for jid, jc in values if jid]
        rows.sort(key=lambda r: (r[1], r[0]), reverse=newest_first)
        return rows[offset:offset + limit]

    async def _on_job(self, message: dict[str, Any]) -> None:
        body = json.loads(message["data"])
        callback = self._subs.get(message["channel"]) or self._psubs.get(message.get("pattern") or "")
        if callback is None or body.get("type") != "job":
            return
        result = callback(body.get("topic", ""), _published_job(body))
        if asyncio.iscoroutine(result):
            task = asyncio.ensure_future(result)
            self._callbacks.add(task)
            task.add_done_callback(self._callbacks.discard)

    # -- stream handlers -----------------------------------------------------------------------
    async def _engine_handle(self, stream: str, message_id: str, raw: str) -> None:
        assert self.engine is not None
        try:
            await self.engine.handle(stream, message_id, raw)
        except ValidationError as exc:
            await self._dead_letter(stream, ENGINE_GROUP, message_id, raw, str(exc))

    async def _dead_letter(self, stream: str, group: str, message_id: str, raw: str | None, reason: str) -> None:
        log.error("dead-lettering %s from %s: %s", message_id, stream, reason)
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.xadd(self.keys.dead_letters(), {"message": raw or "", "stream": stream, "reason": reason})
            pipe.xack(stream, group, message_id)
            await pipe.execute()

    async def _engine_exhausted(self, stream: str, message_id: str, raw: str | None, deliveries: int) -> None:
        """A message delivered more than the cap: fail its activity with code 999."""
        from .activities.legs import fail_exhausted

        assert self.engine is not None
        reason = f"stream message max delivery count exceeded ({deliveries})"
        try:
            message = msgs.parse(raw or "")
            await fail_exhausted(self.engine, message, (stream, ENGINE_GROUP, message_id), reason)
        except Exception as exc:  # noqa: BLE001 - whatever it is, it must not loop
            await self._dead_letter(stream, ENGINE_GROUP, message_id, raw, f"{reason}: {exc}")

    def _worker_exhausted(self, runner: WorkerRunner) -> Callable[[str, str, str | None, int], Awaitable[None]]:
        async def exhausted(stream: str, message_id: str, raw: str | None, deliveries: int) -> None:
            try:
                message = msgs.parse(raw or "")
            except ValidationError as exc:
                await self._dead_letter(stream, WORKER_GROUP, message_id, raw, str(exc))
                return
            meta = {**message["metadata"], "guid": new_guid()}
            error = {"message": "stream message max delivery count exceeded", "code": 999}
            reply = msgs.build(meta, type=msgs.RESPONSE, data=error, status="error", code=999)
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.xadd(self.keys.engine_stream(meta.get("jid")), {"message": reply})
                pipe.xack(stream, WORKER_GROUP, message_id)
                await pipe.execute()
        return exhausted


def _is_path(source: str | Path) -> bool:
    if isinstance(source, Path):
        return True
    text = source.strip()
    return "\n" not in text and not text.startswith("app:") and Path(text).exists()


def _raise_if_error(output: dict[str, Any]) -> dict[str, Any]:
    err = output.get("metadata", {}).get("err")
    if err:
        error = json.loads(err) if isinstance(err, str) else err
        jid = output["metadata"].get("jid", "")
        raise JobError(error.get("message", "job failed"), int(error.get("code", 500)), jid, error)
    return output
