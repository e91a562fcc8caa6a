"""The overview against a real redis-server and real engines: rates and latencies counted from
the live events, queue figures (depth, pending, oldest pending age, per consumer) with a stopped
worker, timers waiting, and a refresh whose Redis command count does not grow with the jobs."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from typing import Any

import pytest

from hotmesh_core import HotMesh, HotMeshError, JobError, Worker
from hotmesh_core.keys import JobFields
from studio.access import ReadOnlyMesh
from studio.events import EventHub
from studio.overview import OverviewView, stream_rows
from studio.overview_stats import OverviewStats
from studio.runs import RunsTable

from ..conftest import fast_settings
from ..helpers import assert_eventually
from .apps import ROOT

DEMO = (ROOT / "assets/apps/demo/app.yaml").read_text().replace("id: demo", "id: {APP}", 1)

QUEUE_YAML = """
app:
  id: {APP}
  version: '1'
  graphs:
    - subscribes: q.go
      activities:
        t: { type: trigger }
        work: { type: worker, topic: q.work }
      transitions:
        t: [ { to: work } ]
    - subscribes: nap.go
      activities:
        n0: { type: trigger }
        nap: { type: hook, sleep: 60 }
      transitions:
        n0: [ { to: nap } ]
"""


async def compose(message: Any) -> dict[str, Any]:
    await asyncio.sleep(0.05)
    name = str(message.data.get("name") or "")
    if not name:
        raise HotMeshError("compose: a name is needed", 422)
    return {"message": f"hello, {name}!"}


def shout(message: Any) -> dict[str, Any]:
    return {"text": message.data["text"].upper()}


async def test_counts_rates_and_latencies_come_from_the_engines_events(mesh: Any, app_id: str) -> None:
    hm = await mesh(DEMO, workers={"demo.compose": compose, "demo.shout": shout})
    app = await hm.compiled("1")
    hub, stats = EventHub(), OverviewStats()
    stats.set_app(app)
    await hub.add_app(hm)
    hub.tap(app_id, stats.push)
    await hm.watch(60)
    try:
        ok = await asyncio.gather(*(hm.pubsub("demo.greet", {"name": f"n{i}", "shout": True}, timeout=20)
                                    for i in range(8)))
        failed = 0
        for _ in range(3):
            with pytest.raises(JobError):
                await hm.pubsub("demo.greet", {"name": ""}, timeout=20)
            failed += 1
        assert len(ok) == 8 and failed == 3
        await assert_eventually(lambda: stats.totals(900)["completed"] + stats.totals(900)["failed"] == 11)
        totals = stats.totals(900)
        assert (totals["started"], totals["completed"], totals["failed"]) == (11, 8, 3)
        per = stats.per_activity(900)
        assert per["compose"]["ran"] == 11 and per["compose"]["activity failed"] == 3
        assert per["shout"]["ran"] == 8 and per["shout"]["activity failed"] == 0
        # the chart's buckets add up to the totals (rates are per second over 10 s buckets)
        rates = stats.rates(900, 10)
        assert len(rates["time"]) == 90
        assert round(sum(rates["started"]) * 10) == 11 and round(sum(rates["failed"]) * 10) == 3
        assert stats.totals(900, aids={"start"})["started"] == 11
        # durations of the worker activity: every run timed, each at least the callback's 50 ms sleep
        wait, duration = stats.latency("compose", 900)
        assert duration.count == 11 and duration.p50 is not None and duration.p50 >= 50
        assert duration.p50 <= duration.p95 <= duration.p99          # type: ignore[operator]
        assert wait.count == 11 and wait.p50 is not None and wait.p50 >= 0
        shout_wait, _ = stats.latency("shout", 900)
        assert shout_wait.count == 8

        opened: list[str] = []

        async def on_failed(aid: str) -> None:
            opened.append(aid)

        view = OverviewView(ReadOnlyMesh(hm), stats, on_failed=on_failed)    # a viewer may see it
        view.set_app(app)
        await view.refresh()
        rows = view.activities.value
        top = rows.iloc[0]
        assert (top["activity"], int(top["failed"]), int(top["runs"])) == ("compose", 3, 11)
        assert "data-value='8'" in view.summary.object and "hm-ov-failed hm-bad' data-value='3'" in view.summary.object
        await view._clicked(type("Click", (), {"row": 0})())
        assert opened == ["compose"]
        await view._clicked(type("Click", (), {"row": list(rows["activity"]).index("shout")})())
        assert opened == ["compose"]                   # an activity that did not fail opens nothing
        view.graph.value = "demo.greet"
        assert list(view.streams.value["stream"]) == ["(engine)", "demo.compose", "demo.shout"]
        assert list(view.fleet.value["role"]).count("worker") == 2
    finally:
        await hub.stop()


async def test_failed_runs_filtered_by_the_activity_they_failed_at(mesh: Any, app_id: str) -> None:
    hm = await mesh(DEMO, workers={"demo.compose": compose, "demo.shout": shout})
    good = await hm.pubsub("demo.greet", {"name": "ann", "shout": True}, timeout=20)
    bad = []
    for _ in range(2):
        with pytest.raises(JobError) as caught:
            await hm.pubsub("demo.greet", {"name": ""}, timeout=20)
        bad.append(caught.value.job_id)
    table = RunsTable(hm)
    await table.load()
    assert len(table.frame) == 3
    await table.show_failed_at("compose")
    assert table.status.value == "failed" and table.failed_at.value == "compose"
    assert sorted(table.table.value["jid"]) == sorted(bad)
    assert good["metadata"]["jid"] not in set(table.table.value["jid"])
    await table.show_failed_at("shout")           # nothing failed there
    assert table.table.value.empty


async def test_queues_with_a_stopped_worker_and_timers(redis_url: str, mesh: Any, app_id: str) -> None:
    hm = await mesh(QUEUE_YAML)                  # an engine, no worker yet
    for n in range(2):
        await hm.pub("q.go", {"n": n})
    first = await hm.queue_report(["q.work"])
    await assert_eventually(lambda: _stream(hm, "q.work", length=2))
    report = await hm.queue_report(["q.work"])
    work = next(s for s in report["streams"] if s["topic"] == "q.work")
    assert (work["pending"], work["consumers"], work["per_consumer"]) == (0, 0, {})   # no group yet
    assert first["dead_letters"] == 0

    release = asyncio.Event()

    async def stuck(message: Any) -> dict[str, Any]:
        await release.wait()
        return {}

    worker = await HotMesh.init(app_id, redis_url, engine=False, workers=[Worker("q.work", stuck, concurrency=1)],
                                settings=fast_settings())
    try:
        await assert_eventually(lambda: _stream(hm, "q.work", pending=1))
    finally:
        await worker.stop(drain_seconds=0.2)       # cut off: its entry stays pending, nobody reclaims it
    before = time.monotonic()
    report = await hm.queue_report(["q.work"])
    work = next(s for s in report["streams"] if s["topic"] == "q.work")
    assert work["pending"] == 1 and work["per_consumer"] == {worker.guid: 1}
    assert work["consumers"] == 1 and work["lag"] == 1 and work["length"] == 2
    assert work["oldest_deliveries"] == 1 and work["oldest_age_ms"] is not None
    await asyncio.sleep(0.6)
    later = await hm.queue_report(["q.work"])
    grown = next(s for s in later["streams"] if s["topic"] == "q.work")["oldest_age_ms"]
    assert grown - work["oldest_age_ms"] >= (time.monotonic() - before) * 1000 - 100
    row = next(r for r in stream_rows(later) if r["stream"] == "q.work")
    assert row["backlog"] == 2 and row["pending per consumer"] == f"{worker.guid[:10]}: 1"

    for n in range(3):
        await hm.pub("nap.go", {"n": n})
    await assert_eventually(lambda: _timers(hm, 3))
    report = await hm.queue_report(["q.work"])
    assert report["timers"] == 3
    assert 50_000 < report["next_timer_ms"] - report["now_ms"] <= 61_000


async def _stream(hm: HotMesh, topic: str, **expected: int) -> bool:
    report = await hm.queue_report([topic])
    found = next(s for s in report["streams"] if s["topic"] == topic)
    return all(found[k] == v for k, v in expected.items())


async def _timers(hm: HotMesh, count: int) -> bool:
    return int((await hm.queue_report())["timers"]) == count


class CommandCount:
    """Counts every command one HotMesh sends (``call``, each command of a pipeline, each script):
    the connection stays the real one, only tallied."""

    def __init__(self, hm: HotMesh) -> None:
        self.count = 0
        self.names: Counter[str] = Counter()
        redis: Any = hm.redis
        call, pipeline, run = redis.call, redis.pipeline, redis.run

        async def counted_call(*args: Any) -> Any:
            self._add([args])
            return await call(*args)

        async def counted_pipeline(commands: Any) -> Any:
            self._add(commands)
            return await pipeline(commands)

        async def counted_run(script: Any, keys: Any, args: Any) -> Any:
            self._add([["EVALSHA"]])
            return await run(script, keys, args)

        redis.call, redis.pipeline, redis.run = counted_call, counted_pipeline, counted_run

    def _add(self, commands: Any) -> None:
        for command in commands:
            self.count += 1
            self.names[str(command[0]).upper()] += 1


async def write_jobs(hm: HotMesh, start: int, count: int) -> None:
    """Job hashes in the layout of ``store.py`` (finished jobs: the overview must not read them)."""
    stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime()) + ".000"
    for base in range(start, start + count, 1000):
        await hm.redis.pipeline([
            ["HSET", hm.keys.job(f"job-{n:06d}"), JobFields.SEMAPHORE, "0", JobFields.meta("jid"), f"job-{n:06d}",
             JobFields.meta("tpc"), "q.go", JobFields.meta("jc"), stamp, JobFields.meta("ju"), stamp,
             JobFields.output("t", ",0"), json.dumps({"n": n})]
            for n in range(base, min(base + 1000, start + count))])


async def test_a_refresh_costs_the_same_commands_with_1000_or_10000_jobs(redis_url: str, mesh: Any,
                                                                         app_id: str) -> None:
    hm = await mesh(QUEUE_YAML, workers={"q.work": lambda m: {}})
    studio = await mesh(engine=False)               # the studio's own connection, counted
    counter = CommandCount(studio)
    view = OverviewView(studio, OverviewStats())
    view.set_app(await studio.compiled("1"))
    await hm.pubsub("q.go", {"n": 0}, timeout=10)   # every stream and group exists

    async def refresh_cost() -> tuple[int, Counter[str]]:
        counter.count, counter.names = 0, Counter()
        await view.refresh()
        assert view.refreshes and not view.message.visible
        return counter.count, counter.names

    await write_jobs(hm, 0, 1000)
    small, small_names = await refresh_cost()
    await write_jobs(hm, 1000, 9000)
    assert len(await hm.list_jobs(limit=20_000)) == 10_001
    large, large_names = await refresh_cost()
    assert small == large and small_names == large_names
    # one pipeline (TIME, timers, dead letters; four per stream: the engine's and q.work's) and the
    # roll call (PUBLISH, one XINFO GROUPS per member stream)
    assert view.report["commands"] == 4 + 4 * 2
    assert small_names["PUBLISH"] == 1 and small_names["XPENDING"] == 4 and small_names["HGETALL"] == 0
    assert small == 12 + 1 + small_names["XINFO"] - 2


def test_a_job_started_where_nobody_watches_counts_once_from_its_first_step() -> None:
    """A client that only publishes runs the trigger in a process nobody watches: the job's start
    is counted from the first event of a child of the trigger, once, whatever the children."""
    from hotmesh_core.compiler import compile_app, load_manifest

    app = compile_app(load_manifest(DEMO.replace("{APP}", "unit")))
    stats = OverviewStats()
    stats.set_app(app)
    now = int(time.time() * 1000)

    def event(jid: str, aid: str, dad: str, status: str, ts: int, finished: int = 0) -> dict[str, Any]:
        return {"jid": jid, "aid": aid, "dad": dad, "atp": "worker", "status": status, "ts": ts, "finished": finished}

    stats.push({"jid": "a", "aid": "start", "dad": ",0", "atp": "trigger", "status": "started", "ts": now})
    stats.push(event("a", "compose", ",0,0", "running", now + 5))       # seen trigger: no double count
    stats.push(event("b", "compose", ",0,0", "running", now + 10))      # no trigger event for b
    stats.push(event("b", "compose", ",0,0", "done", now + 60))
    stats.push(event("b", "shout", ",0,0,0", "running", now + 70))
    stats.push(event("b", "shout", ",0,0,0", "done", now + 90, finished=1))
    totals = stats.totals(900, now_ms=now + 100)
    assert (totals["started"], totals["completed"]) == (2, 1)
    wait, duration = stats.latency("shout", 900, now_ms=now + 100)
    assert (wait.p50, duration.p50) == (10.0, 20.0)
    assert stats.latency("compose", 900, now_ms=now + 100)[1].p50 == 50.0
