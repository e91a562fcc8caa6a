"""The read fence (``seam.FENCE``): a message read from a Redis that then went away is not applied
on the Redis that came back, which may hold an earlier history (a torn AOF tail, a failover to a
replica behind its master) where the message never existed.

The earlier history is made exactly: ``SAVE`` before the message is added, ``kill -9`` while its
handler holds it, and a restart that loads the snapshot. Found by T3b (torn AOF tail) under
unpaced publishing: ghost child triggers created children the restarted Redis's parents had not
asked for yet (409 duplicate job when the parents asked again).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import redis

from hotmesh_core import RedisServer
from hotmesh_core.config import Settings
from hotmesh_core.errors import StaleReadError
from hotmesh_core.router import Router
from hotmesh_core.seam import FENCE, script
from hotmesh_core.wire import Wire

from ..helpers import assert_eventually

FORWARD = script("forward")


async def _exhausted(stream: str, message_id: str, raw: str | None, deliveries: int) -> None:
    raise AssertionError(f"{message_id} exhausted after {deliveries} deliveries")


@pytest.mark.parametrize("write", ["script", "transaction"])
async def test_a_message_of_a_lost_history_is_not_applied(write: str, tmp_path: Path) -> None:
    server = RedisServer(port=0, data_dir=tmp_path / "redis").start()
    wire = Wire(server.url, reconnect_seconds=20)
    router: Router | None = None
    try:
        await wire.call("XGROUP", "CREATE", "in", "G", "0", "MKSTREAM")
        await wire.call("SAVE")                          # the history Redis will come back to
        held, release = asyncio.Event(), asyncio.Event()
        handled: list[str] = []

        async def handle(stream: str, message_id: str, raw: str) -> None:
            if raw == "ghost":
                held.set()
                await release.wait()
            if write == "script":
                await wire.run(FORWARD, ["out", stream], [raw, "G", message_id])
            else:
                await wire.transaction([["XADD", "out", "*", "message", raw], ["XACK", stream, "G", message_id]])
            handled.append(raw)

        settings = Settings(block_time_ms=200, reclaim_delay_ms=60_000, reclaim_interval_ms=60_000)
        router = Router(wire, "in", "G", "c1", handle, settings, _exhausted)
        await router.start()
        await wire.call("XADD", "in", "*", "message", "ghost")
        await asyncio.wait_for(held.wait(), 10)          # read, and held by its handler

        server.kill()                                    # the message was never saved...
        server.start()                                   # ...so this Redis never had it
        assert await wire.call("XLEN", "in") == 0
        release.set()
        await assert_eventually(lambda: router is not None and router.stale == 1, timeout=10)
        assert handled == []
        assert await wire.call("EXISTS", "out") == 0     # nothing of the lost history was written

        # the consumer goes on with the Redis it has now
        await wire.call("XADD", "in", "*", "message", "real")
        await assert_eventually(lambda: handled == ["real"], timeout=10)
        assert await wire.call("XLEN", "out") == 1
        assert router.failed == 0
    finally:
        if router is not None:
            await router.stop(drain_seconds=1)
        await wire.close()
        server.stop()


async def test_the_fence_refuses_only_a_newer_connection(server: RedisServer) -> None:
    """Under a fence, a script goes out on the connection of its epoch; after a reconnect it is
    refused before anything is written; without a fence the same script runs on the new one."""
    wire = Wire(server.url, reconnect_seconds=20)
    try:
        await wire.call("PING")
        epoch = wire.epoch
        token = FENCE.set((wire, epoch))
        try:
            assert await wire.run(FORWARD, ["out", "in"], ["a", "G", "0-1"]) == 0   # same connection: runs
            with redis.Redis.from_url(server.url) as admin:
                assert admin.client_kill_filter(_type="normal") == 1                 # drop it
            with pytest.raises(StaleReadError) as caught:
                await wire.run(FORWARD, ["out", "in"], ["b", "G", "0-2"])
            assert caught.value.code == 503 and caught.value.transient
            with pytest.raises(StaleReadError):
                await wire.transaction([["XADD", "out", "*", "message", "c"]])
            assert wire.epoch == epoch + 1
        finally:
            FENCE.reset(token)
        assert await wire.call("XLEN", "out") == 1
        assert await wire.run(FORWARD, ["out", "in"], ["d", "G", "0-3"]) == 0        # unfenced: runs
        assert await wire.call("XLEN", "out") == 2
    finally:
        await wire.close()
