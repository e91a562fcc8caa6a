"""``kill -9`` of a master with a replica: the replica takes over, the client finds it, commands
work again within seconds; a script in flight on the dead master is not run a second time."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable

import pytest
import redis

from hotmesh_core.cluster import ClusterRedis
from hotmesh_core.errors import ConnectionLostError
from hotmesh_core.seam import Script

from ..helpers import assert_eventually
from . import Cluster, Node

#: a script that keeps its master busy for ARGV[1] ms, then counts
SLOW_SOURCE = """
local function now() local t = redis.call('TIME') return t[1] * 1000 + t[2] / 1000 end
local start = now()
while now() - start < tonumber(ARGV[1]) do end
return redis.call('INCR', KEYS[1])
"""
SLOW = Script("slow", SLOW_SOURCE, hashlib.sha1(SLOW_SOURCE.encode()).hexdigest())


def replicated(cluster: Cluster, master: Node, key: str,
               present: Callable[[redis.Redis, str], bool] = lambda sync, key: sync.get(key) is not None) -> None:
    """Wait until a replica of ``master`` has ``key`` (``present``: a string key by default)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for node in cluster.nodes:
            if node is master or not node.alive:
                continue
            with node.client() as sync:
                if sync.info("replication").get("role") != "slave":
                    continue
                sync.execute_command("READONLY")
                try:
                    if present(sync, key):
                        return
                except redis.ResponseError:     # MOVED: a replica of another master
                    continue
        time.sleep(0.05)
    raise AssertionError(f"{key} did not reach a replica of {master.address}")


async def test_failover_of_a_master(cluster_with_replicas: Cluster) -> None:
    cluster = cluster_with_replicas
    client = ClusterRedis(cluster.url, reconnect_seconds=20)
    subscriber = client.subscriber()
    got: list[str] = []
    try:
        await client.call("PING")
        await subscriber.subscribe("fo", lambda channel, data: got.append(data))
        victim = cluster.node_at(subscriber.address)           # the subscriber's node dies too
        key = cluster.key_on(victim, "fo")
        await client.call("SET", key, "before")
        replicated(cluster, victim, key)
        generation = subscriber.generation

        await client.run(SLOW, [f"{{{key}}}:n"], [0])          # loaded and run once
        replicated(cluster, victim, f"{{{key}}}:n")
        slow = asyncio.create_task(client.run(SLOW, [f"{{{key}}}:n"], [3000]))
        await asyncio.sleep(0.3)
        read = asyncio.create_task(client.call("GET", key))     # queued behind the script
        await asyncio.sleep(0.05)
        killed = time.monotonic()
        cluster.kill(victim)

        with pytest.raises(ConnectionLostError):               # its effect is unknown: not re-run
            await slow
        assert await read == "before"                           # a read is sent again, to the new master
        assert await client.call("SET", key, "after") == "OK"
        took = time.monotonic() - killed
        assert took < 10, took
        owner = client._map.slots[cluster.keyslot(key)]
        assert owner != victim.address
        with cluster.node_at(owner).client() as sync:
            assert sync.get(key) == "after"
            assert sync.get(f"{{{key}}}:n") == "1"             # the script in flight never ran twice

        await assert_eventually(lambda: subscriber.generation > generation, timeout=15)
        assert subscriber.address != victim.address
        await assert_eventually(lambda: subscriber.down_since is None, timeout=5)

        async def delivered() -> bool:
            await client.call("PUBLISH", "fo", "hello")
            return "hello" in got
        await assert_eventually(delivered, timeout=5, interval=0.2)
        print(f"failover: commands served again {took:.2f}s after kill -9")
    finally:
        await subscriber.close()
        await client.close()
