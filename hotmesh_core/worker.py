"""Workers: user callbacks bound to a stream topic (spec 2.4 worker, 5.8).

Delivery contract: a callback runs AT LEAST once per dispatched activity. After a crash or a
stall longer than the reclaim delay, the same message (same ``metadata.guid``) is delivered
again, so side effects must be idempotent; ``message.idempotency_key`` names the execution.
The response and the ack of the input are one script (``streams.Forwarder``): a response is never
sent twice for one delivery, and an acked input always has its response in the engine stream.
In a process that is also an engine, the response does not travel: leg 2 of the activity runs
right here and acks the input in its own atomic step (``Engine.respond_here``, handed to the
runner as its ``respond_here`` callable).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from . import messages as msgs
from .deadletters import DeadLetters
from .errors import HotMeshError, ValidationError
from .faults import crash_point
from .keys import WORKER_GROUP, check_id
from .protocols import Host, RespondHere
from .router import while_redis_full
from .serializer import dumps
from .streams import Forwarder
from .util import DaemonPool, guid

log = logging.getLogger("hotmesh.worker")


@dataclass(frozen=True)
class WorkerMessage:
    """What a callback receives: ``data`` (the activity's mapped input) and ``metadata``."""

    metadata: dict[str, Any]
    data: dict[str, Any]
    policies: dict[str, Any] = field(default_factory=dict)

    @property
    def idempotency_key(self) -> str:
        m = self.metadata
        return f"{m.get('jid')}:{m.get('aid')}:{m.get('dad')}:{m.get('guid')}"


@dataclass(frozen=True)
class WorkerResponse:
    """A callback's explicit answer: ``status`` success | pending | error, a ``code`` and ``data``."""

    data: dict[str, Any] = field(default_factory=dict)
    status: str = "success"
    code: int = 200


#: Return this from a callback to leave its activity open on purpose: no response is sent now, and a
#: later one (``HotMesh.add`` with the message's ``jid``/``aid``/``dad``) completes it
PARK = WorkerResponse(status="park", code=202)

#: The code of a callback that returned ``None`` (an error: see ``PARK``)
NO_RESULT_CODE = 500

#: The code of a callback run that outlived its worker's ``timeout`` (an activity's ``retry:
#: { '504': [n] }`` runs it again)
TIMEOUT_CODE = 504

Callback = Callable[[WorkerMessage], Any | Awaitable[Any]]


@dataclass
class Worker:
    topic: str
    callback: Callback
    concurrency: int = 32
    #: seconds one callback run may take; past it the run fails with ``TIMEOUT_CODE`` (504), which
    #: the activity's retry policy can retry. ``None``: no limit. A plain ``def`` callback's thread
    #: cannot be stopped: it runs on in the background and its result is dropped
    timeout: float | None = None

    def __post_init__(self) -> None:
        check_id("worker topic", self.topic)
        if self.timeout is not None and not self.timeout > 0:
            raise ValidationError(f"worker '{self.topic}': timeout must be a number of seconds above 0, "
                                  f"not {self.timeout!r}")


def _retry_delay_ms(attempt: int) -> int:
    return int(10 ** (min(attempt, 3) + 1))      # the reference's backoff: 10, 100, 1000 ms


class WorkerRunner:
    """Runs one Worker's callback for each message of its stream.

    ``respond_here`` (when given) is offered each reply first: True when it handled the reply in
    this process (``Engine.respond_here``); otherwise the reply goes to the engine stream."""

    def __init__(self, hm: Host, worker: Worker, respond_here: RespondHere | None = None) -> None:
        self.hm = hm
        self.worker = worker
        self.respond_here = respond_here
        every = hm.keys.worker_streams(worker.topic)           # one per shard (keys.py)
        self.streams = [every[n] for n in hm.keys.consumed(hm.settings.consume_shards)]
        self.counts: dict[int, int] = {}
        self.forwarder = Forwarder(hm.store.redis)
        telemetry = hm.telemetry
        self.dead_letters = DeadLetters(hm.store.redis, hm.keys, counted=None if telemetry is None
                                        else lambda: telemetry.dead_letter("worker"))
        self._threads = DaemonPool(worker.concurrency, f"hotmesh worker {worker.topic}")
        callback = worker.callback
        #: an ``async def`` (or an object whose ``__call__`` is one) runs on the loop; asked once here,
        #: not per message
        self._on_loop = inspect.iscoroutinefunction(callback) or \
            inspect.iscoroutinefunction(type(callback).__call__)

    def close(self) -> None:
        """Stop taking calls (``HotMesh.stop``); a callback thread still running is left to end."""
        self._threads.close()

    async def handle(self, stream: str, message_id: str, raw: str) -> None:
        message = msgs.parse(raw)
        meta = dict(message["metadata"])
        data = message.get("data") or {}
        policies = message.get("policies") or {}
        telemetry = self.hm.telemetry
        if telemetry is None:
            status, code, out = await self._call(WorkerMessage(meta, data, policies))
        else:
            status, code, out = await telemetry.work(self.worker.topic, meta,
                                                     lambda: self._call(WorkerMessage(meta, data, policies)))
        if out is None and status == "none":
            await self.hm.store.ack(stream, WORKER_GROUP, message_id)
            return
        if status == "error":
            retry = (policies.get("retry") or {}).get(str(code))
            attempt = int(meta.get("try") or 0)
            if retry and int(retry[0]) > attempt:
                await asyncio.sleep(_retry_delay_ms(attempt) / 1000)
                again = {**message, "metadata": {**meta, "try": attempt + 1}}
                await self.hm.store.add_and_ack(stream, dumps(again), (stream, WORKER_GROUP, message_id))
                return
        self.counts[code] = self.counts.get(code, 0) + 1
        reply_meta = {**meta, "guid": guid()}
        carried = {"c": message["c"]} if "c" in message else {}   # the engine's state, echoed (steps.carry)
        crash_point("worker.before_reply")

        async def reply() -> None:
            if self.respond_here is not None and await self.respond_here(
                    {"metadata": reply_meta, "type": msgs.RESPONSE, "data": out, "status": status, "code": code,
                     **carried}, (stream, WORKER_GROUP, message_id)):
                return
            # the job's engine stream is on the worker stream's shard: one shard-local script
            await self.forwarder.forward(self.hm.keys.engine_stream(meta.get("jid")), msgs.build(
                reply_meta, type=msgs.RESPONSE, data=out, status=status, code=code, **carried),
                stream, WORKER_GROUP, message_id)
        # a full Redis refuses the reply: it waits here (stop cancels the wait), so the callback
        # is not run again
        await while_redis_full(reply, lambda: True, f"the reply of worker '{self.worker.topic}'")
        crash_point("worker.after_reply")

    async def exhausted(self, stream: str, message_id: str, raw: str | None, deliveries: int) -> None:
        """A message delivered more than the cap: its activity fails with code 999 (the reply goes
        to the engine); one that cannot even be parsed goes to the dead letters."""
        try:
            message = msgs.parse(raw or "")
        except ValidationError as exc:
            await self.dead_letters.add(stream, WORKER_GROUP, message_id, raw, str(exc))
            return
        meta = {**message["metadata"], "guid": guid()}
        error = {"message": "stream message max delivery count exceeded", "code": 999}
        reply = msgs.build(meta, type=msgs.RESPONSE, data=error, status="error", code=999)
        await self.hm.store.add_and_ack(self.hm.keys.engine_stream(meta.get("jid")), reply,
                                        (stream, WORKER_GROUP, message_id))

    async def _run_callback(self, message: WorkerMessage) -> Any:
        callback = self.worker.callback
        if self._on_loop:
            result = await callback(message)
        else:   # a sync callback runs in a thread so it never blocks the event loop
            result = await self._threads.run(callback, message)
        if inspect.isawaitable(result):
            result = await result
        return result

    async def _call(self, message: WorkerMessage) -> tuple[str, int, Any]:
        limit = None if self.worker.timeout is None else asyncio.timeout(self.worker.timeout)
        try:
            if limit is None:
                result = await self._run_callback(message)
            else:
                async with limit:
                    result = await self._run_callback(message)
        except HotMeshError as exc:
            return _failed(exc.code, exc.message)
        except Exception as exc:
            if isinstance(exc, TimeoutError) and limit is not None and limit.expired():
                return _failed(TIMEOUT_CODE, f"the callback of worker '{self.worker.topic}' outlived its "
                                             f"timeout of {self.worker.timeout:g} s", "WorkerTimeout")
            return _failed(500, str(exc) or type(exc).__name__, type(exc).__name__)
        if result is None:
            text = (f"the callback of worker '{self.worker.topic}' returned None: return its output (a dict), "
                    "a WorkerResponse, or hotmesh_core.PARK to leave the activity open for a later response")
            log.warning("%s", text)
            return _failed(NO_RESULT_CODE, text, "NoResult")
        status, code, data = _normalize(result)
        if status == "none":
            return status, code, None
        try:
            msgs.check_size(f"output of worker '{self.worker.topic}'", data, self.hm.settings.max_payload_bytes)
        except HotMeshError as exc:   # too large or not JSON: the job fails with why, nothing else is written
            return _failed(exc.code, exc.message)
        if status == "error" and isinstance(data, dict):
            data = {"message": data.get("message", "error"), "code": code, **data}
        return status, code, data


def _failed(code: int, message: str, name: str | None = None) -> tuple[str, int, dict[str, Any]]:
    """A callback run that failed: the error response its activity receives."""
    return "error", code, {"message": message, "code": code, **({"name": name} if name else {})}


def _normalize(result: Any) -> tuple[str, int, Any]:
    if isinstance(result, WorkerResponse) and result.status == "park":
        return "none", 200, None
    if isinstance(result, WorkerResponse):
        return result.status, int(result.code), result.data
    if isinstance(result, dict) and ("status" in result or "code" in result) and "data" in result:
        status = result.get("status") or "success"
        code = int(result.get("code") or (500 if status == "error" else 202 if status == "pending" else 200))
        return status, code, result.get("data") or {}
    if isinstance(result, dict) and set(result) == {"data"}:
        return "success", 200, result["data"] or {}
    if isinstance(result, dict):
        return "success", 200, result
    return "success", 200, {"value": result}
