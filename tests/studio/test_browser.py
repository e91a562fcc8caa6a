"""End to end: ``panel serve studio`` in a subprocess, a real redis-server, Debian's chromium.

Every test's page records its requests; the ``page`` fixture fails the test if one left
127.0.0.1. Screenshots of the main views go to ``test-artifacts/studio/``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from typing import Any

import pytest

from hotmesh_core import HotMesh
from hotmesh_core.redis_server import free_port

from .conftest import ROOT, StudioServer, require_browser, shot
from .pages import click_node, open_studio, source_data, statuses, tab, text, wait_for

pytestmark = pytest.mark.browser


def table_text(page: Any, css: str) -> str:
    locator = page.locator(f"{css} .tabulator")
    return str(locator.first.inner_text()) if locator.count() else ""


def start_json(page: Any, topic: str | None, payload: str) -> None:
    tab(page, "Runs")
    box = page.locator(".hm-start-json textarea")
    if topic and page.locator(".hm-start-topic select").input_value() != topic:
        page.locator(".hm-start-topic select").select_option(topic)
        # the server answers a new topic by resetting the input box; type after that, not before
        wait_for(lambda: box.input_value().strip() == "{}", what="input reset for the new topic")
    mode = page.locator(".hm-start-mode")
    if mode.get_by_text("JSON").is_enabled():
        mode.get_by_text("JSON").click()
    page.locator(".hm-start-json textarea").fill(payload)
    page.wait_for_timeout(300)      # the typed value reaches the server before the click does
    page.locator(".hm-start button").click()


def job_status(page: Any) -> str:
    value: str | None = page.locator(".hm-job-status").first.get_attribute("data-status") \
        if page.locator(".hm-job-status").count() else None
    return value or ""


def test_app_graph_is_drawn_and_turns(page: Any, studio_server: StudioServer) -> None:
    open_studio(page, studio_server.url, studio_server.apps["demo"])
    data = wait_for(lambda: source_data(page, "app-graph-0-nodes", "id", "kind", "x", "y"), what="app graph")
    assert data["id"] == ["start", "compose", "shout", "done"]
    assert data["kind"] == ["trigger", "worker", "worker", "hook"]
    labels = source_data(page, "app-graph-0-labels", "text")
    assert labels and "start.shout = true" in labels["text"]
    time.sleep(0.5)
    shot(page, "apps")
    page.locator(".hm-direction").get_by_text("TB").click()
    turned = wait_for(lambda: (lambda d: d if d and d["x"][0] == d["x"][1] else None)(
        source_data(page, "app-graph-0-nodes", "x", "y")), what="top-to-bottom layout")
    assert turned["y"][0] > turned["y"][1]          # the trigger sits above its child
    click_node(page, "app-graph-0", "compose")
    wait_for(lambda: "demo.compose" in text(page, ".hm-definition"), what="definition of compose")

    tab(page, "Fleet")
    wait_for(lambda: "demo.compose" in table_text(page, ".hm-fleet-table"), what="fleet rows")
    assert "engine" in table_text(page, ".hm-fleet-table")
    if hasattr(HotMesh, "throttle"):
        page.locator(".hm-fleet-pause button").click()
        wait_for(lambda: "paused" in text(page, ".hm-fleet-message"), what="pause outcome")
        wait_for(lambda: "paused" in table_text(page, ".hm-fleet-table"), what="paused in the roll call")
        shot(page, "fleet")
        page.locator(".hm-fleet-resume button").click()
        wait_for(lambda: "resumed" in text(page, ".hm-fleet-message"), what="resume outcome")
        wait_for(lambda: "paused" not in table_text(page, ".hm-fleet-table"), what="resumed in the roll call")
    else:
        shot(page, "fleet")
    assert not page.errors


def test_editor_marks_errors_refuses_deploy_then_deploys_and_activates(page: Any,
                                                                         studio_server: StudioServer) -> None:
    open_studio(page, studio_server.url, studio_server.apps["demo"])
    tab(page, "Editor")
    page.locator(".hm-editor .ace_content").click()
    page.keyboard.press("Control+Home")
    page.keyboard.type("x: : y")
    page.keyboard.press("Enter")
    gutter = page.locator(".hm-editor .ace_gutter-cell.ace_error")
    gutter.first.wait_for()
    assert gutter.first.inner_text().strip() == "1"
    wait_for(lambda: page.locator(".hm-deploy button").is_disabled(), what="deploy disabled")
    assert "Invalid" in text(page, ".hm-editor-status")
    shot(page, "editor-error")

    page.keyboard.press("Control+Home")
    page.keyboard.press("Shift+ArrowDown")
    page.keyboard.press("Delete")
    wait_for(lambda: gutter.count() == 0, what="error marker gone")
    wait_for(lambda: "Valid" in text(page, ".hm-editor-status"), what="valid document")
    page.get_by_text("New version label").click()
    wait_for(lambda: "version 2" in text(page, ".hm-editor-status"), what="version 2 label")
    wait_for(lambda: page.locator(".hm-deploy button").is_enabled(), what="deploy enabled")
    page.locator(".hm-deploy button").click()
    wait_for(lambda: "Deployed version 2" in text(page, ".hm-deploy-outcome"), what="deploy outcome")
    activate = page.locator(".hm-review-activate button")      # same shape: nothing to confirm
    wait_for(lambda: activate.is_enabled(), what="activate enabled by the review")
    activate.click()
    wait_for(lambda: "Activation" in text(page, ".hm-deploy-outcome"), what="activation outcome")
    shot(page, "editor-deployed")

    tab(page, "Versions")
    wait_for(lambda: "active" in table_text(page, ".hm-versions-table"), what="versions table")
    rows = page.locator(".hm-versions-table .tabulator-row")
    wait_for(lambda: rows.count() == 2, what="two versions")
    assert "2" in rows.first.inner_text() and "active" in rows.first.inner_text()
    page.locator(".hm-activate button").wait_for()
    time.sleep(0.5)
    shot(page, "versions")
    assert not page.errors


def test_start_job_watch_it_live_and_inspect(page: Any, studio_server: StudioServer) -> None:
    open_studio(page, studio_server.url, studio_server.apps["demo"])
    start_json(page, None, "{name")
    wait_for(lambda: "Invalid JSON" in text(page, ".hm-start-message"), what="invalid JSON message")
    start_json(page, None, '{"shout": true}')
    wait_for(lambda: "'name' is required" in text(page, ".hm-start-message"), what="schema message")
    start_json(page, None, '{"name": "live", "shout": true}')

    seen: list[dict[str, str]] = []

    def done() -> bool:
        current = statuses(page)
        if current and (not seen or seen[-1] != current):
            seen.append(current)
        return bool(current) and set(current.values()) == {"done"}

    wait_for(done, timeout=20, interval=0.05, what="all nodes done")
    assert any(s.get("compose") == "running" and s.get("shout") == "pending" for s in seen), seen
    assert any(s.get("shout") == "running" for s in seen), seen
    wait_for(lambda: job_status(page) == "done", what="job done")
    click_node(page, "detail", "compose")
    wait_for(lambda: "hello, live!" in text(page, ".hm-inspector-pane"), what="output in the inspector")
    inspector = text(page, ".hm-inspector-pane")
    assert '"name": "live"' in inspector and "demo.compose" in inspector and "duration" in inspector
    gantt = source_data(page, "gantt-bars", "aid", "status")
    assert gantt and set(gantt["aid"]) == {"start", "compose", "shout", "done"}
    time.sleep(0.3)
    shot(page, "run-detail")

    jid = page.locator(".hm-job-id input").input_value()
    tab(page, "Runs")
    wait_for(lambda: jid in table_text(page, ".hm-runs-table"), what="job in the runs list")
    page.locator(".hm-runs-table .tabulator-row").filter(has_text=jid).wait_for()
    shot(page, "runs")

    tab(page, "Run detail")
    page.locator(".hm-job-id input").fill("no-such-job")
    page.locator(".hm-open-job button").click()
    wait_for(lambda: "No job with id 'no-such-job'" in text(page, ".hm-job-message"), what="unknown job message")
    assert not page.errors


def test_signal_a_waiting_hook(page: Any, studio_server: StudioServer) -> None:
    open_studio(page, studio_server.url, studio_server.apps["sleepy"])
    jid = f"ask-{time.time_ns()}"
    start_json(page, "approval.start", json.dumps({"id": jid}))
    wait_for(lambda: statuses(page).get("wait") == "running", what="hook waiting")
    page.locator(".hm-signal").wait_for()
    data = page.locator(".hm-signal-data input")
    data.fill(json.dumps({"id": jid, "answer": "yes"}))
    data.press("Enter")
    page.wait_for_timeout(400)      # the typed value reaches the server before the click does
    page.locator(".hm-signal button").click()
    try:
        wait_for(lambda: "Signal sent on approval.answer" in text(page, ".hm-job-message"), what="signal sent")
    except AssertionError:
        shot(page, "failed-signal")
        raise AssertionError(f"signal not sent: {text(page, '.hm-job-message')!r}") from None
    wait_for(lambda: statuses(page).get("decided") == "done", what="signal delivered")
    wait_for(lambda: job_status(page) == "done", what="job done")
    assert not page.errors


def test_interrupt_a_sleeping_job(page: Any, studio_server: StudioServer) -> None:
    if not hasattr(HotMesh, "interrupt"):
        pytest.xfail("HotMesh.interrupt is not in this engine yet")
    open_studio(page, studio_server.url, studio_server.apps["sleepy"])
    interrupt_flow(page)


def interrupt_flow(page: Any) -> None:
    start_json(page, "nap.start", json.dumps({"id": f"nap-{time.time_ns()}"}))
    wait_for(lambda: statuses(page).get("nap") == "running", what="job sleeping")
    page.locator(".hm-interrupt button").click()
    wait_for(lambda: job_status(page) == "interrupted", what="job interrupted")
    wait_for(lambda: statuses(page).get("nap") == "interrupted", what="node interrupted")
    assert statuses(page)["after"] == "pending"
    time.sleep(0.3)
    shot(page, "run-interrupted")
    assert not page.errors


def test_unreachable_redis_is_a_message_not_a_crash(browser: Any) -> None:
    require_browser()
    port = free_port()
    env = {"REDIS_URL": f"redis://127.0.0.1:{free_port()}/0", "PATH": "/usr/bin:/bin",
           "HOME": str(ROOT)}
    log = ROOT / "test-artifacts" / "studio" / "unreachable.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "panel", "serve", "studio", "--address", "127.0.0.1", "--port", str(port),
             "--allow-websocket-origin", f"127.0.0.1:{port}"], cwd=ROOT, env=env, stdout=out,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/studio"
    try:
        wait_for(lambda: _answers(url), timeout=60, interval=0.2, what="studio up")
        page = browser.new_page()
        page.goto(url)
        wait_for(lambda: "Redis is unreachable" in text(page, ".hm-banner"), timeout=30, what="redis message")
        page.locator("button").filter(has_text="Retry").wait_for()
        shot(page, "redis-unreachable")
        page.close()
        assert _answers(url) and process.poll() is None       # the server keeps running
    finally:
        process.terminate()
        process.wait(10)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def test_dead_letters_are_listed_with_their_reason_and_can_be_discarded(page: Any, studio_server: StudioServer,
                                                                       sync_redis: Any) -> None:
    app = studio_server.apps["demo"]
    stream = f"hmsh:{app}:x:"
    sync_redis.xadd(stream, {"message": "{broken json"})        # the studio's engine dead-letters it
    wait_for(lambda: sync_redis.xlen(f"hmsh:{app}:x-dead") >= 1, what="the dead letter")
    open_studio(page, studio_server.url, app)
    tab(page, "Fleet")
    wait_for(lambda: stream in table_text(page, ".hm-dead-table"), what="the dead letter in the table")
    assert page.get_by_text("Dead letters (1)").count() == 1
    page.locator(".hm-dead-table .tabulator-row").first.click()
    wait_for(lambda: "broken json" in text(page, ".hm-dead-message"), what="the message of the selection")
    shot(page, "dead-letters")
    page.locator(".hm-dead-discard button").click()
    wait_for(lambda: "Discarded" in text(page, ".hm-dead-alert"), what="discard outcome")
    wait_for(lambda: sync_redis.xlen(f"hmsh:{app}:x-dead") == 0, what="the letter gone from Redis")
    assert not page.errors
