"""CLI fixtures: run ``python -m hotmesh_core.cli`` as real subprocesses against the session Redis.

``cli`` runs one command and returns its exit code, stdout and stderr; ``cli.start`` runs a
long-lived one (engine, worker, redis) in the background, and every background process is
stopped in teardown. ``fleet`` is an engine process and a worker process serving the test's app,
with version 1 deployed and activated.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from hotmesh_core import QuorumError
from hotmesh_core.sync import SyncHotMesh

from .apps import V1, write

ROOT = Path(__file__).resolve().parents[2]
WORKER_SPECS = ("cli.double.work=tests.cli.workers:double",      # module:function
                "cli.fail.work=tests/cli/workers.py:fail")        # file path:function


@dataclass(frozen=True)
class Result:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        assert self.code == 0, self
        return json.loads(self.stdout)

    @property
    def error(self) -> str:
        """The one line a failing command prints on stderr."""
        lines = self.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in self.stderr, self.stderr
        return lines[0]


@dataclass
class Background:
    """A long-running command; ``line()`` reads its stdout one line at a time, with a timeout."""

    process: subprocess.Popen[bytes]
    stderr_path: Path
    _buffer: bytes = b""

    def line(self, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        assert self.process.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            while b"\n" not in self._buffer:
                left = deadline - time.monotonic()
                if left <= 0 or not selector.select(left):
                    raise AssertionError(f"no output within {timeout}s; stderr: {self.stderr()}")
                chunk = os.read(self.process.stdout.fileno(), 4096)
                if not chunk:
                    raise AssertionError(f"exited with {self.process.wait()}; stderr: {self.stderr()}")
                self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode()

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
                raise AssertionError(f"did not stop within {timeout}s after {sig}") from None
        if self.process.stdout:
            self.process.stdout.close()
        return self.process.returncode


@dataclass
class Cli:
    env: dict[str, str]
    tmp_path: Path
    started: list[Background] = field(default_factory=list)

    def __call__(self, *args: str, input: str | None = None, timeout: float = 30.0,
                 env: dict[str, str] | None = None) -> Result:
        done = subprocess.run([sys.executable, "-m", "hotmesh_core.cli", *args], cwd=ROOT,
                              env=env or self.env, input=input, capture_output=True, text=True,
                              timeout=timeout, stdin=None if input is not None else subprocess.DEVNULL)
        return Result(done.returncode, done.stdout, done.stderr)

    def start(self, *args: str, env: dict[str, str] | None = None) -> Background:
        stderr_path = self.tmp_path / f"bg-{len(self.started)}-{args[0]}.err"
        with stderr_path.open("wb") as stderr:
            process = subprocess.Popen([sys.executable, "-m", "hotmesh_core.cli", *args], cwd=ROOT,
                                       env=env or self.env, stdin=subprocess.DEVNULL,
                                       stdout=subprocess.PIPE, stderr=stderr)
        background = Background(process, stderr_path)
        self.started.append(background)
        return background


@pytest.fixture
def cli(redis_url: str, app_id: str, tmp_path: Path) -> Iterator[Cli]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HMSH_", "HOTMESH_", "REDIS_URL"))}
    env.update(REDIS_URL=redis_url, HOTMESH_APP=app_id, HMSH_BLOCK_TIME_MS="300",
               HMSH_FIDELITY_SECONDS="1")
    runner = Cli(env, tmp_path)
    yield runner
    for background in runner.started:
        if background.process.poll() is None:
            background.process.kill()
            background.process.wait(5)
        if background.process.stdout:
            background.process.stdout.close()


@dataclass
class Fleet:
    engine: Background
    worker: Background
    engine_guid: str
    worker_guid: str
    manifest: Path


@pytest.fixture
def fleet(cli: Cli, redis_url: str, app_id: str, tmp_path: Path) -> Iterator[Fleet]:
    """``hotmesh engine`` and ``hotmesh worker`` running; v1 deployed and activated (in-process)."""
    engine = cli.start("engine")
    worker = cli.start("worker", *WORKER_SPECS)
    manifest = write(tmp_path, "app.yaml", V1, app_id)
    client = SyncHotMesh(app_id, redis_url, engine=False)
    try:
        version = client.deploy(manifest)           # while the processes start
        engine_banner, worker_banner = engine.line(), worker.line()
        assert engine_banner.startswith("engine ") and f"running for app {app_id}" in engine_banner
        assert worker_banner.startswith("worker ") and "topics cli.double.work,cli.fail.work" in worker_banner
        _activate(client, version)                  # the quorum needs them subscribed
    finally:
        client.stop()
    yield Fleet(engine, worker, engine_banner.split()[1], worker_banner.split()[1], manifest)
    for background in (engine, worker):     # every fleet test also checks the graceful stop
        assert background.stop() == 0, background.stderr()
        assert "Traceback" not in background.stderr(), background.stderr()


def _activate(client: SyncHotMesh, version: str) -> None:
    """Setup, not the test: one more try if a pong came late on a loaded machine (QuorumError)."""
    try:
        client.activate(version)
    except QuorumError:
        client.activate(version)


def eventually(check: Callable[[], Any], timeout: float = 10.0, interval: float = 0.1) -> Any:
    """The sync twin of ``tests.helpers.assert_eventually``: poll until truthy, without raising."""
    deadline = time.monotonic() + timeout
    last: AssertionError | None = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except AssertionError as exc:
            last = exc
        time.sleep(interval)
    raise last or AssertionError(f"condition not met within {timeout}s")
