"""Conformance scenarios S1 to S8 and S15 of the spec (section 13) against a real redis-server."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from hotmesh_core import DuplicateJobError, JobError, WorkerMessage, WorkerResponse
from hotmesh_core.keys import JobFields

from ..helpers import assert_eventually, backlog


async def hello_world(message: WorkerMessage) -> dict[str, Any]:
    return {"y": f"{message.data['x']} world"}


async def more_world(message: WorkerMessage) -> dict[str, Any]:
    return {"o": f"{message.data['i']} world"}


S1 = """
app:
  id: {APP}
  version: '1'
  graphs:
    - subscribes: s1.test
      activities:
        t1: { type: trigger }
"""


async def test_s1_trigger_only(mesh, sync_redis) -> None:
    hm = await mesh(S1)
    job = await hm.pubsub("s1.test", {})
    meta = job["metadata"]
    assert meta["js"] == 0 and meta["tpc"] == "s1.test" and meta["vrs"] == "1" and meta["app"] == hm.app_id
    assert "data" not in job
    key = hm.keys.job(meta["jid"])
    assert sync_redis.hget(key, ":") == "0"
    assert sync_redis.hget(key, JobFields.ledger("t1", ",0")) == "888000001000001"
    assert 0 < sync_redis.ttl(key) <= 60            # test settings: default expire 60 s
    assert backlog(sync_redis, hm.keys.engine_stream()) == 0


S2 = """
app:
  id: {APP}
  version: '1'
  graphs:
    - subscribes: s2.test
      expire: 120
      activities:
        t1: { type: trigger }
        a1:
          type: worker
          topic: work.do
          input: { maps: { x: '{t1.output.data.a}' } }
          job: { maps: { b: '{$self.output.data.y}' } }
      transitions:
        t1: [ { to: a1 } ]
"""


async def test_s2_worker_data_flow(mesh, sync_redis) -> None:
    seen: list[WorkerMessage] = []

    async def work(message: WorkerMessage) -> dict[str, Any]:
        seen.append(message)
        return await hello_world(message)

    hm = await mesh(S2, workers={"work.do": work})
    job = await hm.pubsub("s2.test", {"a": "hello"})
    assert job["data"] == {"b": "hello world"}
    [message] = seen
    assert message.data == {"x": "hello"}
    assert message.metadata["dad"] == ",0,0" and message.metadata["aid"] == "a1"
    assert message.metadata["topic"] == "work.do" and message.metadata["jid"] == job["metadata"]["jid"]
    key = hm.keys.job(job["metadata"]["jid"])
    assert sync_redis.hget(key, ":") == "0"
    assert sync_redis.hget(key, JobFields.ledger("a1", ",0,0")) == "888000001000001"
    assert 100 < sync_redis.ttl(key) <= 120


PARALLEL = """
app:
  id: {APP}
  version: '1'
  graphs:
    - subscribes: par.test
      expire: 60
      activities:
        t1: { type: trigger }
        a1: { type: worker, topic: work.do, input: { maps: { x: '{t1.output.data.a}' } },
              job: { maps: { b: '{$self.output.data.y}' } } }
        a2: { type: worker, topic: work.do.more, input: { maps: { i: '{t1.output.data.a}' } },
              job: { maps: { c: '{$self.output.data.o}' } } }
      transitions:
        t1: [ { to: a1 }, { to: a2 } ]
    - subscribes: seq.test
      expire: 60
      activities:
        s1: { type: trigger }
        b1: { type: worker, topic: work.do, input: { maps: { x: '{s1.output.data.a}' } },
              job: { maps: { b: '{$self.output.data.y}' } } }
        b2: { type: worker, topic: work.do.more, input: { maps: { i: '{b1.output.data.y}' } },
              job: { maps: { c: '{$self.output.data.o}' } } }
      transitions:
        s1: [ { to: b1 } ]
        b1: [ { to: b2 } ]
