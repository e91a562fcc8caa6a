"""Scenarios S9 to S14 (spec section 13): pending responses, retries, cycles, time and web hooks."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from hotmesh_core import JobError, WorkerMessage, WorkerResponse
from hotmesh_core.keys import JobFields

from ..helpers import assert_eventually, backlog

S9 = """
app:
  id: {APP}
  version: '1'
  graphs:
    - subscribes: def.test
      expire: 60
      activities:
        t1: { type: trigger }
        a1:
          type: worker
          topic: def.work
          job: { maps: { code: '{$self.output.data.code}', percentage: '{$self.output.data.percentage}' } }
        a200: { type: hook, job: { maps: { message: success } } }
        a202: { type: hook, job: { maps: { interim: '{a1.output.data.percentage}' } } }
        a422: { type: hook, job: { maps: { message: invalid } } }
      transitions:
        t1: [ { to: a1 } ]
        a1:
          - { to: a200, conditions: { match: [ { expected: true, actual: true } ] } }
          - { to: a202, conditions: { code: 202 } }
          - { to: a422, conditions: { code: 422 } }
"""


async def test_s9_pending_then_success(mesh, sync_redis) -> None:
    inputs: list[WorkerMessage] = []

    async def work(message: WorkerMessage) -> WorkerResponse:
        inputs.append(message)
        return WorkerResponse({"code": 202, "percentage": 49}, status="pending", code=202)

    hm = await mesh(S9, workers={"def.work": work})
    waiting = asyncio.create_task(hm.pubsub("def.test", {}, timeout=10))
    await assert_eventually(lambda: len(inputs) == 1)
    jid = inputs[0].metadata["jid"]
    key = hm.keys.job(jid)
    await assert_eventually(lambda: sync_redis.hget(key, JobFields.ledger("a202", ",0,0,0")) == "888000001000001")
    await asyncio.sleep(0.25)
    await hm.add({"status": "success", "code": 200, "metadata": inputs[0].metadata,
                  "data": {"code": 200, "percentage": 99}})
    job = await waiting
    assert job["data"] == {"code": 200, "percentage": 99, "message": "success", "interim": 49}
    assert sync_redis.hget(key, JobFields.ledger("a200", ",0,1,0")) == "888000001000001"
    assert sync_redis.hget(key, JobFields.ledger("a1", ",0,0")) == "888000002000002"
    assert sync_redis.hget(key, ":") == "0"


S10 = """
app:
  id: {APP}
  version: '1'
  graphs:
    - subscribes: retry.two
      expire: 60
      activities:
        t1: { type: trigger }
        e1: { type: worker, topic: err.work, retry: { '500': [2] }, job: { maps: { tries: '{$self.output.data.tries}' } } }
      transitions:
        t1: [ { to: e1 } ]
    - subscribes: retry.one
      expire: 60
      activities:
        u1: { type: trigger }
        e2: { type: worker, topic: err.work, retry: { '500': [1] }, job: { maps: { tries: '{$self.output.data.tries}' } } }
      transitions:
        u1: [ { to: e2 } ]
"""


async def test_s10_worker_retry_policy(mesh) -> None:
    calls: list[WorkerMessage] = []

    async def flaky(message: WorkerMessage) -> Any:
        calls.append(message)
        if len([c for c in calls if c.metadata["jid"] == message.metadata["jid"]]) < 3:
            return WorkerResponse({"message": "not yet"}, status="error", code=500)
        return {"tries": 3}

    hm = await mesh(S10, workers={"err.work": flaky})
    job = await hm.pubsub("retry.two", {})
    assert job["data"] == {"tries": 3}
    mine = [c for c in calls if c.metadata["jid"] == job["metadata"]["jid"]]
    assert [c.metadata.get("try") for c in mine] == [None, 1, 2]
    assert len({c.metadata["guid"] for c in mine}) == 1
    with pytest.raises(JobError) as caught:
        await hm.pubsub("retry.one", {})
    assert caught.value.code == 500
    assert len([c for c in calls if c.metadata["jid"] == caught.value.job_id]) == 2


CYCLES = """
app:
  id: {APP}
  version: '1'
  graphs:
    - subscribes: cyc.test
      expire: 60
      activities:
        c0: { type: trigger }
        a1: { type: hook, cycle: true }
        w1: { type: worker, topic: cyc.count, input: { maps: { jid: '{$job.metadata.jid}' } },
              job: { maps: { counter: '{$self.output.data.counter}' } } }
        c1: { type: cycle, ancestor: a1 }
      transitions:
        c0: [ { to: a1 } ]
        a1: [ { to: w1 } ]
        w1:
          - to: c1
            conditions:
              match:
                - expected: true
                  actual: { '@pipe': [ ['{w1.output.data.counter}', 5], ['{@conditional.less_than}'] ] }
    - subscribes: cyc.error
      expire: 60
      activities:
        d0: { type: trigger }
        b1: { type: hook, cycle: true }
        w2: { type: worker, topic: cyc.fail, input: { maps: { jid: '{$job.metadata.jid}' } },
              job: { maps: { counter: '{$self.output.data.counter}' } } }
        c2: { type: cycle, ancestor: b1 }
      transitions:
        d0: [ { to: b1 } ]
        b1: [ { to: w2 } ]
        w2: [ { to: c2, conditions: { code: 500 } } ]
