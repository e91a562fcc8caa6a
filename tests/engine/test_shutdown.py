"""Shutdown never hangs: ``stop()``, ``async with`` and an exception at any point after ``init`` end
every task within a bound and close every connection, whatever the callbacks do."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from hotmesh_core import HotMesh, Worker

from ..conftest import fast_settings

ROOT = Path(__file__).resolve().parents[2]

APP = """
app:
  id: {APP}
  version: '1'
  graphs:
    - subscribes: {APP}.go
      activities:
        t1: { type: trigger }
        w1: { type: worker, topic: '{APP}.stuck' }
        w2: { type: worker, topic: '{APP}.stuck-sync' }
      transitions:
        t1: [ { to: w1 }, { to: w2 } ]
"""


def client_count(sync_redis: Any) -> int:
    return len(sync_redis.client_list())


def other_tasks() -> set[asyncio.Task[Any]]:
    return {t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()}


async def test_stop_is_bounded_with_stuck_callbacks_and_closes_every_connection(
        redis_url: str, app_id: str, sync_redis: Any) -> None:
    before_tasks = other_tasks()
    before_clients = client_count(sync_redis)
    started = threading.Event()
    forever = threading.Event()

    async def stuck(message: Any) -> dict[str, Any]:
        started.set()
        await asyncio.sleep(3600)
        return {}

    def stuck_sync(message: Any) -> dict[str, Any]:
        started.set()
        forever.wait()                       # a blocking callback that never returns
        return {}

    hm = await HotMesh.init(app_id, redis_url, workers=[Worker(f"{app_id}.stuck", stuck),
                                                         Worker(f"{app_id}.stuck-sync", stuck_sync)],
                            settings=fast_settings())
    await hm.activate(await hm.deploy(APP.replace("{APP}", app_id)))
    await hm.pub(f"{app_id}.go", {})
    await asyncio.to_thread(started.wait, 5)
    await asyncio.sleep(0.2)
    begun = time.monotonic()
    await hm.stop(drain_seconds=1)
    took = time.monotonic() - begun
    forever.set()
    assert took < 4, f"stop took {took:.1f}s"
    await asyncio.sleep(0.1)
    assert other_tasks() - before_tasks == set()
    assert client_count(sync_redis) == before_clients


async def test_async_with_ends_everything_when_the_body_raises(redis_url: str, app_id: str,
                                                               sync_redis: Any) -> None:
    before_tasks = other_tasks()
    before_clients = client_count(sync_redis)
    with pytest.raises(RuntimeError, match="user code failed"):
        async with await HotMesh.init(app_id, redis_url, workers=[Worker(f"{app_id}.stuck", lambda m: {})],
                                      settings=fast_settings()) as hm:
            await hm.deploy(APP.replace("{APP}", app_id))
            raise RuntimeError("user code failed")
    await asyncio.sleep(0.1)
    assert other_tasks() - before_tasks == set()
    assert client_count(sync_redis) == before_clients


def readme_example() -> str:
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    example = next(b for b in blocks if "HotMesh.init" in b and "asyncio.run" in b)
    return example


def run_script(script: str, cwd: Path, timeout: float = 60) -> tuple[subprocess.CompletedProcess[str], float]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("REDIS_URL", None)
    env["HOTMESH_DATA_DIR"] = str(cwd / "data")
    begun = time.monotonic()
    result = subprocess.run([sys.executable, "-c", script], cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=timeout)
    return result, time.monotonic() - begun


def test_the_readme_example_with_a_missing_manifest_exits_with_the_error(tmp_path: Path) -> None:
    script = re.sub(r"hm\.deploy\(.*\)(?=\s*#|\s*$)", 'hm.deploy("no/such/app.yaml")', readme_example(),
                    count=1, flags=re.M)
    assert "no/such/app.yaml" in script
    result, took = run_script(script, tmp_path)
    assert result.returncode == 1, result.stderr[-2000:]
    assert "ManifestError" in result.stderr and "no/such/app.yaml" in result.stderr, result.stderr[-2000:]
    assert took < 15, f"took {took:.1f}s"
    print(f"readme example, missing manifest: exit {result.returncode} after {took:.1f}s")


def test_an_exception_while_a_sync_callback_is_stuck_still_exits(tmp_path: Path, redis_url: str) -> None:
    script = f"""
import asyncio, threading
from hotmesh_core import HotMesh, Worker

started = threading.Event()

def stuck(message):
    started.set()
    threading.Event().wait()          # never returns

async def main():
    hm = await HotMesh.init("shutdown-{os.getpid()}", {redis_url!r}, workers=[Worker("sd.stuck", stuck)])
    await hm.activate(await hm.deploy('''
app:
  id: shutdown-{os.getpid()}
  version: '1'
  graphs:
    - subscribes: sd.go
      activities:
        t1: {{ type: trigger }}
        w1: {{ type: worker, topic: sd.stuck }}
      transitions:
        t1: [ {{ to: w1 }} ]
'''))
    await hm.pub("sd.go", {{}})
    await asyncio.to_thread(started.wait, 10)
    raise RuntimeError("boom after init")       # no stop(): asyncio.run cancels everything

asyncio.run(main())
"""
    result, took = run_script(script, tmp_path)
    assert result.returncode == 1 and "boom after init" in result.stderr, result.stderr[-2000:]
    assert took < 15, f"took {took:.1f}s"


def test_the_readme_example_runs_from_another_folder(tmp_path: Path) -> None:
    result, took = run_script(readme_example(), tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "'message': 'hello, world!'" in result.stdout, result.stdout
    print(f"readme example: {result.stdout.strip()} in {took:.1f}s")
