"""End to end: a run fails at its worker step; from the run detail it is resumed from that step
with an edited input and runs to done; then re-run as a linked job. ``panel serve studio`` in a
subprocess, a real redis-server, Debian's chromium, every request on 127.0.0.1."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest

from hotmesh_core.sync import SyncHotMesh

from ..helpers import stop_process
from .conftest import StudioServer, checked_page, require_browser, shot, start_studio
from .pages import open_studio, source_data, statuses, text, wait_for
from .test_browser import job_status, start_json

pytestmark = pytest.mark.browser

PAY = f"st{os.getpid()}-pay"

PAY_YAML = """
app:
  id: {APP}
  version: '1'
  graphs:
    - subscribes: pay.start
      expire: 600
      activities:
        order: { type: trigger, title: Order placed }
        charge:
          type: worker
          title: Charge the card
          topic: pay.charge
          input: { maps: { amount: '{order.output.data.amount}', card: '{order.output.data.card}' } }
          job: { maps: { charged: '{$self.output.data.charged}' } }
        receipt: { type: hook, title: Send the receipt, job: { maps: { receipt: true } } }
      transitions:
        order: [ { to: charge } ]
        charge: [ { to: receipt, conditions: { code: 200 } } ]
"""

PAY_WORKERS = '''
from hotmesh_core import WorkerMessage, WorkerResponse

async def charge(message: WorkerMessage):
    amount = message.data["amount"]
    if amount > 100:
        return WorkerResponse(status="error", code=402, data={"message": f"card limit is 100, asked {amount}"})
    return {"charged": amount}

WORKERS = {"pay.charge": charge}
EXAMPLE = {"topic": "pay.start", "data": {"amount": 20, "card": "visa"}}
'''


@pytest.fixture(scope="module")
def pay_studio(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StudioServer]:
    require_browser()
    base = tmp_path_factory.mktemp("studio-resume")
    app = base / "assets" / "apps" / "pay"
    app.mkdir(parents=True)
    (app / "app.yaml").write_text(PAY_YAML.replace("{APP}", PAY))
    (app / "workers.py").write_text(PAY_WORKERS)
    server = start_studio(base, {"REDIS_URL": redis_url, "HOTMESH_ASSETS": str(base / "assets")})
    server.apps = {"pay": PAY}
    yield server
    stop_process(server.process)


@pytest.fixture
def pay_page(browser: Any, pay_studio: StudioServer) -> Iterator[Any]:
    yield from checked_page(browser, height=1100)


def test_resume_a_failed_run_from_its_failed_step_then_rerun_it(pay_page: Any, pay_studio: StudioServer,
                                                                redis_url: str) -> None:
    page = pay_page
    open_studio(page, pay_studio.url, PAY)
    start_json(page, "pay.start", json.dumps({"amount": 250, "card": "visa"}))
    wait_for(lambda: job_status(page) == "failed", what="run failed")
    wait_for(lambda: statuses(page).get("charge") == "failed", what="charge failed in the graph")
    assert statuses(page).get("receipt") == "pending"
    jid = page.locator(".hm-job-id input").input_value()
    wait_for(lambda: "card limit is 100, asked 250" in text(page, ".hm-job-header"), what="the error in the header")

    button = page.locator(".hm-resume button")
    wait_for(lambda: button.is_visible() and "Resume from charge" in button.inner_text(), what="resume button")
    editor = page.locator(".hm-resume-input textarea")
    assert json.loads(editor.input_value()) == {"amount": 250, "card": "visa"}    # the input it received
    time.sleep(0.3)
    shot(page, "failed-run-resume-form")
    editor.fill(json.dumps({"amount": 80, "card": "visa"}, indent=2))
    page.wait_for_timeout(400)      # the typed value reaches the server before the click does
    button.click()

    wait_for(lambda: job_status(page) == "done", what="resumed run done")
    wait_for(lambda: set(statuses(page).values()) == {"done"}, what="every step done")
    assert page.locator(".hm-job-id input").input_value() == jid          # the same run, not a new one
    wait_for(lambda: "Resumed job" in text(page, ".hm-job-message"), what="resume message")
    history = text(page, ".hm-history-pane")
    assert "resumed from charge" in history and "edited input" in history and '"amount": 80' in history
    assert "card limit is 100, asked 250" in history                      # the failed attempt is kept
    assert not page.locator(".hm-resume-form").is_visible()                # nothing left to resume
    gantt = wait_for(lambda: source_data(page, "gantt-bars", "aid", "status"), what="timeline")
    charge = [status for aid, status in zip(gantt["aid"], gantt["status"], strict=True) if aid == "charge"]
    assert charge == ["failed", "done"], gantt                             # the failed attempt, then the resumed one
    time.sleep(0.3)
    shot(page, "resumed-from-failed-step")

    page.locator(".hm-rerun button").click()                               # a new run, same input
    wait_for(lambda: page.locator(".hm-job-id input").input_value() not in ("", jid), what="re-run opened")
    wait_for(lambda: job_status(page) == "failed", what="re-run fails again (amount 250)")
    wait_for(lambda: f"re-run of job {jid}" in text(page, ".hm-history-pane"), what="re-run link")

    copy = page.locator(".hm-job-id input").input_value()                 # resumed from elsewhere (the API)
    client = SyncHotMesh(PAY, redis_url, engine=False)
    try:
        client.resume(copy, data={"amount": 10})
    finally:
        client.stop()
    wait_for(lambda: job_status(page) == "done", what="the open view follows a resume made elsewhere")
    wait_for(lambda: set(statuses(page).values()) == {"done"}, what="every step of the copy done")
    assert "resumed from charge" in text(page, ".hm-history-pane")
    assert not page.errors

