"""Scenarios S16 to S21 (spec section 13): interrupts, emit, pending jobs, thresholds, signals."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from hotmesh_core import JobCompletedError, JobError, JobNotFoundError, WorkerMessage

from ..helpers import assert_eventually, backlog

S16 = """
app:
  id: {APP}
  version: '1'
  graphs:
    - subscribes: intr.test
      expire: 60
      activities:
        i0: { type: trigger, stats: { id: '{$self.input.data.id}' } }
        i1: { type: hook, sleep: 2 }
      transitions:
        i0: [ { to: i1 } ]
    - subscribes: intr.parent
      expire: 60
      activities:
        p0: { type: trigger, stats: { id: '{$self.input.data.id}' } }
        p1: { type: await, topic: intr.test, input: { maps: { id: '{p0.output.data.child}' } } }
      transitions:
        p0: [ { to: p1 } ]
"""


async def test_s16_interrupt(mesh, sync_redis) -> None:
    hm = await mesh(S16)
    await hm.pub("intr.test", {"id": "in1"})
    key = hm.keys.job("in1")
    await assert_eventually(lambda: sync_redis.hget(key, "l/i1,0,0") == "889000000000000")
    assert await hm.interrupt("intr.test", "in1", reason="stop it", expire=30) is True
    assert await hm.get_status("in1") == -999999999
    assert json.loads(sync_redis.hget(key, "m/err")) == {"code": 410, "message": "stop it", "stack": "",
                                                         "job_id": "in1"}
    assert 25 < sync_redis.ttl(key) <= 30
    with pytest.raises(JobCompletedError, match="Job in1 already completed"):
        await hm.interrupt("intr.test", "in1")
    assert await hm.interrupt("intr.test", "in1", suppress=True) is False
    before = sync_redis.hgetall(key)
    await assert_eventually(lambda: sync_redis.zcard(hm.keys.timers(hm.keys.shard_of("in1"))) == 0, timeout=5)   # timer fires...
    await assert_eventually(lambda: backlog(sync_redis, hm.keys.engine_stream("in1")) == 0)
    assert sync_redis.hgetall(key) == before                                              # ...and is dropped
    with pytest.raises(JobNotFoundError):
        await hm.interrupt("intr.test", "never-was")


async def test_s16_awaiting_parent_receives_410(mesh, sync_redis) -> None:
    hm = await mesh(S16)
    waiting = asyncio.create_task(hm.pubsub("intr.parent", {"id": "par1", "child": "kid1"}, timeout=10))
    await assert_eventually(lambda: sync_redis.hget(hm.keys.job("kid1"), "l/i1,0,0") == "889000000000000")
    await hm.interrupt("intr.test", "kid1")
    with pytest.raises(JobError) as caught:
        await waiting
    assert caught.value.code == 410 and caught.value.job_id == "par1"


async def test_interrupt_descend_stops_awaited_children(mesh, sync_redis) -> None:
    hm = await mesh(S16)
    await hm.pub("intr.parent", {"id": "par2", "child": "kid2"})
    await assert_eventually(lambda: sync_redis.hget(hm.keys.job("kid2"), "l/i1,0,0") == "889000000000000")
    await hm.interrupt("intr.parent", "par2", descend=True)
    assert await hm.get_status("par2") < -100_000_000
    assert await hm.get_status("kid2") < -100_000_000


S17 = """
app:
  id: {APP}
  version: '1'
  graphs:
    - subscribes: spring
      expire: 60
      activities:
        tree: { type: trigger, job: { maps: { seed: '{$self.output.data.seed}', speed: '{$self.output.data.speed}' } } }
        grow: { type: hook, job: { maps: { height: { '@pipe': [ ['{tree.output.data.seed}', '{tree.output.data.speed}'], ['{@math.multiply}'] ] } } } }
        shine:
          type: interrupt
          throw: '{tree.output.data.throw}'
          job: { maps: { throw: '{tree.output.data.throw}' } }
      transitions:
        tree: [ { to: grow } ]
        grow: [ { to: shine } ]
    - subscribes: winter
      expire: 60
      activities:
        starty: { type: trigger }
        waity: { type: await, topic: morning, input: { maps: { id: '{starty.output.data.workflowId}' } },
                 job: { maps: { sheer: '{$self.output.data.sheer}', shave: '{$self.output.data.shave}' } } }
        sleepy: { type: hook, sleep: 1 }
        stoppy: { type: interrupt, target: '{starty.output.data.workflowId}', topic: morning,
                  throw: '{starty.output.data.throw}' }
      transitions:
        starty: [ { to: waity }, { to: sleepy } ]
        sleepy: [ { to: stoppy } ]
    - subscribes: morning
      expire: 60
      activities:
        m0: { type: trigger, stats: { id: '{$self.input.data.id}' }, job: { maps: { sheer: true } } }
        m1: { type: hook, sleep: 20 }
        m2: { type: hook, job: { maps: { shave: true } } }
      transitions:
        m0: [ { to: m1 } ]
        m1: [ { to: m2 } ]
