"""From the wheel, as a new user gets it: built once, installed in fresh venvs, run from a folder
outside the checkout. (a) ``[studio,embedded]``: the demo, ``python -m hotmesh_core.demo``, and
``hotmesh studio`` answering and drawing in chromium. (b) no extras: the core alone, no Panel, no
networkx, no Bokeh, no graphviz; a job deployed and run with the ``hotmesh`` command."""

from __future__ import annotations

import email
import json
import re
import subprocess
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hotmesh_core import RedisServer, __version__
from hotmesh_core.redis_server import free_port

from ..helpers import stop_process
from ..studio.conftest import CHROMIUM, CHROMIUM_ARGS, require_browser
from .conftest import ROOT, Venv, make_venv, timed

pytestmark = pytest.mark.packaging

DEMO_RESULT = '{"length": 13, "message": "HELLO, WORLD!"}'
STUDIO_ONLY = ("panel", "bokeh", "networkx", "graphviz")


def source_packages(folder: str) -> set[str]:
    """Every folder of Python modules under ``folder`` of the checkout, as a package name."""
    found = set()
    for module in (ROOT / folder).rglob("*.py"):
        if "__pycache__" not in module.parts:
            found.add(".".join(module.parent.relative_to(ROOT).parts))
    return found


def test_the_wheel_holds_the_product(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    packages = {str(Path(n).parent).replace("/", ".") for n in names if n.endswith(".py")}
    missing = (source_packages("hotmesh_core") | source_packages("studio")) - packages
    assert not missing, f"packages of the source tree not in the wheel (pyproject [tool.setuptools]): {missing}"
    for path in ("hotmesh_core/assets/apps/demo/app.yaml", "hotmesh_core/assets/apps/demo/workers.py",
                 "hotmesh_core/assets/apps/orders/graphs/order.yaml", "hotmesh_core/notebooks/01-quickstart.ipynb",
                 "hotmesh_core/scripts/step.lua", "hotmesh_core/py.typed", "studio/main.py",
                 "studio/app_hooks.py", "studio/py.typed"):
        assert path in names, path
    assert not [n for n in names if n.startswith(("assets/", "notebooks/", "tests/", "bench/"))]
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    info = next(n for n in names if n.endswith(".dist-info/METADATA"))
    metadata = email.message_from_string(zipfile.ZipFile(wheel).read(info).decode())
    assert metadata["Version"] == __version__
    requires = metadata.get_all("Requires-Dist") or []
    core = [r for r in requires if "extra ==" not in r]
    assert not [r for r in core if re.match(r"(panel|bokeh|networkx|graphviz|jupyter|ipywidgets)\b", r)], core
    assert not [r for r in requires if r.startswith("ipywidgets")]
    assert {"studio", "embedded", "otel", "dev"} <= set(metadata.get_all("Provides-Extra") or [])


# -- (a) hotmesh-core[studio,embedded] ------------------------------------------------------------

@pytest.fixture(scope="module")
def full(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Venv:
    return make_venv(tmp_path_factory.mktemp("full"), f"{wheel}[studio,embedded]")


def test_full_install_runs_the_demo_from_anywhere(full: Venv) -> None:
    started = time.monotonic()
    out = full.run("hotmesh", "demo", timeout=120).stdout
    assert "deployed demo version 1" in out and DEMO_RESULT in out, out
    assert "deployed orders version 1" in out, out
    out = full.run(full.python, "-m", "hotmesh_core.demo", timeout=120).stdout
    assert DEMO_RESULT in out, out
    where = full.run(full.python, "-c", "from hotmesh_core.examples import app_path, notebooks_dir; "
                     "print(app_path('demo')); print(notebooks_dir())").stdout.split()
    site = str(full.path / "lib")
    assert where[0].startswith(site) and where[0].endswith("hotmesh_core/assets/apps/demo/app.yaml"), where
    assert where[1].startswith(site) and (Path(where[1]) / "01-quickstart.ipynb").is_file(), where
    imported = full.run(full.python, "-c", "import studio.widgets, sys; print(studio.widgets.__file__)").stdout
    assert imported.startswith(site), imported
    timed("hotmesh demo, python -m hotmesh_core.demo, imports", started)


@pytest.fixture(scope="module")
def studio(full: Venv, redis: RedisServer) -> Iterator[str]:
    started = time.monotonic()
    port = free_port()
    log = full.home / "studio.log"
    process = full.popen("hotmesh", "studio", "--port", str(port), "--no-show", log=log, REDIS_URL=redis.url)
    url = f"http://127.0.0.1:{port}/studio"
    deadline = time.monotonic() + 60
    try:
        while True:
            if process.poll() is not None:
                pytest.fail(f"hotmesh studio exited with {process.returncode}:\n{log.read_text()[-4000:]}")
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    assert response.status == 200
                    break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"hotmesh studio did not answer within 60 s:\n{log.read_text()[-4000:]}")
                time.sleep(0.2)
        timed("hotmesh studio answers 200", started)
        yield url
    finally:
        stop_process(process)


def test_hotmesh_studio_serves_the_example_apps(studio: str) -> None:
    from playwright.sync_api import sync_playwright

    from ..studio.pages import open_studio, source_data, wait_for

    require_browser()
    started = time.monotonic()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            open_studio(page, studio, "demo")
            assert page.title() == "HotMesh Studio"
            data: dict[str, Any] = wait_for(
                lambda: (lambda d: d if d and d["id"] else None)(source_data(page, "app-graph-0-nodes", "id")),
                what="the demo's graph")
            assert data["id"] == ["start", "compose", "shout", "done"]
            assert not errors, errors
        finally:
            browser.close()
    timed("chromium: title and the demo's graph", started)


# -- (b) hotmesh-core, no extras ------------------------------------------------------------------

@pytest.fixture(scope="module")
def bare(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Venv:
    return make_venv(tmp_path_factory.mktemp("bare"), str(wheel))


def test_bare_install_is_the_core_alone(bare: Venv) -> None:
    probe = ("import importlib.util, json, sys, hotmesh_core, hotmesh_core.cli\n"
             f"print(json.dumps({{'version': hotmesh_core.__version__, 'absent': "
             f"[m for m in {STUDIO_ONLY!r} if importlib.util.find_spec(m) is None]}}))")
    out = json.loads(bare.run(bare.python, "-c", probe).stdout)
    assert out == {"version": __version__, "absent": list(STUDIO_ONLY)}
    result = subprocess.run([str(bare.bin / "hotmesh"), "studio"], capture_output=True, text=True,
                            cwd=bare.home, env=bare.env(), timeout=60)
    assert result.returncode == 2, result
    assert result.stderr.strip() == "error: the studio is not installed: pip install 'hotmesh-core[studio]'"


def test_bare_install_runs_a_job_with_the_cli(bare: Venv, redis: RedisServer) -> None:
    started = time.monotonic()
    env = {"REDIS_URL": redis.url, "HOTMESH_APP": "demo"}
    folder = bare.run("hotmesh", "examples", "demo").stdout.strip()
    assert folder.startswith(str(bare.path / "lib")), folder
    bare.run("hotmesh", "deploy", f"{folder}/app.yaml", **env)
    bare.run("hotmesh", "activate", "1", **env)
    engine = bare.popen("hotmesh", "engine", log=bare.home / "engine.log", **env)
    worker = bare.popen("hotmesh", "worker", f"demo.compose={folder}/workers.py:compose",
                        f"demo.shout={folder}/workers.py:shout", log=bare.home / "worker.log", **env)
    try:
        out = bare.run("hotmesh", "pubsub", "demo.greet", "--data", '{"name": "world", "shout": true}',
                       "--timeout", "20", **env).stdout
        assert json.loads(out)["data"] == json.loads(DEMO_RESULT), out
    finally:
        for process in (worker, engine):
            stop_process(process)
    timed("bare: deploy, activate, engine + worker, pubsub", started)
