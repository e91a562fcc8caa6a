"""A Redis Cluster that speaks TLS only (clients, the cluster bus, replication): three masters with
one replica each, ``rediss+cluster://`` with the test CA. The whole engine runs over it: sharded
jobs whose children answer across shards through the outbox, then a ``kill -9`` of a master under
load, its replica promoted and found again over TLS. The seam is the one place TLS and Cluster meet
(``cluster.ClusterRedis`` opens each node's ``Wire`` with the URL's TLS options)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
import redis

from hotmesh_core import HotMesh, Worker
from hotmesh_core.errors import HotMeshError
from hotmesh_core.keys import JobFields

from ..conftest import fast_settings
from . import Cluster

APP = """
app:
  id: {APP}
  version: '1'
  graphs:
    - subscribes: tc.parent
      expire: 600
      activities:
        tp: {type: trigger}
        child:
          type: await
          topic: tc.child
          input: {maps: {cid: '{tp.output.data.cid}', n: '{tp.output.data.n}'}}
          job: {maps: {got: '{$self.output.data.m}'}}
      transitions:
        tp: [{to: child}]
    - subscribes: tc.child
      expire: 600
      activities:
        tc: {type: trigger, stats: {id: '{$self.input.data.cid}'}}
        w:
          type: worker
          topic: tc.work
          input: {maps: {n: '{tc.output.data.n}'}}
          job: {maps: {m: '{$self.output.data.m}'}}
      transitions:
        tc: [{to: w}]
"""


async def double(message: Any) -> dict[str, Any]:
    return {"m": message.data["n"] * 2}


def test_the_nodes_speak_tls_only(tls_cluster: Cluster) -> None:
    node = tls_cluster.nodes[0]
    with node.client() as client:                       # TLS, the test CA
        assert "cluster_state:ok" in client.execute_command("CLUSTER", "INFO")
    plain = redis.Redis(host="127.0.0.1", port=node.port, socket_timeout=3)
    with pytest.raises(redis.ConnectionError):
        plain.ping()
    plain.close()


async def test_sharded_jobs_and_a_failover_over_tls(tls_cluster: Cluster, app_id: str) -> None:
    cluster = tls_cluster
    assert cluster.url.startswith("rediss+cluster://")
    settings = fast_settings(reconnect_seconds=20, reclaim_delay_ms=2000)
    meshes = [await HotMesh.init(app_id, cluster.url, workers=[Worker("tc.work", double, concurrency=16)],
                                 settings=settings) for _ in range(2)]
    try:
        hm = meshes[0]
        assert hm.keys.shards == 3                      # one shard per master
        await hm.activate(await hm.deploy(APP.replace("{APP}", app_id)))
        crossing = 0
        for n in range(9):
            job = await hm.pubsub("tc.parent", {"cid": f"tls-kid-{n}", "n": n}, timeout=15)
            assert job["data"] == {"got": 2 * n}
            crossing += hm.keys.shard_of(job["metadata"]["jid"]) != hm.keys.shard_of(f"tls-kid-{n}")
        assert crossing, "no child on another shard than its parent: the outbox was not exercised"

        # kill -9 a master in the middle of 400 jobs; its replica takes over, found again over TLS
        jids: list[str] = []
        refused = 0
        for n in range(400):
            try:
                jids.append(await meshes[n % 2].pub("tc.parent", {"cid": f"tls-load-{n}", "n": n}))
            except HotMeshError:
                refused += 1
            if n == 200:
                cluster.kill(cluster.primaries()[1])
            await asyncio.sleep(0.002)

        async def finished() -> int:
            values = await hm.job_fields(jids, [JobFields.SEMAPHORE, ":done"])
            return sum(1 for sem, times in values if sem is not None and int(sem) == 0 and times == "1")

        deadline = time.monotonic() + 60
        completed = await finished()
        while completed < len(jids) and time.monotonic() < deadline:
            await asyncio.sleep(1)
            completed = await finished()
        lost = len(jids) - completed
        print(f"tls failover: jobs=400 completed={completed} lost={lost} refused={refused}")
        assert lost <= 20, f"{lost} jobs lost"
        job = await hm.pubsub("tc.parent", {"cid": "tls-after", "n": 5}, timeout=15)
        assert job["data"] == {"got": 10}               # and the cluster serves new work over TLS
    finally:
        for mesh in meshes:
            await mesh.stop(drain_seconds=1)
