"""Runaway protection (issue 13 item 2), against a real redis-server: a job is stopped with code
508 once it takes more cycle iterations or activity steps than its graph's ``limits`` (or the
Settings' defaults) allow, and one step's mappings get a time budget (``PipeError`` once spent)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from hotmesh_core import JobError, JobLimitError, WorkerMessage
from hotmesh_core.examples import example_apps

from ..helpers import assert_eventually

LOOPS = """
app:
  id: {APP}
  version: '1'
  graphs:
    - subscribes: run.away
      expire: 60
      limits: { cycles: 20 }
      activities:
        t1: { type: trigger }
        a1: { type: hook, cycle: true }
        w1: { type: worker, topic: run.count, input: { maps: { jid: '{$job.metadata.jid}' } },
              job: { maps: { counter: '{$self.output.data.counter}' } } }
        c1: { type: cycle, ancestor: a1 }
      transitions:
        t1: [ { to: a1 } ]
        a1: [ { to: w1 } ]
        w1: [ { to: c1, conditions: { code: 200 } } ]
    - subscribes: run.default
      expire: 60
      activities:
        t2: { type: trigger }
        a2: { type: hook, cycle: true }
        w2: { type: worker, topic: run.count, input: { maps: { jid: '{$job.metadata.jid}' } },
              job: { maps: { counter: '{$self.output.data.counter}' } } }
        c2: { type: cycle, ancestor: a2 }
      transitions:
        t2: [ { to: a2 } ]
        a2: [ { to: w2 } ]
        w2: [ { to: c2, conditions: { code: 200 } } ]
    - subscribes: run.bounded
      expire: 60
      limits: { cycles: 30 }
      activities:
        t3: { type: trigger }
        a3: { type: hook, cycle: true }
        w3: { type: worker, topic: run.count, input: { maps: { jid: '{$job.metadata.jid}' } },
              job: { maps: { counter: '{$self.output.data.counter}' } } }
        c3: { type: cycle, ancestor: a3 }
      transitions:
        t3: [ { to: a3 } ]
        a3: [ { to: w3 } ]
        w3:
          - to: c3
            conditions:
              match:
                - expected: true
                  actual: { '@pipe': [ ['{w3.output.data.counter}', 25], ['{@conditional.less_than}'] ] }
    - subscribes: run.steps
      expire: 60
      limits: { steps: 3, cycles: 0 }
      activities:
        t4: { type: trigger }
        s1: { type: worker, topic: run.count, input: { maps: { jid: '{$job.metadata.jid}' } } }
        s2: { type: worker, topic: run.count, input: { maps: { jid: '{$job.metadata.jid}' } } }
        s3: { type: worker, topic: run.count, input: { maps: { jid: '{$job.metadata.jid}' } },
              job: { maps: { counter: '{$self.output.data.counter}' } } }
      transitions:
        t4: [ { to: s1 } ]
        s1: [ { to: s2, conditions: { code: 200 } } ]
        s2: [ { to: s3, conditions: { code: 200 } } ]
"""


def counting() -> tuple[dict[str, int], Any]:
    calls: dict[str, int] = {}

    async def count(message: WorkerMessage) -> dict[str, Any]:
        jid = message.data["jid"]
        calls[jid] = calls.get(jid, 0) + 1
        return {"counter": calls[jid]}

    return calls, count


async def test_a_cycle_with_no_exit_stops_at_its_graphs_cycle_limit(mesh, sync_redis) -> None:
    calls, count = counting()
    hm = await mesh(LOOPS, workers={"run.count": count})
    with pytest.raises(JobError) as caught:
        await hm.pubsub("run.away", {}, timeout=30)
    error = caught.value
    assert error.code == JobLimitError.code == 508
    assert "activity 'c1'" in str(error) and "limit of 20 cycle iterations" in str(error)
    jid = error.job_id
    # the 21st pass of c1 was refused: w1 ran once per pass, the refused one included
    assert calls[jid] == 21
    raw = sync_redis.hgetall(hm.keys.job(jid))
    assert raw[":c"] == "20"
    assert '"code":508' in raw["m/err"]
    assert await hm.get_status(jid) < 0                        # ended, like an interrupted job
    fields = len(raw)
    await asyncio.sleep(0.5)                                   # nothing runs on after it
    assert calls[jid] == 21 and sync_redis.hlen(hm.keys.job(jid)) == fields


async def test_the_settings_default_applies_when_the_graph_sets_no_limit(mesh) -> None:
    calls, count = counting()
    hm = await mesh(LOOPS, workers={"run.count": count}, max_cycles=7)
    with pytest.raises(JobError) as caught:
        await hm.pubsub("run.default", {}, timeout=30)
    assert caught.value.code == 508
    assert "limit of 7 cycle iterations" in str(caught.value) and "HMSH_MAX_CYCLES" in str(caught.value)
    assert calls[caught.value.job_id] == 8


async def test_a_graphs_limit_overrides_the_settings(mesh) -> None:
    calls, count = counting()
    hm = await mesh(LOOPS, workers={"run.count": count}, max_cycles=5)
    job = await hm.pubsub("run.bounded", {}, timeout=30)     # 24 iterations: above 5, within 30
    assert job["data"] == {"counter": 25}


async def test_a_job_stops_at_its_step_limit(mesh, sync_redis) -> None:
    calls, count = counting()
    hm = await mesh(LOOPS, workers={"run.count": count})
    with pytest.raises(JobError) as caught:
        await hm.pubsub("run.steps", {}, timeout=30)
    error = caught.value
    assert error.code == 508 and "limit of 3 activity steps" in str(error)
    raw = sync_redis.hgetall(hm.keys.job(error.job_id))
    assert raw[":n"] == "3" and "d/counter" not in raw        # the 4th step was refused: s3 never finished


async def test_limits_can_be_turned_off(mesh) -> None:
    calls, count = counting()
    hm = await mesh(LOOPS, workers={"run.count": count}, max_steps=0, max_cycles=0)
    job = await hm.pubsub("run.bounded", {}, timeout=30)     # the graph's own limit still holds
    assert job["data"] == {"counter": 25}
    jid = await hm.pub("run.default", {})
    await assert_eventually(lambda: calls.get(jid, 0) > 40, timeout=30)   # 0: no limit, it loops on
    assert await hm.get_status(jid) > 0
    await hm.interrupt("run.default", jid)


PROBE = """
app:
  id: {APP}
  version: '1'
  graphs:
    - subscribes: pipe.heavy
      expire: 60
      activities:
        t1: { type: trigger }
        a1: { type: worker, topic: pipe.work, input: { maps: ROWS } }
      transitions:
        t1: [ { to: a1 } ]
