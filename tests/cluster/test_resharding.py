"""A live slot migration under the client: ASK while the slot is half moved, MOVED after."""

from __future__ import annotations

import asyncio
import hashlib

from hotmesh_core.cluster import ClusterRedis, key_slot
from hotmesh_core.seam import Script

from . import Cluster, Node


def setslot(cluster: Cluster, slot: int, *args: str) -> None:
    for node in cluster.nodes:
        with node.client() as sync:
            sync.execute_command("CLUSTER", "SETSLOT", slot, *args)


def migrate(source: Node, target: Node, keys: list[str]) -> None:
    with source.client() as sync:
        sync.execute_command("MIGRATE", "127.0.0.1", target.port, "", 0, 5000, "KEYS", *keys)


async def test_ask_then_moved_during_a_live_migration(cluster: Cluster) -> None:
    client = ClusterRedis(cluster.url, reconnect_seconds=5)
    try:
        source, target = cluster.primaries()[:2]
        tag = cluster.key_on(source, "mig")
        slot = key_slot(tag)
        moved, stays = f"{{{tag}}}:moved", f"{{{tag}}}:stays"
        await client.call("SET", moved, "1")
        await client.call("SET", stays, "2")
        assert client._map.slots[slot] == source.address

        source_id, target_id = cluster.node_id(source), cluster.node_id(target)
        with target.client() as sync:
            sync.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", source_id)
        with source.client() as sync:
            sync.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", target_id)
        migrate(source, target, [moved])

        # ASK: the moved key is answered by the target, the map is left alone
        assert await client.call("GET", moved) == "1"
        assert await client.call("GET", stays) == "2"
        script = Script("t", f"return redis.call('INCR', KEYS[1]) -- ask {slot}",
                        hashlib.sha1(f"return redis.call('INCR', KEYS[1]) -- ask {slot}".encode()).hexdigest())
        assert await client.run(script, [moved], []) == 2          # NOSCRIPT on the target, loaded there
        assert await client.transaction([["INCR", moved], ["GET", moved]]) == [3, "3"]
        assert client._map.slots[slot] == source.address
        with target.client() as sync:
            assert sync.execute_command("SCRIPT", "EXISTS", script.sha) == [1]

        migrate(source, target, [stays])
        setslot(cluster, slot, "NODE", target_id)
        generation = client._map.generation

        # MOVED: a storm of commands on the moved slot, one refresh of the map
        replies = await asyncio.gather(*(client.call("GET", stays) for _ in range(200)))
        assert replies == ["2"] * 200
        assert client._map.slots[slot] == target.address
        task = client._map.refreshing
        if task is not None:
            await task
        assert client._map.generation == generation + 1
        assert await client.pipeline([["GET", moved], ["GET", stays]]) == ["3", "2"]
        with target.client() as sync:
            assert sync.get(stays) == "2"
    finally:
        await client.close()
