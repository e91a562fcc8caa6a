"""Resume a failed job at its failed activity, and re-run a job (``HotMesh.resume`` / ``rerun``),
against a real redis-server."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from hotmesh_core import (
    PARK,
    JobNotFailedError,
    JobNotFoundError,
    ValidationError,
    WorkerMessage,
    WorkerResponse,
)
from hotmesh_core.keys import JobFields

from ..helpers import assert_eventually

FLAKY = """
app:
  id: {APP}
  version: '1'
  graphs:
    - subscribes: flaky.start
      publishes: flaky.done
      expire: 120
      activities:
        t1: { type: trigger }
        a1:
          type: worker
          topic: work.first
          input: { maps: { x: '{t1.output.data.a}' } }
        a2:
          type: worker
          topic: work.flaky
          input: { maps: { x: '{a1.output.data.y}', n: '{t1.output.data.n}' } }
          job: { maps: { b: '{$self.output.data.y}' } }
      transitions:
        t1: [ { to: a1 } ]
        a1: [ { to: a2, conditions: { code: 200 } } ]
"""


class Flaky:
    """A worker that fails until ``heal()``, and records every input it is given."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.healed = False
        self.fail_on = fail_on
        self.seen: list[dict[str, Any]] = []

    def heal(self) -> None:
        self.healed = True

    async def __call__(self, message: WorkerMessage) -> Any:
        self.seen.append(dict(message.data))
        if self.fail_on is not None:
            if message.data.get("x") == self.fail_on:
                return WorkerResponse(status="error", code=500, data={"message": "boom"})
        elif not self.healed:
            return WorkerResponse(status="error", code=500, data={"message": "boom"})
        return {"y": f"{message.data['x']}!"}


async def first(message: WorkerMessage) -> dict[str, Any]:
    return {"y": f"{message.data['x']} world"}


async def failed_job(hm: Any, data: dict[str, Any] | None = None) -> str:
    jid = await hm.pub("flaky.start", data or {"a": "hello", "n": 1})

    async def failed() -> bool:
        raw = await hm.get_raw(jid)
        return raw.get(":") == "0" and bool(raw.get(JobFields.meta("err")))

    await assert_eventually(failed)
    return jid


async def done(hm: Any, jid: str) -> dict[str, Any]:
    async def finished() -> dict[str, Any] | None:
        raw = await hm.get_raw(jid)
        if raw.get(":") == "0" and not raw.get(JobFields.meta("err")):
            return await hm.get_state("flaky.start", jid)
        return None

    result: dict[str, Any] = await assert_eventually(finished)
    return result


async def test_resume_with_the_same_input_after_the_worker_heals(mesh) -> None:
    flaky = Flaky()
    hm = await mesh(FLAKY, workers={"work.first": first, "work.flaky": flaky})
    jid = await failed_job(hm)
    assert flaky.seen == [{"x": "hello world", "n": 1}]
    before = await hm.export(jid)
    assert [a["aid"] for a in before["activities"] if a["error"]] == ["a2"]
    outcomes: list[dict[str, Any]] = []
    await hm.sub(f"flaky.done.{jid}", lambda topic, job: outcomes.append(job))

    flaky.heal()
    resumed = await hm.resume(jid)
    assert resumed["activity"] == "a2" and resumed["dad"] == ",0,0,0" and resumed["edited"] is False
    assert resumed["input"] == {"x": "hello world", "n": 1}
    state = await done(hm, jid)
    assert state["data"] == {"b": "hello world!"}
    assert flaky.seen == [{"x": "hello world", "n": 1}] * 2          # same input, a1 did not run again
    await assert_eventually(lambda: outcomes)
    assert outcomes[0]["data"] == {"b": "hello world!"} and "err" not in outcomes[0]["metadata"]

    after = await hm.export(jid)
    assert not [a for a in after["activities"] if a["error"]]
    [record] = after["history"]
    assert record["kind"] == "resume" and record["activity"] == "a2" and record["by"] == hm.guid
    assert record["failed"]["error"]["message"] == "boom" and record["failed"]["input"] == resumed["input"]
    raw = await hm.get_raw(jid)
    assert raw[":done"] == "1"                                      # this attempt completed once
    assert 0 < await hm.redis.call("TTL", hm.keys.job(jid)) <= 120   # expiry set again on completion


async def test_resume_merges_or_replaces_the_input(mesh) -> None:
    flaky = Flaky(fail_on="bad world")
    hm = await mesh(FLAKY, workers={"work.first": first, "work.flaky": flaky})
    jid = await failed_job(hm, {"a": "bad", "n": 7})
    resumed = await hm.resume(jid, "a2", {"x": "good"})
    assert resumed["input"] == {"x": "good", "n": 7} and resumed["edited"] is True
    assert (await done(hm, jid))["data"] == {"b": "good!"}
    assert flaky.seen[-1] == {"x": "good", "n": 7}

    jid = await failed_job(hm, {"a": "bad", "n": 8})
    resumed = await hm.resume(jid, data={"x": "only"}, merge=False)
    assert resumed["input"] == {"x": "only"}
    assert (await done(hm, jid))["data"] == {"b": "only!"}
    [record] = (await hm.export(jid))["history"]
    assert record["edited"] is True and record["input"] == {"x": "only"}
    assert record["failed"]["input"] == {"x": "bad world", "n": 8}


