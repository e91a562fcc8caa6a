"""Stream housekeeping shared by routers, the API and the studio.

Consumers only ``XACK`` what they handle; ``trim`` drops acked entries in bulk
(``scripts/trim.lua``), so a stream's length is not its backlog. ``backlog`` is: entries delivered
and not acked yet (pending) plus entries not delivered yet (the group's lag).
"""

from __future__ import annotations

from typing import Any

from .errors import RedisCommandError
from .seam import Redis, pairs, script

TRIM = script("trim")
FORWARD = script("forward")


class Forwarder:
    """Add a message to one stream and ack the one it answers on another, atomically
    (``scripts/forward.lua``). The two streams are on one shard (a worker stream and the engine
    stream of the job's shard, ``keys.py``), so this is one script in one hash slot."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def forward(self, to_stream: str, message: str, from_stream: str, group: str, message_id: str) -> None:
        await self.redis.run(FORWARD, [to_stream, from_stream], [message, group, message_id])


async def trim(redis: Redis, stream: str) -> int:
    """Drop the entries of ``stream`` that every consumer group is done with (``scripts/trim.lua``)."""
    return int(await redis.run(TRIM, [stream], []) or 0)


async def ensure_group(redis: Redis, stream: str, group: str) -> None:
    """Create ``group`` on ``stream`` (and the stream) unless it exists."""
    try:
        await redis.call("XGROUP", "CREATE", stream, group, "0", "MKSTREAM")
    except RedisCommandError as exc:
        if exc.kind != "BUSYGROUP":
            raise


async def groups(redis: Redis, stream: str) -> list[dict[str, Any]]:
    """XINFO GROUPS of ``stream`` as dicts; [] when there is no such stream."""
    try:
        reply = await redis.call("XINFO", "GROUPS", stream)
    except RedisCommandError:
        return []                  # no such stream
    return [pairs(group) for group in reply]


async def backlog(redis: Redis, stream: str, found: list[dict[str, Any]] | None = None) -> int:
    """Work left in ``stream``: pending plus undelivered entries of its busiest consumer group
    (``found``: its ``groups`` when the caller read them already)."""
    if found is None:
        found = await groups(redis, stream)
    if not found:
        return int(await redis.call("XLEN", stream))
    most = 0
    for group in found:
        pending = int(group.get("pending") or 0)
        lag = group.get("lag")
        if lag is None:            # Redis 6.2 (no lag) or a lag Redis cannot tell: count them
            last = group.get("last-delivered-id") or "0-0"
            lag = len(await redis.call("XRANGE", stream, f"({last}", "+"))
        most = max(most, pending + int(lag))
    return most
