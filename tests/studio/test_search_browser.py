"""Search and large apps in a browser: a query on an input field typed into the runs page keeps
only the matching runs (and a malformed one says where it is wrong); an app of 200 activities
draws its graph and colours a running job live. ``panel serve studio`` in a subprocess, a real
redis-server, Debian's chromium; every request stays on 127.0.0.1 (the ``page`` fixture)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from hotmesh_core import HotMesh

from ..helpers import stop_process
from .apps import LARGE, make_large_assets
from .conftest import StudioServer, require_browser, shot, start_studio
from .pages import source_data, statuses, tab, text, wait_for

pytestmark = pytest.mark.browser


def start_jobs(redis_url: str, app_id: str, topic: str, inputs: list[dict[str, Any]]) -> list[str]:
    """Start jobs from a process of our own, watched so that their trigger events are published
    (the studio's workers run them). In a thread: Playwright's sync API owns this thread's loop."""
    async def run() -> list[str]:
        client = await HotMesh.init(app_id, redis_url, engine=True)
        await client.watch(60)
        try:
            return [await client.pub(topic, data) for data in inputs]
        finally:
            await client.stop()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, run()).result(timeout=60)


def listed(page: Any) -> list[str]:
    """The job ids in the runs table's current page."""
    cells = page.locator(".hm-runs-table .tabulator-row .tabulator-cell[tabulator-field='jid']")
    return [str(cells.nth(i).inner_text()).strip() for i in range(cells.count())]


def search(page: Any, query: str) -> None:
    box = page.locator(".hm-runs-search input")
    box.fill("")
    box.press_sequentially(query, delay=40)        # keystroke by keystroke, as a person types


def test_search_runs_by_an_input_field(page: Any, studio_server: StudioServer, redis_url: str) -> None:
    app_id = studio_server.apps["demo"]
    page.goto(f"{studio_server.url}?app={app_id}")
    page.locator(".hm-overview-summary .hm-tiles").wait_for()
    tab(page, "Runs")
    page.locator(".hm-runs-search input").wait_for()
    customers = [41, 42, 7, 42, 420, 4]
    jids = start_jobs(redis_url, app_id, "demo.greet",
                      [{"name": f"customer {c}", "customer": c} for c in customers])
    wanted = {jid for jid, c in zip(jids, customers, strict=True) if c == 42}

    def count() -> str:
        return text(page, ".hm-runs-count")

    wait_for(lambda: set(jids) <= set(listed(page)), what="the new runs listed (live)", timeout=30)

    search(page, "data.customer =")                # malformed: the error says where
    error = page.locator(".hm-search-error")
    wait_for(lambda: "expected a value" in error.inner_text(), what="the located error")
    assert "column 16" in error.inner_text() and "^" in error.inner_text()

    search(page, "data.customer = 42")
    wait_for(lambda: set(listed(page)) == wanted, what="only the runs of customer 42", timeout=20)
    assert not error.is_visible()
    assert count().startswith("2 of "), count()
    rows = page.locator(".hm-runs-table .tabulator-row")
    assert all('"customer": 42' in rows.nth(i).inner_text() for i in range(rows.count()))
    shot(page, "search-by-input")

    search(page, "status:done data.customer > 40 data.customer < 100")     # more clauses; runs finish live
    between = {j for j, c in zip(jids, customers, strict=True) if 40 < c < 100}
    wait_for(lambda: set(listed(page)) == between, what="a compound query", timeout=40)
    assert not error.is_visible()
    rows.first.click()                             # a result opens its run
    header = page.locator(".bk-tab").filter(has_text="Run detail").first
    wait_for(lambda: "bk-active" in (header.get_attribute("class") or ""), what="the run opened")
    assert not page.errors, page.errors


@pytest.fixture(scope="module")
def large_studio(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StudioServer]:
    require_browser()
    base = tmp_path_factory.mktemp("large")
    assets = make_large_assets(base / "assets")
    server = start_studio(base, {"REDIS_URL": redis_url, "HOTMESH_ASSETS": str(assets)})
    server.apps = {"large": LARGE}
    yield server
    stop_process(server.process)


def test_a_200_activity_app_draws_and_colours_live(browser: Any, large_studio: StudioServer,
                                                    redis_url: str) -> None:
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(
        ("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:", "about:")) else None)
    try:
        page.goto(f"{large_studio.url}?app={LARGE}")
        page.locator(".hm-overview-summary .hm-tiles").wait_for()
        tab(page, "Apps & graphs")
        drawn = wait_for(lambda: source_data(page, "app-graph-0-nodes", "id", "x"), what="the app graph", timeout=60)
        assert len(drawn["id"]) == 200 and len(set(zip(drawn["id"], drawn["x"], strict=True))) == 200

        (jid,) = start_jobs(redis_url, LARGE, "large.go", [{"customer": 1}])
        page.goto(f"{large_studio.url}?app={LARGE}&job={jid}")
        wait_for(lambda: len(statuses(page)) == 200, what="the run's graph", timeout=60)

        def mixed() -> dict[str, int] | None:
            seen = list(statuses(page).values())
            counts = {s: seen.count(s) for s in ("done", "running", "pending")}
            return counts if counts["done"] >= 20 and counts["running"] >= 1 and counts["pending"] >= 40 else None

        counts = wait_for(mixed, what="some done, some running, some pending", timeout=60, interval=0.05)
        shot(page, "large-app", full_page=False)       # the timeline below is 200 rows tall
        wait_for(lambda: sum(s == "done" for s in statuses(page).values()) > counts["done"] + 20,
                 what="colours keep changing", timeout=60)
        status = page.locator(".hm-job-status").first
        wait_for(lambda: status.get_attribute("data-status") == "done", what="the job done", timeout=120)
        final = wait_for(lambda: (lambda s: s if sum(v == "done" for v in s.values()) == 184 else None)(
            statuses(page)), what="every worker done", timeout=30)
        assert {aid for aid, s in final.items() if s == "pending"} == {a for a in final if "h" in a}   # never taken
        assert len([a for a in final if "h" in a]) == 16
        assert not outside, outside
    finally:
        context.close()