"""


async def test_a_heavy_mapping_fails_with_a_pipe_error_when_its_budget_is_spent(mesh) -> None:
    """The issue's probe: 84 split/join rows on a 1M-character string (9.3 s on the engine)."""
    rows = ", ".join(f"k{i}: {{ '@pipe': [ ['{{t1.output.data.s}}', ','], ['{{@string.split}}', ','], "
                     "['{@array.join}'] ] }" for i in range(84))
    worked: list[Any] = []

    async def work(message: WorkerMessage) -> dict[str, Any]:
        worked.append(message)
        return {}

    hm = await mesh(PROBE.replace("ROWS", "{ " + rows + " }"), workers={"pipe.work": work},
                    mapping_budget_ms=100)
    with pytest.raises(JobError) as caught:
        await hm.pubsub("pipe.heavy", {"s": "abcdefghi," * 99_999}, timeout=30)
    assert caught.value.code == 400                           # PipeError's code
    assert "activity 'a1'" in str(caught.value) and "time budget of 100 ms" in str(caught.value)
    assert worked == []


async def test_the_demo_app_hands_a_workers_own_error_to_the_caller(mesh) -> None:
    """The demo's transitions out of its workers have conditions: a failed compose ends the job with
    compose's own error. The unconditional transition it had passed the failure on to 'done',
    whose mapping then failed, and the caller saw that error instead (and `plan` now warns)."""
    demo = next(example for example in example_apps() if example.app_id == "demo")
    text = demo.manifest.read_text().replace("id: demo", "id: {APP}")
    hm = await mesh(text, workers={worker.topic: worker.callback for worker in demo.workers})
    job = await hm.pubsub("demo.greet", {"name": "world", "shout": True}, timeout=10)
    assert job["data"]["message"] == "HELLO, WORLD!"
    with pytest.raises(JobError) as caught:
        await hm.pubsub("demo.greet", {"name": " "}, timeout=10)
    assert caught.value.code == 422 and "compose: a name is needed" in str(caught.value)

    blind = text.replace("version: '1'", "version: '2'").replace("            conditions: { code: 200 }\n", "")
    assert any(w.startswith("compose: its transition to 'done' has no conditions")
               for w in (await hm.review(blind.replace("{APP}", hm.app_id))).warnings)
    await hm.activate(await hm.deploy(blind.replace("{APP}", hm.app_id)))
    with pytest.raises(JobError) as caught:
        await hm.pubsub("demo.greet", {"name": " "}, timeout=10)
    assert caught.value.code == 400 and "@string.split" in str(caught.value)   # done's mapping, not compose


async def test_deploy_logs_the_warnings_plan_shows(mesh, caplog) -> None:
    hm = await mesh()
    text = LOOPS.replace("{APP}", hm.app_id).replace("w1: [ { to: c1, conditions: { code: 200 } } ]",
                                                     "w1: [ { to: c1 } ]")
    with caplog.at_level(logging.WARNING, logger="hotmesh.deploy"):
        await hm.deploy(text)
    logged = [record.getMessage() for record in caplog.records if record.name == "hotmesh.deploy"]
    assert logged == [f"app {hm.app_id} version 1: {warning}" for warning in (await hm.review(text)).warnings]
    assert logged[0].endswith("c1: the loop back to 'a1' (a1 -> w1 -> c1) has no conditional transition, "
                              "so nothing ends it: each job runs until its cycle limit stops it (code 508); "
                              "put conditions on a transition of the loop")
    assert any("w1: its transition to 'c1' has no conditions" in line for line in logged)