"""


async def test_s3_parallel_fan_out(mesh, sync_redis) -> None:
    gate = asyncio.Event()
    semaphores: list[str] = []

    async def slow(message: WorkerMessage) -> dict[str, Any]:
        await gate.wait()
        return await more_world(message)

    hm = await mesh(PARALLEL, workers={"work.do": hello_world, "work.do.more": slow})
    jid = await hm.pub("par.test", {"a": "hello"})
    key = hm.keys.job(jid)
    assert sync_redis.hget(key, ":") == "2"              # two children to finish
    await assert_eventually(lambda: sync_redis.hget(key, "d/b") == "hello world")
    semaphores.append(sync_redis.hget(key, ":"))
    gate.set()
    await assert_eventually(lambda: sync_redis.hget(key, ":") == "0")
    state = await hm.get_state("par.test", jid)
    assert state["data"] == {"b": "hello world", "c": "hello world"}
    assert semaphores == ["1"]


async def test_s4_sequence(mesh, sync_redis) -> None:
    hm = await mesh(PARALLEL, workers={"work.do": hello_world, "work.do.more": more_world})
    job = await hm.pubsub("seq.test", {"a": "hello"})
    assert job["data"] == {"b": "hello world", "c": "hello world world"}
    key = hm.keys.job(job["metadata"]["jid"])
    assert sync_redis.hget(key, JobFields.ledger("b2", ",0,0,0")) == "888000001000001"


S5 = """
app:
  id: {APP}
  version: '1'
  graphs:
    - subscribes: cond.test
      expire: 60
      activities:
        t1: { type: trigger }
        a1: { type: worker, topic: work.do, input: { maps: { x: '{t1.output.data.a}' } },
              job: { maps: { b: '{$self.output.data.y}' } } }
        a2: { type: worker, topic: work.do.more, input: { maps: { i: '{a1.output.data.y}' } },
              job: { maps: { c: '{$self.output.data.o}' } } }
      transitions:
        t1:
          - to: a1
            conditions:
              gate: and
              match:
                - expected: false
                  actual: { '@pipe': [ ['{t1.output.data.a}', 'goodbye'], ['{@conditional.equality}'] ] }
                - expected: false
                  actual: { '@pipe': [ ['{t1.output.data.a}', 'bye'], ['{@conditional.equality}'] ] }
        a1:
          - to: a2
            conditions:
              match:
                - expected: 'hello world'
                  actual: '{a1.output.data.y}'
"""


async def test_s5_conditional_transitions(mesh) -> None:
    hm = await mesh(S5, workers={"work.do": hello_world, "work.do.more": more_world})
    goodbye = await hm.pubsub("cond.test", {"a": "goodbye"})
    assert "data" not in goodbye and goodbye["metadata"]["js"] == 0
    help_ = await hm.pubsub("cond.test", {"a": "help"})
    assert help_["data"] == {"b": "help world"}
    hello = await hm.pubsub("cond.test", {"a": "hello"})
    assert hello["data"] == {"b": "hello world", "c": "hello world world"}


S6 = """
app:
  id: {APP}
  version: '1'
  graphs:
    - subscribes: parent.test
      expire: 60
      activities:
        p0: { type: trigger, stats: { id: '{$self.input.data.id}' } }
        p1:
          type: await
          topic: child.test
          input:
            maps:
              id: { '@pipe': [ ['{p0.output.data.id}', '-child'], ['{@string.concat}'] ] }
              n: 7
          job: { maps: { child_result: '{$self.output.data.doubled}' } }
      transitions:
        p0: [ { to: p1 } ]
    - subscribes: child.test
      expire: 60
      activities:
        k0:
          type: trigger
          stats: { id: '{$self.input.data.id}' }
          job:
            maps:
              doubled: { '@pipe': [ ['{$self.output.data.n}', 2], ['{@math.multiply}'] ] }
"""


async def test_s6_await_composition(mesh) -> None:
    hm = await mesh(S6)
    job = await hm.pubsub("parent.test", {"id": "pa1"})
    assert job["data"] == {"child_result": 14}
    child = await hm.get_state("child.test", "pa1-child")
    meta = child["metadata"]
    assert meta["pj"] == "pa1" and meta["pa"] == "p1" and meta["pd"] == ",0,0" and meta["px"] is False
    assert meta["pg"] == job["metadata"]["gid"]
    assert child["data"] == {"doubled": 14}


S7 = """
app:
  id: {APP}
  version: '1'
  graphs:
    - subscribes: awaiter.test
      expire: 60
      activities:
        t1: { type: trigger }
        a1:
          type: await
          topic: awaiter.target
          await: '{t1.output.data.do_await}'
          job:
            maps:
              child_job_id: '{a1.output.data.job_id}'
              child_some_data: '{a1.output.data.some_data}'
      transitions:
        t1: [ { to: a1 } ]
    - subscribes: awaiter.target
      expire: 60
      activities:
        x0: { type: trigger, job: { maps: { some_data: true } } }
        x1: { type: hook }
      transitions:
        x0: [ { to: x1 } ]
