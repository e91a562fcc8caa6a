"""The Redis seam (``seam.Redis``, implemented by ``wire.Wire``): every scheme including TLS,
transactions, pub/sub, and Redis' errors as ``HotMeshError``s, against real redis-servers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from hotmesh_core import HotMesh, RedisServer, Worker, tlsio
from hotmesh_core.errors import (
    ConnectionLostError,
    HotMeshError,
    RedisAuthError,
    RedisCommandError,
    RedisOutOfMemoryError,
    RedisPermissionError,
)
from hotmesh_core.redis_server import free_port
from hotmesh_core.wire import Wire

from ..conftest import fast_settings
from ..tls import TlsFiles, make_tls

APP = """
app:
  id: {APP}
  version: '1'
  graphs:
    - subscribes: {APP}.go
      expire: 60
      activities:
        t1:
          type: trigger
        w1:
          type: worker
          topic: {APP}.work
          input:
            maps:
              x: '{t1.output.data.x}'
          job:
            maps:
              y: '{$self.output.data.y}'
      transitions:
        t1:
          - to: w1
"""


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def tls_server(tls_files: TlsFiles, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(port=0, data_dir=tmp_path_factory.mktemp("redis-tls"),
                         tls=(tls_files.cert, tls_files.key, tls_files.ca))
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def wire(redis_url: str) -> AsyncIterator[Wire]:
    w = Wire(redis_url)
    yield w
    await w.close()


# -- TLS ------------------------------------------------------------------------------------------
async def test_tls_commands_scripts_transactions_and_pubsub(tls_server: RedisServer, app_id: str) -> None:
    assert tls_server.url.startswith("rediss://")
    wire = Wire(tls_server.url)
    subscriber = wire.subscriber()
    try:
        assert await wire.call("PING") == "PONG"
        assert await wire.transaction([["SET", f"{app_id}:a", "1"], ["INCR", f"{app_id}:a"]]) == ["OK", 2]
        assert await wire.pipeline([["GET", f"{app_id}:a"], ["EXISTS", f"{app_id}:b"]]) == ["2", 0]
        got: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        await subscriber.subscribe(f"{app_id}:ch", lambda channel, data: got.put_nowait((channel, data)))
        await wire.call("PUBLISH", f"{app_id}:ch", "hello")
        assert await asyncio.wait_for(got.get(), 5) == (f"{app_id}:ch", "hello")
    finally:
        await subscriber.close()
        await wire.close()


async def test_tls_a_whole_job(tls_server: RedisServer, app_id: str) -> None:
    async def work(message):  # type: ignore[no-untyped-def]
        return {"y": message.data["x"] * 2}

    hm = await HotMesh.init(app_id, tls_server.url, workers=[Worker(f"{app_id}.work", work)],
                            settings=fast_settings())
    try:
        await hm.activate(await hm.deploy(APP.replace("{APP}", app_id)))
        job = await hm.pubsub(f"{app_id}.go", {"x": 21}, timeout=10)
        assert job["data"] == {"y": 42}
    finally:
        await hm.stop()


@pytest.mark.parametrize("transport", ["tlsio", "sslproto"])
async def test_tls_large_values_many_in_flight_and_a_killed_connection(
        transport: str, tls_server: RedisServer, app_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both TLS paths of the default loop (``tlsio``: OpenSSL on the socket; asyncio's
    ``sslproto``): values far larger than a TLS record and the socket buffers (partial writes,
    reads spanning many records), thousands of commands in one write, and a connection the server
    kills, after which the next command reconnects."""
    if transport == "sslproto":
        monkeypatch.setattr(tlsio, "usable", lambda loop: False)
    wire = Wire(tls_server.url)
    try:
        await wire.call("PING")
        assert wire._protocol is not None
        used = type(wire._protocol.transport).__module__
        assert (used == "hotmesh_core.tlsio") == (transport == "tlsio"), used
        big = "".join(chr(48 + i % 75) for i in range(8 * 1024 * 1024))        # 8 MiB
        assert await wire.call("SET", f"{app_id}:big", big) == "OK"
        assert await wire.call("GET", f"{app_id}:big") == big
        replies = await asyncio.gather(*[wire.call("INCR", f"{app_id}:n") for _ in range(20_000)])
        assert sorted(replies) == list(range(1, 20_001))
        name = f"{app_id}-{transport}"
        await wire.call("CLIENT", "SETNAME", name)
        killer = Wire(tls_server.url)
        await killer.call("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
        await killer.close()
        deadline = time.monotonic() + 10
        while True:                     # the first command may meet the dying connection
            try:
                assert await wire.call("GET", f"{app_id}:n") == "20000"
                break
            except ConnectionLostError:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.05)
    finally:
        await wire.close()