async def test_a_job_that_fails_again_can_be_resumed_again(mesh) -> None:
    flaky = Flaky()
    hm = await mesh(FLAKY, workers={"work.first": first, "work.flaky": flaky})
    jid = await failed_job(hm)
    await hm.resume(jid)

    async def failed_again() -> bool:
        raw = await hm.get_raw(jid)
        return len(flaky.seen) == 2 and raw.get(":") == "0" and bool(raw.get(JobFields.meta("err")))

    await assert_eventually(failed_again)
    flaky.heal()
    await hm.resume(jid)
    assert (await done(hm, jid))["data"] == {"b": "hello world!"}
    history = (await hm.export(jid))["history"]
    assert [r["kind"] for r in history] == ["resume", "resume"]


async def test_two_concurrent_resumes_apply_once(mesh) -> None:
    flaky = Flaky()
    hm = await mesh(FLAKY, workers={"work.first": first, "work.flaky": flaky})
    other = await mesh(engine=False)              # a second process asking at the same time
    jid = await failed_job(hm)
    flaky.heal()
    results = await asyncio.gather(hm.resume(jid), other.resume(jid), hm.resume(jid), return_exceptions=True)
    applied = [r for r in results if isinstance(r, dict)]
    refused = [r for r in results if isinstance(r, JobNotFailedError)]
    assert len(applied) == 1 and len(refused) == 2, results
    assert all(r.code == 409 for r in refused)
    await done(hm, jid)
    await asyncio.sleep(0.3)
    assert len(flaky.seen) == 2                    # the failed attempt and one resumed attempt
    assert len((await hm.export(jid))["history"]) == 1
    assert (await hm.get_raw(jid))[":done"] == "1"


async def test_resume_refuses_what_it_cannot_resume(mesh) -> None:
    flaky = Flaky()
    parked: list[WorkerMessage] = []

    async def flaky_or_park(message: WorkerMessage) -> Any:
        if message.data.get("n") == 99:
            parked.append(message)
            return PARK
        return await flaky(message)

    hm = await mesh(FLAKY, workers={"work.first": first, "work.flaky": flaky_or_park})
    jid = await failed_job(hm)
    with pytest.raises(ValidationError, match="no activity 'nope'") as unknown:
        await hm.resume(jid, "nope")
    assert unknown.value.code == 400
    with pytest.raises(ValidationError, match="did not fail"):
        await hm.resume(jid, "a1")
    with pytest.raises(ValidationError, match="JSON object"):
        await hm.resume(jid, data=["not", "an", "object"])  # type: ignore[arg-type]
    with pytest.raises(JobNotFoundError) as missing:
        await hm.resume("no-such-job")
    assert missing.value.code == 404
    assert len(flaky.seen) == 1                    # nothing was dispatched by a refusal

    flaky.heal()
    await hm.resume(jid)
    await done(hm, jid)
    with pytest.raises(JobNotFailedError, match="completed without error") as completed:
        await hm.resume(jid)
    assert completed.value.code == 409

    running = await hm.pub("flaky.start", {"a": "x", "n": 99})
    await assert_eventually(lambda: parked)
    with pytest.raises(JobNotFailedError, match="still running"):
        await hm.resume(running)
    await hm.interrupt("flaky.start", running, expire=60)
    with pytest.raises(JobNotFailedError, match="interrupted"):
        await hm.resume(running)


async def test_rerun_starts_a_linked_job_with_the_same_or_edited_input(mesh) -> None:
    flaky = Flaky()
    hm = await mesh(FLAKY, workers={"work.first": first, "work.flaky": flaky})
    jid = await failed_job(hm, {"a": "hi", "n": 3})
    flaky.heal()
    again = await hm.rerun(jid)
    assert again["jid"] != jid and again["from"] == jid and again["input"] == {"a": "hi", "n": 3}
    assert (await done(hm, again["jid"]))["data"] == {"b": "hi world!"}
    new_export = await hm.export(again["jid"])
    assert new_export["rerun_of"] == jid
    assert new_export["history"][0]["from"] == jid
    old_export = await hm.export(jid)
    assert old_export["history"][0]["kind"] == "rerun" and old_export["history"][0]["to"] == again["jid"]
    assert (await hm.get_raw(jid))[":"] == "0"     # the original stays as it was

    edited = await hm.rerun(again["jid"], {"a": "yo"})
    assert edited["input"] == {"a": "yo", "n": 3} and edited["edited"] is True
    assert (await done(hm, edited["jid"]))["data"] == {"b": "yo world!"}
    with pytest.raises(JobNotFoundError):
        await hm.rerun("no-such-job")


