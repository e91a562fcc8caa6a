"""Test fixtures: one real redis-server per test session, a unique app id per test.

``HMSH_TEST_REDIS=cluster`` runs the tests that use ``redis_url`` on a real three-master Redis
Cluster instead (``tests/cluster``; the app is sharded, one shard per master), and
``HMSH_SHARDS=3`` on one Redis exercises the sharded layout (outbox included) without a cluster.
``sync_redis`` is then a cluster client. Tests that need a server of their own (``server``) keep one.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from hotmesh_core import HotMesh, RedisServer, Settings, Worker

from .cluster import cluster, cluster_with_replicas, one_node_cluster, running_cluster, tls_cluster  # noqa: F401  (fixtures)
from .helpers import assert_eventually  # noqa: F401  (re-exported for tests)

_counter = itertools.count()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A real redis-server on a free loopback port (AOF on, so restart tests can use it)."""
    server = RedisServer(port=0, data_dir=tmp_path_factory.mktemp("redis"), appendonly=True,
                         extra_args=["--enable-debug-command", "local"])
    server.start()
    yield server
    server.stop()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test's own (ACL users, config changes, exact command counts)."""
    server = RedisServer(port=0, data_dir=tmp_path / "redis")
    server.start()
    yield server
    server.stop()


ON_CLUSTER = os.environ.get("HMSH_TEST_REDIS") == "cluster"


@pytest.fixture(scope="session")
def redis_url(request: pytest.FixtureRequest) -> Iterator[str]:
    if ON_CLUSTER:
        with running_cluster(3) as found:
            yield found.url
        return
    yield request.getfixturevalue("redis_server").url


@pytest.fixture
def sync_redis(redis_url: str) -> Iterator[Any]:
    client: Any
    if redis_url.startswith("redis+cluster://"):
        host, _, port = redis_url.split("://", 1)[1].split(",")[0].partition(":")
        client = redis.RedisCluster(host=host, port=int(port), decode_responses=True)
    else:
        client = redis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    client.close()


@pytest.fixture
def app_id(request: pytest.FixtureRequest) -> str:
    """A unique app id per test, so tests never share keys (no FLUSHALL)."""
    name = "".join(c if c.isalnum() else "-" for c in request.node.name)[:40].strip("-")
    return f"t{next(_counter)}-{os.getpid()}-{name}"


def fast_settings(**overrides: Any) -> Settings:
    base = dict(block_time_ms=500, reclaim_delay_ms=1500, reclaim_interval_ms=300, fidelity_seconds=1,
                expire_seconds=60, pubsub_timeout=10.0, quorum_delay_ms=30)
    base.update(overrides)
    return Settings(**base)  # type: ignore[arg-type]


MeshFactory = Callable[..., Awaitable[HotMesh]]


@pytest.fixture
async def mesh(redis_url: str, app_id: str) -> AsyncIterator[MeshFactory]:
    """``await mesh(yaml_text, workers={...})``: deploy, activate and run one engine with workers."""
    started: list[HotMesh] = []

    async def factory(yaml_text: str | None = None, workers: dict[str, Any] | None = None,
                      engine: bool = True, activate: bool = True, **settings: Any) -> HotMesh:
        hm = await HotMesh.init(app_id, redis_url, engine=engine,
                                workers=[Worker(t, cb) for t, cb in (workers or {}).items()],
                                settings=fast_settings(**settings))
        started.append(hm)
        if yaml_text is not None:
            version = await hm.deploy(yaml_text.replace("{APP}", app_id))
            if activate:
                await hm.activate(version)
        return hm

    yield factory
    for hm in started:
        await hm.stop()
