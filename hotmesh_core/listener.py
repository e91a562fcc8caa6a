"""The pub/sub side of one HotMesh instance (one ``seam.Subscriber`` connection).

It hears: the outcomes of the jobs its ``pubsub`` callers wait for (``hmsh:<app>:q:<guid>``), the
quorum's control messages (``hmsh:<app>:q:``, handed to ``on_quorum``), job outcomes for ``sub`` /
``psub`` callbacks (``hmsh:<app>:q:<topic>``), and, when asked, the live activity events of the
app's jobs (``hmsh:<app>:e:*``). Notifications are best effort: a caller that misses its outcome
has its job read while it waits (``Listener._sweep``, from ``RECHECK_AFTER_SECONDS`` on) and again
when its timeout passes (``HotMesh.pubsub``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from .context import job_output
from .errors import ConnectionLostError, HotMeshError
from .keys import Keys
from .seam import Subscriber

log = logging.getLogger("hotmesh.listener")

#: ``callback(topic, job_output)`` for a job outcome (``sub`` / ``psub``); may be a coroutine
SubCallback = Callable[[str, dict[str, Any]], Any]
#: ``callback(event)`` for one live activity event (see ``Engine.event``)
EventCallback = Callable[[dict[str, Any]], Any]


def published_job(body: dict[str, Any]) -> dict[str, Any]:
    """A published outcome: the completion step sends ``job``; a completing step sends the raw
    metadata and data fields (``raw``), read inside its script."""
    if "raw" in body:
        return job_output(body["raw"])
    job: dict[str, Any] = body.get("job", {})
    return job


def _json(data: str) -> dict[str, Any] | None:
    try:
        body = json.loads(data)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


class Listener:
    #: a pubsub caller waiting longer than this (seconds) has its job read every ``RECHECK_SECONDS``:
    #: pub/sub delivers at most once (a reconnect, a slow subscriber, a dropped message), so a
    #: caller whose notification was lost still gets the outcome while the job hash exists
    RECHECK_AFTER_SECONDS = 1.0
    RECHECK_SECONDS = 0.5

    def __init__(self, subscriber: Subscriber, keys: Keys, guid: str,
                 on_quorum: Callable[[dict[str, Any]], Awaitable[None]],
                 finished: Callable[[list[str]], Awaitable[dict[str, dict[str, Any]]]] | None = None,
                 give_up_seconds: float = 30.0) -> None:
        self.subscriber = subscriber
        self.keys = keys
        self.guid = guid
        self.on_quorum = on_quorum
        self.finished = finished
        self.give_up_seconds = give_up_seconds   # a pub/sub connection down this long fails the callers
        self.rechecked = 0      # outcomes found by reading the job, not by a notification
        self._waiters: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._since: dict[str, float] = {}
        self._sweeper: asyncio.Task[None] | None = None
        self._callbacks: set[asyncio.Task[Any]] = set()
        self._event_callbacks: list[EventCallback] = []

    async def start(self) -> None:
        await self.subscriber.subscribe(self.keys.quorum_channel(self.guid), self._on_own)
        await self.subscriber.subscribe(self.keys.quorum_channel(), self._on_quorum)

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for future in self._waiters.values():
            future.cancel()
        for task in list(self._callbacks):
            task.cancel()
        await self.subscriber.close()

    @property
    def generation(self) -> int:
        """Grows at every reconnect: notifications published meanwhile were lost."""
        return self.subscriber.generation

    # -- pubsub callers ------------------------------------------------------------------------
    def expect(self, jid: str) -> asyncio.Future[dict[str, Any]]:
        """A future for the outcome of job ``jid`` (published to this instance by its last step)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[dict[str, Any]] = loop.create_future()
        self._waiters[jid] = future
        self._since[jid] = loop.time()
        if self.finished is not None and (self._sweeper is None or self._sweeper.done()):
            self._sweeper = loop.create_task(self._sweep(), name="hotmesh pubsub recheck")
        return future

    def forget(self, jid: str) -> None:
        self._waiters.pop(jid, None)
        self._since.pop(jid, None)

    def _fail_all(self, error: Exception) -> None:
        for future in self._waiters.values():
            if not future.done():
                future.set_exception(error)

    async def _sweep(self) -> None:
        """While callers wait, read the jobs of those waiting longer than ``RECHECK_AFTER_SECONDS``
        (one round trip for all of them) and hand over the outcomes of the finished ones."""
        assert self.finished is not None
        loop = asyncio.get_running_loop()
        while self._waiters:
            await asyncio.sleep(self.RECHECK_SECONDS)
            down_since = self.subscriber.down_since
            if down_since is not None and time.monotonic() - down_since > self.give_up_seconds:
                self._fail_all(ConnectionLostError(
                    f"the pub/sub connection to redis has been down for over {self.give_up_seconds:g} s "
                    "(HMSH_RECONNECT_SECONDS); the job may still finish: read it with get_state"))
                continue
            cutoff = loop.time() - self.RECHECK_AFTER_SECONDS
            due = [jid for jid, since in self._since.items() if since <= cutoff]
            if not due:
                continue
            try:
                async with asyncio.timeout(4 * self.RECHECK_SECONDS):   # not the Wire's reconnect budget
                    outcomes = await self.finished(due)
            except (HotMeshError, TimeoutError) as exc:      # redis away: checked again next round
                log.debug("pubsub recheck failed: %s", exc)
                continue
            for jid, output in outcomes.items():
                future = self._waiters.get(jid)
                if future is not None and not future.done():
                    self.rechecked += 1
                    future.set_result(output)

    def _on_own(self, channel: str, data: str) -> None:
        body = _json(data)
        if body is not None and body.get("type") == "job":
            future = self._waiters.get(body.get("topic", ""))
            if future and not future.done():
                future.set_result(published_job(body))

    async def _on_quorum(self, channel: str, data: str) -> None:
        body = _json(data)
        if body is not None:
            await self.on_quorum(body)

    # -- sub / psub ----------------------------------------------------------------------------
    async def sub(self, topic: str, callback: SubCallback) -> None:
        await self.subscriber.subscribe(self.keys.quorum_channel(topic), self._job_handler(callback))

    async def unsub(self, topic: str) -> None:
        await self.subscriber.unsubscribe(self.keys.quorum_channel(topic))

    async def psub(self, pattern: str, callback: SubCallback) -> None:
        await self.subscriber.psubscribe(self.keys.quorum_channel(pattern), self._job_handler(callback))

    async def punsub(self, pattern: str) -> None:
        await self.subscriber.punsubscribe(self.keys.quorum_channel(pattern))

    def _job_handler(self, callback: SubCallback) -> Callable[[str, str], None]:
        def handle(channel: str, data: str) -> None:
            body = _json(data)
            if body is None or body.get("type") != "job":
                return
            self._spawn(callback(body.get("topic", ""), published_job(body)))
        return handle

    def _spawn(self, result: Any) -> None:
        """A callback's coroutine runs on its own, so a slow one never holds the others up."""
        if asyncio.iscoroutine(result):
            task = asyncio.ensure_future(result)
            self._callbacks.add(task)
            task.add_done_callback(self._callbacks.discard)

    # -- live activity events ------------------------------------------------------------------
    async def listen_events(self, callback: EventCallback) -> Callable[[], Awaitable[None]]:
        """Call ``callback(event)`` for every live activity event of the app's jobs; returns the
        function that stops it. Engines publish them only while someone watches (``HotMesh.watch``)."""
        self._event_callbacks.append(callback)
        if len(self._event_callbacks) == 1:
            await self.subscriber.subscribe(self.keys.events_channel(), self._on_event)

        async def stop() -> None:
            if callback in self._event_callbacks:
                self._event_callbacks.remove(callback)
                if not self._event_callbacks:
                    await self.subscriber.unsubscribe(self.keys.events_channel())
        return stop

    def _on_event(self, channel: str, data: str) -> None:
        event = _json(data)
        if event is None:
            return
        for callback in list(self._event_callbacks):
            try:
                self._spawn(callback(event))
            except Exception:  # noqa: BLE001 - one bad viewer must not stop the others
                log.exception("live event callback failed")
