"""The overview in a browser: the first page, live counts while jobs run, and a click on a failing
activity that lands on its failed runs. ``panel serve studio`` in a subprocess, a real
redis-server, Debian's chromium; every request stays on 127.0.0.1 (the ``page`` fixture)."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from hotmesh_core import HotMesh

from .conftest import StudioServer, shot
from .pages import source_data, wait_for

pytestmark = pytest.mark.browser


def tile(page: Any, name: str) -> int:
    found = page.locator(f".hm-overview-summary .hm-ov-{name}")
    value = found.first.get_attribute("data-value") if found.count() else None
    return int(value) if value and value.isdigit() else -1


def start_jobs(redis_url: str, app_id: str, inputs: list[dict[str, Any]]) -> list[str]:
    """Start jobs from a process of our own (the studio's workers run them), watched like the
    studio's engine so that its trigger steps publish their events too. In a thread of its own:
    Playwright's sync API owns this thread's event loop."""
    async def run() -> list[str]:
        client = await HotMesh.init(app_id, redis_url, engine=True)
        await client.watch(60)
        try:
            return [await client.pub("demo.greet", data) for data in inputs]
        finally:
            await client.stop()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, run()).result(timeout=60)


def test_overview_first_counts_live_and_opens_failed_runs(page: Any, studio_server: StudioServer,
                                                          redis_url: str) -> None:
    app_id = studio_server.apps["demo"]
    page.goto(f"{studio_server.url}?app={app_id}")
    page.locator(".hm-overview-summary .hm-tiles").wait_for()
    active = page.locator(".bk-tab.bk-active").first
    assert active.inner_text().strip() == "Overview"
    page.locator(".hm-overview-fleet .tabulator-row").first.wait_for()      # the roll call answered
    completed_before, failed_before = tile(page, "completed"), tile(page, "failed")
    assert completed_before >= 0 and failed_before >= 0

    # the studio's workers are slow (compose 2.5 s, shout 1.5 s): jobs are seen running, then done
    good = start_jobs(redis_url, app_id, [{"name": f"ov{i}", "shout": True} for i in range(3)])
    bad = start_jobs(redis_url, app_id, [{}, {}])          # compose fails without a name
    wait_for(lambda: tile(page, "started") >= 5, what="five jobs started", timeout=30)
    wait_for(lambda: tile(page, "completed") >= completed_before + 3, what="completed grows", timeout=60)
    middle = tile(page, "completed")
    assert tile(page, "failed") >= failed_before + 2
    more = start_jobs(redis_url, app_id, [{"name": f"ov-late{i}"} for i in range(3)])
    wait_for(lambda: tile(page, "completed") >= middle + 3, what="completed grows again", timeout=60)
    rates = wait_for(lambda: (lambda d: d if d and sum(d["completed"]) > 0 else None)(
        source_data(page, "overview-rates", "time", "started", "completed", "failed")), what="chart data")
    assert sum(rates["failed"]) > 0 and len(rates["time"]) == 90
    row = page.locator(".hm-overview-activities .tabulator-row").filter(has_text="compose").first
    wait_for(lambda: row.count() > 0, what="compose row")
    engine = page.locator(".hm-overview-streams .tabulator-row").filter(has_text="(engine)")
    assert engine.count() == 1
    page.wait_for_timeout(2300)           # one more refresh, so the picture shows settled tables
    shot(page, "overview")
    assert len(good) == 3 and len(more) == 3

    row.click()
    runs_tab = page.locator(".bk-tab").filter(has_text="Runs").first
    wait_for(lambda: "bk-active" in (runs_tab.get_attribute("class") or ""), what="the Runs tab")
    failed_at = page.locator(".hm-runs-failed-at select")
    wait_for(lambda: failed_at.count() and failed_at.input_value() == "compose", what="filter failed at compose")
    assert page.locator(".hm-runs-table").first.is_visible()

    def listed() -> str:
        table = page.locator(".hm-runs-table .tabulator-tableholder")
        return str(table.first.inner_text()) if table.count() else ""

    wait_for(lambda: all(jid in listed() for jid in bad), what="the failed runs listed")
    rows = page.locator(".hm-runs-table .tabulator-row")
    assert all("failed" in rows.nth(i).inner_text() for i in range(rows.count()))
    assert not any(jid in listed() for jid in good + more)
    shot(page, "overview-failed-runs")
    assert not page.errors, page.errors
