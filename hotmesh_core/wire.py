"""``Wire``: the implementation of the Redis seam (``seam.Redis``), one multiplexed connection.

Every engine step is a few commands; with a connection pool each one checks a connection out,
writes, waits under a timeout and checks it back in, and that bookkeeping cost more CPU than the
step's own work (profile in bench/README.md). A ``Wire`` instead keeps ONE socket per process:
callers queue commands, the commands queued during one event-loop turn go out in one write
(they are pipelined, so concurrent steps share round trips), and replies are matched to callers
in order (Redis answers a connection's commands in the order it received them). Parsing is
hiredis'. This is what ioredis (the reference's client) does on Node.

URLs: ``redis://[user:password@]host[:port][/db]``, ``unix:///path/to/socket[?db=N&password=...]``
and ``rediss://`` (TLS) with redis-py's option names: ``ssl_ca_certs``, ``ssl_certfile``,
``ssl_keyfile``, ``ssl_cert_reqs`` (``none`` | ``optional`` | ``required``, the default) and
``ssl_check_hostname`` (default true when certificates are verified).

Failure handling. A command whose connection breaks is retried on a new connection (backoff
50 ms doubling to 2 s) for up to ``reconnect_seconds``, then raises ``ConnectionLostError``; a
Wire that never connected fails at once (a wrong URL must not hang ``init``). A unix socket
registered in ``REVIVERS`` (the embedded redis-server's) that refuses a connection is started again
by its hook before the connection is tried once more. A step re-sent after
a lost reply is caught by its guards (ledger, creation, guid). A connection on which the oldest
command has waited ``timeout`` seconds is closed (a hung server must not hang every step), failing
what was in flight with ``RedisTimeoutError``. Error replies become the ``RedisError`` of their
kind (``errors.py``): auth, permission, out of memory, or ``RedisCommandError``.

Blocking reads take a Wire of their own (``blocking``); pub/sub takes a ``WireSubscriber``.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import ssl
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import parse_qs, unquote, urlparse

import hiredis

from . import tlsio
from .errors import (
    ClusterError,
    ConnectError,
    ConnectionLostError,
    RedisAuthError,
    RedisCommandError,
    RedisError,
    RedisOutOfMemoryError,
    RedisPermissionError,
    RedisTimeoutError,
    StaleReadError,
    ValidationError,
)
from .seam import FENCE, Command, MessageCallback, Script
from .util import redact

log = logging.getLogger("hotmesh.wire")

#: how long (seconds) a command keeps retrying on new connections before ConnectionLostError
RECONNECT_SECONDS = 30.0

#: unix socket path -> ``async () -> bool``, awaited when a connection to that path fails: the
#: embedded redis-server (``redis_server.py``) registers its socket, and starts the server again
#: (True: try the connection once more). Its starter stops it at exit; a process still using it
#: brings it back on the same data directory.
REVIVERS: dict[str, Callable[[], Awaitable[bool]]] = {}


class _Reply(Exception):
    """An error reply as hiredis hands it over; translated by ``translate``."""


class _NoScript(Exception):
    pass


class Redirect(ClusterError):
    """A ``MOVED`` or ``ASK`` reply: the key's slot is served by the node at ``host:port``. The
    cluster client (``cluster.py``) follows it; through a plain ``redis://`` URL it is the sign of a
    cluster node, and its message says to use ``redis+cluster://``."""

    def __init__(self, reply: str) -> None:
        kind, slot, address = (reply.split(" ") + ["", ""])[:3]
        self.ask = kind == "ASK"
        self.slot = int(slot) if slot.isdigit() else -1
        self.address = address
        super().__init__(f"redis answered {reply!r}: the server is a Redis Cluster node and the key's "
                         f"slot is served by {address}; connect with a redis+cluster://host:port[,host:port] "
                         "URL (any node of the cluster as a seed)")


def translate(message: str) -> Exception:
    """The exception for one Redis error reply."""
    kind = message.split(" ", 1)[0]
    if kind == "NOSCRIPT":
        return _NoScript(message)
    if kind in ("MOVED", "ASK"):
        return Redirect(message)
    if kind in ("NOAUTH", "WRONGPASS") or message.startswith(("ERR invalid password", "ERR AUTH")) \
            or "invalid username-password" in message or "unauthenticated" in message:
        return RedisAuthError(f"redis refused the credentials: {message}")
    if kind == "NOPERM" or "NOPERM" in message:
        return RedisPermissionError(f"redis ACL: {message}")
    if kind == "OOM" or "OOM command not allowed" in message:
        return RedisOutOfMemoryError(f"redis is out of memory (maxmemory): {message}")
    return RedisCommandError(message)


