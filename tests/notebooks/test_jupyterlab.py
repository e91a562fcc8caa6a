"""The notebook widgets in a real ``jupyter lab`` (loopback port, no network) seen through Debian's
chromium: a DAG renders offline, and a live job's graph changes colour step by step while the
overview's counts grow, read from the Bokeh models in the page (not only from the kernel)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from studio.theme import STATUS_COLORS

from ..studio.conftest import require_browser
from ..studio.pages import source_data, wait_for
from .lab import errors, jupyter_lab, lab_page, printed, run, write_notebook

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"

pytestmark = pytest.mark.browser

DAG_CELLS = [   # as a user writes them: the installed studio and the packaged demo app, no checkout on sys.path
    "import panel as pn\npn.extension(inline=True)\nfrom studio import widgets\n"
    "from hotmesh_core.examples import app_path",
    "graph = widgets.dag(app_path('demo'))\nimport json\nprint(json.dumps({'dag': graph.summary()}))\ngraph",
]

CANVAS_JS = """() => [...document.querySelectorAll('.jp-OutputArea-output')].some(out => {
    const walk = (root) => [...root.querySelectorAll('*')].flatMap(
        el => el.shadowRoot ? [el, ...walk(el.shadowRoot)] : [el]);
    return walk(out).some(el => el.tagName === 'CANVAS' && el.width > 300 && el.height > 200);
})"""


def test_a_widget_renders_in_jupyterlab_offline(tmp_path: Path) -> None:
    require_browser()
    write_notebook(tmp_path / "check.ipynb", DAG_CELLS)
    with jupyter_lab(tmp_path) as lab, lab_page(lab, "check.ipynb") as page:
        try:
            run(page, "notebook:run-all-cells")
            assert printed(page, "dag")["nodes"] == ["start", "compose", "shout", "done"]
            page.wait_for_function(CANVAS_JS, timeout=30_000)   # the figure drew on a sized canvas
            page.screenshot(path=str(_artifact("notebooks", "jupyterlab-dag.png")))
        finally:
            page.screenshot(path=str(_artifact("notebooks", "jupyterlab-last.png")))
    assert lab.outside == [], f"requests left 127.0.0.1: {lab.outside}"


# -- a live job and the overview ---------------------------------------------------------------------
CHAIN = """
app:
  id: {app}
  version: '1'
  graphs:
    - subscribes: chain.start
      expire: 600
      activities:
        start: {{ type: trigger, title: Order received }}
        fetch: {{ type: worker, topic: chain.fetch, title: Fetch the items }}
        check: {{ type: worker, topic: chain.check, title: Check the stock }}
        pack: {{ type: worker, topic: chain.pack, title: Pack the parcel }}
        done: {{ type: hook, title: Done }}
      transitions:
        start: [ {{ to: fetch }} ]
        fetch: [ {{ to: check }} ]
        check: [ {{ to: pack }} ]
        pack: [ {{ to: done }} ]
