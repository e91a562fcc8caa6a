"""A real ``jupyter lab`` for the browser tests: started on a free loopback port with its own config
dirs, driven by Debian's chromium through Playwright, every request that leaves 127.0.0.1 refused
and reported, and shut down cleanly (kernels through the REST API, then the server)."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from hotmesh_core.redis_server import free_port

from ..helpers import stop_process
from ..studio.conftest import CHROMIUM, CHROMIUM_ARGS, LOCAL_SCHEMES


@dataclass
class Lab:
    base: str
    token: str
    process: subprocess.Popen[bytes]
    log: Path
    outside: list[str] = field(default_factory=list)     # requests the page tried to send elsewhere

    def url(self, notebook: str) -> str:
        return f"{self.base}/lab/tree/{notebook}?token={self.token}"

    def api(self, method: str, path: str) -> Any:
        request = urllib.request.Request(f"{self.base}/api/{path}", method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=30) as answer:
            body = answer.read()
        return json.loads(body) if body else None

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def shutdown_kernels(self) -> list[str]:
        """Ask every kernel to shut down (the server sends a shutdown request, then waits for it)."""
        kernels = [k["id"] for k in self.api("GET", "kernels")]
        for kernel in kernels:
            self.api("DELETE", f"kernels/{kernel}")
        return kernels


def write_notebook(path: Path, cells: list[str]) -> None:
    book = new_notebook(cells=[new_code_cell(c) for c in cells])
    book.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(book, path)


@contextmanager
def jupyter_lab(root: Path, env: dict[str, str] | None = None) -> Iterator[Lab]:
    """``jupyter lab`` serving ``root`` on 127.0.0.1 (``env`` reaches the server and its kernels)."""
    port, token = free_port(), secrets.token_hex(16)
    full_env = {**os.environ, "JUPYTER_CONFIG_DIR": str(root / "config"),
                "JUPYTER_RUNTIME_DIR": str(root / "runtime"), "JUPYTERLAB_SETTINGS_DIR": str(root / "settings"),
                "JUPYTERLAB_WORKSPACES_DIR": str(root / "workspaces"), "PYTHONUNBUFFERED": "1", **(env or {})}
    settings = {    # no "get notified about Jupyter news?" toast; every cell in the DOM and laid out
        "apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
        "notebook-extension/tracker": {"windowingMode": "none"}}
    for name, values in settings.items():
        path = root / "settings" / "@jupyterlab" / f"{name}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    log = root / "lab.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
             f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}", "--allow-root",
             "--LabApp.extension_manager=readonly", "--LabApp.expose_app_in_browser=True", "--LabApp.news_url=",
             "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
            env=full_env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    lab = Lab(f"http://127.0.0.1:{port}", token, process, log)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                lab.api("GET", "status")
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise AssertionError(f"jupyter lab did not answer within 60 s:\n{lab.log_tail()}") from None
                time.sleep(0.2)
        yield lab
    finally:
        if process.poll() is None:
            with suppress(OSError):
                lab.shutdown_kernels()
        stop_process(process, grace=20)


@contextmanager
def lab_page(lab: Lab, notebook: str) -> Iterator[Any]:
    """A chromium page on ``notebook`` with its kernel started and idle; requests that leave
    127.0.0.1 are aborted and kept in ``lab.outside`` (the caller asserts it stays empty)."""
    from playwright.sync_api import sync_playwright

    def route(request_route: Any) -> None:
        target = request_route.request.url
        if target.startswith(LOCAL_SCHEMES) or urlparse(target).hostname in ("127.0.0.1", "localhost"):
            request_route.continue_()
        else:
            lab.outside.append(target)
            request_route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.route("**/*", route)
            page.goto(lab.url(notebook))
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
            page.wait_for_function("() => window.jupyterapp && window.jupyterapp.commands", timeout=30_000)
            page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle'], "
                                   ".jp-KernelStatus-success", timeout=60_000, state="attached")
            select = page.locator(".jp-Dialog button.jp-mod-accept")     # "Select Kernel" (python3)
            try:
                select.wait_for(timeout=5_000)
                select.click()
            except Exception:  # noqa: BLE001 - no dialog: the kernel started on its own
                pass
            yield page
        finally:
            browser.close()


def run(page: Any, command: str, cell: int | None = None) -> None:
    """Execute a JupyterLab command (``notebook:run-all-cells``, ...), with cell ``cell`` made active first."""
    page.evaluate("""([command, cell]) => {
        const notebook = window.jupyterapp.shell.currentWidget.content;
        if (cell !== null) { notebook.activeCellIndex = cell < 0 ? notebook.widgets.length + cell : cell; }
        window.jupyterapp.commands.execute(command);
        return true;
    }""", [command, cell])


def errors(page: Any) -> list[str]:
    """The tracebacks the notebook's cells show."""
    return [str(t) for t in page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.error'], "
                                         ".jp-OutputArea-output.jp-mod-error").all_inner_texts()]


def printed(page: Any, key: str, timeout: float = 60) -> Any:
    """The value of ``key`` in the JSON line a cell printed (``{"key": ...}``), once it is shown."""
    selector = f".jp-OutputArea-output pre:has-text('\"{key}\"')"
    try:
        page.wait_for_selector(selector, timeout=timeout * 1000, state="attached")
    except Exception as exc:  # noqa: BLE001 - say what the notebook shows instead
        raise AssertionError(f"no cell printed {key!r} within {timeout} s; errors in the notebook: "
                             f"{errors(page) or 'none'}") from exc
    for line in reversed(page.inner_text(selector).strip().splitlines()):
        if line.startswith("{") and key in (values := json.loads(line)):
            return values[key]
    raise AssertionError(f"no JSON line with {key!r} in {page.inner_text(selector)!r}")
