"""Dead letters: stream messages that cannot be handled or attributed (``hmsh:<app>:x-dead``).

A message lands here when it cannot be parsed, or when failing its activity is impossible (a
message past the delivery cap whose job cannot be told). It is added and its original entry acked
in one transaction, so it is in exactly one of the two places (in a sharded app, where the two
streams may sit on different Cluster nodes: added first, then acked). Each entry keeps the raw message,
the stream it came from and the reason; ``replay`` puts the message back on its stream (and removes
the dead letter, in one transaction), ``discard`` removes it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import ValidationError
from .keys import Keys, tag_of
from .seam import Redis, pairs

log = logging.getLogger("hotmesh.deadletters")


@dataclass(frozen=True)
class DeadLetter:
    """One dead letter: its id in the dead-letter stream, where it came from, why, and the message."""

    id: str
    stream: str
    reason: str
    message: str

    @property
    def at_ms(self) -> int:
        """When it was dead-lettered (the stream id's time part)."""
        return int(self.id.split("-", 1)[0])

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "stream": self.stream, "reason": self.reason, "message": self.message,
                "at_ms": self.at_ms}


class DeadLetters:
    """``counted`` (when given) is called after each ``add`` (the dead-letter metric, ``tracing.py``)."""

    def __init__(self, redis: Redis, keys: Keys, counted: Callable[[], None] | None = None) -> None:
        self.redis = redis
        self.key = keys.dead_letters()
        self.counted = counted

    async def add(self, stream: str, group: str, message_id: str, raw: str | None, reason: str) -> None:
        """Dead-letter the entry ``message_id`` of ``stream`` and ack it there, atomically."""
        log.error("dead-lettering %s from %s: %s", message_id, stream, reason)
        await self._both(["XADD", self.key, "*", "message", raw or "", "stream", stream, "reason", reason],
                         ["XACK", stream, group, message_id])
        if self.counted is not None:
            self.counted()

    async def list(self, limit: int = 100, *, newest_first: bool = True) -> list[DeadLetter]:
        command = ["XREVRANGE", self.key, "+", "-"] if newest_first else ["XRANGE", self.key, "-", "+"]
        return [_letter(entry) for entry in await self.redis.call(*command, "COUNT", int(limit))]

    async def get(self, letter_id: str) -> DeadLetter | None:
        _check(letter_id)
        found = await self.redis.call("XRANGE", self.key, letter_id, letter_id)
        return _letter(found[0]) if found else None

    async def replay(self, letter_id: str) -> str | None:
        """Put the message back on the stream it came from; returns its new stream id (None when
        there is no such dead letter)."""
        letter = await self.get(letter_id)
        if letter is None:
            return None
        if not letter.message or not letter.stream:
            raise ValidationError(f"dead letter {letter_id} has no message or stream to replay to")
        replies = await self._both(["XADD", letter.stream, "*", "message", letter.message],
                                   ["XDEL", self.key, letter_id])
        new_id: str = replies[0]
        return new_id

    async def _both(self, first: Sequence[Any], second: Sequence[Any]) -> Sequence[Any]:
        """Both commands in one transaction; when their keys are on different shards of a sharded
        app (a shard's stream and the unsharded dead-letter stream), ``first`` then ``second``:
        a crash in between repeats ``first`` on redelivery (at least once, never lost)."""
        if tag_of(first[1]) == tag_of(second[1]):
            return await self.redis.transaction([first, second])
        return [await self.redis.call(*first), await self.redis.call(*second)]

    async def discard(self, letter_id: str) -> bool:
        _check(letter_id)
        return bool(await self.redis.call("XDEL", self.key, letter_id))

    async def count(self) -> int:
        return int(await self.redis.call("XLEN", self.key))


def _check(letter_id: str) -> None:
    ms, _, seq = letter_id.partition("-")
    if not (ms.isdigit() and seq.isdigit()):
        raise ValidationError(f"a dead letter id looks like 1700000000000-0, not {letter_id!r}")


def _letter(entry: list[Any]) -> DeadLetter:
    fields = pairs(entry[1])
    return DeadLetter(entry[0], fields.get("stream", ""), fields.get("reason", ""), fields.get("message", ""))