@dataclass(frozen=True)
class Endpoint:
    """Where and how to connect, parsed from a URL."""

    url: str
    host: str = "127.0.0.1"
    port: int = 6379
    path: str = ""                      # unix socket
    username: str | None = None
    password: str | None = None
    db: int = 0
    tls: ssl.SSLContext | None = None
    server_hostname: str | None = None

    @classmethod
    def parse(cls, url: str) -> Endpoint:
        parsed = urlparse(url)
        if parsed.scheme not in ("redis", "rediss", "unix"):
            raise ValidationError(f"invalid Redis URL {redact(url)!r}: it starts with redis://, rediss://, "
                                  "unix://, redis+cluster:// or rediss+cluster://")
        query = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
        unix = parsed.scheme == "unix"
        db_text = query.get("db") or ("" if unix else parsed.path.strip("/"))
        try:
            db = int(db_text) if db_text else 0
        except ValueError:
            raise ValidationError(f"the database of a Redis URL is a number, not {db_text!r}") from None
        password = parsed.password or query.get("password")
        username = parsed.username or query.get("username")
        tls = None
        server_hostname = None
        if parsed.scheme == "rediss":
            tls, check = _tls_context(query)
            server_hostname = parsed.hostname if check else None
        return cls(url, host=parsed.hostname or "127.0.0.1", port=parsed.port or 6379,
                   path=unquote(parsed.path) if unix else "",
                   username=unquote(username) if username else None,
                   password=unquote(password) if password else None, db=db, tls=tls,
                   server_hostname=server_hostname)

    async def open(self, factory: Any, timeout: float) -> Any:
        """Connect a protocol made by ``factory``; raises ``ConnectionLostError``."""
        try:
            return await self._open(factory, timeout)
        except ConnectionLostError:
            revive = REVIVERS.get(self.path) if self.path else None
            if revive is None or not await revive():
                raise
        return await self._open(factory, timeout)

    async def _open(self, factory: Any, timeout: float) -> Any:
        loop = asyncio.get_running_loop()
        try:
            if self.path:
                connect = loop.create_unix_connection(factory, self.path)
            elif self.tls is not None:
                hostname = self.server_hostname or (self.host if self.tls.check_hostname else None)
                if tlsio.usable(loop):              # OpenSSL on the socket, not asyncio.sslproto
                    async with asyncio.timeout(timeout):
                        return await tlsio.open_tls(loop, factory, self.host, self.port, self.tls, hostname)
                connect = loop.create_connection(factory, self.host, self.port, ssl=self.tls,
                                                 server_hostname=hostname)
            else:
                connect = loop.create_connection(factory, self.host, self.port)
            async with asyncio.timeout(timeout):   # not wait_for: on 3.11 it can swallow a cancel
                _, protocol = await connect
        except (OSError, TimeoutError, ssl.SSLError) as exc:
            raise ConnectError(f"cannot reach Redis at {redact(self.url)}: "
                                      f"{exc or type(exc).__name__}") from exc
        return protocol

    def hello(self) -> list[tuple[Any, ...]]:
        """The commands a new connection sends first (AUTH, SELECT)."""
        out: list[tuple[Any, ...]] = []
        if self.password is not None:
            out.append(("AUTH", self.username, self.password) if self.username else ("AUTH", self.password))
        if self.db:
            out.append(("SELECT", self.db))
        return out


def _tls_context(query: dict[str, str]) -> tuple[ssl.SSLContext, bool]:
    reqs = (query.get("ssl_cert_reqs") or "required").lower()
    modes = {"none": ssl.CERT_NONE, "optional": ssl.CERT_OPTIONAL, "required": ssl.CERT_REQUIRED}
    if reqs not in modes:
        raise ValidationError(f"ssl_cert_reqs is none, optional or required, not {reqs!r}")
    context = ssl.create_default_context(cafile=query.get("ssl_ca_certs") or None)
    check = modes[reqs] != ssl.CERT_NONE and \
        (query.get("ssl_check_hostname") or "true").lower() not in ("false", "0", "no")
    context.check_hostname = check
    context.verify_mode = modes[reqs]
    if query.get("ssl_certfile"):
        context.load_cert_chain(query["ssl_certfile"], query.get("ssl_keyfile") or None)
    return context, check


