"""A misconfigured cluster, or the wrong URL form, fails at once with an error that says what to do."""

from __future__ import annotations

import asyncio
import time

import pytest

from hotmesh_core import HotMesh, RedisServer
from hotmesh_core.cluster import ClusterRedis
from hotmesh_core.errors import ClusterDownError, ClusterError, ConnectionLostError
from hotmesh_core.redis_server import free_port
from hotmesh_core.wire import Redirect, Wire

from . import Cluster, one_node


async def test_cluster_url_at_a_server_without_cluster_support(server: RedisServer) -> None:
    address = server.url.split("//", 1)[1].split("/", 1)[0]
    client = ClusterRedis(f"redis+cluster://{address}")
    try:
        with pytest.raises(ClusterError) as caught:
            await client.call("GET", "k")
        assert "cluster support disabled" in str(caught.value)
        assert f"redis://{address}" in str(caught.value)
    finally:
        await client.close()


async def test_plain_url_at_a_cluster_node_says_to_use_the_cluster_form(cluster: Cluster, app_id: str) -> None:
    here, other = cluster.primaries()[:2]
    wire = Wire(f"redis://{here.address}/0")
    try:
        with pytest.raises(Redirect) as caught:
            await wire.call("GET", cluster.key_on(other, "plain"))
        assert isinstance(caught.value, ClusterError)
        assert "redis+cluster://" in str(caught.value) and other.address in str(caught.value)
        assert caught.value.address == other.address and not caught.value.ask
    finally:
        await wire.close()


async def test_slots_not_covered() -> None:
    with one_node(slots=(0, 100)) as partial:
        client = ClusterRedis(partial.url, reconnect_seconds=1)
        try:
            with pytest.raises(ClusterError, match=r"does not serve every hash slot \(no master for 101-16383"):
                await client.call("PING")
        finally:
            await client.close()


async def test_no_seed_answers() -> None:
    ports = [free_port(), free_port()]
    started = time.monotonic()
    client = ClusterRedis(f"redis+cluster://127.0.0.1:{ports[0]},127.0.0.1:{ports[1]}")
    try:
        with pytest.raises(ConnectionLostError) as caught:
            await client.call("GET", "k")
        assert all(f"127.0.0.1:{p}" in str(caught.value) for p in ports)
        assert time.monotonic() - started < 5            # a wrong URL fails at once, no 30 s retry
    finally:
        await client.close()
    with pytest.raises(ConnectionLostError):
        await HotMesh.init("nobody", f"redis+cluster://127.0.0.1:{ports[0]}", engine=False)


async def test_credentials_reach_every_node() -> None:
    with one_node() as single:
        with single.node.client() as sync:
            sync.config_set("requirepass", "s3cret")
        client = ClusterRedis(f"redis+cluster://:s3cret@{single.node.address}")
        try:
            assert await client.call("SET", "a", "1") == "OK"
            assert await client.call("GET", "a") == "1"
        finally:
            await client.close()


async def test_unserved_slot_is_retried_then_cluster_down() -> None:
    """A slot no master serves (CLUSTERDOWN) is retried for ``reconnect_seconds``: served again in
    time, the command succeeds; not, ``ClusterDownError`` (transient, 503)."""
    with one_node() as single:
        client = ClusterRedis(single.url, reconnect_seconds=1.5)
        try:
            assert await client.call("SET", "foo", "1") == "OK"          # slot 12182
            with single.node.client() as sync:
                sync.execute_command("CLUSTER", "DELSLOTS", 12182)
            started = time.monotonic()
            with pytest.raises(ClusterDownError) as caught:
                await client.call("GET", "foo")
            assert caught.value.transient and caught.value.code == 503
            assert 0.5 < time.monotonic() - started < 4          # backoff until the next wait passes 1.5 s
            assert "12182" in str(caught.value)

            async def give_back() -> None:
                await asyncio.sleep(0.4)
                with single.node.client() as sync:
                    sync.execute_command("CLUSTER", "ADDSLOTS", 12182)
            restore = asyncio.create_task(give_back())
            assert await client.call("SET", "foo", "2") == "OK"
            await restore
        finally:
            await client.close()
