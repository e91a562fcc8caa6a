"""Fixtures for the studio: ``panel serve studio`` in a subprocess against the session's
redis-server, and Debian's chromium driven by Playwright.

Without chromium or playwright the browser tests skip on a developer machine and FAIL in CI
(``CI=true``): a CI run that silently skipped them would prove nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from hotmesh_core.redis_server import free_port

from ..helpers import stop_process
from .apps import DEMO, REVIEW, ROOT, SLEEPY, make_assets

CHROMIUM = os.environ.get("HOTMESH_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic"]
ARTIFACTS = ROOT / "test-artifacts" / "studio"
LOCAL_SCHEMES = ("blob:", "data:", "about:")


def browser_missing() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} not found (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[dev]')"
    return None


def require_browser() -> None:
    reason = browser_missing()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser tests cannot run in CI: {reason}")
        pytest.skip(reason)


@dataclass
class StudioServer:
    url: str
    process: subprocess.Popen[bytes]
    log: Path
    apps: dict[str, str] = field(default_factory=lambda: {"demo": DEMO, "sleepy": SLEEPY, "review": REVIEW})

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


def start_studio(base: Path, env: dict[str, str], *args: str, address: str | None = "127.0.0.1",
                 expect: int = 200, port: int | None = None) -> StudioServer:
    """``panel serve studio`` in a subprocess (on a free port unless told); returns once the page
    answers ``expect`` (a signed-in studio answers 302, to its login page)."""
    port = port or free_port()
    log = base / f"panel-{port}.log"
    where = ["--address", address] if address is not None else []
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "panel", "serve", "studio", *where, "--port", str(port),
             "--allow-websocket-origin", f"127.0.0.1:{port}", *args],
            cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1", **env}, stdout=out, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL)
    server = StudioServer(f"http://127.0.0.1:{port}/studio", process, log)
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            pytest.fail(f"panel serve exited with {process.returncode}:\n{server.log_tail()}")
        if answers(server.url) == expect:
            return server
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"panel serve did not answer within 60 s:\n{server.log_tail()}")
        time.sleep(0.2)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def answers(url: str) -> int | None:
    """The status ``url`` answers with (redirects not followed), None when nothing answers."""
    try:
        with urllib.request.build_opener(_NoRedirect).open(url, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return None


@pytest.fixture(scope="session")
def studio_server(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StudioServer]:
    require_browser()
    base = tmp_path_factory.mktemp("studio")
    assets = make_assets(base / "assets")
    server = start_studio(base, {"REDIS_URL": redis_url, "HOTMESH_ASSETS": str(assets)})
    yield server
    stop_process(server.process)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Module-scoped: Playwright's sync API owns an event loop while it runs, which must be gone
    before pytest-asyncio runs the async tests of other modules."""
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class RequestLog:
    """Every request the page made; ``outside()`` lists those that left 127.0.0.1."""

    def __init__(self) -> None:
        self.urls: list[str] = []

    def __call__(self, request: Any) -> None:
        self.urls.append(request.url)

    def outside(self) -> list[str]:
        bad = []
        for url in self.urls:
            if url.startswith(LOCAL_SCHEMES):
                continue
            host = urlparse(url).hostname or ""
            if host not in ("127.0.0.1", "localhost", "::1"):
                bad.append(url)
        return bad


def checked_page(browser: Any, height: int = 1000) -> Iterator[Any]:
    """A chromium page that records its page errors (``page.errors``), console errors and warnings
    (``page.console``) and its requests (``page.requests``); on exit, any request that left 127.0.0.1 fails the test."""
    context = browser.new_context(viewport={"width": 1440, "height": height})
    page = context.new_page()
    page.set_default_timeout(30_000)
    requests = RequestLog()
    page.on("request", requests)
    page.requests = requests          # type: ignore[attr-defined]
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors              # type: ignore[attr-defined]
    console: list[str] = []           # the browser console's errors and warnings, for failure messages
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}"[:300]) if m.type in ("error", "warning")
            else None)
    page.console = console            # type: ignore[attr-defined]
    yield page
    context.close()
    assert not requests.outside(), f"requests left 127.0.0.1: {requests.outside()}"


@pytest.fixture
def page(browser: Any, studio_server: StudioServer) -> Iterator[Any]:
    yield from checked_page(browser)


def shot(page: Any, name: str, full_page: bool = True) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.mouse.move(2, 2)             # no tooltip over the picture
    page.wait_for_timeout(150)
    page.screenshot(path=str(path), full_page=full_page)
    return path


def have(tool: str) -> bool:
    return shutil.which(tool) is not None
