"""Sign-in end to end: ``panel serve studio`` with the studio's users (a real redis-server, Debian's
chromium): the login page refuses a wrong password and admits the right one, a viewer sees every
action off, an editor sees them on; and without sign-in, another machine gets the refusal page while
an explicit public ``--address`` stops the server before it serves."""

from __future__ import annotations

import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hotmesh_core.redis_server import free_port
from studio.auth import hash_password

from ..helpers import stop_process
from .apps import PREFIX, ROOT, SLOW_WORKERS
from .conftest import StudioServer, require_browser, shot, start_studio
from .pages import show_apps, tab, text, wait_for

pytestmark = pytest.mark.browser
APP = f"{PREFIX}-auth"
SECRET = "test-cookie-secret-" + "x" * 24


@pytest.fixture(scope="module")
def signed_in(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StudioServer]:
    require_browser()
    base = tmp_path_factory.mktemp("studio-auth")
    demo = base / "assets" / "apps" / "demo"
    demo.mkdir(parents=True)
    text = (ROOT / "assets" / "apps" / "demo" / "app.yaml").read_text()
    (demo / "app.yaml").write_text(text.replace("id: demo", f"id: {APP}", 1))
    (demo / "workers.py").write_text(SLOW_WORKERS)
    users = base / "users.toml"
    users.write_text(f'[users.ed]\npassword_hash = "{hash_password("ed-pass")}"\nrole = "editor"\n'
                     f'[users.vi]\npassword_hash = "{hash_password("vi-pass")}"\n')
    env = {"REDIS_URL": redis_url, "HOTMESH_ASSETS": str(base / "assets"), "HOTMESH_STUDIO_USERS": str(users)}
    server = start_studio(base, env, "--auth-module", "studio/auth_module.py", "--cookie-secret", SECRET,
                          expect=302)
    yield server
    stop_process(server.process)


def sign_in(page: Any, server: StudioServer, user: str, password: str) -> None:
    page.goto(f"{server.url}?app={APP}")
    page.wait_for_url("**/login**")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def disabled(page: Any, css: str) -> bool:
    return bool(page.locator(f"{css} button").first.is_disabled())


def test_login_refuses_a_wrong_password_and_admits_the_right_one(browser: Any, signed_in: StudioServer) -> None:
    assert urllib.request.urlopen(f"{signed_in.url}", timeout=5).url.split("?")[0].endswith("/login")
    page = browser.new_page()
    sign_in(page, signed_in, "ed", "wrong")
    page.get_by_text("Wrong user name or password.").wait_for()
    assert "/login" in page.url and page.locator(".hm-app-summary").count() == 0
    sign_in(page, signed_in, "nobody", "ed-pass")
    page.get_by_text("Wrong user name or password.").wait_for()
    sign_in(page, signed_in, "ed", "ed-pass")
    show_apps(page, APP)
    wait_for(lambda: "signed in as ed (editor)" in text(page, ".hm-who"), what="who")
    tab(page, "Editor")
    wait_for(lambda: not disabled(page, ".hm-deploy"), what="deploy on for an editor")
    tab(page, "Fleet")
    wait_for(lambda: not disabled(page, ".hm-fleet-pause"), what="pause on for an editor")
    page.close()


def test_a_viewer_sees_every_action_off(browser: Any, signed_in: StudioServer) -> None:
    page = browser.new_page()
    sign_in(page, signed_in, "vi", "vi-pass")
    show_apps(page, APP)
    wait_for(lambda: "read-only" in text(page, ".hm-who"), what="read-only note")
    tab(page, "Editor")
    wait_for(lambda: "Valid" in text(page, ".hm-editor-status"), what="the document checked")
    assert disabled(page, ".hm-deploy")
    tab(page, "Versions")
    page.locator(".hm-activate button").wait_for()
    assert disabled(page, ".hm-activate")
    tab(page, "Runs")
    page.locator(".hm-start button").wait_for()
    assert disabled(page, ".hm-start")
    page.locator(".hm-runs-table .tabulator-row").first.click()       # the example run the studio started
    wait_for(lambda: page.locator(".hm-job-status").count() > 0, what="the run open")
    assert disabled(page, ".hm-interrupt") and disabled(page, ".hm-rerun")
    tab(page, "Fleet")
    page.locator(".hm-fleet-pause button").wait_for()
    assert disabled(page, ".hm-fleet-pause") and disabled(page, ".hm-fleet-resume")
    shot(page, "viewer-fleet")
    page.goto(signed_in.url.replace("/studio", "/logout"))
    page.goto(signed_in.url)
    page.wait_for_url("**/login**")
    page.close()


def outward_address() -> str:
    """This machine's address on its network (not loopback): where another machine would come from."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("192.0.2.1", 9))          # no packet is sent: this only picks the interface
        address = str(probe.getsockname()[0])
    if address.startswith("127."):
        pytest.fail("this machine has no non-loopback IPv4 address to test a remote client from")
    return address


def test_without_sign_in_another_machine_gets_the_refusal_page(browser: Any, tmp_path: Path) -> None:
    port, outside = free_port(), outward_address()
    unreachable = f"redis://127.0.0.1:{free_port()}/0"      # the page is what matters, not the apps
    server = start_studio(tmp_path, {"REDIS_URL": unreachable}, "--allow-websocket-origin", f"{outside}:{port}",
                          address=None, port=port)           # panel serve's default: every interface
    page = browser.new_page()
    try:
        page.goto(f"http://{outside}:{port}/studio")
        wait_for(lambda: "serves only its own machine" in text(page, ".hm-refused"), what="the refusal page")
        assert outside in text(page, ".hm-refused") and page.locator(".hm-app-select").count() == 0
        shot(page, "refused-remote")
        page.goto(server.url)                                # the same server, from this machine
        page.locator(".hm-app-select").wait_for()
        assert page.locator(".hm-refused").count() == 0
    finally:
        page.close()
        stop_process(server.process)


def test_panel_serve_on_a_public_address_without_sign_in_stops(tmp_path: Path) -> None:
    log = tmp_path / "public.log"
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "panel", "serve", "studio", "--address", "0.0.0.0",
                                    "--port", str(free_port())], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    try:
        assert process.wait(60) == 2
    finally:
        if process.poll() is None:
            process.kill()
    assert "refusing to serve the studio on 0.0.0.0 without sign-in" in log.read_text()