class _Protocol(asyncio.Protocol):
    def __init__(self, wire: Wire) -> None:
        self.wire = wire
        self.reader = hiredis.Reader(encoding="utf-8", replyError=_Reply)
        self.transport: asyncio.Transport | None = None
        self.waiting: deque[tuple[asyncio.Future[Any], float]] = deque()
        self.epoch = 0                         # which of its Wire's connections this is (seam.FENCE)
        self.buffer: list[bytes] = []          # commands of this loop turn, written together
        self.flush_scheduled = False
        self.closed = False

    def queue(self, args: Sequence[Any]) -> asyncio.Future[Any]:
        """Queue one command: it goes out with the others of this loop turn, in one write."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.buffer.append(hiredis.pack_command(args if isinstance(args, tuple) else tuple(args)))
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
        # uvloop's transports are not asyncio.Transport subclasses, but they are transports
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        waiting = self.waiting
        while True:
            try:
                reply = self.reader.gets()
            except hiredis.ProtocolError as exc:
                self.fail(ConnectionLostError(f"protocol error from redis: {exc}"))
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
            if isinstance(reply, _Reply):
                future.set_exception(translate(str(reply)))
            else:
                future.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.fail(ConnectionLostError(f"connection to redis lost: {exc or 'closed'}"))
        if self.wire._protocol is self:
            self.wire._protocol = None

    def fail(self, error: Exception) -> None:
        while self.waiting:
            future, _ = self.waiting.popleft()
            if not future.done():
                future.set_exception(error)


class Wire:
    """A multiplexed, auto-pipelining connection to the Redis at ``url`` (see the module docstring)."""

    #: every Wire's writes and commands (the benchmark reports round trips per workflow)
    writes = 0
    commands = 0

    def __init__(self, url: str, *, timeout: float = 10.0, connect_timeout: float = 5.0,
                 reconnect_seconds: float | None = None) -> None:
        self.url = url
        self.endpoint = Endpoint.parse(url)
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.reconnect_seconds = RECONNECT_SECONDS if reconnect_seconds is None else reconnect_seconds
        self._protocol: _Protocol | None = None
        self._connecting: asyncio.Lock | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self._closing = False
        self._connected_once = False            # a command was answered once (else: fail at once)
        self.epoch = 0                          # connections made so far (seam.FENCE)
        self._last_error: Exception = ConnectionLostError(f"cannot reach Redis at {redact(url)}")

    # -- connection ------------------------------------------------------------------------------
    async def _connect(self) -> _Protocol:
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            if self._protocol is not None and not self._protocol.closed:
                return self._protocol
            if self._closing:
                raise ConnectionLostError("the connection to redis was closed (stop)")
            protocol: _Protocol = await self.endpoint.open(lambda: _Protocol(self), self.connect_timeout)
            try:
                for command in self.endpoint.hello():
                    future = protocol.queue(command)
                    protocol.flush()
                    async with asyncio.timeout(self.connect_timeout):
                        await future
            except BaseException as exc:
                if protocol.transport is not None:
                    protocol.transport.abort()
                if isinstance(exc, TimeoutError):
                    raise RedisTimeoutError(f"redis did not answer {command[0]} within "
                                            f"{self.connect_timeout}s") from None
                raise
            self.epoch += 1
            protocol.epoch = self.epoch
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
                protocol.fail(RedisTimeoutError(f"redis did not answer within {self.timeout}s"))
                if protocol.transport is not None:
                    protocol.transport.abort()

    async def _live(self) -> _Protocol:
        """The open connection, or a new one."""
        protocol = self._protocol
        if protocol is None or protocol.closed:
            protocol = await self._connect()
        return protocol

    async def _send(self, send: Any, *, failed: bool = False) -> Any:
        """Run ``send(protocol)`` (which queues commands and returns the awaitable of the result)
        on a live connection; on a broken connection, again on a new one (see the module doc)."""
        delay = 0.05
        deadline = time.monotonic() + self.reconnect_seconds
        while True:
            if failed:
                if self._closing or not self._connected_once or time.monotonic() + delay > deadline:
                    raise type(self._last_error)(str(self._last_error))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
            try:
                result = await send(await self._live())
                self._connected_once = True
                return result
            except (ConnectionLostError, RedisTimeoutError) as exc:
                self._last_error = exc
                failed = True

    # -- the seam ----------------------------------------------------------------------------------
    async def call(self, *args: Any) -> Any:
        """Run one command (see the module docstring for retries and errors)."""
        protocol = self._protocol
        if protocol is not None and not protocol.closed and self._connected_once:
            try:                                      # the hot path: no closure, no clock
                return await protocol.queue(args)
            except (ConnectionLostError, RedisTimeoutError) as exc:
                self._last_error = exc
                return await self._send(lambda p: p.queue(args), failed=True)
        return await self._send(lambda p: p.queue(args))

    async def run(self, script: Script, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """Run a script of ``scripts/`` by its SHA; loads it first if the server lacks it. Fenced
        (``seam.FENCE``): refused with ``StaleReadError`` on a connection newer than the fence."""
        command = ("EVALSHA", script.sha, len(keys), *keys, *args)
        fence = FENCE.get()
        if fence is not None and fence[0] is self:
            epoch = fence[1]

            def fenced(protocol: _Protocol) -> asyncio.Future[Any]:
                if protocol.epoch != epoch:
                    raise StaleReadError("redis was reconnected since this message was read (it may "
                                         "have restarted with an earlier history): not applied here; "
                                         "it is delivered again if redis still has it")
                return protocol.queue(command)
            for attempt in (1, 2):
                try:
                    protocol = self._protocol
                    if protocol is not None and not protocol.closed and protocol.epoch == epoch:
                        try:                          # the hot path, as in ``call``
                            return await protocol.queue(command)
                        except (ConnectionLostError, RedisTimeoutError) as exc:
                            self._last_error = exc
                            return await self._send(fenced, failed=True)
                    return await self._send(fenced)
                except _NoScript:
                    if attempt == 2:
                        raise
                    await self.call("SCRIPT", "LOAD", script.source)
        try:
            return await self.call(*command)
        except _NoScript:
            await self.call("SCRIPT", "LOAD", script.source)
            return await self.call(*command)

    async def transaction(self, commands: Sequence[Command]) -> list[Any]:
        """MULTI, the commands, EXEC: queued together, so no other caller's command comes between.
        Raises the first command's error (the others still ran, as in redis-py)."""
        fence = FENCE.get()
        epoch = fence[1] if fence is not None and fence[0] is self else None

        async def send(protocol: _Protocol) -> list[Any]:
            if epoch is not None and protocol.epoch != epoch:
                raise StaleReadError("redis was reconnected since this message was read: the "
                                     "transaction is not applied here")
            futures = [protocol.queue(("MULTI",)), *(protocol.queue(c) for c in commands),
                       protocol.queue(("EXEC",))]
            replies = await asyncio.gather(*futures, return_exceptions=True)
            for reply in replies[:-1]:        # a refusal at queue time (OOM...) aborted the EXEC
                if isinstance(reply, BaseException):
                    raise reply
            if isinstance(replies[-1], BaseException):
                raise replies[-1]
            return _raise_first(replies[-1])
        return list(await self._send(send))

    async def pipeline(self, commands: Sequence[Command]) -> list[Any]:
        """The commands in one round trip, not atomic; raises the first error."""
        if not commands:
            return []
        async def send(protocol: _Protocol) -> list[Any]:
            replies = await asyncio.gather(*(protocol.queue(c) for c in commands), return_exceptions=True)
            for reply in replies:
                if isinstance(reply, BaseException):
                    raise reply
            return list(replies)
        return list(await self._send(send))

    async def exchange(self, commands: Sequence[Command]) -> list[Any]:
        """The commands back to back on one connection (no other caller's command comes between
        them, so ``ASKING`` applies to the one after it), in one round trip, tried on ONE connection
        (no retry: a cluster client decides where to send again). Replies in order, an error reply
        as its exception in place; raises ``ConnectError`` if nothing was sent, and
        ``ConnectionLostError`` / ``RedisTimeoutError`` if the connection failed with them in flight."""
        async def send(protocol: _Protocol) -> list[Any]:
            replies = await asyncio.gather(*(protocol.queue(c) for c in commands), return_exceptions=True)
            for reply in replies:
                if isinstance(reply, (ConnectionLostError, RedisTimeoutError)):
                    raise reply
                if isinstance(reply, BaseException) and not isinstance(reply, Exception):
                    raise reply                      # cancelled
            return list(replies)
        replies = await send(await self._live())
        self._connected_once = True
        return replies

    def fence(self, key: str) -> int:
        """``seam.Redis.fence``: the connection count (one Redis serves every key)."""
        return self.epoch

    def blocking(self, timeout: float) -> Wire:
        """A Wire of its own for blocking reads, whose timeout outlasts the block."""
        return Wire(self.url, timeout=timeout, connect_timeout=self.connect_timeout,
                    reconnect_seconds=self.reconnect_seconds)

    def subscriber(self) -> WireSubscriber:
        return WireSubscriber(self.endpoint, connect_timeout=self.connect_timeout)

    async def close(self) -> None:
        self._closing = True
        if self._watchdog is not None:
            self._watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._watchdog
        protocol = self._protocol
        self._protocol = None
        if protocol is not None:
            protocol.fail(ConnectionLostError("the connection to redis was closed (stop)"))
            if protocol.transport is not None:
                protocol.transport.close()


