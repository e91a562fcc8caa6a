"""S23 idempotency guards, S25 serializer round trip, payload caps: against a real redis-server."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hotmesh_core import PayloadTooLargeError, WorkerMessage, WorkerResponse
from hotmesh_core.keys import JobFields

from ..helpers import assert_eventually, backlog

FLOW = """
app:
  id: {APP}
  version: '1'
  graphs:
    - subscribes: g.test
      expire: 60
      activities:
        t1: { type: trigger, stats: { id: '{$self.input.data.id}' } }
        a1: { type: worker, topic: g.work, input: { maps: { x: '{t1.output.data.x}' } },
              job: { maps: { y: '{$self.output.data.y}', n: '{$self.output.data.n}' } } }
        h1: { type: hook, job: { maps: { done: true } } }
      transitions:
        t1: [ { to: a1 } ]
        a1: [ { to: h1 } ]
"""


def snapshot(sync_redis: Any, key: str) -> dict[str, str]:
    return sync_redis.hgetall(key)


async def test_replayed_transition_and_response_change_nothing(mesh, sync_redis) -> None:
    """S23: a transition and a response replayed after completion are dropped; state is unchanged."""
    seen: list[WorkerMessage] = []

    async def work(message: WorkerMessage) -> dict[str, Any]:
        seen.append(message)
        return {"y": message.data["x"] * 2, "n": len(seen)}

    hm = await mesh(FLOW, workers={"g.work": work})
    job = await hm.pubsub("g.test", {"id": "idem1", "x": 21})
    assert job["data"] == {"y": 42, "n": 1, "done": True}
    key = hm.keys.job("idem1")
    before = snapshot(sync_redis, key)
    meta = seen[0].metadata
    stream = hm.keys.engine_stream()
    # (a) the same worker response, three times (same guid as a real response would carry)
    response = {"metadata": {**meta, "guid": "Hreplayed-response"}, "type": "response",
                "data": {"y": 0, "n": 99}}
    for _ in range(3):
        sync_redis.xadd(stream, {"message": json.dumps(response)})
    # (b) the transition into a1 and into h1, replayed
    for aid, dad in (("a1", ",0,0"), ("h1", ",0,0,0")):
        transition = {"metadata": {"guid": f"Hreplay-{aid}", "jid": "idem1", "gid": meta["gid"],
                                   "dad": dad, "aid": aid}, "type": "transition"}
        sync_redis.xadd(stream, {"message": json.dumps(transition)})
    await assert_eventually(lambda: backlog(sync_redis, stream) == 0)
    assert snapshot(sync_redis, key) == before
    assert len(seen) == 1                        # the worker never ran again


async def test_stale_generation_dropped(mesh, sync_redis) -> None:
    """S23: a message whose gid differs from the job's is dropped."""
    hm = await mesh(FLOW, workers={"g.work": lambda m: {"y": 1, "n": 1}})
    await hm.pubsub("g.test", {"id": "idem2", "x": 1})
    key = hm.keys.job("idem2")
    before = snapshot(sync_redis, key)
    stale = {"metadata": {"guid": "Hstale", "jid": "idem2", "gid": "Hsomeoneelse", "dad": ",0,0", "aid": "a1"},
             "type": "response", "data": {"y": 5}}
    sync_redis.xadd(hm.keys.engine_stream(), {"message": json.dumps(stale)})
    await assert_eventually(lambda: backlog(sync_redis, hm.keys.engine_stream()) == 0)
    assert snapshot(sync_redis, key) == before


PENDING = """
app:
  id: {APP}
  version: '1'
  graphs:
    - subscribes: p.test
      expire: 60
      activities:
        t1: { type: trigger, stats: { id: '{$self.input.data.id}' } }
        a1: { type: worker, topic: p.work, job: { maps: { pct: '{$self.output.data.percentage}' } } }
      transitions:
        t1: [ { to: a1 } ]
"""


