"""Stream consumption for engines and workers (spec 5.8): read, hand off, reclaim, throttle.

A ``Router`` owns one consumer in one consumer group. It first re-reads its own pending entries
(``0``; a restarted consumer finishes what it had), then new ones (``>``), ``read_count`` at a time,
and hands each entry to the handler, which acks it inside its own atomic step. A handler that
raises leaves the entry pending; the reclaim loop (XPENDING with IDLE, then XCLAIM, which only
succeeds for one claimer) retries it elsewhere until the delivery cap, then ``on_exhausted`` fails
it (code 999) so a poison message never loops.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from .config import PAUSED, Settings
from .errors import (
    ConnectionLostError,
    RedisAuthError,
    RedisCommandError,
    RedisOutOfMemoryError,
    RedisTimeoutError,
    StaleReadError,
)
from .seam import FENCE, Redis, pairs
from .streams import ensure_group, trim
from .tracing import DELIVERIES
from .util import wait_event

log = logging.getLogger("hotmesh.router")

T = TypeVar("T")

Handler = Callable[[str, str, str], Awaitable[None]]          # (stream, id, raw message)
Exhausted = Callable[[str, str, str | None, int], Awaitable[None]]   # (stream, id, raw or None, deliveries)

#: a busy consumer trims its stream after this many messages (see ``_trim``)
TRIM_BATCH = 500
#: an idle consumer's blocking read doubles from ``block_time_ms`` up to this (idle cost, not latency:
#: a message that arrives ends the block at once)
IDLE_BLOCK_MS = 60_000


async def while_redis_full(call: Callable[[], Awaitable[T]], running: Callable[[], bool], what: str,
                           on_wait: Callable[[], None] = lambda: None) -> T:
    """``call()``, again with backoff (50 ms doubling to 2 s) for as long as Redis answers that
    it is out of memory (``maxmemory``, noeviction) and ``running()`` holds; a warning every
    100 waits says what waits."""
    backoff, waits = 0.05, 0
    while True:
        try:
            return await call()
        except RedisOutOfMemoryError:
            if not running():
                raise
            on_wait()
            if waits % 100 == 0:
                log.warning("redis is out of memory (maxmemory): %s waits and is tried again; free memory "
                            "or raise maxmemory", what)
            waits += 1
            await asyncio.sleep(backoff * (0.5 + random.random()))
            backoff = min(backoff * 2, 2.0)


class Router:
    def __init__(self, redis: Redis, stream: str, group: str, consumer: str, handler: Handler,
                 settings: Settings, on_exhausted: Exhausted, *, concurrency: int = 32) -> None:
        self.redis = redis            # the process's connection (acks, heartbeats, trims, reclaims)
        # a connection of its own for the blocking reads, so they never delay the steps
        self.reader = redis.blocking(max(settings.block_time_ms, IDLE_BLOCK_MS) / 1000 + 5)
        self.stream = stream
        self.group = group
        self.consumer = consumer
        self.handler = handler
        self.on_exhausted = on_exhausted
        self.settings = settings
        self.throttle_ms = 0
        self.processed = 0
        self.failed = 0
        self.stale = 0                  # messages read before a reconnect, left for redelivery (seam.FENCE)
        self.memory_waits = 0          # handler runs refused by a full Redis, tried again here
        self.in_flight = 0
        self._throttle_changed = asyncio.Event()
        self._running = False
        self._tasks: list[asyncio.Task[None]] = []
        self.concurrency = concurrency
        self._limit = asyncio.Semaphore(concurrency)
        self._slot_freed = asyncio.Event()
        self._holding: set[str] = set()     # ids being handled here: the heartbeat keeps them ours
        self._active: set[asyncio.Task[None]] = set()
        self._trimmed_at = 0              # ``processed`` when the stream was last trimmed

    async def ensure_group(self) -> None:
        await ensure_group(self.redis, self.stream, self.group)

    async def start(self) -> None:
        await self.ensure_group()
        self._running = True
        self._tasks = [asyncio.create_task(self._consume(), name=f"consume {self.stream}"),
                       asyncio.create_task(self._reclaim(), name=f"reclaim {self.stream}"),
                       asyncio.create_task(self._heartbeat(), name=f"heartbeat {self.stream}"),
                       asyncio.create_task(self._trim(), name=f"trim {self.stream}")]

    async def stop(self, drain_seconds: float = 5.0) -> None:
        """Stop reading, let in-flight messages finish (up to ``drain_seconds``), then cancel them
        (they stay pending in the stream and are reclaimed elsewhere). Returns within about
        ``drain_seconds`` + 1 s whatever the handlers do."""
        self._running = False
        self._throttle_changed.set()
        self._slot_freed.set()
        for task in self._tasks:
            task.cancel()
        await self.reader.close()            # a blocked read ends now, not when its BLOCK runs out
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=1)
        if self._active:
            await asyncio.wait(self._active, timeout=drain_seconds)
        for task in list(self._active):
            task.cancel()
        if self._active:
            await asyncio.wait(self._active, timeout=1)

    def set_throttle(self, ms: int) -> None:
        self.throttle_ms = ms
        self._throttle_changed.set()

    async def _pause(self) -> None:
        while self._running and self.throttle_ms:
            self._throttle_changed.clear()
            delay = None if self.throttle_ms < 0 or self.throttle_ms >= PAUSED else self.throttle_ms / 1000
            if not await wait_event(self._throttle_changed, delay):
                return

    async def _consume(self) -> None:
        cursor = "0"          # first our own pending entries, then new ones
        backoff = 0.1
        block_ms = self.settings.block_time_ms
        task = asyncio.current_task()
        while self._running:
            if task is not None and task.cancelling():
                raise asyncio.CancelledError   # a cancel swallowed below (asyncio) still ends the loop
            try:
                await self._pause()
                if not self._running:
                    return
                # read no more than we can start now: an entry waiting here for a free slot would
                # age towards the reclaim delay and be taken (and run twice) by another consumer
                while self.in_flight >= self.concurrency:
                    self._slot_freed.clear()
                    await self._slot_freed.wait()
                room = min(self.settings.read_count, self.concurrency - self.in_flight)
                block = None if cursor == "0" else block_ms
                entries = await self._read(cursor, room, block)
                epoch = self.redis.fence(self.stream)     # the fence of what was just read (seam.FENCE)
                backoff = 0.1
                # idle: block longer next time (fewer empty reads); busy: back to the setting
                block_ms = self.settings.block_time_ms if entries else min(block_ms * 2, IDLE_BLOCK_MS)
                if cursor == "0" and not entries:
                    cursor = ">"
                    continue
                if entries and self.throttle_ms:
                    # throttled or paused while the read was blocked: hold what arrived (the
                    # heartbeat keeps it ours) until the throttle lets us go on
                    self._holding.update(message_id for message_id, _ in entries)
                    await self._pause()
                for message_id, fields in entries:
                    raw = (fields or {}).get("message")
                    if raw is None:           # deleted while pending: nothing left to do
                        await self._ack(message_id)
                        continue
                    await self._spawn(message_id, raw, 1, epoch)
                if cursor == "0" and entries:
                    # advance through our own history: every entry is being handled now
                    cursor = entries[-1][0]
            except asyncio.CancelledError:
                raise
            except (ConnectionLostError, RedisTimeoutError, RedisAuthError) as exc:
                log.warning("redis unavailable on %s (%s); retrying in %.1fs", self.stream, exc, backoff)
                await asyncio.sleep(backoff + random.random() * backoff)
                backoff = min(backoff * 2, 5.0)
            except RedisCommandError as exc:
                if exc.kind == "NOGROUP":
                    await self.ensure_group()
                    continue
                log.exception("stream read failed on %s", self.stream)
                await asyncio.sleep(backoff)

    async def _read(self, cursor: str, count: int, block: int | None) -> list[tuple[str, dict[str, str] | None]]:
        """One XREADGROUP: ``(id, fields)`` pairs (fields None or empty for an entry deleted while pending)."""
        args: list[Any] = ["XREADGROUP", "GROUP", self.group, self.consumer, "COUNT", count]
        if block is not None:
            args += ["BLOCK", block]
        reply = await self.reader.call(*args, "STREAMS", self.stream, cursor)
        if not reply:
            return []
        return [(message_id, pairs(values) if values else None) for message_id, values in reply[0][1]]

    async def _spawn(self, message_id: str, raw: str, deliveries: int, epoch: int) -> None:
        self.in_flight += 1
        self._holding.add(message_id)
        await self._limit.acquire()
        task = asyncio.create_task(self._run(message_id, raw, deliveries, epoch))
        self._active.add(task)
        task.add_done_callback(self._active.discard)

    async def _run(self, message_id: str, raw: str, deliveries: int, epoch: int) -> None:
        if epoch:
            # this task's writes go only to the Redis that delivered the message (seam.FENCE)
            FENCE.set((self.redis, epoch))
        if deliveries > 1:
            DELIVERIES.set(deliveries)    # this task's own context: tracing sees a redelivery
        try:
            await self._handle_until_memory(message_id, raw)
            self.processed += 1
        except asyncio.CancelledError:
            raise
        except StaleReadError as exc:
            self.stale += 1
            log.warning("message %s on %s: %s", message_id, self.stream, exc)
        except Exception:
            self.failed += 1
            log.exception("message %s on %s failed; it stays pending for reclaim", message_id, self.stream)
        finally:
            self.in_flight -= 1
            self._holding.discard(message_id)
            self._limit.release()
            self._slot_freed.set()

    async def _handle_until_memory(self, message_id: str, raw: str) -> None:
        """Run the handler; while Redis refuses writes for want of memory, run it again here (a
        refused step wrote nothing; the message stays ours, kept by the heartbeat) instead of
        leaving it to reclaim, so a full Redis delays the work but never counts against the
        delivery cap that turns poison into code 999."""
        def note() -> None:
            self.memory_waits += 1
        await while_redis_full(lambda: self.handler(self.stream, message_id, raw), lambda: self._running,
                               f"message {message_id} on {self.stream}", note)

    async def _ack(self, message_id: str) -> None:
        await self.redis.call("XACK", self.stream, self.group, message_id)

    async def _trim(self) -> None:
        """Drop acked entries in bulk: after every ``TRIM_BATCH`` messages handled here, and at
        least every ``trim_interval_ms`` while there were any (idle streams cost nothing)."""
        interval = self.settings.trim_interval_ms / 1000
        last = time.monotonic()
        while self._running:
            await asyncio.sleep(min(0.1, interval))
            handled = self.processed - self._trimmed_at
            if handled <= 0 or (handled < TRIM_BATCH and time.monotonic() - last < interval):
                continue
            try:
                self._trimmed_at, last = self.processed, time.monotonic()
                await trim(self.redis, self.stream)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the next round tries again
                log.debug("trim of %s failed: %s", self.stream, exc)

    async def _heartbeat(self) -> None:
        """Keep the entries we are still working on from looking stalled (XCLAIM JUSTID to
        ourselves resets their idle time without counting a delivery), so a slow but live
        consumer is not robbed and its work is not run twice."""
        interval = max(0.1, self.settings.reclaim_delay_ms / 3000)
        while self._running:
            await asyncio.sleep(interval)
            held = list(self._holding)
            if not held:
                continue
            try:
                await self.redis.call("XCLAIM", self.stream, self.group, self.consumer, 0, *held, "JUSTID")
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the next beat tries again
                log.debug("heartbeat on %s failed: %s", self.stream, exc)

    async def _reclaim(self) -> None:
        """Reclaim every ``reclaim_interval_ms``; while this consumer is idle and the last round
        found nothing, every ``reclaim_delay_ms`` instead (an entry stalled then waits at most
        twice the delay, and an idle process costs a command a minute, not two)."""
        interval = self.settings.reclaim_interval_ms / 1000
        idle_interval = max(interval, self.settings.reclaim_delay_ms / 1000)
        found, seen = 1, -1
        while self._running:
            idle = found == 0 and self.processed == seen
            seen = self.processed
            await asyncio.sleep((idle_interval if idle else interval) * (0.75 + random.random() / 2))
            try:
                found = await self.reclaim_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the next round tries again
                log.warning("reclaim on %s failed: %s", self.stream, exc)

    async def reclaim_once(self) -> int:
        """XAUTOCLAIM entries idle longer than the reclaim delay; fail those past the delivery cap.

        XAUTOCLAIM only claims an entry whose idle time exceeds the threshold and resets it, so two
        consumers never both take one. Its delivery counter (read back with XPENDING) bounds retries.
        """
        idle = self.settings.reclaim_delay_ms
        cursor = "0-0"
        claimed = 0
        while True:
            reply = await self.redis.call("XAUTOCLAIM", self.stream, self.group, self.consumer, idle, cursor,
                                          "COUNT", 100)
            cursor, entries = reply[0], reply[1]
            epoch = self.redis.fence(self.stream)
            live = [(message_id, pairs(values)) for message_id, values in entries if values]
            for message_id, values in entries:
                if not values:             # deleted from the stream while pending (Redis 6.2)
                    await self._ack(message_id)
            if live:
                pending = await self.redis.call("XPENDING", self.stream, self.group, live[0][0], live[-1][0],
                                                len(live) * 4, self.consumer)
                deliveries = {p[0]: int(p[3]) for p in pending}
                for message_id, fields in live:
                    raw = fields.get("message")
                    if raw is None:
                        await self._ack(message_id)
                        continue
                    claimed += 1
                    count = deliveries.get(message_id, 1)
                    if count > self.settings.reclaim_count + 1:
                        await self.on_exhausted(self.stream, message_id, raw, count)
                    else:
                        await self._spawn(message_id, raw, count, epoch)
            if cursor == "0-0":
                return claimed