"""


async def test_s17_interrupt_self(mesh) -> None:
    hm = await mesh(S17)
    job = await hm.pubsub("spring", {"seed": 2, "speed": 3, "throw": False})
    assert job["data"] == {"seed": 2, "speed": 3, "throw": False, "height": 6}
    assert job["metadata"]["js"] < -100_000_000
    with pytest.raises(JobError) as caught:
        await hm.pubsub("spring", {"seed": 2, "speed": 3, "throw": True})
    assert caught.value.code == 410


async def test_s17_interrupt_other_job(mesh) -> None:
    hm = await mesh(S17)
    job = await hm.pubsub("winter", {"workflowId": "morn1", "throw": False}, timeout=10)
    assert job["data"]["sheer"] is True and "shave" not in job["data"]
    with pytest.raises(JobError) as caught:
        await hm.pubsub("winter", {"workflowId": "morn2", "throw": True}, timeout=10)
    assert caught.value.code == 410


S18 = """
app:
  id: {APP}
  version: '1'
  graphs:
    - subscribes: emit.test
      publishes: emit.tested
      expire: 60
      activities:
        t1: { type: trigger, stats: { id: '{$self.input.data.id}' }, job: { maps: { done: false } } }
        w1: { type: worker, topic: emit.work, emit: true, job: { maps: { status: '{$self.output.data.status}' } } }
        a1: { type: hook, sleep: 1, job: { maps: { done: true } } }
      transitions:
        t1: [ { to: w1 } ]
        w1: [ { to: a1 } ]
"""


async def test_s18_emit_interim_then_final(mesh, sync_redis) -> None:
    hm = await mesh(S18, workers={"emit.work": lambda m: {"status": "success"}})
    seen: list[dict[str, Any]] = []
    await hm.psub("emit.tested*", lambda topic, job: seen.append(job))
    await hm.pub("emit.test", {"id": "em1"})
    await assert_eventually(lambda: len(seen) == 2, timeout=6)
    assert seen[0]["data"] == {"status": "success", "done": False}
    assert seen[1]["data"] == {"status": "success", "done": True}


S19 = """
app:
  id: {APP}
  version: '1'
  graphs:
    - subscribes: pending.test
      expire: 60
      activities:
        t1: { type: trigger }
        w1: { type: worker, topic: pending.work }
      transitions:
        t1: [ { to: w1 } ]
"""


async def test_s19_pending_job(mesh, sync_redis) -> None:
    ran: list[WorkerMessage] = []
    hm = await mesh(S19, workers={"pending.work": lambda m: ran.append(m) or {}})
    jid = await hm.pub("pending.test", {}, pending=2)
    assert await hm.get_status(jid) == -1
    assert 0 < sync_redis.ttl(hm.keys.job(jid)) <= 2
    await asyncio.sleep(2.2)
    with pytest.raises(JobNotFoundError, match=f"Job {jid} not found"):
        await hm.get_status(jid)
    assert ran == []


S20 = """
app:
  id: {APP}
  version: '1'
  graphs:
    - subscribes: signal.toggle
      publishes: signal.toggled
      expire: 60
      activities:
        toggleTrigger:
          type: trigger
          stats: { id: '{$self.input.data.jobId}' }
          job: { maps: { done: false } }
        waitForSignaler:
          type: hook
          statusThreshold: '{toggleTrigger.output.data.statusThreshold}'
          job: { maps: { done: '{$self.hook.data.done}', howdy: '{$self.hook.data.howdy}' } }
      transitions:
        toggleTrigger: [ { to: waitForSignaler } ]
      hooks:
        waitForSignaler.doPleaseResume:
          - to: waitForSignaler
            conditions:
              match:
                - expected: '{$job.metadata.jid}'
                  actual: '{$self.hook.data.id}'
