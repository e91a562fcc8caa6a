"""The error contract: every public call of ``HotMesh`` raises a ``HotMeshError`` with its documented
code when Redis is gone, refuses the credentials or is out of memory; never a client library's
exception. Real redis-servers, one per test."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import redis

from hotmesh_core import HotMesh, RedisServer, Worker
from hotmesh_core.errors import (
    ConnectionLostError,
    HotMeshError,
    RedisAuthError,
    RedisOutOfMemoryError,
)

from ..conftest import fast_settings

APP = """
app:
  id: contract
  version: '{V}'
  graphs:
    - subscribes: contract.go
      expire: 600
      activities:
        t1:
          type: trigger
          stats:
            id: '{$self.input.data.id}'
            key: '{$self.input.data.id}'
            granularity: infinity
            measures:
              - { measure: index, target: '{$self.input.data.id}' }
        h1: { type: hook, job: { maps: { done: true } } }
      transitions:
        t1: [ { to: h1 } ]
      hooks:
        contract.wake:
          - to: h1
            conditions:
              match:
                - expected: '{t1.output.data.id}'
                  actual: '{$self.hook.data.id}'
"""


def app(version: str = "1") -> str:
    return APP.replace("{V}", version)


async def noop(message: Any) -> dict[str, Any]:
    return {}


Call = Callable[[HotMesh], Awaitable[Any]]


def every_call(jid: str) -> dict[str, Call]:
    """Each public call of the facade that talks to Redis, with arguments that would work."""
    return {
        "deploy": lambda hm: hm.deploy(app("2")),
        "review": lambda hm: hm.review(app("2")),
        "activate": lambda hm: hm.activate("1"),
        "versions": lambda hm: hm.versions(),
        "active_version": lambda hm: hm.active_version(),
        "source": lambda hm: hm.source("1"),
        "compiled": lambda hm: hm.compiled("1"),
        "roll_call": lambda hm: hm.roll_call(0.05),
        "stream_stats": lambda hm: hm.stream_stats(hm.keys.engine_stream(), "ENGINE"),
        "throttle": lambda hm: hm.throttle(10),
        "pub": lambda hm: hm.pub("contract.go", {"id": "p"}),
        "pubsub": lambda hm: hm.pubsub("contract.go", {"id": "q"}, timeout=0.5),
        "add": lambda hm: hm.add({"metadata": {"jid": jid, "aid": "h1", "dad": ",0"}, "data": {}}),
        "get_status": lambda hm: hm.get_status(jid),
        "get_state": lambda hm: hm.get_state("contract.go", jid),
        "get_raw": lambda hm: hm.get_raw(jid),
        "job_fields": lambda hm: hm.job_fields([jid], ["m/jid"]),
        "export": lambda hm: hm.export(jid),
        "scrub": lambda hm: hm.scrub(jid),
        "list_jobs": lambda hm: hm.list_jobs(),
        "interrupt": lambda hm: hm.interrupt("contract.go", jid),
        "hook": lambda hm: hm.hook("contract.wake", {"id": "a"}),
        "get_stats": lambda hm: hm.get_stats("contract.go", {"id": "a"}),
        "get_ids": lambda hm: hm.get_ids("contract.go", {"id": "a"}, ["id:a"]),
        "dead_letters": lambda hm: hm.dead_letters(),
        "replay_dead_letter": lambda hm: hm.replay_dead_letter("1-0"),
        "discard_dead_letter": lambda hm: hm.discard_dead_letter("1-0"),
        "sub": lambda hm: hm.sub("contract.out", lambda topic, job: None),
        "psub": lambda hm: hm.psub("contract.*", lambda topic, job: None),
        "watch": lambda hm: hm.watch(1),
        "listen_events": lambda hm: hm.listen_events(lambda event: None),
    }


async def started(url: str) -> tuple[HotMesh, str]:
    """An engine with a worker, version 1 active and one job waiting in its hook."""
    hm = await HotMesh.init("contract", url, workers=[Worker("contract.noop", noop)],
                            settings=fast_settings(reconnect_seconds=0.3))
    await hm.activate(await hm.deploy(app("1")))
    jid = await hm.pub("contract.go", {"id": "a"})
    return hm, jid


async def check_all(hm: HotMesh, calls: dict[str, Call], expected: type[HotMeshError], code: int) -> None:
    wrong: dict[str, str] = {}
    for name, call in calls.items():
        begun = time.monotonic()
        try:
            await call(hm)
            wrong[name] = "no error"
        except expected as exc:
            assert exc.code == code, name
            assert time.monotonic() - begun < 5, f"{name} took {time.monotonic() - begun:.1f}s"
        except Exception as exc:  # noqa: BLE001 - what the contract forbids
            wrong[name] = f"{type(exc).__module__}.{type(exc).__name__}: {exc}"
    assert not wrong, wrong


async def test_a_closed_port_is_connection_lost_for_every_call(server: RedisServer) -> None:
    hm, jid = await started(server.url)
    server.stop()
    try:
        await check_all(hm, every_call(jid), ConnectionLostError, 503)
    finally:
        begun = time.monotonic()
        await hm.stop()
        assert time.monotonic() - begun < 5
    with pytest.raises(ConnectionLostError) as caught:        # and init on a closed port, at once
        await HotMesh.init("contract", server.url)
    assert caught.value.transient


async def test_refused_credentials_are_an_auth_error_for_every_call(server: RedisServer) -> None:
    hm, jid = await started(server.url)
    admin = redis.Redis(port=server.port, decode_responses=True)
    admin.acl_setuser("default", enabled=True, passwords=["+changed"], reset_passwords=True,
                      keys=["*"], channels=["*"], commands=["+@all"])
    admin = redis.Redis(port=server.port, password="changed", decode_responses=True)
    admin.client_kill_filter(_type="normal", skipme=True)
    admin.client_kill_filter(_type="pubsub")
    try:
        calls = every_call(jid)
        for name in ("sub", "psub", "listen_events"):    # pub/sub reconnects in the background:
            calls.pop(name)                              # see the test below for them
        await check_all(hm, calls, RedisAuthError, 401)
    finally:
        await hm.stop()
    for url in (server.url, server.url.replace("redis://", "redis://:wrong@")):
        with pytest.raises(RedisAuthError) as caught:
            await HotMesh.init("contract", url)
        assert caught.value.code == 401 and not caught.value.transient
    admin.close()


async def test_out_of_memory_refuses_every_write_and_writes_nothing(server: RedisServer) -> None:
    hm, jid = await started(server.url)
    admin = redis.Redis(port=server.port, decode_responses=True)
    await hm.throttle(0)
    def keys() -> list[str]:     # leases come and go with the processes (the scout's is released at stop)
        return [key for key in admin.keys("*") if ":w:" not in key]

    before = {key: admin.type(key) for key in keys()}
    dump = {key: admin.dump(key) for key in before if before[key] != "stream"}
    lengths = {key: admin.xlen(key) for key in before if before[key] == "stream"}
    admin.config_set("maxmemory-policy", "noeviction")
    admin.config_set("maxmemory", "1")
    try:
        calls = every_call(jid)
        writes = {name: calls[name] for name in ("deploy", "activate", "throttle", "pub", "pubsub", "add",
                                                 "interrupt", "hook")}
        await check_all(hm, writes, RedisOutOfMemoryError, 507)
        for name in ("versions", "source", "get_state", "export", "list_jobs", "dead_letters"):
            await calls[name](hm)                     # reads still work
    finally:
        admin.config_set("maxmemory", "0")
        await hm.stop()
    after = {key: admin.type(key) for key in keys()}
    assert set(after) == set(before), "no key was added"
    assert {key: admin.dump(key) for key in dump} == dump, "no key was changed"
    assert {key: admin.xlen(key) for key in lengths} == lengths, "no stream entry was added"
    admin.close()


async def test_new_subscriptions_fail_while_pub_sub_is_down(server: RedisServer) -> None:
    hm, _ = await started(server.url)
    server.stop()
    try:
        for call in (lambda: hm.sub("contract.out", lambda t, j: None),
                     lambda: hm.psub("contract.*", lambda t, j: None),
                     lambda: hm.listen_events(lambda e: None)):
            with pytest.raises(ConnectionLostError):
                await call()
    finally:
        await hm.stop()


async def test_init_refuses_a_redis_that_may_evict_job_state_unless_allowed(redis_url, sync_redis, app_id,
                                                                             caplog) -> None:
    from hotmesh_core import HotMesh, RedisConfigError

    sync_redis.config_set("maxmemory-policy", "allkeys-lru")
    try:
        started = time.monotonic()
        with pytest.raises(RedisConfigError, match="maxmemory-policy allkeys-lru") as caught:
            await HotMesh.init(app_id, redis_url, engine=True)
        assert caught.value.code == 500 and "noeviction" in caught.value.message
        assert time.monotonic() - started < 5
        hm = await HotMesh.init(app_id, redis_url, engine=True, allow_eviction=True)
        try:
            assert any("maxmemory-policy allkeys-lru" in r.getMessage() for r in caplog.records)
        finally:
            await hm.stop()
    finally:
        sync_redis.config_set("maxmemory-policy", "noeviction")


async def test_a_pubsub_caller_fails_fast_when_redis_dies_and_stop_is_prompt(server: RedisServer) -> None:
    """Probe: Redis killed while ``pubsub`` waits made the caller wait its whole timeout and ``stop()``
    take 5 s. Now the caller gets ``ConnectionLostError`` once the pub/sub connection has been down
    for the reconnect budget (0.3 s here), and ``stop()`` returns at once."""
    import asyncio

    hm, _ = await started(server.url)
    waiting = asyncio.create_task(hm.pubsub("contract.go", {"id": "b"}, timeout=60))   # waits in its hook
    await asyncio.sleep(0.5)
    server.stop()
    begun = time.monotonic()
    with pytest.raises(ConnectionLostError) as caught:
        await waiting
    assert caught.value.code == 503 and "get_state" in caught.value.message
    assert time.monotonic() - begun < 5, time.monotonic() - begun
    begun = time.monotonic()
    await hm.stop()
    assert time.monotonic() - begun < 3, time.monotonic() - begun
