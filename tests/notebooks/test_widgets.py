"""The notebook widgets' state, driven through the studio view objects they wrap (no browser)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from hotmesh_core import Worker
from hotmesh_core.examples import example_apps
from hotmesh_core.sync import SyncHotMesh
from studio import widgets
from studio.theme import STATUS_COLORS

DEMO = next(a for a in example_apps() if a.app_id == "demo")


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


@pytest.fixture
def gate() -> threading.Event:
    return threading.Event()


@pytest.fixture
def hm(redis_url: str, app_id: str, gate: threading.Event) -> Iterator[SyncHotMesh]:
    async def compose(message: Any) -> dict[str, Any]:     # waits for the test to let it finish
        while not gate.is_set():
            await asyncio.sleep(0.02)
        return {"message": f"{message.data['greeting']}, {message.data['name']}!"}

    workers = [w for w in DEMO.workers if w.topic != "demo.compose"] + [Worker("demo.compose", compose)]
    mesh = widgets.connect(app_id, redis_url, workers=workers)
    mesh.activate(mesh.deploy(DEMO.manifest.read_text().replace("id: demo", f"id: {app_id}", 1)))
    yield mesh
    gate.set()
    mesh.stop()


def test_status_colours_follow_live_events(hm: SyncHotMesh, gate: threading.Event) -> None:
    jid = hm.pub("demo.greet", {"name": "live", "shout": True})
    job = widgets.job_view(hm, jid)
    try:
        wait_for(lambda: job.statuses().get("compose") == "running")
        assert job.colours()["compose"] == STATUS_COLORS["running"]
        assert job.statuses()["shout"] == "pending" and job.colours()["shout"] == STATUS_COLORS["pending"]
        assert job.job_status() == "running"
        applied = job.view.events_applied
        gate.set()
        wait_for(lambda: job.statuses() == {a: "done" for a in ("start", "compose", "shout", "done")})
        assert job.view.events_applied > applied             # moved by the pub/sub events
        assert set(job.colours().values()) == {STATUS_COLORS["done"]}
        wait_for(lambda: job.job_status() == "done")
    finally:
        job.close()
    assert job.view.feed is None and job.view.hub is None


def test_inspector_shows_the_clicked_node(hm: SyncHotMesh, gate: threading.Event) -> None:
    gate.set()
    out = hm.pubsub("demo.greet", {"name": "ada", "shout": True}, timeout=10)
    job = widgets.job_view(hm, out["metadata"]["jid"])
    try:
        graph = job.view.graph
        assert "Click an activity" in job.view.inspector.object
        graph.nodes.selected.indices = [graph.data["id"].index("shout")]     # what a tap sets
        shown = job.view.inspector.object
        assert "shout" in shown and "HELLO, ADA!" in shown and "hm-status-done" in shown
        graph.nodes.selected.indices = [graph.data["id"].index("compose")]
        shown = job.view.inspector.object
        assert "hello, ada!" in shown and "HELLO, ADA!" not in shown and "demo.compose" in shown
        assert "HELLO, ADA!" in job.inspect("shout")
    finally:
        job.close()


def test_dag_editor_runs_and_buttons_from_another_loop(hm: SyncHotMesh, gate: threading.Event) -> None:
    gate.set()
    text = DEMO.manifest.read_text().replace("id: demo", f"id: {hm.app_id}", 1)
    for source in (hm, text, hm.plan(text)):
        assert widgets.dag(source).summary()["nodes"] == ["start", "compose", "shout", "done"]
    assert widgets.dag(text, direction="TB").view.direction == "TB"
    with pytest.raises(KeyError):
        widgets.dag(text, graph="no.such.topic")

    ed = widgets.editor(hm, text)
    assert ed.result()["ok"] and ed.result()["deploy_enabled"]
    bad = ed.load(text.replace("type: hook", "type: hoook"))
    assert not bad["ok"] and not bad["deploy_enabled"]
    assert bad["annotations"][0]["row"] == bad["errors"][0]["line"] - 1
    assert text.splitlines()[bad["errors"][0]["line"] - 1].strip().startswith("type: ho")

    out = hm.pubsub("demo.greet", {"name": "bo"}, timeout=10)
    table = widgets.runs(hm)
    assert [(r["jid"], r["status"]) for r in table.rows()] == [(out["metadata"]["jid"], "done")]

    mesh = widgets.LoopMesh(hm)       # a button callback runs on the kernel's loop, not the mesh's
    assert asyncio.run(mesh.get_status(out["metadata"]["jid"])) == 0
    with pytest.raises(TypeError):
        widgets.job_view(hm.hm, "x")  # type: ignore[arg-type]


def test_overview_counts_jobs_and_stops(hm: SyncHotMesh, gate: threading.Event) -> None:
    gate.set()
    overview = widgets.overview(hm, period_ms=200)
    try:
        assert overview.totals() == {}
        before = overview.view.refreshes
        for name in ("a", "b"):
            hm.pubsub("demo.greet", {"name": name}, timeout=10)
        totals = overview.wait_for(started=2, completed=2)
        assert totals["started"] == 2 and totals["completed"] == 2 and totals.get("failed", 0) == 0
        wait_for(lambda: overview.view.refreshes >= before + 3)          # the periodic refresh runs
        assert "every 0.2 s" in overview.view.note.object
        tiles = overview.view.summary.object
        assert "hm-ov-started' data-value='2'" in tiles and "hm-ov-completed' data-value='2'" in tiles
        overview.view.window.value = "last hour"           # a redraw asked from this (the kernel's) thread
        wait_for(lambda: overview.view.source.data["time"] and len(overview.view.source.data["time"]) == 120)
    finally:
        overview.close()
    assert overview.hub is None and overview._ticker is None
    stopped = overview.view.refreshes
    time.sleep(0.6)
    assert overview.view.refreshes == stopped
