"""The one seam between hotmesh_core and Redis: every command of the core goes through ``Redis``.

``Redis`` is what the core needs of a Redis connection, and nothing more:

- ``call(*args)``: one command;
- ``run(script, keys, args)``: a Lua script of ``scripts/`` (EVALSHA, loaded again on NOSCRIPT);
- ``transaction(commands)``: MULTI ... EXEC, atomic; ``pipeline(commands)``: one round trip, not atomic;
- ``blocking()``: a connection of its own for blocking reads (XREADGROUP BLOCK), so a blocked read
  never delays the steps;
- ``subscriber()``: a pub/sub connection (publishing is an ordinary ``call("PUBLISH", ...)``).

Replies are decoded (``str``); errors are :class:`~hotmesh_core.errors.RedisError`\\ s
(``ConnectionLostError``, ``RedisTimeoutError``, ``RedisAuthError``, ``RedisPermissionError``,
``RedisOutOfMemoryError``, ``RedisCommandError``), translated where they arise, never a client
library's own exception. ``wire.Wire`` is the implementation for ``redis://``, ``unix://`` and
``rediss://`` (TLS) URLs; ``cluster.ClusterRedis``, built on one ``Wire`` per master, for a Redis
Cluster: ``redis+cluster://[user:password@]host:port[,host:port...]`` or ``rediss+cluster://``
(slot routing, ``MOVED``/``ASK``, failover; the keys of one ``run`` or ``transaction`` share one
hash slot). ``cluster.connect(url)`` picks one by the URL. TLS, Redis Cluster routing and tracing
change this one place.

The Lua scripts live in ``hotmesh_core/scripts/<name>.lua``, each with a header naming its KEYS and
ARGV; ``script(name)`` loads one once per process.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Awaitable, Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from importlib import resources
from typing import Any, Protocol

#: one Redis command: its name and arguments
Command = Sequence[Any]
#: a pub/sub callback: ``(channel, data)``; may return an awaitable
MessageCallback = Callable[[str, str], Awaitable[None] | None]


@dataclass(frozen=True)
class Script:
    """A Lua script of ``hotmesh_core/scripts/``: its name, source and SHA1."""

    name: str
    source: str
    sha: str


@functools.cache
def script(name: str) -> Script:
    """The script ``scripts/<name>.lua`` (read once per process)."""
    source = resources.files("hotmesh_core").joinpath(f"scripts/{name}.lua").read_text()
    return Script(name, source, hashlib.sha1(source.encode()).hexdigest())


class Subscriber(Protocol):
    """A pub/sub connection. Subscriptions survive reconnects (they are made again); ``generation``
    grows at each reconnect, since messages published meanwhile were lost."""

    generation: int
    #: ``time.monotonic()`` when the connection went down (reconnecting), ``None`` while it is up
    down_since: float | None

    async def subscribe(self, channel: str, callback: MessageCallback) -> None: ...

    async def psubscribe(self, pattern: str, callback: MessageCallback) -> None: ...

    async def unsubscribe(self, channel: str) -> None: ...

    async def punsubscribe(self, pattern: str) -> None: ...

    async def close(self) -> None: ...


#: The read fence of the running task: ``(redis, epoch)`` set by a stream consumer for the message it
#: handles, ``epoch`` being ``redis.fence(stream)`` when the message was read. A script (``run``) or a
#: transaction that this task sends over a connection of ``redis`` made after that epoch is refused
#: with ``StaleReadError`` before it is written: the Redis that delivered the message may have been
#: replaced by one with an earlier history (AOF tail torn at a power loss, failover), where the
#: message never existed, and its step would write a history that never happened. Reads, and
#: writes outside a consumer, are not fenced. Cost: one ContextVar lookup per script.
FENCE: ContextVar[tuple[object, int] | None] = ContextVar("hotmesh_read_fence", default=None)


class Redis(Protocol):
    """The core's view of one Redis (see the module docstring)."""

    url: str

    def fence(self, key: str) -> int:
        """The read fence (``FENCE``) of a message just read from ``key``: on one Redis, how many
        connections this client has made (it grows at each reconnect); on a Cluster, a token for the
        connection to the node that serves ``key`` (a failover or a reconnect of that node
        breaks it; other nodes' do not). 0: not fenced."""
        ...

    async def call(self, *args: Any) -> Any: ...

    async def run(self, script: Script, keys: Sequence[str], args: Sequence[Any]) -> Any: ...

    async def transaction(self, commands: Sequence[Command]) -> list[Any]: ...

    async def pipeline(self, commands: Sequence[Command]) -> list[Any]: ...

    def blocking(self, timeout: float) -> Redis: ...

    def subscriber(self) -> Subscriber: ...

    async def close(self) -> None: ...


def pairs(flat: Sequence[Any] | None) -> dict[str, Any]:
    """``[k1, v1, k2, v2]`` (HGETALL, XINFO, CONFIG GET replies) as a dict."""
    if not flat:
        return {}
    return dict(zip(flat[::2], flat[1::2], strict=True))
