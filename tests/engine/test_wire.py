"""The multiplexed hot-path connection (``hotmesh_core.wire``) and stream housekeeping
(``hotmesh_core.streams``) against the real redis-server."""

from __future__ import annotations

import asyncio
import hashlib

import pytest

from hotmesh_core.errors import ConnectionLostError, RedisCommandError, RedisTimeoutError
from hotmesh_core.seam import Script
from hotmesh_core.streams import backlog, trim
from hotmesh_core.wire import Wire

from ..helpers import backlog as sync_backlog


@pytest.fixture
async def wire(redis_url: str):
    w = Wire(redis_url)
    yield w
    await w.close()


async def test_concurrent_commands_get_their_own_replies_in_few_writes(wire: Wire, sync_redis, app_id) -> None:
    key = f"{app_id}:n"
    await wire.call("PING")                           # connected
    writes = Wire.writes
    replies = await asyncio.gather(*[wire.call("INCR", key) for _ in range(1000)])
    assert sorted(replies) == list(range(1, 1001))
    assert replies == list(range(1, 1001))            # queued in order, answered in order
    assert Wire.writes - writes < 20                   # pipelined: one write per loop turn, not 1000
    got = await asyncio.gather(*[wire.call("SET", f"{key}:{i}", f"v{i}") for i in range(50)],
                               *[wire.call("GET", f"{key}:{i}") for i in range(50)])
    assert got[50:] == [f"v{i}" for i in range(50)]


async def test_errors_are_per_command_and_the_connection_goes_on(wire: Wire, app_id) -> None:
    key = f"{app_id}:s"
    await wire.call("SET", key, "text")
    results = await asyncio.gather(wire.call("INCR", key), wire.call("GET", key), return_exceptions=True)
    assert isinstance(results[0], RedisCommandError) and "not an integer" in str(results[0])
    assert results[1] == "text"


async def test_a_cancelled_caller_does_not_shift_the_replies(wire: Wire, app_id) -> None:
    key = f"{app_id}:c"
    await wire.call("SET", key, "1")
    doomed = asyncio.ensure_future(wire.call("GET", key))
    await asyncio.sleep(0)
    doomed.cancel()
    after = await asyncio.gather(*[wire.call("INCR", key) for _ in range(5)])
    assert after == [2, 3, 4, 5, 6]


async def test_run_loads_a_flushed_script_again(wire: Wire, sync_redis) -> None:
    source = "return ARGV[1] .. '!'"
    script = Script("test", source, hashlib.sha1(source.encode()).hexdigest())
    assert await wire.run(script, [], ["hi"]) == "hi!"
    sync_redis.script_flush()
    assert await wire.run(script, [], ["again"]) == "again!"


async def test_a_killed_connection_is_replaced_and_the_command_retried(wire: Wire, sync_redis, app_id) -> None:
    key = f"{app_id}:k"
    assert await wire.call("SET", key, "1") == "OK"
    me = await wire.call("CLIENT", "ID")
    sync_redis.client_kill_filter(_id=me)
    assert await wire.call("INCR", key) == 2            # reconnected under the hood
    assert await wire.call("CLIENT", "ID") != me


async def test_a_server_that_stops_answering_is_cut_off(redis_url: str, sync_redis) -> None:
    slow = Wire(redis_url, timeout=0.5, reconnect_seconds=0)
    try:
        await slow.call("PING")
        with pytest.raises((ConnectionLostError, RedisTimeoutError)):
            await slow.call("DEBUG", "SLEEP", "2")       # Redis busy for 2 s: the watchdog gives up at 0.5
        await asyncio.sleep(1.7)
        assert await slow.call("PING") == "PONG"        # and the next command gets a new connection
    finally:
        await slow.close()


async def test_trim_removes_only_what_every_consumer_is_done_with(wire: Wire, sync_redis, redis_url, app_id) -> None:
    stream, group = f"{app_id}:x", "G"
    sync_redis.xgroup_create(stream, group, id="0", mkstream=True)
    ids = [sync_redis.xadd(stream, {"n": str(n)}) for n in range(10)]
    sync_redis.xreadgroup(group, "c1", {stream: ">"}, count=6)      # 6 delivered
    sync_redis.xack(stream, group, *ids[:2], *ids[3:5])              # 0,1,3,4 acked; 2 and 5 pending
    removed = await trim(wire, stream)
    assert removed == 2                                   # 0 and 1: older than the oldest pending (2)
    assert [e[0] for e in sync_redis.xrange(stream)] == ids[2:]
    sync_redis.xack(stream, group, ids[2], ids[5])
    await trim(wire, stream)
    assert [e[0] for e in sync_redis.xrange(stream)] == ids[5:]      # kept: last delivered + undelivered
    assert sync_backlog(sync_redis, stream) == 4                      # 6..9 never delivered
    assert await backlog(wire, stream) == 4
    assert await trim(wire, f"{app_id}:none") == 0                 # no stream: nothing to do