async def test_duplicate_pending_response_dropped_by_guid(mesh, sync_redis) -> None:
    """S23: while leg 2 is open (pending), the same response guid is applied only once."""
    hm = await mesh(PENDING, workers={"p.work": lambda m: WorkerResponse({"percentage": 49}, "pending", 202)})
    await hm.pub("p.test", {"id": "pend1"})
    key = hm.keys.job("pend1")
    await assert_eventually(lambda: sync_redis.hget(key, JobFields.ledger("a1", ",0,0")) == "889000001000001")
    gid = sync_redis.hget(key, "m/gid")
    progress = {"metadata": {"guid": "Hprogress-1", "jid": "pend1", "gid": gid, "dad": ",0,0", "aid": "a1"},
                "type": "response", "status": "pending", "code": 202, "data": {"percentage": 75}}
    for _ in range(3):
        sync_redis.xadd(hm.keys.engine_stream(), {"message": json.dumps(progress)})
    await assert_eventually(lambda: backlog(sync_redis, hm.keys.engine_stream()) == 0)
    assert sync_redis.hget(key, JobFields.ledger("a1", ",0,0")) == "889000002000002"
    assert sync_redis.hget(key, "d/pct") == "/d75"
    await hm.add({"metadata": {**progress["metadata"], "guid": "Hfinal"}, "status": "success", "code": 200,
                  "data": {"percentage": 99}})
    await assert_eventually(lambda: sync_redis.hget(key, ":") == "0")
    assert sync_redis.hget(key, JobFields.ledger("a1", ",0,0")) == "888000003000003"
    assert (await hm.get_state("p.test", "pend1"))["data"] == {"pct": 99}


SERIAL = """
app:
  id: {APP}
  version: '1'
  graphs:
    - subscribes: ser.test
      expire: 60
      activities:
        t1:
          type: trigger
          stats: { id: '{$self.input.data.id}' }
          job:
            maps:
              b: '{$self.output.data.b}'
              n: '{$self.output.data.n}'
              t: '{$self.output.data.t}'
              f: '{$self.output.data.f}'
              z: '{$self.output.data.z}'
              o: '{$self.output.data.o}'
              s: '{$self.output.data.s}'
"""


async def test_s25_serializer_round_trip(mesh, sync_redis) -> None:
    hm = await mesh(SERIAL)
    data = {"id": "ser1", "b": "x", "n": 14, "t": True, "f": False, "z": None, "o": {"k": [1]}, "s": "/tricky"}
    job = await hm.pubsub("ser.test", data)
    raw = sync_redis.hgetall(hm.keys.job("ser1"))
    assert [raw[f"d/{k}"] for k in "bntfzo"] == ["x", "/d14", "/t", "/f", "/n", '/s{"k":[1]}']
    expected = {k: v for k, v in data.items() if k != "id"}
    assert job["data"] == expected
    assert (await hm.get_state("ser.test", "ser1"))["data"] == expected


async def test_payload_cap_rejects_before_writing(mesh, sync_redis) -> None:
    hm = await mesh(SERIAL, max_payload_bytes=1024)
    def app_keys() -> set[str]:
        # the scout's lease (w:time) comes and goes on its own; everything else must stay put
        return {k for k in sync_redis.scan_iter(match=f"hmsh:{hm.app_id}:*", count=1000) if ":w:" not in k}

    keys_before = app_keys()
    with pytest.raises(PayloadTooLargeError, match="limit is 1024 bytes"):
        await hm.pub("ser.test", {"id": "big", "b": "x" * 2000})
    assert app_keys() == keys_before
    assert sync_redis.exists(hm.keys.job("big")) == 0