"""


async def test_s11_cycle_until_condition(mesh, sync_redis) -> None:
    counters: dict[str, int] = {}

    async def count(message: WorkerMessage) -> dict[str, Any]:
        jid = message.data["jid"]
        counters[jid] = counters.get(jid, 0) + 1
        return {"counter": counters[jid]}

    hm = await mesh(CYCLES, workers={"cyc.count": count})
    job = await hm.pubsub("cyc.test", {})
    assert job["data"] == {"counter": 5}
    raw = sync_redis.hgetall(hm.keys.job(job["metadata"]["jid"]))
    assert sorted(k for k in raw if k.startswith("a/w1")) == [f"a/w1,0,{k},0" for k in range(5)]
    assert raw[JobFields.ledger("a1", ",0,0")] == "889000005000005"
    assert [raw[f"l/c1,0,{k},0,0"] for k in range(4)] == ["888000000000000"] * 4
    assert raw[":"] == "0"
    exported = await hm.export(job["metadata"]["jid"])
    assert sorted(exported["process"]["0"]) == ["0", "1", "2", "3", "4", "c0"]
    assert all("a1" in exported["process"]["0"][str(k)] for k in range(5))      # each pass kept


async def test_s12_cycle_on_error_code(mesh) -> None:
    counters: dict[str, int] = {}

    async def fail_four_times(message: WorkerMessage) -> Any:
        jid = message.data["jid"]
        counters[jid] = counters.get(jid, 0) + 1
        if counters[jid] < 5:
            return WorkerResponse({"message": "again"}, status="error", code=500)
        return {"counter": counters[jid]}

    hm = await mesh(CYCLES, workers={"cyc.fail": fail_four_times})
    job = await hm.pubsub("cyc.error", {})
    assert job["data"] == {"counter": 5}
    assert (await hm.export(job["metadata"]["jid"]))["status"] == "0"


S13 = """
app:
  id: {APP}
  version: '1'
  graphs:
    - subscribes: sleep.test
      expire: 60
      activities:
        s0: { type: trigger, stats: { id: '{$self.input.data.id}' } }
        s1: { type: hook, sleep: 1, job: { maps: { slept: true } } }
      transitions:
        s0: [ { to: s1 } ]
"""


async def test_s13_time_hook(mesh, sync_redis) -> None:
    hm = await mesh(S13)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await hm.pub("sleep.test", {"id": "sl1"})
    key = hm.keys.job("sl1")
    await assert_eventually(lambda: sync_redis.hget(key, JobFields.ledger("s1", ",0,0")) == "889000000000000")
    assert sync_redis.hget(key, ":") == "1"
    [member] = sync_redis.zrange(hm.keys.timers(hm.keys.shard_of("sl1")), 0, -1)
    assert member.startswith("sleep::s1::,0,0::") and member.endswith("::sl1")
    await assert_eventually(lambda: sync_redis.hget(key, ":") == "0", timeout=5)
    elapsed = loop.time() - started
    assert 0.9 <= elapsed < 3.5
    state = await hm.get_state("sleep.test", "sl1")
    assert state["data"] == {"slept": True}
    hook = (await hm.export("sl1"))["process"]["0"]["0"]["s1"]["hook"]["data"]
    assert hook["timestamp"] >= hook["due"]          # fired by the Redis clock, never early
    assert 50 < sync_redis.ttl(key) <= 60
    assert sync_redis.zcard(hm.keys.timers(hm.keys.shard_of("sl1"))) == 0


S14 = """
app:
  id: {APP}
  version: '1'
  graphs:
    - subscribes: web.test
      publishes: web.tested
      expire: 60
      activities:
        w0: { type: trigger, stats: { id: '{$self.input.data.id}' } }
        w1: { type: hook, job: { maps: { answer: '{$self.hook.data.answer}' } } }
        w2: { type: hook, job: { maps: { after: '{w1.hook.data.answer}' } } }
      transitions:
        w0: [ { to: w1 } ]
        w1: [ { to: w2 } ]
      hooks:
        web.resume:
          - to: w1
            conditions:
              match:
                - expected: '{$job.metadata.jid}'
                  actual: '{$self.hook.data.id}'