"""


async def test_s20_status_threshold(mesh, sync_redis) -> None:
    hm = await mesh(S20)
    early: list[dict[str, Any]] = []
    await hm.sub("signal.toggled.xyz", lambda topic, job: early.append(job))
    await hm.pub("signal.toggle", {"jobId": "xyz", "statusThreshold": 1})
    await assert_eventually(lambda: len(early) == 1)
    assert early[0]["data"] == {"done": False} and await hm.get_status("xyz") == 0
    assert sync_redis.exists(hm.keys.signal("waitForSignaler.doPleaseResume", "xyz", "xyz")) == 0   # Q6 fixed
    later: list[dict[str, Any]] = []
    await hm.sub("signal.toggled.pdq", lambda topic, job: later.append(job))
    await hm.pub("signal.toggle", {"jobId": "pdq"})
    await assert_eventually(lambda: sync_redis.exists(hm.keys.signal("waitForSignaler.doPleaseResume", "pdq", "pdq")))
    await hm.hook("waitForSignaler.doPleaseResume", {"id": "pdq", "done": True, "howdy": "pardner"})
    await assert_eventually(lambda: len(later) == 1)
    assert later[0]["data"] == {"done": True, "howdy": "pardner"}


S21 = """
app:
  id: {APP}
  version: '1'
  graphs:
    - subscribes: signal.test
      expire: 60
      activities:
        trigger:
          type: trigger
          stats: { id: '{$self.input.data.job_id}' }
        awaiter:
          type: await
          topic: hook.test
          input: { maps: { id: '{trigger.output.data.child_flow_id}', parent_job_id: '{$job.metadata.jid}' } }
          job: { maps: { child_done: '{$self.output.data.done}' } }
        pender: { type: hook, job: { maps: { pended: true } } }
        ender: { type: hook, job: { maps: { ended: true } } }
        sleeper: { type: hook, sleep: 1 }
        signaler:
          type: signal
          subtype: all
          topic: hook.resume
          key_name: parent_job_id
          key_value: '{$job.metadata.jid}'
          signal: { maps: { done: true } }
          resolver: { maps: { data: { parent_job_id: '{$job.metadata.jid}' }, scrub: true } }
      transitions:
        trigger: [ { to: awaiter }, { to: sleeper } ]
        awaiter: [ { to: pender, conditions: { code: 202 } }, { to: ender } ]
        sleeper: [ { to: signaler } ]
    - subscribes: hook.test
      expire: 60
      activities:
        kid:
          type: trigger
          emit: true
          stats:
            id: '{$self.input.data.id}'
            key: '{$self.input.data.parent_job_id}'
            granularity: infinity
            measures:
              - { measure: index, target: '{$self.input.data.parent_job_id}' }
        waiter: { type: hook, job: { maps: { done: '{$self.hook.data.done}' } } }
      transitions:
        kid: [ { to: waiter } ]
      hooks:
        hook.resume:
          - to: waiter
            conditions:
              match:
                - expected: '{$job.metadata.jid}'
                  actual: '{$self.hook.data.id}'
"""


async def test_s21_signal_all(mesh, sync_redis) -> None:
    hm = await mesh(S21)
    job = await hm.pubsub("signal.test", {"job_id": "sa1", "child_flow_id": "c1"}, timeout=10)
    assert job["data"] == {"pended": True, "ended": True, "child_done": True}
    child = await hm.get_state("hook.test", "c1")
    assert child["data"] == {"done": True}
    for n in hm.keys.shard_ids:                               # every shard's stats are scrubbed
        index = hm.keys.stats_index("sa1", "0", "parent_job_id", "sa1", n)
        assert sync_redis.exists(index) == 0 and sync_redis.exists(hm.keys.stats("sa1", "0", n)) == 0
    raw = sync_redis.hgetall(hm.keys.job("sa1"))
    assert raw["l/ender,0,0,0"] == "888000001000001" and raw["l/ender,0,1,0"] == "888000001000001"


async def test_stats_and_ids(mesh) -> None:
    hm = await mesh(S21)
    await hm.pub("hook.test", {"id": "k1", "parent_job_id": "pp"})
    await hm.pub("hook.test", {"id": "k2", "parent_job_id": "pp"})
    ids = await hm.get_ids("hook.test", {"parent_job_id": "pp"}, ["parent_job_id:pp"])
    assert list(ids) == ["parent_job_id:pp"]
    assert sorted(ids["parent_job_id:pp"]) == ["k1", "k2"]     # in order per shard (keys.py)
    stats = await hm.get_stats("hook.test", {"parent_job_id": "pp"})
    assert stats["segments"] == [{"time": "0", "count": 2.0}]