def _raise_first(results: list[Any] | None) -> list[Any]:
    if results is None:
        raise RedisCommandError("EXECABORT transaction discarded")
    for result in results:
        if isinstance(result, _Reply):
            raise translate(str(result))
    return results


# -- pub/sub ----------------------------------------------------------------------------------------
class _SubProtocol(asyncio.Protocol):
    def __init__(self, subscriber: WireSubscriber) -> None:
        self.subscriber = subscriber
        self.reader = hiredis.Reader(encoding="utf-8", replyError=_Reply)
        self.transport: asyncio.Transport | None = None
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but they are transports
        self.transport = cast(asyncio.Transport, transport)

    def send(self, *args: Any) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(hiredis.pack_command(args))

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        while True:
            try:
                reply = self.reader.gets()
            except hiredis.ProtocolError:
                if self.transport is not None:
                    self.transport.abort()
                return
            if reply is False:
                return
            self.subscriber._received(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(None)


class WireSubscriber:
    """A pub/sub connection (``seam.Subscriber``): messages are handed to their callback in the
    order they arrive, one at a time; on a lost connection it reconnects with backoff and makes
    every subscription again (``generation`` + 1)."""

    def __init__(self, endpoint: Endpoint, *, connect_timeout: float = 5.0) -> None:
        self.endpoint = endpoint
        self.connect_timeout = connect_timeout
        self.generation = 0
        self.down_since: float | None = None
        self._channels: dict[str, MessageCallback] = {}
        self._patterns: dict[str, MessageCallback] = {}
        self._protocol: _SubProtocol | None = None
        self._confirm: dict[tuple[str, str], asyncio.Future[None]] = {}
        self._queue: asyncio.Queue[tuple[MessageCallback, str, str]] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._ready: asyncio.Event = asyncio.Event()
        self._closing = False
        self._hello: list[asyncio.Future[Any]] = []      # replies awaited by ``_open``

    async def _start(self) -> None:
        if self._tasks:
            if not self._ready.is_set():
                try:
                    async with asyncio.timeout(self.connect_timeout * 2):
                        await self._ready.wait()
                except TimeoutError:
                    raise ConnectionLostError("the pub/sub connection to redis is not ready") from None
            return
        self._protocol = await self._open()        # the first connection fails loudly
        self._ready.set()
        self._tasks = [asyncio.create_task(self._keep(), name="hotmesh pubsub connection"),
                       asyncio.create_task(self._dispatch(), name="hotmesh pubsub dispatch")]

    async def _open(self) -> _SubProtocol:
        protocol: _SubProtocol = await self.endpoint.open(lambda: _SubProtocol(self), self.connect_timeout)
        hello = self.endpoint.hello()
        if hello:
            futures = [asyncio.get_running_loop().create_future() for _ in hello]
            self._hello = list(futures)
            for command in hello:
                protocol.send(*command)
            try:
                async with asyncio.timeout(self.connect_timeout):
                    for future in futures:
                        await future
            except BaseException as exc:
                if protocol.transport is not None:
                    protocol.transport.abort()
                if isinstance(exc, TimeoutError):
                    raise RedisTimeoutError(f"redis did not answer AUTH within {self.connect_timeout}s") from None
                raise
            finally:
                self._hello = []
        return protocol

    def _received(self, reply: Any) -> None:
        if self._hello:                              # AUTH / SELECT of a new connection
            future = self._hello.pop(0)
            if isinstance(reply, _Reply):
                future.set_exception(translate(str(reply)))
            else:
                future.set_result(reply)
            return
        if isinstance(reply, _Reply):
            # replies come in order, so a refusal (NOPERM under an ACL) answers the oldest
            # subscription still waiting for its confirmation
            if self._confirm:
                (kind, name), refused = next(iter(self._confirm.items()))
                del self._confirm[(kind, name)]
                (self._channels if kind == "subscribe" else self._patterns).pop(name, None)
                if not refused.done():
                    refused.set_exception(translate(f"{reply} ({kind} {name})"))
                return
            log.warning("pub/sub: %s", reply)
            return
        if not isinstance(reply, list) or not reply:
            return
        kind = reply[0]
        if kind == "message" and len(reply) == 3:
            callback = self._channels.get(reply[1])
            if callback is not None:
                self._queue.put_nowait((callback, reply[1], reply[2]))
        elif kind == "pmessage" and len(reply) == 4:
            callback = self._patterns.get(reply[1])
            if callback is not None:
                self._queue.put_nowait((callback, reply[2], reply[3]))
        elif kind in ("subscribe", "psubscribe", "unsubscribe", "punsubscribe") and len(reply) >= 2:
            confirmed = self._confirm.pop((kind, reply[1]), None)
            if confirmed is not None and not confirmed.done():
                confirmed.set_result(None)

    async def _send_and_confirm(self, kind: str, name: str) -> None:
        protocol = self._protocol
        if protocol is None:
            return                                  # reconnecting: made again once connected
        future = asyncio.get_running_loop().create_future()
        self._confirm[(kind.lower(), name)] = future
        protocol.send(kind.upper(), name)
        done, _ = await asyncio.wait({future, protocol.lost}, timeout=self.connect_timeout,
                                     return_when=asyncio.FIRST_COMPLETED)
        if future in done:
            future.result()                         # raises a refusal (RedisPermissionError)
            return
        if future not in done:
            self._confirm.pop((kind.lower(), name), None)
            if self._closing:
                return
            (self._channels if kind == "subscribe" else self._patterns).pop(name, None)
            if protocol.lost.done():
                raise ConnectionLostError(f"the pub/sub connection to redis was lost during {kind} {name}")
            raise RedisTimeoutError(f"redis did not confirm {kind} {name}")

    async def subscribe(self, channel: str, callback: MessageCallback) -> None:
        await self._start()
        self._live()
        self._channels[channel] = callback
        await self._send_and_confirm("subscribe", channel)

    async def psubscribe(self, pattern: str, callback: MessageCallback) -> None:
        await self._start()
        self._live()
        self._patterns[pattern] = callback
        await self._send_and_confirm("psubscribe", pattern)

    def _live(self) -> None:
        """A new subscription while the connection is down fails now (the ones made before it
        went down are made again when it comes back)."""
        if self._protocol is None or self._protocol.lost.done():
            raise ConnectionLostError("the pub/sub connection to redis is down (reconnecting)")

    async def unsubscribe(self, channel: str) -> None:
        if self._channels.pop(channel, None) is not None and self._protocol is not None:
            self._protocol.send("UNSUBSCRIBE", channel)

    async def punsubscribe(self, pattern: str) -> None:
        if self._patterns.pop(pattern, None) is not None and self._protocol is not None:
            self._protocol.send("PUNSUBSCRIBE", pattern)

    async def _keep(self) -> None:
        """Reconnect when the connection is lost, and subscribe again to everything."""
        backoff = 0.1
        while not self._closing:
            protocol = self._protocol
            if protocol is not None:
                await protocol.lost
                if self._closing:
                    return
                log.warning("pub/sub connection to redis lost; reconnecting")
                self._protocol = None
                self.down_since = time.monotonic()
            try:
                protocol = await self._open()
            except RedisError as exc:
                log.debug("pub/sub reconnect failed: %s", exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            backoff = 0.1
            self._protocol = protocol
            self.down_since = None
            for channel in list(self._channels):
                protocol.send("SUBSCRIBE", channel)
            for pattern in list(self._patterns):
                protocol.send("PSUBSCRIBE", pattern)
            self.generation += 1

    async def _dispatch(self) -> None:
        while True:
            callback, channel, data = await self._queue.get()
            try:
                result = callback(channel, data)
                if inspect.isawaitable(result):
                    await result
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - one bad message must not stop the others
                log.exception("pub/sub callback for %s failed", channel)

    async def close(self) -> None:
        self._closing = True
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=2)
        protocol, self._protocol = self._protocol, None
        if protocol is not None and protocol.transport is not None:
            protocol.transport.close()
