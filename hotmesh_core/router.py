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
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .config import Settings
from .types import RedisClient

log = logging.getLogger("hotmesh.router")

Handler = Callable[[str, str, str], Awaitable[None]]          # (stream, id, raw message)
Exhausted = Callable[[str, str, str | None, int], Awaitable[None]]   # (stream, id, raw or None, deliveries)

PAUSED = 2_147_483_647


class Router:
    def __init__(self, client: RedisClient, stream: str, group: str, consumer: str, handler: Handler,
                 settings: Settings, on_exhausted: Exhausted, *, concurrency: int = 32) -> None:
        self.client = client
        self.stream = stream
        self.group = group
        self.consumer = consumer
        self.handler = handler
        self.on_exhausted = on_exhausted
        self.settings = settings
        self.throttle_ms = 0
        self.processed = 0
        self.failed = 0
        self.in_flight = 0
        self._throttle_changed = asyncio.Event()
        self._running = False
        self._tasks: list[asyncio.Task[None]] = []
        self._limit = asyncio.Semaphore(concurrency)
        self._active: set[asyncio.Task[None]] = set()

    async def ensure_group(self) -> None:
        try:
            await self.client.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def start(self) -> None:
        await self.ensure_group()
        self._running = True
        self._tasks = [asyncio.create_task(self._consume(), name=f"consume {self.stream}"),
                       asyncio.create_task(self._reclaim(), name=f"reclaim {self.stream}")]

    async def stop(self, drain_seconds: float = 5.0) -> None:
        """Stop reading, let in-flight messages finish (up to ``drain_seconds``), then cancel."""
        self._running = False
        self._throttle_changed.set()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._active:
            await asyncio.wait(self._active, timeout=drain_seconds)
        for task in list(self._active):
            task.cancel()

    def set_throttle(self, ms: int) -> None:
        self.throttle_ms = ms
        self._throttle_changed.set()

    async def _pause(self) -> None:
        while self._running and self.throttle_ms:
            self._throttle_changed.clear()
            delay = None if self.throttle_ms < 0 or self.throttle_ms >= PAUSED else self.throttle_ms / 1000
            try:
                await asyncio.wait_for(self._throttle_changed.wait(), delay)
            except TimeoutError:
                return

    async def _consume(self) -> None:
        cursor = "0"          # first our own pending entries, then new ones
        backoff = 0.1
        while self._running:
            try:
                await self._pause()
                if not self._running:
                    return
                block = None if cursor == "0" else self.settings.block_time_ms
                reply = await self.client.xreadgroup(self.group, self.consumer, {self.stream: cursor},
                                                     count=self.settings.read_count, block=block)
                backoff = 0.1
                entries = reply[0][1] if reply else []
                if cursor == "0" and not entries:
                    cursor = ">"
                    continue
                for message_id, fields in entries:
                    raw = (fields or {}).get("message")
                    if raw is None:           # deleted while pending: nothing left to do
                        await self._ack(message_id)
                        continue
                    await self._spawn(message_id, raw)
                if cursor == "0" and entries:
                    # advance through our own history: every entry is being handled now
                    cursor = entries[-1][0]
            except asyncio.CancelledError:
                raise
            except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
                log.warning("redis unavailable on %s (%s); retrying in %.1fs", self.stream, exc, backoff)
                await asyncio.sleep(backoff + random.random() * backoff)
                backoff = min(backoff * 2, 5.0)
            except ResponseError as exc:
                if "NOGROUP" in str(exc):
                    await self.ensure_group()
                    continue
                log.exception("stream read failed on %s", self.stream)
                await asyncio.sleep(backoff)

    async def _spawn(self, message_id: str, raw: str) -> None:
        await self._limit.acquire()
        task = asyncio.create_task(self._run(message_id, raw))
        self._active.add(task)
        task.add_done_callback(self._active.discard)

    async def _run(self, message_id: str, raw: str) -> None:
        self.in_flight += 1
        try:
            await self.handler(self.stream, message_id, raw)
            self.processed += 1
        except asyncio.CancelledError:
            raise
        except Exception:
            self.failed += 1
            log.exception("message %s on %s failed; it stays pending for reclaim", message_id, self.stream)
        finally:
            self.in_flight -= 1
            self._limit.release()

    async def _ack(self, message_id: str) -> None:
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.xack(self.stream, self.group, message_id)
            pipe.xdel(self.stream, message_id)
            await pipe.execute()

    async def _reclaim(self) -> None:
        interval = self.settings.reclaim_interval_ms / 1000
        while self._running:
            await asyncio.sleep(interval * (0.75 + random.random() / 2))
            try:
                await self.reclaim_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the next round tries again
                log.warning("reclaim on %s failed: %s", self.stream, exc)

    async def reclaim_once(self) -> int:
        """Claim entries idle longer than the reclaim delay; fail those past the delivery cap."""
        idle = self.settings.reclaim_delay_ms
        pending = await self.client.xpending_range(self.stream, self.group, min="-", max="+",
                                                   count=100, idle=idle)
        claimed = 0
        for entry in pending:
            message_id = entry["message_id"]
            deliveries = int(entry["times_delivered"])
            got = await self.client.xclaim(self.stream, self.group, self.consumer, idle, [message_id])
            if not got:
                continue          # another consumer claimed it first, or it was acked meanwhile
            _, fields = got[0]
            raw = (fields or {}).get("message")
            if raw is None:
                await self._ack(message_id)
                continue
            claimed += 1
            if deliveries >= self.settings.reclaim_count + 1:
                await self.on_exhausted(self.stream, message_id, raw, deliveries)
            else:
                await self._spawn(message_id, raw)
        return claimed
