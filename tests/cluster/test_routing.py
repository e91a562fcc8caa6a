"""The cluster client on a real three-master Redis Cluster: the slot function, routing of every
kind of command, local CROSSSLOT refusal, blocking reads on two nodes, pub/sub across nodes."""

from __future__ import annotations

import asyncio
import hashlib
import random
import re
import string
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hotmesh_core import HotMesh, ShardConfigError
from hotmesh_core.cluster import (
    ALL_KEYS,
    KEY_AT,
    KEYLESS,
    SCRIPTS,
    STREAM_READS,
    ClusterRedis,
    ClusterSubscriber,
    connect,
    key_slot,
    parse_cluster_url,
)
from hotmesh_core.errors import CrossSlotError, RedisCommandError, ValidationError
from hotmesh_core.seam import Script
from hotmesh_core.wire import Wire

from ..helpers import assert_eventually
from . import Cluster

CORE = Path(__file__).resolve().parents[2] / "hotmesh_core"


def _script(source: str) -> Script:
    return Script("t", source, hashlib.sha1(source.encode()).hexdigest())


INCR = _script("return redis.call('INCRBY', KEYS[1], ARGV[1])")


@pytest.fixture
async def client(cluster: Cluster) -> AsyncIterator[ClusterRedis]:
    redis = ClusterRedis(cluster.url, reconnect_seconds=5)
    yield redis
    await redis.close()


def keys_per_node(cluster: Cluster, prefix: str) -> dict[str, str]:
    """One key per master: address -> key."""
    return {node.address: cluster.key_on(node, prefix) for node in cluster.primaries()}


def test_key_slot_matches_cluster_keyslot(cluster: Cluster) -> None:
    rng = random.Random(14)
    keys = ["", "{}", "{}{a}", "a{}b", "{a}", "a{b}c", "x{b}", "{b}y", "{a", "a}", "}a{b}", "a{b{c}d}",
            "{{a}}", "{a}{b}", "hmsh:app:j:{s3}job-1", "hmsh:app:x:{s3}", "é{ü}ß", "日本{語}", "a{ }b"]
    alphabet = string.ascii_letters + string.digits + "{}:-_ é"
    keys += ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 24))) for _ in range(1500)]
    with cluster.live().client() as sync:
        pipe = sync.pipeline(transaction=False)
        for key in keys:
            pipe.execute_command("CLUSTER", "KEYSLOT", key)
        expected = pipe.execute()
    wrong = [(key, key_slot(key), slot) for key, slot in zip(keys, expected, strict=True)
             if key_slot(key) != int(slot)]
    assert not wrong, wrong[:10]
    assert key_slot(b"{user1000}.following") == key_slot("user1000")


def test_url_forms() -> None:
    seeds, node_url = parse_cluster_url("rediss+cluster://u:p%40ss@h1:7000,[::1]:7001,h3/?ssl_cert_reqs=none")
    assert seeds == [("h1", 7000), ("::1", 7001), ("h3", 6379)]
    assert node_url("10.0.0.2", 7002) == "rediss://u:p%40ss@10.0.0.2:7002/0?ssl_cert_reqs=none"
    assert node_url("::2", 7003) == "rediss://u:p%40ss@[::2]:7003/0?ssl_cert_reqs=none"
    with pytest.raises(ValidationError, match="only database 0"):
        parse_cluster_url("redis+cluster://h1:7000/3")
    with pytest.raises(ValidationError, match="no host"):
        parse_cluster_url("redis+cluster://")
    assert isinstance(connect("redis+cluster://h1:7000"), ClusterRedis)
    assert isinstance(connect("redis://h1:7000/0"), Wire)


