"""Small helpers: ids, timestamps, dimensional addresses, waiting on an event.

Glossary (the reference's vocabulary, used across the engine):
``jid`` job id; ``gid`` generation id of a job (guards against a deleted and re-created job id);
``aid`` activity id; ``dad`` dimensional address of an activity execution (``,0,0,1``: one index
per depth, a cycle's pass or a pending response's thread bumps the last index); ``guid`` unique
id of a stream message; ``js`` job status (the semaphore); ``ngn`` the engine guid of a ``pubsub``
caller that waits for the job.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import functools
import os
import queue
import re
import secrets
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

T = TypeVar("T")

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_-"


def guid(size: int = 22) -> str:
    """``H`` + a url-safe random id (the reference's nanoid shape)."""
    return "H" + "".join(_ALPHABET[b & 63] for b in secrets.token_bytes(size))


#: Test hook: shift this process's clock (``HOTMESH_CLOCK_OFFSET_MS``) to prove that nothing that
#: decides *when* (timers, leases) reads it. Only timestamps shown to people use it.
CLOCK_OFFSET_MS = int(os.environ.get("HOTMESH_CLOCK_OFFSET_MS") or 0)


def now_ms() -> int:
    return time.time_ns() // 1_000_000 + CLOCK_OFFSET_MS


def timestamp(ms: int | None = None) -> str:
    """``YYYYMMDDHHmmss.sss`` in UTC (ISO-8601 with ``-``, ``:``, ``T``, ``Z`` removed)."""
    dt = datetime.fromtimestamp((now_ms() if ms is None else ms) / 1000, tz=UTC)
    return dt.strftime("%Y%m%d%H%M%S.") + f"{dt.microsecond // 1000:03d}"


def parse_timestamp(text: str | None) -> int:
    """Milliseconds of a ``timestamp()`` string (0 when missing or malformed)."""
    if not text:
        return 0
    whole, _, frac = text.partition(".")
    seconds = _epoch_seconds(whole)
    if seconds is None:
        return 0
    try:
        return seconds * 1000 + int((frac + "000")[:3] or 0)
    except ValueError:
        return 0


@functools.lru_cache(maxsize=4096)
def _epoch_seconds(whole: str) -> int | None:
    """``YYYYMMDDHHmmss`` (UTC) in seconds; cached: listing many jobs parses the same seconds
    again and again (strptime cost 14 us a call, most of the studio's run index build)."""
    try:
        return int(datetime.strptime(whole, "%Y%m%d%H%M%S").replace(tzinfo=UTC).timestamp())
    except ValueError:
        return None


def time_slice(granularity: str | None, ms: int | None = None) -> str:
    """Stats bucket: ``YYYYMMDDHHmm`` floored to the granularity (``5m`` default, ``Nh``), ``0`` for infinity."""
    if granularity == "infinity":
        return "0"
    g = granularity or "5m"
    unit = g[-1]
    amount = int(g[:-1] or 1)
    dt = datetime.fromtimestamp((now_ms() if ms is None else ms) / 1000, tz=UTC)
    if unit == "h":
        dt = dt.replace(minute=0, hour=dt.hour - dt.hour % amount)
    else:
        dt = dt.replace(minute=dt.minute - dt.minute % amount)
    return dt.strftime("%Y%m%d%H%M")


def parent_dad(dad: str) -> str:
    """``,0,1,0`` -> ``,0,1``."""
    return dad[: dad.rfind(",")]


def dad_at_depth(dad: str, depth: int) -> str:
    """The address prefix with ``depth`` segments; pads with ``,0`` when ``dad`` is shallower."""
    parts = dad.split(",")[1:]
    parts = parts[:depth] + ["0"] * max(0, depth - len(parts))
    return "".join("," + p for p in parts)


def with_index(dad: str, index: int) -> str:
    """Replace the last segment of ``dad`` with ``index``."""
    return f"{parent_dad(dad)},{index}"


async def wait_event(event: asyncio.Event, seconds: float | None) -> bool:
    """Wait for ``event`` up to ``seconds``; True if it was set. (Not ``asyncio.wait_for``: on
    Python 3.11 a cancellation arriving as it times out can be lost, and stop() would hang.)"""
    waiter = asyncio.ensure_future(event.wait())
    try:
        done, _ = await asyncio.wait({waiter}, timeout=seconds)
        return bool(done)
    finally:
        waiter.cancel()


def redact(url: str) -> str:
    """The URL without its password (in the user part or the query), for messages and logs."""
    parts = urlsplit(url)
    if parts.password is not None:
        host = parts.hostname or ""
        netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
        url = urlunsplit(parts._replace(netloc=netloc))
    return re.sub(r"([?&]password=)[^&]*", r"\1***", url)


class DaemonPool:
    """Threads for blocking callables that never hold up the process's exit: daemon threads
    (``asyncio.to_thread``'s pool is joined at exit, so one callback stuck for ever would hang
    it). Up to ``size`` threads, started when needed; ``run`` awaits one call in the caller's
    context (contextvars), like ``asyncio.to_thread``; ``submit`` hands one over from any thread."""

    def __init__(self, size: int, name: str) -> None:
        self.size = max(1, size)
        self.name = name
        self._queue: queue.SimpleQueue[tuple[concurrent.futures.Future[Any], Callable[[], Any]] | None] = \
            queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._busy = 0                  # calls submitted and not finished
        self._lock = threading.Lock()
        self._closed = False

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        context = contextvars.copy_context()
        return await asyncio.wrap_future(self.submit(lambda: context.run(fn, *args)))

    def submit(self, call: Callable[[], T]) -> concurrent.futures.Future[T]:
        """Run ``call`` on a pool thread; called from one of them, it runs at once (a call on a
        one-thread pool that waited for a call of its own would wait for ever)."""
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        if threading.current_thread() in self._threads:
            future.set_running_or_notify_cancel()
            try:
                future.set_result(call())
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                future.set_exception(exc)
            return future
        if self._closed:
            raise RuntimeError(f"{self.name}: the pool is closed")
        with self._lock:
            self._busy += 1
            if self._busy > len(self._threads) and len(self._threads) < self.size:
                thread = threading.Thread(target=self._work, name=f"{self.name} {len(self._threads)}",
                                          daemon=True)
                self._threads.append(thread)
                thread.start()
        self._queue.put((future, call))
        return future

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            future, call = item
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(call())
                except BaseException as exc:  # noqa: BLE001 - handed to the caller
                    future.set_exception(exc)
            with self._lock:
                self._busy -= 1

    def close(self) -> None:
        """No new calls; idle threads end (a stuck one is a daemon: it does not hold the exit up)."""
        self._closed = True
        for _ in self._threads:
            self._queue.put(None)
