"""Smoke test of bench/scale.py and bench/soak.py: tiny runs as subprocesses, JSON shape and completion.

Each script starts its own private redis-server. Nothing here checks a timing.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from hotmesh_core.errors import RedisServerError
from hotmesh_core.redis_server import find_redis_server

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _have_redis() -> bool:
    try:
        find_redis_server()
    except RedisServerError:
        return False
    return True


pytestmark = pytest.mark.skipif(not _have_redis(), reason="no redis-server binary")


def _run(script: str, *args: str, timeout: float = 90) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, str(BENCH / script), *args], capture_output=True, text=True,
                          timeout=timeout)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert proc.returncode == 0 and lines, f"{script} exited {proc.returncode}\n{proc.stderr[-4000:]}"
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def test_scale_smoke() -> None:
    result = _run("scale.py", "--engines", "1,2", "--n", "300", "--warmup", "30", "--timeout", "80")
    assert result["bench"] == "scale" and result["engines"] == [1, 2] and "errors" not in result
    assert [row["engines"] for row in result["rows"]] == [1, 2]
    for row in result["rows"]:
        for key in ("workflowsPerSec", "speedup", "redisCpuCores", "engineCpuCores", "engineCpuCoresEach",
                    "publisherCpuCores", "machineBusyCores", "redisCommandsPerWorkflow", "limit"):
            assert key in row, key
        assert row["completed"] == 300 and row["pubErrors"] == 0
        assert len(row["engineCpuCoresEach"]) == row["engines"]
        assert row["limit"].split(" ")[0] in ("redis-bound", "engine", "other")
    assert result["summary"]


def test_soak_smoke() -> None:
    result = _run("soak.py", "--n", "2000", "--every", "500", "--settle-ms", "1100", "--timeout", "80")
    assert result["bench"] == "soak" and "errors" not in result
    assert result["completed"] == 2000 and result["pubErrors"] == 0
    assert [s["jobs"] for s in result["samples"]] == [0, 500, 1000, 1500, 2000]
    for sample in result["samples"]:
        for key in ("engineRssMb", "engineGcObjects", "engineTasks", "publisherRssMb", "redisUsedMemoryMb",
                    "redisDbsize"):
            assert sample[key] is not None, key
    rss = result["growth"]["engineRssMb"]
    assert rss["fromJobs"] == 500 and rss["toJobs"] == 2000
    assert result["verdict"].split(":")[0] in ("flat", "GROWS")


def test_idle_counts_the_commands_of_idle_processes() -> None:
    result = _run("idle.py", "--processes", "1", "--seconds", "3", "--timer")
    assert result["processes"] == 1 and result["timersWaiting"] == 1
    assert result["seconds"] >= 3
    assert result["commands"] == sum(result["breakdown"].values())
    assert "config" not in result["breakdown"] and "info" not in result["breakdown"]