async def test_every_command_of_the_core_has_a_key_position(cluster: Cluster) -> None:
    """The commands the core sends (names in its source) are all in the one table, and the table's
    key positions agree with the server's own (COMMAND INFO)."""
    raw = Wire(f"redis://{cluster.live().address}/0")
    known = {str(name).upper() for name in await raw.call("COMMAND", "LIST")}
    infos = {name: (await raw.call("COMMAND", "INFO", name))[0] for name in KEY_AT}
    await raw.close()
    sent: set[str] = set()
    for path in CORE.rglob("*.py"):
        if path.name in ("wire.py", "cluster.py"):
            continue
        sent |= {name for name in re.findall(r'[(\[]\s*"([A-Z]{3,})"', path.read_text()) if name in known}
    assert {"XADD", "XREADGROUP", "HGETALL", "PUBLISH", "SCAN", "XGROUP"} <= sent     # scripts: run()
    placed = set(KEY_AT) | ALL_KEYS | SCRIPTS | STREAM_READS | KEYLESS | {"SCAN", "MULTI", "EXEC"}
    assert sent - placed == set()
    for name, at in KEY_AT.items():
        first = infos[name][3]                  # name, arity, flags, first key, last key, step...
        if at == 1:
            assert first == 1, name
        else:
            assert first == 0, name          # a container command: the key follows a subcommand


async def test_call_run_pipeline_transaction_reach_every_master(cluster: Cluster, client: ClusterRedis) -> None:
    keys = keys_per_node(cluster, "route")
    assert len(keys) == 3
    for address, key in keys.items():
        assert await client.call("SET", key, address) == "OK"
    for address, key in keys.items():                    # each key really lives on its master
        with cluster.node_at(address).client() as sync:
            assert sync.get(key) == address
    assert await client.pipeline([["GET", k] for k in keys.values()] * 2) == list(keys) * 2
    counters = {address: f"{{{key}}}:n" for address, key in keys.items()}
    for n in (1, 2):
        for address, counter in counters.items():
            assert await client.run(INCR, [counter], [10]) == 10 * n
            assert key_slot(counter) == key_slot(keys[address])
    for address, key in keys.items():
        tagged = f"{{{key}}}"
        replies = await client.transaction([["SET", f"{tagged}:a", "1"], ["INCR", f"{tagged}:b"],
                                            ["GET", f"{tagged}:a"]])
        assert replies == ["OK", 1, "1"]
        with cluster.node_at(address).client() as sync:
            assert sync.get(f"{tagged}:b") == "1"
    assert await client.call("PING") == "PONG"
    assert "redis_version" in await client.call("INFO", "server")
    with pytest.raises(RedisCommandError, match="WRONGTYPE"):
        await client.pipeline([["GET", list(keys.values())[0]], ["HGET", list(keys.values())[1], "f"]])


async def test_scan_walks_every_master(cluster: Cluster, client: ClusterRedis) -> None:
    written = [f"scan-{n}" for n in range(60)]
    await client.pipeline([["SET", key, 1] for key in written])
    found: list[str] = []
    cursor = "0"
    for _ in range(1000):
        cursor, keys = await client.call("SCAN", cursor, "MATCH", "scan-*", "COUNT", 7)
        found += keys
        if cursor == "0":
            break
    assert sorted(found) == sorted(written)


async def test_cross_slot_is_refused_before_sending(cluster: Cluster, client: ClusterRedis) -> None:
    a, b = "cross:a", "cross:b"
    assert key_slot(a) != key_slot(b)
    before = Wire.commands
    with pytest.raises(CrossSlotError) as caught:
        await client.run(INCR, [a, b], [1])
    assert f"'{a}' -> {key_slot(a)}" in str(caught.value) and f"'{b}' -> {key_slot(b)}" in str(caught.value)
    assert "hash tag" in str(caught.value)
    assert caught.value.details["keys"] == {a: key_slot(a), b: key_slot(b)}
    with pytest.raises(CrossSlotError, match="transaction"):
        await client.transaction([["SET", a, 1], ["SET", b, 1]])
    with pytest.raises(CrossSlotError):
        await client.call("XREADGROUP", "GROUP", "g", "c", "STREAMS", a, b, ">", ">")
    with pytest.raises(CrossSlotError):
        await client.call("DEL", a, b)
    assert Wire.commands == before                        # nothing went out
    assert await client.call("DEL", "{cross}a", "{cross}b") == 0     # one tag, one slot: fine
    assert await client.call("EXISTS", a) == 0


async def test_noscript_loads_on_the_node_that_answered(cluster: Cluster, client: ClusterRedis) -> None:
    script = _script(f"return redis.call('INCR', KEYS[1]) -- {time.time()}")
    for address, key in keys_per_node(cluster, "noscript").items():
        assert await client.run(script, [key], []) == 1
        with cluster.node_at(address).client() as sync:
            assert sync.execute_command("SCRIPT", "EXISTS", script.sha) == [1]


