"""The wheel, built once per session from a copy of the sources, and fresh venvs that install it.

These tests run in ``make test`` (deselect them locally with ``-m 'not packaging'``). They need
pip to reach PyPI (or its cache) for the build backend and the extras' dependencies; they fail,
loudly, when it cannot. Each step prints how long it took, so the CI cost is visible (``-s``, or
in the report of a failure).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from hotmesh_core import RedisServer

ROOT = Path(__file__).resolve().parents[2]
#: What the build reads: the rest of the checkout (tests, bench, .venv...) stays out of its reach.
SOURCES = ("pyproject.toml", "README.md", "hotmesh_core", "studio", "assets", "notebooks")
#: Settings of the test process that would let a venv see the checkout or this session's state.
LEAKS = ("PYTHONPATH", "VIRTUAL_ENV", "HOTMESH_ASSETS", "REDIS_URL", "HOTMESH_APP", "PYTHONHOME")


TIMINGS: list[str] = []


def timed(what: str, started: float) -> None:
    line = f"{what}: {time.monotonic() - started:.1f} s"
    TIMINGS.append(line)
    print(f"[packaging] {line}", file=sys.stderr)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """What the wheel tests cost, at the end of every run that ran them."""
    if TIMINGS:
        terminalreporter.write_sep("-", "packaging: time per step")
        for line in TIMINGS:
            terminalreporter.write_line(line)


def run(args: list[str | Path], timeout: float = 600, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout, **kwargs)
    if result.returncode != 0:
        pytest.fail(f"{' '.join(map(str, args))} exited with {result.returncode}\n"
                    f"stdout:\n{result.stdout[-4000:]}\nstderr:\n{result.stderr[-4000:]}")
    return result


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``pip wheel --no-deps`` of a copy of the sources (the build leaves build/ and *.egg-info
    behind: not in the checkout)."""
    started = time.monotonic()
    base = tmp_path_factory.mktemp("wheel")
    source = base / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints")
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=ignore)
        else:
            source.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--disable-pip-version-check",
         "-w", base / "dist", source])
    wheels = sorted((base / "dist").glob("hotmesh_core-*.whl"))
    assert len(wheels) == 1, wheels
    timed(f"build {wheels[0].name}", started)
    return wheels[0]


@dataclass
class Venv:
    path: Path
    home: Path           # a folder outside the checkout to run commands from

    @property
    def bin(self) -> Path:
        return self.path / "bin"

    @property
    def python(self) -> Path:
        return self.bin / "python"

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in LEAKS}
        env["PATH"] = f"{self.bin}{os.pathsep}{env.get('PATH', '')}"
        env["PYTHONUNBUFFERED"] = "1"
        env["PYTHONNOUSERSITE"] = "1"
        return {**env, **extra}

    def run(self, *args: str | Path, timeout: float = 120, **extra: str) -> subprocess.CompletedProcess[str]:
        return run(list(args), timeout=timeout, cwd=self.home, env=self.env(**extra))

    def popen(self, *args: str | Path, log: Path, **extra: str) -> subprocess.Popen[bytes]:
        with log.open("wb") as out:
            return subprocess.Popen([str(a) for a in args], cwd=self.home, env=self.env(**extra), stdout=out,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def make_venv(base: Path, requirement: str) -> Venv:
    """A venv without pip of its own (faster): this interpreter's pip installs into it, from its cache."""
    started = time.monotonic()
    path, home = base / "venv", base / "home"
    home.mkdir()
    venv = Venv(path, home)
    run([sys.executable, "-m", "venv", "--without-pip", path])
    run([sys.executable, "-m", "pip", "--python", venv.python, "install", "--quiet", "--disable-pip-version-check",
         requirement], timeout=900, env=venv.env())     # env: no PYTHONPATH that could satisfy a requirement
    timed(f"venv + pip install {Path(requirement).name}", started)
    return venv


@pytest.fixture(scope="module")
def redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A redis-server of their own: the example apps they deploy keep their real ids (demo, orders)."""
    server = RedisServer(port=0, data_dir=tmp_path_factory.mktemp("redis-packaging"))
    server.start()
    yield server
    server.stop()
