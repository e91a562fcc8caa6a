"""The engine: turns each engine-stream message into one atomic step (spec 5.2).

Dispatch by message type: ``transition`` runs leg 1 of an activity, ``await`` starts a child job,
``response``/``result``/``timehook``/``webhook``/typeless run leg 2, ``complete`` runs the
job-completion tasks. Expected faults (a duplicate, a job that is gone or inactive) drop the
message: they are the idempotency mechanism, not failures. Anything unexpected leaves the message
pending, so it is redelivered (reclaim) up to the delivery cap.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from . import messages as msgs
from .activities import control, legs, trigger
from .compiler.model import CompiledApp
from .config import Settings
from .context import AppIndex, job_output
from .deadletters import DeadLetters
from .errors import AppNotFoundError, ValidationError, VersionNotFoundError
from .faults import crash_point
from .keys import ENGINE_GROUP, JobFields, Keys, tag_of
from .store import FORWARD, StepResult, StepSpec, Store
from .tracing import Telemetry, observe
from .util import now_ms

log = logging.getLogger("hotmesh.engine")

#: An engine that missed the activation broadcast still switches within this many seconds.
VERSION_RECHECK_SECONDS = 5.0


class _ObservedStore(Store):
    """The engine's store while tracing: each step script's outcome is noted for the step's span."""

    async def step(self, spec: StepSpec) -> StepResult:
        result = await super().step(spec)
        observe(result.finished, result.status == "ok", JobFields.meta("err") in spec.hset)
        return result


