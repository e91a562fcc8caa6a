"""Stream housekeeping shared by routers, the API and the studio.

Consumers only ``XACK`` what they handle; ``trim`` drops acked entries in bulk
(``scripts/trim.lua``), so a stream's length is not its backlog. ``backlog`` is: entries delivered
and not acked yet (pending) plus entries not delivered yet (the group's lag).
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from redis.exceptions import ResponseError

from .types import RedisClient
from .wire import Wire

TRIM_SCRIPT = resources.files("hotmesh_core").joinpath("scripts/trim.lua").read_text()


FORWARD_SCRIPT = """
redis.call('XADD', KEYS[1], '*', 'message', ARGV[1])
return redis.call('XACK', KEYS[2], ARGV[2], ARGV[3])
"""


class Forwarder:
    """Add a message to one stream and ack the one it answers on another, atomically.

    One script (3 commands, one round trip) instead of MULTI/XADD/XACK/EXEC. In a sharded
    layout the two streams may live in different hash slots; then the reply goes first and
    the ack second (a crash between them redelivers the input, whose second reply the engine's
    ledger guard drops)."""

    def __init__(self, client: RedisClient, atomic: bool = True, wire: Wire | None = None) -> None:
        self.client = client
        self.atomic = atomic
        self.wire = wire
        self._script = client.register_script(FORWARD_SCRIPT)
        self._sha = wire.script(FORWARD_SCRIPT) if wire else ""

    async def forward(self, to_stream: str, message: str, from_stream: str, group: str, message_id: str) -> None:
        if self.atomic and self.wire is not None:
            await self.wire.evalsha(self._sha, [to_stream, from_stream], [message, group, message_id])
            return
        if self.atomic:
            await self._script(keys=[to_stream, from_stream], args=[message, group, message_id])
            return
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.xadd(to_stream, {"message": message})
            pipe.xack(from_stream, group, message_id)
            await pipe.execute()


class Trimmer:
    """Runs the trim script on one client (registered once, EVALSHA after that)."""

    def __init__(self, client: RedisClient, wire: Wire | None = None) -> None:
        self.wire = wire
        self._script = client.register_script(TRIM_SCRIPT)
        self._sha = wire.script(TRIM_SCRIPT) if wire else ""

    async def trim(self, stream: str) -> int:
        if self.wire is not None:
            removed = await self.wire.evalsha(self._sha, [stream], [])
        else:
            removed = await self._script(keys=[stream], args=[])
        return int(removed or 0)


async def backlog(client: RedisClient, stream: str) -> int:
    """Work left in ``stream``: pending plus undelivered entries of its busiest consumer group."""
    try:
        groups: list[dict[str, Any]] = await client.xinfo_groups(stream)
    except ResponseError:
        return 0                   # no such stream
    if not groups:
        return int(await client.xlen(stream))
    most = 0
    for group in groups:
        pending = int(group.get("pending") or 0)
        lag = group.get("lag")
        if lag is None:            # Redis 6.2 (no lag) or a lag Redis cannot tell: count them
            last = group.get("last-delivered-id") or "0-0"
            lag = len(await client.xrange(stream, f"({last}", "+"))
        most = max(most, pending + int(lag))
    return most