async def test_unexpected_engine_error_is_redelivered_not_a_500(mesh, sync_redis, monkeypatch) -> None:
    """Q10 fixed: a step that raises leaves its message pending; reclaim delivers it again and the
    job completes normally (no silent 500 for the activity)."""
    from hotmesh_core.activities import legs

    original = legs._leg2_spec
    failures: list[str] = []

    def flaky(*args: Any, **kwargs: Any) -> Any:
        if not failures:
            failures.append("boom")
            raise RuntimeError("transient engine fault")
        return original(*args, **kwargs)

    monkeypatch.setattr(legs, "_leg2_spec", flaky)
    hm = await mesh(FLOW, workers={"g.work": lambda m: {"y": 2, "n": 1}}, reclaim_delay_ms=300,
                    reclaim_interval_ms=100)
    job = await hm.pubsub("g.test", {"id": "boom1", "x": 1}, timeout=10)
    assert failures == ["boom"]
    assert job["data"] == {"y": 2, "n": 1, "done": True}
    assert "err" not in job["metadata"]
    assert sync_redis.hget(hm.keys.job("boom1"), ":done") == "1"


async def test_late_response_after_reclaim_is_dropped(mesh, sync_redis) -> None:
    """A worker that stalled past the reclaim delay answers after another worker already did:
    the engine keeps the first answer; the job's data does not change."""
    hm = await mesh(FLOW, workers={"g.work": lambda m: {"y": "first", "n": 1}})
    job = await hm.pubsub("g.test", {"id": "late1", "x": 1})
    key = hm.keys.job("late1")
    before = snapshot(sync_redis, key)
    meta = json.loads(sync_redis.hget(key, "a/a1,0,0"))
    assert meta["ac"] and meta["au"]              # the entry's metadata; its output is o/a1,0,0
    assert json.loads(sync_redis.hget(key, "o/a1,0,0")) == {"y": "first", "n": 1}
    zombie = {"metadata": {"guid": "Hzombie", "jid": "late1", "gid": job["metadata"]["gid"], "dad": ",0,0",
                           "aid": "a1", "topic": "g.work"}, "type": "response", "data": {"y": "zombie", "n": 9}}
    sync_redis.xadd(hm.keys.engine_stream(), {"message": json.dumps(zombie)})
    await assert_eventually(lambda: backlog(sync_redis, hm.keys.engine_stream()) == 0)
    assert snapshot(sync_redis, key) == before


async def test_stale_carried_state_is_read_again(mesh, sync_redis, monkeypatch) -> None:
    """A response carries leg 1's state back (``legs.carry``) so leg 2 need not read the job. When
    that state went stale (here a pending response moved the ledger on), the step script refuses
    it and leg 2 reads the job and computes again: the final answer lands once, on the right ledger."""
    from hotmesh_core import worker as worker_module

    carried: list[dict] = []
    parse = worker_module.msgs.parse

    def spy(raw: str) -> dict:
        message = parse(raw)
        if "c" in message:
            carried.append(message)
        return message

    monkeypatch.setattr(worker_module.msgs, "parse", spy)
    hm = await mesh(PENDING, workers={"p.work": lambda m: WorkerResponse({"percentage": 49}, "pending", 202)})
    await hm.pub("p.test", {"id": "carry1"})
    key = hm.keys.job("carry1")
    await assert_eventually(lambda: sync_redis.hget(key, JobFields.ledger("a1", ",0,0")) == "889000001000001")
    assert carried and carried[0]["c"]["m"]["gid"] == sync_redis.hget(key, "m/gid")
    final = {"metadata": {**carried[0]["metadata"], "guid": "Hfinal"}, "type": "response", "status": "success",
             "code": 200, "data": {"percentage": 99}, "c": carried[0]["c"]}     # leg 1's state: stale now
    sync_redis.xadd(hm.keys.engine_stream(), {"message": json.dumps(final)})
    await assert_eventually(lambda: sync_redis.hget(key, ":") == "0")
    assert sync_redis.hget(key, JobFields.ledger("a1", ",0,0")) == "888000002000002"
    assert (await hm.get_state("p.test", "carry1"))["data"] == {"pct": 99}
    assert sync_redis.hget(key, ":done") == "1"