class Engine:
    """One process's engine; activity steps see it as their ``StepContext`` (``protocols.py``).

    ``throttled`` tells whether this process's engine consumers are throttled or paused (then a
    worker's reply is not handled in place, see ``respond_here``); ``on_timer`` is called after
    a step registered a timer (``HotMesh`` sets it to its time scout's ``nudge``)."""

    def __init__(self, store: Store, keys: Keys, settings: Settings, guid: str, *,
                 throttled: Callable[[], bool] = lambda: False,
                 on_timer: Callable[[], None] | None = None, telemetry: Telemetry | None = None) -> None:
        self.telemetry = telemetry
        self.store = store if telemetry is None else _ObservedStore(store.redis, store.keys)
        self.dead_letters = DeadLetters(store.redis, keys, counted=None if telemetry is None
                                        else lambda: telemetry.dead_letter("engine"))
        self.keys = keys
        self.settings = settings
        self.guid = guid
        self.throttled = throttled
        self.on_timer = on_timer
        self._apps: dict[str, AppIndex] = {}
        self._active: str | None = None
        self._until: str | None = None
        self._checked = 0.0
        self.counts: dict[str, int] = {}
        self.watch_until = 0.0
        self._version_lock = asyncio.Lock()
        self._active_lock = asyncio.Lock()

    # -- live events (studio, notebook widgets) ------------------------------------------------
    def watch(self, seconds: float) -> None:
        """Publish live activity events for the next ``seconds`` (a watcher asked for them)."""
        self.watch_until = max(self.watch_until, time.monotonic() + seconds)

    def event(self, jid: str, aid: str, dad: str, atp: str, status: str, code: int) -> tuple[str, dict[str, Any]] | None:
        """The event a step publishes, or None while nobody watches (it then costs nothing)."""
        if time.monotonic() > self.watch_until:
            return None
        return (self.keys.events_channel(),
                {"type": "activity", "jid": jid, "aid": aid, "dad": dad, "atp": atp, "status": status,
                 "code": code, "ts": now_ms()})

    def timer_registered(self) -> None:
        """A step registered a timer: the scout looks again now (it may be sooner than its poll)."""
        if self.on_timer is not None:
            self.on_timer()

    # -- versions ------------------------------------------------------------------------------
    async def app(self, version: str) -> AppIndex:
        index = self._apps.get(version)
        if index is None:
            async with self._version_lock:    # concurrent first steps load it once
                index = self._apps.get(version)
                if index is None:
                    raw = await self.store.compiled(version)
                    if raw is None:
                        raise VersionNotFoundError(f"app '{self.keys.app}' has no version '{version}'")
                    index = self._apps[version] = AppIndex.build(CompiledApp.from_json(raw))
        return index

    async def active_app(self) -> AppIndex:
        """The active version's app. Cached; re-read on every call while an activation is under way
        (``nocache`` mode, until the new version shows) and every few seconds otherwise."""
        if self._stale():
            async with self._active_lock:     # one re-read, not one per concurrent caller
                if self._stale():
                    now = time.monotonic()
                    version = await self.store.active_version()
                    if version is None:
                        raise AppNotFoundError(
                            f"app '{self.keys.app}' has no active version: deploy and activate one first")
                    if self._until is not None and version == self._until:
                        self._until = None    # the switch-over happened: back to cached mode
                    self._active, self._checked = version, now
        assert self._active is not None
        return await self.app(self._active)

    def _stale(self) -> bool:
        return (self._active is None or self._until is not None
                or time.monotonic() > self._checked + VERSION_RECHECK_SECONDS)

    def check_version_until(self, version: str) -> None:
        """Enter nocache mode (the quorum's fifth message) until ``version`` is active."""
        self._until = version

    # -- the stream handler --------------------------------------------------------------------
    async def consume(self, stream: str, message_id: str, raw: str) -> None:
        """The engine stream's handler: one step per message; a message that cannot be parsed or
        attributed goes to the dead letters (and is acked with them)."""
        try:
            await self.handle(stream, message_id, raw)
        except ValidationError as exc:
            await self.dead_letters.add(stream, ENGINE_GROUP, message_id, raw, str(exc))

    async def exhausted(self, stream: str, message_id: str, raw: str | None, deliveries: int) -> None:
        """A message delivered more than the cap: fail its activity with code 999 (never loops); a
        forward that could not be delivered goes to the dead letters (``replay`` sends it again)."""
        reason = f"stream message max delivery count exceeded ({deliveries})"
        try:
            message = msgs.parse(raw or "")
            if message.get("type") == FORWARD:
                raise ValidationError(f"forward to {message.get('to')} not delivered")
            await legs.fail_exhausted(self, message, (stream, ENGINE_GROUP, message_id), reason)
        except Exception as exc:  # noqa: BLE001 - whatever it is, it must not loop
            await self.dead_letters.add(stream, ENGINE_GROUP, message_id, raw, f"{reason}: {exc}")

    async def handle(self, stream: str, message_id: str, raw: str) -> None:
        message = msgs.parse(raw)
        kind = message.get("type")
        self.counts[kind or "reentry"] = self.counts.get(kind or "reentry", 0) + 1
        ack = (stream, ENGINE_GROUP, message_id)
        if self.keys.shards > 1 and kind not in (FORWARD, msgs.AWAIT):
            # (an await runs on its child's shard: ``trigger.start_child`` routes it there)
            jid = message["metadata"].get("jid")
            if isinstance(jid, str) and jid and self.keys.shard_tag(jid) != tag_of(stream):
                # on another shard's stream (added by hand): its step belongs to its job's shard
                await self.store.add_and_ack(self.keys.engine_stream(jid), raw, ack)
                return
        if self.telemetry is not None and kind not in (msgs.AWAIT, FORWARD):   # an await's span: its child's trigger
            await self.telemetry.step(message, kind, self.activity_type(message),
                                      lambda: self._run(kind, message, ack))
        else:
            await self._run(kind, message, ack)

    def activity_type(self, message: dict[str, Any]) -> str:
        """The type of the activity a message is for, as the active version knows it (for metrics)."""
        if message.get("type") == msgs.COMPLETE:
            return "job"
        index = self._apps.get(self._active or "")
        activity = index.app.activities.get(message["metadata"].get("aid", "")) if index else None
        return activity.type if activity is not None else "unknown"

    async def _run(self, kind: str | None, message: dict[str, Any], ack: tuple[str, str, str]) -> None:
        if kind == FORWARD:
            await self.forward(message, ack)
        elif kind == msgs.COMPLETE:
            await self.complete(message, ack)
        elif kind == msgs.AWAIT:
            await trigger.start_child(self, message, ack)
        elif kind == msgs.TRANSITION:
            await legs.leg1(self, message, ack)
        elif kind == msgs.INTERRUPT:
            await control.interrupt_job(self, message["metadata"]["jid"],
                                        control.parse_options(message.get("data")), suppress=True, ack=ack)
        else:
            await legs.leg2(self, message, ack)

    async def forward(self, message: dict[str, Any], ack: tuple[str, str, str]) -> None:
        """Deliver an outbox entry of this shard to its target shard (once: the target's marker),
        then ack it. A crash in between redelivers it; the marker then makes the delivery a no-op."""
        target, op, value = message.get("to"), message.get("op", "xadd"), message.get("value")
        if not (isinstance(target, str) and target.startswith(self.keys.prefix) and op in ("xadd", "rpush", "del")
                and isinstance(value, str)):
            raise ValidationError(f"malformed forward message (to {target!r}, op {op!r})")
        settings = self.settings
        ttl = max(600, 4 * (settings.reclaim_delay_ms // 1000 + 1) * (settings.reclaim_count + 1))
        await self.store.deliver(target, op, value, message["metadata"].get("guid") or "", ttl)
        await self.store.ack(*ack)

    async def respond_here(self, message: dict[str, Any], ack: tuple[str, str, str]) -> bool:
        """Run leg 2 of a worker's response in this process, acking the worker's input inside the
        same atomic step, instead of sending the response through the engine stream: one message,
        one stream read and one step fewer per activity. False (send it the usual way) when this
        engine is throttled or paused, or when the step fails unexpectedly (the engine stream path
        retries it). The worker stream is on the job's shard, so the step stays shard-local."""
        if self.throttled():
            return False
        self.counts["response"] = self.counts.get("response", 0) + 1
        try:
            if self.telemetry is not None:
                await self.telemetry.step(message, msgs.RESPONSE, self.activity_type(message),
                                          lambda: legs.leg2(self, message, ack))
            else:
                await legs.leg2(self, message, ack)
        except Exception:   # noqa: BLE001 - the response then goes the usual way
            log.exception("leg 2 of %s in place failed; sending the response to the engine stream",
                          message["metadata"].get("aid"))
            return False
        return True

    async def index_for_job(self, jid: str) -> AppIndex | None:
        """The compiled app version a job runs under (None when the job is gone)."""
        version = await self.store.read_field(jid, JobFields.meta("vrs"))
        if version is None:
            return None
        return await self.app(version)

    # -- job completion tasks (spec 5.6) -------------------------------------------------------
    async def complete(self, message: dict[str, Any], ack: tuple[str, str, str]) -> None:
        meta = message["metadata"]
        jid = meta["jid"]
        raw = await self.store.read_job(jid)
        if not raw or raw.get(JobFields.meta("gid")) != meta.get("gid"):
            await self.store.ack(*ack)
            return
        output = job_output(raw)
        job_meta = output["metadata"]
        crash_point("complete.before")
        emit = bool(message.get("emit"))
        err = job_meta.get("err")
        commands: list[list[Any]] = []
        if job_meta.get("pj") and job_meta.get("pa") and not job_meta.get("px"):
            if err:
                error = json.loads(err) if isinstance(err, str) else err
                status, code, data = "error", int(error.get("code", 500)), {**error, "job_id": jid}
            elif emit:
                status, code, data = "pending", 202, output.get("data", {})
            else:
                status, code, data = "success", 200, output.get("data", {})
            parent_meta = msgs.metadata(job_meta["pj"], job_meta.get("pg", ""), job_meta.get("pd", ""),
                                        job_meta["pa"], message_guid="R" + meta["guid"][1:],
                                        trc=job_meta.get("trc"), spn=job_meta.get("ps"))
            stream, result = self.store.outbox(ack[0], self.keys.engine_stream(job_meta["pj"]), msgs.build(
                parent_meta, type=msgs.RESULT, data=data, status=status, code=code))
            commands.append(["XADD", stream, "*", "message", result])
        if job_meta.get("ngn"):
            commands.append(["PUBLISH", self.keys.quorum_channel(job_meta["ngn"]),
                             msgs.build({"jid": jid}, type="job", topic=jid, job=output, emit=emit)])
        index = await self.app(job_meta["vrs"])
        graph = index.app.graph_of(job_meta["tpc"])
        if graph.publishes:
            commands.append(["PUBLISH", self.keys.quorum_channel(f"{graph.publishes}.{jid}"),
                             msgs.build({"jid": jid}, type="job", topic=graph.publishes, job=output)])
        expire = message.get("expire")
        if isinstance(expire, int) and expire > 0:
            commands.append(["EXPIRE", self.keys.job(jid), expire])
        commands.append(["XACK", *ack])
        await self.store.redis.transaction(commands)
        crash_point("complete.after")

