"""One multiplexed Redis connection for the engine's hot path (steps, reads, acks, replies).

Every engine step is a few commands; with redis-py's pool each one checks a connection out,
writes, waits under a timeout and checks it back in, and that bookkeeping cost more CPU than the
step's own work (profile in bench/README.md). A ``Wire`` instead keeps ONE socket per process:
callers queue commands, the commands queued during one event-loop turn go out in one write
(they are pipelined, so concurrent steps share round trips), and replies are matched to callers
in order (Redis answers a connection's commands in the order it received them). Parsing is
hiredis'. This is what ioredis (the reference's client) does on Node.

Only non-blocking commands go here; blocking reads keep their own connections (``connection``).

Failure handling matches the redis-py clients of this package: a command whose connection
breaks is retried on a new connection (backoff 50 ms doubling to 2 s, 20 times), then raises
``redis.exceptions.ConnectionError``. A step re-sent after a lost reply is caught by its guards
(ledger, creation, guid). A connection on which the oldest command has waited ``timeout``
seconds is closed (a hung server must not hang every step), failing what was in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections import deque
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

import hiredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

RETRIES = 20


class _Protocol(asyncio.Protocol):
    def __init__(self, wire: Wire) -> None:
        self.wire = wire
        self.reader = hiredis.Reader(encoding="utf-8", replyError=ResponseError)
        self.transport: asyncio.Transport | None = None
        self.waiting: deque[tuple[asyncio.Future[Any], float]] = deque()
        self.buffer: list[bytes] = []          # commands of this loop turn, written together
        self.flush_scheduled = False
        self.closed = False

    def queue(self, args: tuple[Any, ...]) -> asyncio.Future[Any]:
        """Queue one command: it goes out with the others of this loop turn, in one write."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.buffer.append(hiredis.pack_command(args))
        self.waiting.append((future, time.monotonic()))
        Wire.commands += 1
        if not self.flush_scheduled:
            self.flush_scheduled = True
            asyncio.get_running_loop().call_soon(self.flush)
        return future

    def flush(self) -> None:
        self.flush_scheduled = False
        if not self.buffer:
            return
        data = b"".join(self.buffer) if len(self.buffer) > 1 else self.buffer[0]
        self.buffer.clear()
        if self.closed or self.transport is None:
            return                             # lost meanwhile: its callers already failed
        Wire.writes += 1
        self.transport.write(data)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        waiting = self.waiting
        while True:
            try:
                reply = self.reader.gets()
            except hiredis.ProtocolError as exc:
                self._fail(RedisConnectionError(f"protocol error from redis: {exc}"))
                if self.transport is not None:
                    self.transport.abort()
                return
            if reply is False:
                return
            if not waiting:
                continue                       # cannot happen: a reply nobody asked for
            future, _ = waiting.popleft()
            if future.done():                  # the caller was cancelled
                continue
            if isinstance(reply, ResponseError):
                message = str(reply)
                future.set_exception(NoScriptError(message) if message.startswith("NOSCRIPT")
                                     else ResponseError(message))
            else:
                future.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(RedisConnectionError(f"connection to redis lost: {exc or 'closed'}"))
        if self.wire._protocol is self:
            self.wire._protocol = None

    def _fail(self, error: Exception) -> None:
        while self.waiting:
            future, _ = self.waiting.popleft()
            if not future.done():
                future.set_exception(error)


class Wire:
    """A multiplexed, auto-pipelining connection to the Redis at ``url`` (``redis://`` or ``unix://``)."""

    #: every Wire's writes and commands (the benchmark reports round trips per workflow)
    writes = 0
    commands = 0

    def __init__(self, url: str, *, timeout: float = 10.0, connect_timeout: float = 5.0) -> None:
        self.url = url
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self._protocol: _Protocol | None = None
        self._connecting: asyncio.Lock | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self._scripts: dict[str, str] = {}      # sha -> source
        self._closing = False
        parsed = urlparse(url)
        query = parse_qs(parsed.query)
        self._unix = parsed.scheme == "unix"
        self._path = unquote(parsed.path) if self._unix else ""
        self._host = parsed.hostname or "127.0.0.1"
        self._port = parsed.port or 6379
        self._username = unquote(parsed.username) if parsed.username else None
        self._password = unquote(parsed.password) if parsed.password else None
        db = query.get("db", [""])[0] or (parsed.path.strip("/") if not self._unix else "")
        self._db = int(db) if db else 0
        if parsed.scheme not in ("redis", "unix"):
            raise ValueError(f"Wire supports redis:// and unix:// URLs, not {parsed.scheme}://")

    # -- connection ------------------------------------------------------------------------------
    async def _connect(self) -> _Protocol:
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            if self._protocol is not None and not self._protocol.closed:
                return self._protocol
            loop = asyncio.get_running_loop()
            try:
                if self._unix:
                    connect = loop.create_unix_connection(lambda: _Protocol(self), self._path)
                else:
                    connect = loop.create_connection(lambda: _Protocol(self), self._host, self._port)
                _, protocol = await asyncio.wait_for(connect, self.connect_timeout)
            except (OSError, TimeoutError) as exc:
                raise RedisConnectionError(f"cannot connect to redis at {self.url}: {exc}") from exc
            hello: list[tuple[Any, ...]] = []
            if self._password is not None:
                hello.append(("AUTH", self._username, self._password) if self._username
                             else ("AUTH", self._password))
            if self._db:
                hello.append(("SELECT", self._db))
            for command in hello:
                future = protocol.queue(command)
                protocol.flush()
                await asyncio.wait_for(future, self.connect_timeout)
            self._protocol = protocol
            if self._watchdog is None or self._watchdog.done():
                self._watchdog = asyncio.create_task(self._watch(), name="hotmesh wire watchdog")
            return protocol

    async def _watch(self) -> None:
        """Close a connection whose oldest command has waited ``timeout`` seconds (hung server)."""
        while not self._closing:
            await asyncio.sleep(min(1.0, self.timeout / 4))
            protocol = self._protocol
            if protocol is None or not protocol.waiting:
                continue
            if time.monotonic() - protocol.waiting[0][1] > self.timeout:
                protocol._fail(RedisTimeoutError(f"redis did not answer within {self.timeout}s"))
                if protocol.transport is not None:
                    protocol.transport.abort()

    # -- commands --------------------------------------------------------------------------------
    async def call(self, *args: Any) -> Any:
        """Run one command; retried on a new connection when the connection breaks."""
        delay = 0.05
        for attempt in range(RETRIES + 1):
            try:
                protocol = self._protocol
                if protocol is None or protocol.closed:
                    protocol = await self._connect()
                return await protocol.queue(args)
            except (RedisConnectionError, RedisTimeoutError):
                if attempt == RETRIES or self._closing:
                    raise
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
        raise AssertionError("unreachable")

    def script(self, source: str) -> str:
        """Register a Lua script; returns its SHA1 for ``evalsha``."""
        sha = hashlib.sha1(source.encode()).hexdigest()
        self._scripts[sha] = source
        return sha

    async def evalsha(self, sha: str, keys: list[str], args: list[Any]) -> Any:
        try:
            return await self.call("EVALSHA", sha, len(keys), *keys, *args)
        except NoScriptError:
            await self.call("SCRIPT", "LOAD", self._scripts[sha])
            return await self.call("EVALSHA", sha, len(keys), *keys, *args)

    async def close(self) -> None:
        self._closing = True
        if self._watchdog is not None:
            self._watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._watchdog
        protocol = self._protocol
        self._protocol = None
        if protocol is not None and protocol.transport is not None:
            protocol.transport.close()