async def test_blocking_reads_on_two_nodes_at_once(cluster: Cluster, client: ClusterRedis) -> None:
    nodes = cluster.primaries()
    streams = [cluster.key_on(nodes[0], "bs"), cluster.key_on(nodes[1], "bs")]
    for stream in streams:
        await client.call("XGROUP", "CREATE", stream, "g", "$", "MKSTREAM")
    reader = client.blocking(10)
    try:
        reads = [asyncio.create_task(reader.call("XREADGROUP", "GROUP", "g", "c", "COUNT", 1, "BLOCK", 5000,
                                                 "STREAMS", stream, ">")) for stream in streams]
        await asyncio.sleep(0.3)
        started = time.monotonic()
        assert await client.call("PING") == "PONG"          # the shared connections are free
        await client.call("XADD", streams[1], "*", "n", "1")
        reply = await asyncio.wait_for(reads[1], 2)
        assert time.monotonic() - started < 1.0             # not behind the read blocked on node 0
        assert reply[0][0] == streams[1] and reply[0][1][0][1] == ["n", "1"]
        assert not reads[0].done()
        await client.call("XADD", streams[0], "*", "n", "0")
        assert (await asyncio.wait_for(reads[0], 2))[0][1][0][1] == ["n", "0"]
    finally:
        await reader.close()


async def test_pubsub_across_nodes(cluster: Cluster, client: ClusterRedis) -> None:
    subscriber = client.subscriber()
    assert isinstance(subscriber, ClusterSubscriber)
    got: list[tuple[str, str]] = []
    try:
        await subscriber.subscribe("news", lambda channel, data: got.append((channel, data)))
        await subscriber.psubscribe("ne*", lambda channel, data: got.append(("p:" + channel, data)))
        others = [n for n in cluster.primaries() if n.address != subscriber.address]
        assert len(others) == 2
        for node in others:                              # published on another node's connection
            publisher = Wire(f"redis://{node.address}/0")
            await publisher.call("PUBLISH", "news", node.address)   # counts this node's receivers only
            await publisher.close()
        await assert_eventually(lambda: len(got) == 4, timeout=5)
        assert sorted(d for c, d in got if c == "news") == sorted(n.address for n in others)
    finally:
        await subscriber.close()


async def test_hotmesh_init_takes_a_cluster_url(cluster: Cluster, app_id: str) -> None:
    hm = await HotMesh.init(app_id, cluster.url, engine=False)
    try:
        assert isinstance(hm.redis, ClusterRedis)
        assert hm.url == cluster.url
        assert await hm.redis.call("PING") == "PONG"
    finally:
        await hm.stop()


async def test_an_app_keeps_its_shard_count(cluster: Cluster, app_id: str, redis_url: str) -> None:
    """A cluster app gets one shard per master, recorded; asking for another count later is refused
    before anything is written, and so is sharding an app that already runs unsharded."""
    hm = await HotMesh.init(app_id, cluster.url, engine=False)
    try:
        assert hm.keys.shards == 3 and len(set(hm.keys.tags)) == 3
        slots = {cluster.keyslot(hm.keys.engine_stream_of(n)) for n in hm.keys.shard_ids}
        assert {cluster.master_of(slot).address for slot in slots} == {n.address for n in cluster.primaries()}
    finally:
        await hm.stop()
    with pytest.raises(ShardConfigError, match="has 3 shard"):
        await HotMesh.init(app_id, cluster.url, engine=False, shards=5)
    plain = await HotMesh.init(app_id + "-plain", redis_url, engine=False)
    try:
        await plain.deploy(f"app:\n  id: {app_id}-plain\n  version: '1'\n  graphs:\n"
                           "    - subscribes: p.t\n      activities:\n        t: {type: trigger}\n")
        assert plain.keys.shards == 1
    finally:
        await plain.stop()
    with pytest.raises(ShardConfigError, match="has 1 shard"):
        await HotMesh.init(app_id + "-plain", redis_url, engine=False, shards=3)
