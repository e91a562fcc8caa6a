"""Run each notebook top to bottom with nbclient against the session's redis-server and check
the JSON lines its cells print (not just that it ran)."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import threading
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
NAMES = ["01-quickstart", "02-design", "03-inspect", "04-control-flow"]
_runs = itertools.count()


async def run_notebook(name: str, redis_url: str) -> dict[str, Any]:
    """Execute ``notebooks/<name>.ipynb`` in a fresh kernel; the merged JSON objects its cells printed.

    The kernel gets ``REDIS_URL`` (the session's redis-server) and its own app id in
    ``HOTMESH_NOTEBOOK_APP``, so runs never share keys.
    """
    book = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    app = f"nb{next(_runs)}-{os.getpid()}-{name.split('-')[0]}"
    env = {**os.environ, "REDIS_URL": redis_url, "HOTMESH_NOTEBOOK_APP": app}
    client = NotebookClient(book, timeout=60, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOKS)}})
    await client.async_execute(env=env)
    values: dict[str, Any] = {}
    for cell in book.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stdout":
                for line in output["text"].splitlines():
                    if line.startswith("{"):
                        values.update(json.loads(line))
    assert values["app"] == app
    return values


@pytest.fixture(scope="module")
def outputs(redis_url: str) -> dict[str, Any]:
    """Every notebook, run concurrently (one kernel each); a failed run is re-raised by its test."""
    results: dict[str, Any] = {}

    async def run_all() -> None:
        done = await asyncio.gather(*(run_notebook(n, redis_url) for n in NAMES), return_exceptions=True)
        results.update(zip(NAMES, done, strict=True))

    thread = threading.Thread(target=lambda: asyncio.run(run_all()))   # off pytest-asyncio's loop
    thread.start()
    thread.join(300)
    return results


def result(outputs: dict[str, Any], name: str) -> dict[str, Any]:
    value = outputs[name]
    if isinstance(value, BaseException):
        raise value
    return value


def test_quickstart(outputs: dict[str, Any]) -> None:
    out = result(outputs, "01-quickstart")
    assert out["deployed"] == "1" and out["activated"] is True
    assert out["dag"]["nodes"] == ["start", "compose", "shout", "done"]
    assert ["compose", "shout", "transition"] in out["dag"]["edges"]
    assert out["job"] == {"message": "HELLO, WORLD!", "length": 13}
    assert out["version"] == "1"
    assert out["job_status"] == "done"
    assert out["statuses"] == {"start": "done", "compose": "done", "shout": "done", "done": "done"}
    assert out["inspector_shows_output"] is True
    assert out["runs"] == [[True, "done", '{"name": "world", "shout": true}']]
    assert out["overview_before"] == {}
    assert out["overview_after"] == {"started": 1, "completed": 1, "failed": 0}
    assert out["stopped"] is True


def test_design(outputs: dict[str, Any]) -> None:
    out = result(outputs, "02-design")
    assert out["v1"] == "1" and out["v1_message"] == "hello, ada!"
    assert out["broken_ok"] is False and out["broken_deploy_enabled"] is False
    assert "wroker" in out["broken_errors"][0]["message"]
    assert out["broken_rows"] == [out["broken_errors"][0]["line"] - 1]
    assert out["plan_version"] == "2"
    assert out["review_breaking"] == [] and out["review_active"] == "1"
    assert out["draft_breaking"] and any("shout" in b for b in out["draft_breaking"])
    assert out["preview"] == ["start", "compose", "shout", "done"]
    assert out["v2_ok"] is True and out["v2_version"] == "2" and out["v2_deploy_enabled"] is True
    assert "Deployed version **2**" in out["outcome"] and "active on all engines" in out["outcome"]
    assert out["compare"] == {"v1": ["1", "hello, ada!"], "v2": ["2", "hi, ada!"]}


def test_inspect(outputs: dict[str, Any]) -> None:
    out = result(outputs, "03-inspect")
    assert out["job"]["message"] == "hello, grace!"
    assert out["state_data"]["message"] == "hello, grace!"
    assert out["counts"] == {"done": 4}
    assert out["status"] == 0 and out["export_activities"] == ["compose", "done", "start"]
    # the worker's error (500) fails 'compose'; the job fails with the first error it records
    # (here the 'done' hook's pipe over the missing message: 400)
    # the worker's own error reaches the caller (the demo routes only success onwards)
    assert out["failed_code"] == 500 and "nobody to greet" in out["failed_message"]
    assert out["failed_job_status"] == "failed"
    assert out["failed_compose"] == "failed"
    assert out["inspector_has_error"] is True
    assert out["runs_failed"] == ["failed"]


def test_control_flow(outputs: dict[str, Any]) -> None:
    out = result(outputs, "04-control-flow")
    assert ["hook:tour.answer", "wait", "hook"] in out["graphs"]["tour.hook"]
    assert ["again", "pivot", "cycle"] in out["graphs"]["tour.cycle"]
    assert out["waiting"] == {"ask": "done", "wait": "running", "reply": "pending"}
    assert out["job_status"] == "running" and out["stranger"] is None
    assert out["signalled"] is True
    assert out["after_signal"] == {"ask": "done", "wait": "done", "reply": "done"}
    assert out["hook_data"] == {"answer": "42", "after": "42"}
    assert out["cycle_data"] == {"counter": 5}
    assert out["cycle_counts"] == {"pivot": 5, "count": 5, "again": 4}
    assert out["badges"] == {"pivot": "×5", "count": "×5", "again": "×4"}
    assert out["interrupted"] is True
    assert out["interrupt_status"] == "interrupted" and out["get_status_negative"] is True


@pytest.fixture(autouse=True)
def _no_cdn_extension() -> None:
    """Every notebook loads Panel inline (``pn.extension()`` would render blank offline)."""
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        sources = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
        calls = re.findall(r"pn\.extension\(([^)]*)\)", sources)
        assert calls and all("inline=True" in call for call in calls), (path.name, calls)
