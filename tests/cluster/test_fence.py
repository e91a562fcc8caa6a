"""The read fence on a Redis Cluster (``seam.FENCE``, ``ClusterRedis.fence``), per node: a message
read from a master that then went away is not applied on the replica that took its slots (it may
not have had the message: replication is asynchronous), nor after the connection to that master was
made again; the same task's writes on other nodes, and other nodes' reconnects, are not fenced."""

from __future__ import annotations

import asyncio

import pytest

from hotmesh_core.cluster import ClusterRedis
from hotmesh_core.config import Settings
from hotmesh_core.errors import StaleReadError
from hotmesh_core.router import Router
from hotmesh_core.seam import FENCE, script

from ..helpers import assert_eventually
from . import Cluster
from .test_failover import replicated

FORWARD = script("forward")


def tagged_on(cluster: Cluster, node_index: int, prefix: str) -> str:
    """A hash tag whose slot the ``node_index``-th master serves."""
    node = cluster.primaries()[node_index]
    return cluster.key_on(node, prefix)


async def test_a_reconnect_fences_its_node_only(cluster: Cluster) -> None:
    client = ClusterRedis(cluster.url, reconnect_seconds=20)
    here, there = tagged_on(cluster, 0, "fa"), tagged_on(cluster, 1, "fb")
    a_in, a_out, b_in, b_out = f"{{{here}}}in", f"{{{here}}}out", f"{{{there}}}in", f"{{{there}}}out"
    try:
        await client.call("PING")
        await client.call("XADD", a_in, "*", "message", "m")
        await client.call("XADD", b_in, "*", "message", "m")
        token = client.fence(a_in)
        assert token and client.fence(a_in) == token            # one token per connection and slot
        reset = FENCE.set((client, token))
        try:
            assert await client.run(FORWARD, [a_out, a_in], ["1", "G", "0-1"]) == 0   # same connection
            node = cluster.primaries()[0]
            with node.client() as admin:                      # drop this client's connections there
                assert admin.client_kill_filter(_type="normal", skipme=True) >= 1
            assert await client.call("XLEN", a_out) == 1        # a read (not fenced) connects again
            with pytest.raises(StaleReadError):
                await client.run(FORWARD, [a_out, a_in], ["2", "G", "0-2"])
            with pytest.raises(StaleReadError):
                await client.transaction([["XADD", a_out, "*", "message", "3"]])
            # the same task's writes on another node are not fenced (an outbox delivery)
            assert await client.run(FORWARD, [b_out, b_in], ["4", "G", "0-4"]) == 0
        finally:
            FENCE.reset(reset)
        assert await client.call("XLEN", a_out) == 1
        assert await client.run(FORWARD, [a_out, a_in], ["5", "G", "0-5"]) == 0      # unfenced: runs
        assert client.fence(a_in) != token                     # a new connection, a new token
    finally:
        await client.close()


async def _exhausted(stream: str, message_id: str, raw: str | None, deliveries: int) -> None:
    raise AssertionError(f"{message_id} exhausted after {deliveries} deliveries")


async def test_a_message_read_before_a_failover_is_refused_then_redelivered_once(
        cluster_with_replicas: Cluster) -> None:
    """A consumer holds a message when its master is killed; the replica takes the slot. The step's
    write is refused (the fence), the message stays pending on the new master (it was replicated),
    is reclaimed and applied once."""
    cluster = cluster_with_replicas
    client = ClusterRedis(cluster.url, reconnect_seconds=20)
    victim = cluster.primaries()[0]
    tag = cluster.key_on(victim, "fo-fence")
    stream, out = f"{{{tag}}}in", f"{{{tag}}}out"
    router: Router | None = None
    try:
        await client.call("XGROUP", "CREATE", stream, "G", "0", "MKSTREAM")
        held, release = asyncio.Event(), asyncio.Event()
        handled: list[str] = []

        async def handle(stream_name: str, message_id: str, raw: str) -> None:
            if not held.is_set():
                held.set()
                await release.wait()
            await client.run(FORWARD, [out, stream_name], [raw, "G", message_id])
            handled.append(raw)

        settings = Settings(block_time_ms=200, reclaim_delay_ms=1500, reclaim_interval_ms=500,
                            reconnect_seconds=20)
        router = Router(client, stream, "G", "c1", handle, settings, _exhausted)
        await router.start()
        await client.call("XADD", stream, "*", "message", "held")
        await asyncio.wait_for(held.wait(), 10)
        replicated(cluster, victim, stream, lambda sync, key: bool(sync.xlen(key)))                   # the replica has the message
        cluster.kill(victim)
        cluster.wait_ok()                                     # the replica took the slots
        assert await client.call("XLEN", stream) == 1         # the client found the new master
        release.set()
        await assert_eventually(lambda: router is not None and router.stale == 1, timeout=20)
        await assert_eventually(lambda: handled == ["held"], timeout=20)       # reclaimed, applied once
        assert await client.call("XLEN", out) == 1
        assert router.failed == 0
    finally:
        if router is not None:
            await router.stop(drain_seconds=1)
        await client.close()