"""
CHAIN_WORKERS = '''"""The chain's workers: each takes a little time, so the steps finish one after another (the
first a little longer: the time for the page to show the job)."""
import asyncio

from hotmesh_core import Worker

STEPS = {"fetch": 4.0, "check": 2.5, "pack": 2.5}


def step(name, seconds):
    async def work(message):
        await asyncio.sleep(seconds)
        return {name: "ok"}
    return Worker(f"chain.{name}", work)


WORKERS = [step(name, seconds) for name, seconds in STEPS.items()]
'''
LIVE_CELLS = [      # the kernel's HotMesh talks to the test's redis-server (REDIS_URL reaches it through the lab)
    "import json, os\nfrom pathlib import Path\n\nimport panel as pn\npn.extension('tabulator', inline=True)\n"
    "from IPython.display import Pretty, display\nfrom studio import widgets\nfrom chain_workers import WORKERS\n\n"
    # displayed, not printed: ipykernel 7 routes stdout per thread and, with the mesh's thread busy
    # sending widget updates, a print at the end of a cell was seen lost under load
    "def show(**values):\n    display(Pretty(json.dumps(values, default=str)))",
    "hm = widgets.connect(os.environ['HOTMESH_NOTEBOOK_APP'], os.environ['REDIS_URL'], workers=WORKERS)\n"
    "show(activated=hm.activate(hm.deploy(Path('chain.yaml'))))",
    "overview = widgets.overview(hm, period_ms=1000)\nshow(overview_before=overview.totals())\noverview",
    "jid = hm.pub('chain.start', {'order': 42})\nlive = widgets.job_view(hm, jid)\nshow(jid=jid)\nlive",
    "show(ended={row['aid']: row['end'] for row in live.view.state.timeline()})     # engine time, ms\n"
    "live.close()\noverview.close()\nhm.stop()\nshow(stopped=True)",
]
JOB_CELL, CLOSE_CELL = 3, 4
NODES = ["start", "fetch", "check", "pack", "done"]
RANK = {"pending": 0, "running": 1, "done": 2}


@pytest.mark.timeout(300)        # lab, kernel and chromium start on 2 busy cores: the waits are generous
def test_a_live_job_and_the_overview_in_jupyterlab(tmp_path: Path, redis_url: str, app_id: str) -> None:
    require_browser()
    write_notebook(tmp_path / "live.ipynb", LIVE_CELLS)
    (tmp_path / "chain.yaml").write_text(CHAIN.format(app=app_id))
    (tmp_path / "chain_workers.py").write_text(CHAIN_WORKERS)
    env = {"REDIS_URL": redis_url, "HOTMESH_NOTEBOOK_APP": app_id}
    with jupyter_lab(tmp_path, env) as lab:
        with lab_page(lab, "live.ipynb") as page:
            try:
                run(page, "notebook:run-all-above", cell=JOB_CELL)       # setup, deploy, the overview
                assert printed(page, "activated") is True
                assert printed(page, "overview_before") == {}
                wait_for(lambda: tile(page, "started") == 0 and tile(page, "completed") == 0,
                         timeout=60, what="the overview's tiles at 0 in the page")
                run(page, "notebook:run-cell", cell=JOB_CELL)            # start the job, show it live
                jid = printed(page, "jid")
                seen = watch_the_job(page)
                assert [s["statuses"] for s in seen][-1] == dict.fromkeys(NODES, "done")
                wait_for(lambda: (tile(page, "started") or 0) >= 1 and (tile(page, "completed") or 0) >= 1, timeout=30,
                         what="the overview counting the job (tiles 'jobs started' and 'completed')")
                rates = wait_for(lambda: charted(page), timeout=30, what="the overview's chart showing the job")
                assert rates["started"] > 0 and rates["completed"] > 0
                top(page, ".hm-overview-window")
                page.screenshot(path=str(_artifact("studio", "jupyterlab-live-overview.png")))
                top(page, ".hm-job-header")
                page.screenshot(path=str(_artifact("studio", "jupyterlab-live-graph.png")))
                run(page, "notebook:run-cell", cell=CLOSE_CELL)          # stop following, stop the mesh
                assert printed(page, "stopped") is True
                ended = printed(page, "ended")
                lags = {a: round(seen_done(seen, a) * 1000 - ended[a]) for a in ("fetch", "check", "pack")}
                print(f"engine end -> colour in the page (ms, polled every 100 ms): {lags}")
                # 'fetch' may end before the page has drawn the job; the later steps are seen live
                assert all(-50 < lags[a] < 5000 for a in ("check", "pack")), lags
                assert errors(page) == []
            finally:
                page.screenshot(path=str(_artifact("studio", "jupyterlab-live-last.png")))
        assert len(lab.shutdown_kernels()) == 1
        assert lab.api("GET", "kernels") == []
    assert lab.process.returncode is not None
    assert lab.outside == [], f"requests left 127.0.0.1: {lab.outside}"
    assert jid


def watch_the_job(page: Any, timeout: float = 90) -> list[dict[str, Any]]:
    """Every distinct state of the job's graph in the page until all is done: each node's status and
    colour, as the BokehJS document holds them. Checks that colours match statuses, that no node
    goes back, and that the workers finished one after another (each seen done alone first)."""
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    mid_shot = False
    while True:
        data = source_data(page, "detail-nodes", "id", "status", "fill")
        if data and data["id"]:
            statuses = dict(zip(data["id"], data["status"], strict=True))
            fills = dict(zip(data["id"], data["fill"], strict=True))
            if not seen or seen[-1]["statuses"] != statuses:
                seen.append({"at": time.time(), "statuses": statuses, "fills": fills})
                assert fills == {a: STATUS_COLORS[s] for a, s in statuses.items()}, seen[-1]
                if not mid_shot and statuses.get("fetch") == "done" and statuses.get("pack") != "done":
                    top(page, ".hm-job-header")
                    page.screenshot(path=str(_artifact("studio", "jupyterlab-live-graph-mid.png")))
                    mid_shot = True
            if statuses == dict.fromkeys(NODES, "done"):
                break
        if time.monotonic() > deadline:
            raise AssertionError(f"the job's graph in the page did not reach 'done' within {timeout} s; "
                                 f"states seen: {[s['statuses'] for s in seen]}; errors: {errors(page)}")
        time.sleep(0.1)
    for before, after in zip(seen, seen[1:], strict=False):
        assert all(RANK[after["statuses"][a]] >= RANK[before["statuses"][a]] for a in NODES), (before, after)
    done_sets = [{a for a in ("fetch", "check", "pack") if s["statuses"][a] == "done"} for s in seen]
    for finished in ({"fetch"}, {"fetch", "check"}):
        assert finished in done_sets, f"never saw only {sorted(finished)} done: {[s['statuses'] for s in seen]}"
    return seen


def top(page: Any, css: str) -> None:
    """Scroll the notebook so that the first ``css`` element is at the top of the window."""
    page.locator(css).first.evaluate("el => el.scrollIntoView({block: 'start'})")


def seen_done(seen: list[dict[str, Any]], aid: str) -> float:
    """When the page first showed ``aid`` done (epoch seconds)."""
    return float(next(s["at"] for s in seen if s["statuses"][aid] == "done"))


def tile(page: Any, kind: str) -> int | None:
    """The number an overview tile shows (``started``, ``completed``, ``failed``, ...)."""
    locator = page.locator(f".hm-ov-{kind}")
    if not locator.count():
        return None
    value = locator.first.get_attribute("data-value")
    return int(value) if value and value.isdigit() else None


def charted(page: Any) -> dict[str, float] | None:
    """The overview chart's totals per kind when it shows jobs both started and completed."""
    data = source_data(page, "overview-rates", "started", "completed", "failed")
    if not data:
        return None
    sums = {kind: sum(values) for kind, values in data.items()}
    return sums if sums["started"] > 0 and sums["completed"] > 0 else None


def _artifact(folder: str, name: str) -> Path:
    path = ARTIFACTS / folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    return path
