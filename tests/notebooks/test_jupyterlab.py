"""A notebook widget renders in JupyterLab with no network: a real ``jupyter lab`` on a loopback port,
Debian's chromium through Playwright, every request that leaves 127.0.0.1 refused and reported."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from hotmesh_core.redis_server import free_port

from ..studio.conftest import CHROMIUM, CHROMIUM_ARGS, LOCAL_SCHEMES, require_browser

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "notebooks"

pytestmark = pytest.mark.browser

CELLS = [   # as a user writes them: the installed studio and the packaged demo app, no checkout on sys.path
    "import panel as pn\npn.extension(inline=True)\nfrom studio import widgets\n"
    "from hotmesh_core.examples import app_path",
    "graph = widgets.dag(app_path('demo'))\nimport json\nprint(json.dumps(graph.summary()))\ngraph",
]


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    require_browser()
    book = new_notebook(cells=[new_code_cell(c) for c in CELLS])
    book.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(book, tmp_path / "check.ipynb")
    port, token = free_port(), secrets.token_hex(16)
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
           "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"), "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces")}
    log = (tmp_path / "lab.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={tmp_path}",
         "--allow-root", "--LabApp.extension_manager=readonly", "--LabApp.expose_app_in_browser=True", "--LabApp.news_url=", "--LabApp.check_for_updates_class="
         "jupyterlab.NeverCheckForUpdate"], env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=1).read()
            break
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise AssertionError((tmp_path / "lab.log").read_text()[-3000:]) from None
            time.sleep(0.2)
    yield f"{base}/lab/tree/check.ipynb?token={token}", process
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()


def test_a_widget_renders_in_jupyterlab_offline(lab: tuple[str, Any]) -> None:
    from playwright.sync_api import sync_playwright

    url, _process = lab
    outside: list[str] = []

    def route(request_route: Any) -> None:
        target = request_route.request.url
        host = urlparse(target).hostname
        if target.startswith(LOCAL_SCHEMES) or host in ("127.0.0.1", "localhost"):
            request_route.continue_()
        else:
            outside.append(target)
            request_route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.route("**/*", route)
            page.goto(url)
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=30_000)
            page.wait_for_function("() => window.jupyterapp && window.jupyterapp.commands", timeout=30_000)
            page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle'], "
                                   ".jp-KernelStatus-success", timeout=30_000, state="attached")
            select = page.locator(".jp-Dialog button.jp-mod-accept")     # "Select Kernel" (python3)
            try:
                select.wait_for(timeout=5_000)
                select.click()
            except Exception:  # noqa: BLE001 - no dialog: the kernel started on its own
                pass
            page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); return true; }")
            page.wait_for_selector(".jp-OutputArea-output pre:has-text('compose')", timeout=40_000)
            text = page.inner_text(".jp-OutputArea-output pre:has-text('compose')")
            assert json.loads(text.strip().splitlines()[-1])["nodes"] == ["start", "compose", "shout", "done"]
            page.wait_for_function(     # the Bokeh figure drew on a sized canvas (in its shadow DOM)
                """() => [...document.querySelectorAll('.jp-OutputArea-output')].some(out => {
                       const walk = (root) => [...root.querySelectorAll('*')].flatMap(
                           el => el.shadowRoot ? [el, ...walk(el.shadowRoot)] : [el]);
                       return walk(out).some(el => el.tagName === 'CANVAS' && el.width > 300 && el.height > 200);
                   })""", timeout=30_000)
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "jupyterlab-dag.png"), full_page=True)
        finally:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "jupyterlab-last.png"), full_page=True)
            browser.close()
    assert outside == [], f"requests left 127.0.0.1: {outside}"
