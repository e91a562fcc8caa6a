"""Smoke test of ``bench/waiting.py``: a tiny run end to end (its own redis-server), every job released.

It checks the shape of the JSON line and the release counts; never the timings.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "bench" / "waiting.py"
N = 400


def test_waiting_bench_smoke(tmp_path: Path) -> None:
    out_file = tmp_path / "waiting.jsonl"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--n", str(N), "--procs", "1", "--sleep", "2", "--settle", "0.5",
         "--out", str(out_file)],
        cwd=ROOT, capture_output=True, text=True, timeout=110,
        env={**os.environ, "REDIS_URL": "", "REDIS_PORT": ""},   # its own redis-server
    )
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{proc.stdout[-4000:]}\nstderr:\n{proc.stderr[-6000:]}"
    last = proc.stdout.strip().splitlines()[-1]
    result = json.loads(last)
    assert json.loads(out_file.read_text().strip().splitlines()[-1]) == result
    assert "| parked | **bytes per waiting job**" in proc.stdout          # the markdown table

    assert result["bench"] == "waiting" and result["n"] == N and "errors" not in result
    run = result["run"]
    assert run["timerJobs"] + run["signalJobs"] == N and run["timerJobs"] == N // 2
    for key in ("start", "parked", "release", "completed", "memoryBefore"):
        assert key in run
    for key in ("signal", "timer", "total"):
        assert run["start"][key]["jobsPerSec"] > 0
    assert run["start"]["timer"]["errors"] == 0 and run["start"]["signal"]["errors"] == 0

    parked = run["parked"]
    assert parked["waitingTimers"] == N // 2 and parked["waitingSignals"] == N - N // 2
    # used_memory also moves with client buffers (noise at this N); the dataset bytes do not
    assert parked["datasetBytesPerWaitingJob"] > 0
    assert parked["memory"]["dbsize"] > N
    for key in ("used_memory", "used_memory_human", "redisVmRSS"):
        assert parked["memory"][key]
    assert {"timerJobHash", "signalJobHash", "signalKey", "timersZsetPerTimer"} <= set(parked["breakdown"])

    for kind, count in (("timer", N // 2), ("signal", N - N // 2)):
        release = run["release"][kind]
        assert release["n"] == count
        assert release["released"] == count, release
        assert release["waiting"] == 0 and release["missing"] == 0
        assert release["jobsPerSec"] > 0 and release["seconds"] >= 0
    assert run["release"]["signal"]["hookErrors"] == 0 and run["release"]["signal"]["hooksUnmatched"] == 0

    summary = result["summary"]
    assert summary["timerReleased"] == N // 2 and summary["signalReleased"] == N - N // 2
    assert summary["bytesPerWaitingJob"] == parked["bytesPerWaitingJob"]
    assert result["memoryGuard"]["projectedBytes"] < result["memoryGuard"]["limitBytes"]
