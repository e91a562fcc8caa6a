"""The sharded layout on one Redis (``shards=3``): the same code as on a Redis Cluster, every step
in one shard, cross-shard writes through the shard's outbox (``keys.py``, ``Store.localize``)."""

from __future__ import annotations

from typing import Any

from hotmesh_core.keys import Keys, shard_tags, tag_of
from hotmesh_core.store import Store

PARENT_CHILD = """
app:
  id: {APP}
  version: '1'
  graphs:
    - subscribes: sh.parent
      activities:
        tp: {type: trigger}
        child:
          type: await
          topic: sh.child
          input: {maps: {cid: '{tp.output.data.cid}', n: '{tp.output.data.n}'}}
          job: {maps: {got: '{$self.output.data.m}'}}
      transitions:
        tp: [{to: child}]
    - subscribes: sh.child
      activities:
        tc: {type: trigger, stats: {id: '{$self.input.data.cid}'}}
        w:
          type: worker
          topic: sh.work
          input: {maps: {n: '{tc.output.data.n}'}}
          job: {maps: {m: '{$self.output.data.m}'}}
      transitions:
        tc: [{to: w}]
"""


async def double(message: Any) -> dict[str, Any]:
    return {"m": message.data["n"] * 2}


def test_shard_tags_land_in_equal_slot_ranges() -> None:
    from binascii import crc_hqx
    for shards in (2, 3, 5, 16):
        tags = shard_tags(shards)
        assert len(set(tags)) == shards
        for n, tag in enumerate(tags):
            slot = crc_hqx(tag[1:-1].encode(), 0) % 16384
            assert n * 16384 // shards <= slot < (n + 1) * 16384 // shards
    keys = Keys("a", shards=3)
    assert tag_of(keys.job("j1")) == tag_of(keys.engine_stream("j1")) == tag_of(keys.worker_stream("t", "j1"))
    assert keys.worker_topic(keys.worker_stream("x.y", "j1")) == "x.y"
    assert Keys("a").worker_topic(Keys("a").worker_stream("x.y")) == "x.y"
    assert Keys("a").job("j1") == "hmsh:a:j:j1" and Keys("a").engine_stream() == "hmsh:a:x:"   # the reference's


async def test_children_on_other_shards_start_and_answer_through_the_outbox(mesh) -> None:
    hm = await mesh(PARENT_CHILD, workers={"sh.work": double}, shards=3)
    keys = hm.keys
    assert keys.shards == 3
    parents = []
    for n in range(12):
        job = await hm.pubsub("sh.parent", {"cid": f"kid-{n}", "n": n}, timeout=10)
        assert job["data"] == {"got": n * 2}
        parents.append(job["metadata"]["jid"])
    crossing = [n for n, jid in enumerate(parents) if keys.shard_of(jid) != keys.shard_of(f"kid-{n}")]
    assert crossing, "no child on another shard than its parent: the test proves nothing"
    assert hm.engine is not None and hm.engine.counts.get("forward", 0) >= 2 * len(crossing)
    for n in crossing:                       # the dependents entry went through the outbox too
        assert await hm.redis.call("LRANGE", keys.dependents(parents[n]), 0, -1) == [f"kid-{n}"]


async def test_a_redelivered_forward_is_applied_once(mesh) -> None:
    hm = await mesh(None, shards=3)
    store: Store = hm.store
    keys = hm.keys
    home, target = keys.job("a-job"), keys.engine_stream_of((keys.shard_of("a-job") + 1) % 3)
    stream, envelope = store.outbox(home, target, '{"metadata":{}}')
    assert tag_of(stream) == tag_of(home) and '"type":"forward"' in envelope
    before = int(await hm.redis.call("XLEN", target))
    assert await store.deliver(target, "xadd", '{"metadata":{}}', "g-1", 60) is True
    assert await store.deliver(target, "xadd", '{"metadata":{}}', "g-1", 60) is False   # redelivered
    assert int(await hm.redis.call("XLEN", target)) == before + 1
    assert store.outbox(home, keys.engine_stream("a-job"), "m") == (keys.engine_stream("a-job"), "m")


async def test_roll_call_depth_counts_every_shard(mesh) -> None:
    """A worker reads one stream per shard; its roll-call depth (and the studio's fleet row) is the
    backlog of all of them, not of shard 0's alone."""
    import asyncio

    from studio.fleet import fleet_rows

    hm = await mesh(PARENT_CHILD, workers={"sh.work": double}, shards=3)
    assert await hm.throttle(-1, topic="sh.work") == 1
    kids = [f"depth-{n}" for n in range(9)]
    assert len({hm.keys.shard_of(k) for k in kids}) > 1, "every child on one shard: the test proves nothing"
    for kid in kids:
        await hm.pub("sh.child", {"cid": kid, "n": 1})
    await asyncio.sleep(0.8)
    worker = next(p for p in await hm.roll_call(delay=0.2) if p["role"] == "worker")
    assert len(worker["streams"]) == 3 and worker["stream_depth"] == len(kids)
    rows, everyone = await fleet_rows(hm)
    assert everyone and next(r for r in rows if r["role"] == "worker")["depth"] == len(kids)
    await hm.throttle(0, topic="sh.work")


SLEEPY = """
app:
  id: {APP}
  version: '1'
  graphs:
    - subscribes: sh.sleepy
      activities:
        t: {type: trigger, stats: {id: '{$self.input.data.id}'}}
        nap: {type: hook, sleep: 1, job: {maps: {slept: true}}}
        w: {type: worker, topic: sh.work, input: {maps: {n: '{t.output.data.n}'}}, job: {maps: {m: '{$self.output.data.m}'}}}
      transitions:
        t: [{to: nap}]
        nap: [{to: w}]
"""


async def test_a_fleet_splits_the_shards_between_processes(mesh) -> None:
    """``consume_shards``: one process reads shard 0, another shards 1 and 2 (engine, workers, time
    scouts); jobs on every shard run to the end, timers included, and each process reads only its own."""
    import pytest

    from hotmesh_core.errors import ValidationError

    first = await mesh(SLEEPY, workers={"sh.work": double}, shards=3, consume_shards=(0,))
    second = await mesh(None, workers={"sh.work": double}, shards=3, consume_shards=[2, 1])
    keys = first.keys
    assert {r.stream for r in first.routers} == {keys.engine_stream_of(0), keys.worker_streams("sh.work")[0]}
    assert {r.stream for r in second.routers} == {*keys.engine_streams()[1:], *keys.worker_streams("sh.work")[1:]}
    assert [s.shard for s in first.scouts] == [0] and [s.shard for s in second.scouts] == [1, 2]
    jids = [f"split-{n}" for n in range(9)]
    assert {keys.shard_of(j) for j in jids} == {0, 1, 2}
    import asyncio
    jobs = await asyncio.gather(*(first.pubsub("sh.sleepy", {"id": jid, "n": n}, timeout=15)
                                  for n, jid in enumerate(jids)))
    assert [j["data"] for j in jobs] == [{"slept": True, "m": 2 * n} for n in range(9)]
    assert first.engine is not None and second.engine is not None
    assert first.engine.counts and second.engine.counts          # both took steps
    with pytest.raises(ValidationError, match="no shard 3"):
        await mesh(None, shards=3, consume_shards=(1, 3))