async def test_tls_verification_options(tls_server: RedisServer, tls_files: TlsFiles) -> None:
    port = tls_server.port
    untrusted = Wire(f"rediss://127.0.0.1:{port}/0")            # the system CAs do not know ours
    with pytest.raises(ConnectionLostError, match="certificate verify failed"):
        await untrusted.call("PING")
    await untrusted.close()
    unverified = Wire(f"rediss://127.0.0.1:{port}/0?ssl_cert_reqs=none")
    assert await unverified.call("PING") == "PONG"
    await unverified.close()


async def test_tls_client_certificates(tls_files: TlsFiles, tmp_path: Path) -> None:
    server = RedisServer(port=0, data_dir=tmp_path / "mtls", tls=(tls_files.cert, tls_files.key, tls_files.ca),
                         extra_args=["--tls-auth-clients", "yes"])
    server.start()
    try:
        anonymous = Wire(server.url)
        with pytest.raises(ConnectionLostError):
            await anonymous.call("PING")
        await anonymous.close()
        known = Wire(f"{server.url}&ssl_certfile={tls_files.client_cert}&ssl_keyfile={tls_files.client_key}")
        assert await known.call("PING") == "PONG"
        await known.close()
    finally:
        server.stop()


# -- errors ---------------------------------------------------------------------------------------
async def test_a_closed_port_fails_at_once_with_connection_lost() -> None:
    wire = Wire(f"redis://127.0.0.1:{free_port()}/0")
    started = time.monotonic()
    with pytest.raises(ConnectionLostError) as caught:
        await wire.call("PING")
    assert time.monotonic() - started < 2
    assert caught.value.code == 503 and caught.value.transient
    await wire.close()


async def test_error_replies_become_hotmesh_errors(wire: Wire, redis_url: str, sync_redis, app_id: str) -> None:
    await wire.call("SET", f"{app_id}:s", "text")
    with pytest.raises(RedisCommandError) as caught:
        await wire.call("INCR", f"{app_id}:s")
    assert isinstance(caught.value, HotMeshError) and caught.value.kind == "ERR"
    with pytest.raises(RedisCommandError) as caught:                # first error of a transaction
        await wire.transaction([["INCR", f"{app_id}:n"], ["INCR", f"{app_id}:s"]])
    assert "not an integer" in caught.value.reply
    assert await wire.call("GET", f"{app_id}:n") == "1"              # MULTI runs the others
    user = f"{app_id}-user"
    sync_redis.acl_setuser(user, enabled=True, passwords=["+secret"], keys=[f"{app_id}:mine:*"],
                           commands=["+@all"])
    try:
        confined = Wire(redis_url.replace("redis://", f"redis://{user}:secret@"))
        assert await confined.call("SET", f"{app_id}:mine:1", "x") == "OK"
        with pytest.raises(RedisPermissionError) as denied:
            await confined.call("SET", f"{app_id}:other", "x")
        assert denied.value.code == 403
        await confined.close()
        wrong = Wire(redis_url.replace("redis://", f"redis://{user}:nope@"))
        with pytest.raises(RedisAuthError) as refused:
            await wrong.call("PING")
        assert refused.value.code == 401 and not refused.value.transient
        await wrong.close()
    finally:
        sync_redis.acl_deluser(user)


