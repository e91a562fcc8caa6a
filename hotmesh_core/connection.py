"""Redis connections: one shared command pool per instance, one dedicated connection per consumer.

Blocking reads (XREADGROUP BLOCK) hold their connection for the whole block, so each router gets
its own single-connection client and never takes a connection the steps need. The command pool
blocks (waits for a free connection) instead of failing when every connection is busy.
All clients reconnect with exponential backoff (a restarted Redis is picked up again).
"""

from __future__ import annotations

import os

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .redis_server import embedded_url
from .types import RedisClient


def resolve_url(url: str | None) -> str:
    """The URL to use: the given one, ``$REDIS_URL``, or the embedded redis-server (started once)."""
    return url or os.environ.get("REDIS_URL") or embedded_url()


def _client(url: str, max_connections: int, socket_timeout: float = 5.0) -> RedisClient:
    pool = BlockingConnectionPool.from_url(url, max_connections=max_connections, timeout=None,
                                           decode_responses=True, socket_timeout=socket_timeout)
    retry = Retry(ExponentialBackoff(cap=2.0, base=0.05), retries=20)
    client: RedisClient = Redis(connection_pool=pool, retry=retry,
                                retry_on_error=[RedisConnectionError, RedisTimeoutError, OSError])
    return client


def command_client(url: str, max_connections: int = 64) -> RedisClient:
    return _client(url, max_connections)


def reader_client(url: str, block_ms: int) -> RedisClient:
    """A client with one connection, for one consumer's blocking reads; its socket timeout
    outlasts the BLOCK time (redis-py's default of 5 s would cut every idle 10 s read short)."""
    return _client(url, 1, socket_timeout=block_ms / 1000 + 5)