AWAITS = """
app:
  id: {APP}
  version: '1'
  graphs:
    - subscribes: parent.start
      expire: 120
      activities:
        p0: { type: trigger }
        p1:
          type: await
          topic: child.start
          input: { maps: { n: '{p0.output.data.n}' } }
          job: { maps: { r: '{$self.output.data.r}' } }
      transitions:
        p0: [ { to: p1 } ]
    - subscribes: child.start
      expire: 120
      activities:
        c0: { type: trigger }
        c1:
          type: worker
          topic: work.child
          input: { maps: { n: '{c0.output.data.n}' } }
          job: { maps: { r: '{$self.output.data.y}' } }
      transitions:
        c0: [ { to: c1 } ]
"""


async def test_resume_an_await_starts_a_new_child_with_the_edited_input(mesh) -> None:
    async def child(message: WorkerMessage) -> Any:
        if message.data["n"] > 5:
            return WorkerResponse(status="error", code=422, data={"message": "too big"})
        return {"y": message.data["n"] * 10}

    hm = await mesh(AWAITS, workers={"work.child": child})
    jid = await hm.pub("parent.start", {"n": 9})

    async def failed() -> bool:
        raw = await hm.get_raw(jid)
        return raw.get(":") == "0" and bool(raw.get(JobFields.meta("err")))

    await assert_eventually(failed)
    resumed = await hm.resume(jid, data={"n": 2})
    assert resumed["activity"] == "p1" and resumed["input"] == {"n": 2}

    async def finished() -> dict[str, Any] | None:
        raw = await hm.get_raw(jid)
        return await hm.get_state("parent.start", jid) if raw.get(":") == "0" and not raw.get("m/err") else None

    assert (await assert_eventually(finished))["data"] == {"r": 20}


MAPPING = """
app:
  id: {APP}
  version: '1'
  graphs:
    - subscribes: map.start
      expire: 120
      activities:
        m0: { type: trigger }
        m1:
          type: hook
          job:
            maps:
              half: { '@pipe': [ [ '{m0.output.data.text}' ], [ '{@json.parse}' ] ] }
      transitions:
        m0: [ { to: m1 } ]
"""


async def test_resume_reruns_leg1_of_an_activity_whose_mapping_failed(mesh) -> None:
    """A hook whose mapping fails has no input to edit: resume sends it a transition, its leg 1
    runs again (and fails again here, deterministically); an edited input is refused."""
    hm = await mesh(MAPPING)
    jid = await hm.pub("map.start", {"text": "not json"})

    async def failed() -> bool:
        raw = await hm.get_raw(jid)
        return raw.get(":") == "0" and bool(raw.get(JobFields.meta("err")))

    await assert_eventually(failed)
    with pytest.raises(ValidationError, match="only a worker's or an await's input can be edited"):
        await hm.resume(jid, data={"text": "x"})
    resumed = await hm.resume(jid)
    assert resumed["activity"] == "m1" and resumed["input"] is None
    await assert_eventually(failed)
    assert len((await hm.export(jid))["history"]) == 1
    assert (await hm.get_raw(jid))[":done"] == "1"


async def test_a_late_message_of_the_failed_attempt_is_dropped(mesh) -> None:
    """Resume starts a new generation: a reply minted for the failed attempt (old gid) that
    arrives after the resume does not complete the resumed activity; the new attempt's does."""
    attempts: list[WorkerMessage] = []

    async def fail_then_park(message: WorkerMessage) -> Any:
        attempts.append(message)
        if len(attempts) == 1:
            return WorkerResponse(status="error", code=500, data={"message": "boom"})
        return PARK

    hm = await mesh(FLAKY, workers={"work.first": first, "work.flaky": fail_then_park})
    jid = await failed_job(hm)
    await hm.resume(jid)
    await assert_eventually(lambda: len(attempts) == 2)
    old, new = attempts[0].metadata, attempts[1].metadata
    assert old["gid"] != new["gid"] and old["dad"] == new["dad"]
    await hm.add({"metadata": {k: old[k] for k in ("jid", "gid", "dad", "aid")}, "data": {"y": "stale"}})
    await asyncio.sleep(0.5)
    assert await hm.get_status(jid) == 1                     # still waiting for the new attempt
    await hm.add({"metadata": {k: new[k] for k in ("jid", "gid", "dad", "aid")}, "data": {"y": "fresh"}})
    assert (await done(hm, jid))["data"] == {"b": "fresh"}


async def test_resume_and_rerun_with_sharded_keys(mesh) -> None:
    """With shards > 1 the job, its engine stream and its worker stream share the job's hash tag:
    the resume script touches that shard only; a re-run may land on another shard."""
    flaky = Flaky()
    hm = await mesh(FLAKY, workers={"work.first": first, "work.flaky": flaky}, shards=3)
    jids = [await failed_job(hm, {"a": f"s{n}", "n": n}) for n in range(4)]
    flaky.heal()
    for jid in jids:
        await hm.resume(jid)
    for n, jid in enumerate(jids):
        assert (await done(hm, jid))["data"] == {"b": f"s{n} world!"}
    again = await hm.rerun(jids[0])
    assert (await done(hm, again["jid"]))["data"] == {"b": "s0 world!"}
    assert (await hm.export(jids[0]))["history"][-1]["to"] == again["jid"]