"""


async def test_s14_web_hook_signal(mesh, sync_redis) -> None:
    hm = await mesh(S14)
    published: list[dict[str, Any]] = []
    await hm.sub("web.tested.wb1", lambda topic, job: published.append(job))
    await hm.pub("web.test", {"id": "wb1"})
    signal = hm.keys.signal("web.resume", "wb1", "wb1")
    await assert_eventually(lambda: sync_redis.get(signal) is not None)
    gid = sync_redis.hget(hm.keys.job("wb1"), "m/gid")
    assert sync_redis.get(signal) == f"w1::,0,0::{gid}::wb1"
    assert 3500 < sync_redis.ttl(signal) <= 3600
    assert await hm.get_status("wb1") == 1
    assert await hm.hook("web.resume", {"id": "nope", "answer": "x"}) is None
    assert await hm.hook("web.resume", {"id": "wb1", "answer": "42"}) is not None
    await assert_eventually(lambda: sync_redis.hget(hm.keys.job("wb1"), ":") == "0")
    assert (await hm.get_state("web.test", "wb1"))["data"] == {"answer": "42", "after": "42"}
    assert sync_redis.exists(signal) == 0
    await assert_eventually(lambda: len(published) == 1)
    assert published[0]["data"]["answer"] == "42"


async def test_s14_pending_signal_keeps_hook_open(mesh, sync_redis) -> None:
    hm = await mesh(S14)
    await hm.pub("web.test", {"id": "wb2"})
    signal = hm.keys.signal("web.resume", "wb2", "wb2")
    await assert_eventually(lambda: sync_redis.get(signal) is not None)
    await hm.hook("web.resume", {"id": "wb2", "answer": "first"}, status="pending", code=202)
    key = hm.keys.job("wb2")
    await assert_eventually(lambda: sync_redis.hget(key, "l/w2,0,0,0") == "888000001000001")
    assert sync_redis.exists(signal) == 1 and sync_redis.hget(key, ":") == "1"
    await hm.hook("web.resume", {"id": "wb2", "answer": "second"})
    await assert_eventually(lambda: sync_redis.hget(key, ":") == "0")
    assert sync_redis.hget(key, "l/w2,0,1,0") == "888000001000001"       # the next thread
    assert sync_redis.exists(signal) == 0


async def test_s14_success_202_closes_but_keeps_key(mesh, sync_redis) -> None:
    hm = await mesh(S14)
    await hm.pub("web.test", {"id": "wb3"})
    signal = hm.keys.signal("web.resume", "wb3", "wb3")
    await assert_eventually(lambda: sync_redis.get(signal) is not None)
    await hm.hook("web.resume", {"id": "wb3", "answer": "a"}, status="success", code=202)
    key = hm.keys.job("wb3")
    await assert_eventually(lambda: sync_redis.hget(key, ":") == "0")
    assert sync_redis.exists(signal) == 1
    before = sync_redis.hgetall(key)
    await hm.hook("web.resume", {"id": "wb3", "answer": "late"})
    await assert_eventually(lambda: backlog(sync_redis, hm.keys.engine_stream("wb3")) == 0)
    assert sync_redis.hgetall(key) == before                              # dropped: leg 2 closed
    assert json.loads(json.dumps(before))  # plain JSON strings


CODE_MAPS = """
app:
  id: {APP}
  version: '1'
  graphs:
    - subscribes: code.maps
      publishes: code.mapped
      expire: 60
      activities:
        t1: { type: trigger, stats: { id: '{$self.input.data.id}' } }
        a1:
          type: worker
          topic: code.work
          input: { maps: { fail: '{t1.output.data.fail}' } }
          job:
            maps: { seen: true }
            '422': { maps: { reason: '{$self.output.metadata.err}' } }
            '200': { maps: { value: '{$self.output.data.value}' } }
        h1: { type: hook, persist: true, job: { maps: { persisted: true } } }
        h2: { type: hook, sleep: 30 }
      transitions:
        t1: [ { to: a1 } ]
        a1: [ { to: h1 } ]
        h1: [ { to: h2 } ]
"""


async def test_code_specific_job_maps_and_persist(mesh, sync_redis) -> None:
    """Q5 fixed: ``job.<code>.maps`` apply for that code only. ``persist`` publishes the outcome
    and schedules expiry while the job stays open (h2 still sleeps)."""
    async def work(message: WorkerMessage) -> Any:
        if message.data.get("fail"):
            return WorkerResponse({"message": "no"}, status="error", code=422)
        return {"value": 7}

    hm = await mesh(CODE_MAPS, workers={"code.work": work})
    good = await hm.pubsub("code.maps", {"id": "cm1"})
    assert good["data"] == {"seen": True, "value": 7, "persisted": True}
    assert good["metadata"]["js"] == 1                    # still open: h2 sleeps
    assert 0 < sync_redis.ttl(hm.keys.job("cm1")) <= 60
    bad = await hm.pubsub("code.maps", {"id": "cm2", "fail": True})
    assert bad["data"]["seen"] is True and "value" not in bad["data"]
    assert json.loads(bad["data"]["reason"]) == {"message": "no", "code": 422}