async def test_out_of_memory_is_refused_whole(wire: Wire, sync_redis, app_id: str) -> None:
    policy = sync_redis.config_get("maxmemory-policy")["maxmemory-policy"]
    sync_redis.config_set("maxmemory-policy", "noeviction")
    sync_redis.config_set("maxmemory", "1")
    try:
        with pytest.raises(RedisOutOfMemoryError) as caught:
            await wire.transaction([["SET", f"{app_id}:a", "1"], ["SET", f"{app_id}:b", "2"]])
        assert caught.value.code == 507 and caught.value.transient
        with pytest.raises(RedisOutOfMemoryError):
            await wire.call("EVAL", "redis.call('SET', KEYS[1], 1); redis.call('SET', KEYS[2], 2)", 2,
                            f"{app_id}:c", f"{app_id}:d")
        assert await wire.call("PING") == "PONG"                       # reads still work
    finally:
        sync_redis.config_set("maxmemory", "0")
        sync_redis.config_set("maxmemory-policy", policy)
    assert sync_redis.exists(f"{app_id}:a", f"{app_id}:b", f"{app_id}:c", f"{app_id}:d") == 0


# -- pub/sub --------------------------------------------------------------------------------------
async def test_subscriptions_survive_a_killed_connection(wire: Wire, sync_redis, app_id: str) -> None:
    subscriber = wire.subscriber()
    got: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
    try:
        await subscriber.subscribe(f"{app_id}:one", lambda c, d: got.put_nowait((c, d)))
        await subscriber.psubscribe(f"{app_id}:many:*", lambda c, d: got.put_nowait((c, d)))
        await wire.call("PUBLISH", f"{app_id}:many:7", "a")
        assert await asyncio.wait_for(got.get(), 5) == (f"{app_id}:many:7", "a")
        generation = subscriber.generation
        sync_redis.client_kill_filter(_type="pubsub")
        for _ in range(100):
            if subscriber.generation > generation and sync_redis.pubsub_numsub(f"{app_id}:one")[0][1]:
                break
            await asyncio.sleep(0.05)
        assert subscriber.generation == generation + 1
        await asyncio.sleep(0.1)
        await wire.call("PUBLISH", f"{app_id}:one", "b")
        await wire.call("PUBLISH", f"{app_id}:many:8", "c")
        assert {await asyncio.wait_for(got.get(), 5) for _ in range(2)} == {(f"{app_id}:one", "b"),
                                                                             (f"{app_id}:many:8", "c")}
        await subscriber.unsubscribe(f"{app_id}:one")
        await wire.call("PUBLISH", f"{app_id}:one", "gone")
        await asyncio.sleep(0.2)
        assert got.empty()
    finally:
        await subscriber.close()


UVLOOP_JOB = """
import asyncio, sys
import uvloop
from hotmesh_core import HotMesh, Worker

async def work(message):
    return {"y": message.data["x"] * 2}

async def main(url, app_id):
    hm = await HotMesh.init(app_id, url, workers=[Worker(app_id + ".work", work)])
    try:
        await hm.activate(await hm.deploy(sys.argv[3]))
        job = await hm.pubsub(app_id + ".go", {"x": 21}, timeout=10)
        print(type(asyncio.get_running_loop()).__module__, job["data"])
    finally:
        await hm.stop()

uvloop.run(main(sys.argv[1], sys.argv[2]))
"""


@pytest.mark.parametrize("scheme", ["plain", "tls"])
def test_a_whole_job_on_uvloop(scheme: str, redis_url: str, tls_server: RedisServer, app_id: str) -> None:
    """uvloop's transports are not asyncio.Transport subclasses: the Wire and its pub/sub take them."""
    import subprocess
    import sys

    import uvloop  # noqa: F401  (a dev dependency: fail, do not skip, when it is missing)

    url = redis_url if scheme == "plain" else tls_server.url
    out = subprocess.run([sys.executable, "-c", UVLOOP_JOB, url, f"{app_id}-{scheme}",
                          APP.replace("{APP}", f"{app_id}-{scheme}")], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "uvloop {'y': 42}", out.stdout
