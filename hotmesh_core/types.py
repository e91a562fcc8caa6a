"""Shared type aliases."""

from __future__ import annotations

from typing import Any

#: A ``redis.asyncio.Redis`` created with ``decode_responses=True``. redis-py annotates replies as
#: ``bytes | str`` unions that do not hold for decoded clients, so this boundary is typed ``Any``
#: and the modules using it convert replies explicitly.
RedisClient = Any
