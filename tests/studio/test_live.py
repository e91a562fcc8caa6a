"""Live plumbing against a real redis-server (no browser): the event hub, JobState fed by real
engine events, the runs table rows and filters, and the runtime's start and Redis-down paths."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pandas as pd

from hotmesh_core import Worker
from hotmesh_core.examples import ExampleApp
from studio.events import EventHub
from studio.runs import RunsTable, filter_rows
from studio.runtime import StudioRuntime
from studio.status import JobState

from ..helpers import assert_eventually
from .apps import ROOT

DEMO = (ROOT / "assets/apps/demo/app.yaml").read_text()


async def compose(message):
    await asyncio.sleep(0.05)
    return {"message": f"{message.data.get('greeting')}, {message.data['name']}!"}


def shout(message):
    return {"text": message.data["text"].upper()}


async def test_events_drive_the_same_statuses_as_the_snapshot(mesh, app_id) -> None:
    hm = await mesh(DEMO.replace("id: demo", "id: {APP}", 1), workers={"demo.compose": compose, "demo.shout": shout})
    hub = EventHub()
    await hub.add_app(hm)
    feed = hub.feed(app_id)                         # subscribe first
    await hm.watch(30)
    try:
        job = await hm.pubsub("demo.greet", {"name": "live", "shout": True}, timeout=10)
        jid = job["metadata"]["jid"]
        events: list[dict] = []

        def finished() -> bool:
            events.extend(feed.drain())
            return any(e.get("finished") == 1 and e["jid"] == jid for e in events)

        await assert_eventually(finished)
        live = JobState(jid)
        live.apply(events)
        snapshot = JobState(jid)
        snapshot.load_export(await hm.export(jid))
        aids = ["start", "compose", "shout", "done"]
        assert live.statuses(aids) == snapshot.statuses(aids) == {a: ("done", 1) for a in aids}
        assert live.job_status == snapshot.job_status == "done"
        assert [e["status"] for e in events if e["aid"] == "compose"] == ["running", "done"]
        assert {r["aid"] for r in snapshot.timeline()} == set(aids)
    finally:
        feed.close()
        await hub.stop()
    assert hub.feeds == {}


async def test_runs_table_rows_filters_and_live_rows(mesh, app_id) -> None:
    hm = await mesh(DEMO.replace("id: demo", "id: {APP}", 1), workers={"demo.compose": compose, "demo.shout": shout})
    first = await hm.pubsub("demo.greet", {"name": "ann"}, timeout=10)
    table = RunsTable(hm)
    await table.load()
    assert list(table.frame["jid"]) == [first["metadata"]["jid"]]
    row = table.frame.iloc[0]
    assert row["status"] == "done" and row["topic"] == "demo.greet" and row["version"] == "1"
    assert '"name": "ann"' in row["input"]
    second = await hm.pub("demo.greet", {"name": "bob"})
    await assert_eventually(lambda: hm.get_status(second), timeout=5)
    added = await table.apply_events([{"jid": second, "atp": "trigger", "status": "started", "ts": 1}])
    assert added == 1 and table.frame.iloc[0]["jid"] == second
    table.text.value = "bob"
    assert list(table.table.value["jid"]) == [second]
    table.text.value = ""
    table.status.value = "failed"
    assert table.table.value.empty


def test_filter_rows() -> None:
    frame = pd.DataFrame([
        {"jid": "a1", "status": "done", "topic": "t", "version": "1", "created_ms": 1_000, "input": '{"x": 1}'},
        {"jid": "b2", "status": "running", "topic": "u", "version": "2", "created_ms": 9_000, "input": '{"x": 2}'},
    ])
    assert list(filter_rows(frame, status="running")["jid"]) == ["b2"]
    assert list(filter_rows(frame, jid="A1")["jid"]) == ["a1"]
    assert list(filter_rows(frame, version="1", topic="t")["jid"]) == ["a1"]
    assert list(filter_rows(frame, since_seconds=5, now_ms=10_000)["jid"]) == ["b2"]
    assert list(filter_rows(frame, text='"x": 2')["jid"]) == ["b2"]


async def test_runtime_deploys_examples_once(redis_url, app_id, tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    folder.mkdir()
    (folder / "app.yaml").write_text(DEMO.replace("id: demo", f"id: {app_id}", 1))
    example = ExampleApp(app_id, folder / "app.yaml", [Worker("demo.compose", compose), Worker("demo.shout", shout)],
                         {"topic": "demo.greet", "data": {"name": "x"}})
    runtime = StudioRuntime(redis_url, [example])
    try:
        assert await runtime.ensure_started() is True
        assert await runtime.ensure_started() is True          # idempotent
        mesh = runtime.mesh(app_id)
        assert await mesh.active_version() == "1"
        assert runtime.hub is not None and app_id in runtime.hub.apps
        job = await mesh.pubsub("demo.greet", {"name": "rt"}, timeout=10)
        assert job["data"]["message"] == "hello, rt!"
    finally:
        await runtime.stop()


async def test_runtime_reports_unreachable_redis() -> None:
    from hotmesh_core.redis_server import free_port

    runtime = StudioRuntime(f"redis://127.0.0.1:{free_port()}/0", [])
    assert await runtime.ensure_started() is False
    assert runtime.state == "error" and "Redis is unreachable" in runtime.error