"""


async def test_s7_fire_and_forget_child(mesh) -> None:
    hm = await mesh(S7)
    detached = await hm.pubsub("awaiter.test", {"do_await": False})
    child_id = detached["data"]["child_job_id"]
    assert "child_some_data" not in detached["data"]
    child = await hm.get_state("awaiter.target", child_id)
    assert child["metadata"]["px"] is True and child["metadata"]["pj"] == detached["metadata"]["jid"]
    attached = await hm.pubsub("awaiter.test", {"do_await": True})
    assert attached["data"]["child_some_data"] is True


S8 = """
app:
  id: {APP}
  version: '1'
  graphs:
    - subscribes: err.a
      expire: 60
      activities:
        t1: { type: trigger }
        a1: { type: worker, topic: err.work }
        a200: { type: hook, job: { maps: { ok: true } } }
      transitions:
        t1: [ { to: a1 } ]
        a1: [ { to: a200, conditions: { match: [ { expected: true, actual: true } ] } } ]
    - subscribes: err.b
      expire: 60
      activities:
        u1: { type: trigger }
        b1: { type: worker, topic: err.work }
        b200: { type: hook, job: { maps: { ok: true } } }
        b422: { type: hook, job: { maps: { handled: '{b1.output.metadata.err}' } } }
      transitions:
        u1: [ { to: b1 } ]
        b1:
          - { to: b200, conditions: { match: [ { expected: true, actual: true } ] } }
          - { to: b422, conditions: { code: 422 } }
    - subscribes: err.c
      expire: 60
      activities:
        v1: { type: trigger }
        c1: { type: worker, topic: err.work }
        ch: { type: hook, job: { maps: { always: true } } }
      transitions:
        v1: [ { to: c1 } ]
        c1: [ { to: ch } ]
"""


async def invalid(message: WorkerMessage) -> WorkerResponse:
    return WorkerResponse({"message": "invalid input", "reason": "bad"}, status="error", code=422)


async def test_s8_error_propagation_unhandled(mesh, sync_redis) -> None:
    hm = await mesh(S8, workers={"err.work": invalid})
    with pytest.raises(JobError) as caught:
        await hm.pubsub("err.a", {})
    assert caught.value.code == 422
    assert caught.value.error["message"] == "invalid input"
    assert caught.value.error["is_stream_error"] is True
    assert sync_redis.hget(hm.keys.job(caught.value.job_id), ":") == "0"


async def test_s8_error_routed_by_code(mesh) -> None:
    hm = await mesh(S8, workers={"err.work": invalid})
    job = await hm.pubsub("err.b", {})
    assert "err" not in job["metadata"]
    assert "ok" not in job["data"]
    handled = job["data"]["handled"]
    assert '"code":422' in handled and "invalid input" in handled


async def test_s8_unconditional_edge_taken_on_error(mesh) -> None:
    hm = await mesh(S8, workers={"err.work": invalid})
    job = await hm.pubsub("err.c", {})
    assert job["data"] == {"always": True}


S15 = """
app:
  id: {APP}
  version: '1'
  graphs:
    - subscribes: dup.test
      expire: 60
      activities:
        t1: { type: trigger, stats: { id: '{$self.input.data.id}' } }
        h1: { type: worker, topic: never.answered }
      transitions:
        t1: [ { to: h1 } ]
"""


async def test_s15_duplicate_job_id(mesh) -> None:
    hm = await mesh(S15)
    assert await hm.pub("dup.test", {"id": "sl1"}) == "sl1"
    with pytest.raises(DuplicateJobError, match="Duplicate job: sl1"):
        await hm.pub("dup.test", {"id": "sl1"})
    assert await hm.get_status("sl1") == 1
