"""Unit tests of ``bench/common.py``'s logic, and of its TLS redis-server start helper."""

from __future__ import annotations

import math
import os
import shutil
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import common  # noqa: E402


def test_pct_nearest_rank() -> None:
    values = [float(x) for x in range(1, 101)]            # 1..100
    assert common.pct(values, 50) == 50.0
    assert common.pct(values, 90) == 90.0
    assert common.pct(values, 99) == 99.0
    assert common.pct(values, 100) == 100.0
    assert common.pct(values, 0) == 1.0
    assert common.pct([7.0], 99) == 7.0
    assert common.pct([1.0, 2.0, 3.0], 50) == 2.0          # ceil(1.5) - 1 = 1
    assert common.pct([], 50) is None


def test_change_pct_and_human() -> None:
    assert common.change_pct(200.0, 250.0) == 25.0
    assert common.change_pct(2.0, 1.0) == -50.0
    assert common.change_pct(-2.0, -1.0) == 50.0
    assert common.change_pct(0.0, 1.0) is None and common.change_pct(None, 1.0) is None
    assert common.human(None) == "-"
    assert common.human(512) == "512 B"
    assert common.human(1536) == "1.5 KiB"
    assert common.human(3 * 2**30) == "3.0 GiB"
    assert common.human(5 * 2**40) == "5120.0 GiB"


def test_table_helpers() -> None:
    assert common.cell(None, ".1f") == "-"
    assert common.cell(1.25, ".1f") == "1.2"
    assert common.cell("x") == "x"
    table = common.markdown_table(["a", "b"], [[1, "-"], ["x", 2.5]], "lr")
    assert table.splitlines() == ["| a | b |", "|---|---:|", "| 1 | - |", "| x | 2.5 |"]


def test_urls() -> None:
    assert common.redis_url(6380) == "redis://127.0.0.1:6380/0"
    assert common.with_query("redis://h:1/0", max_connections=8) == "redis://h:1/0?max_connections=8"
    assert common.with_query("redis://h:1/0", max_connections=None) == "redis://h:1/0"
    url = common.with_query("rediss://h:1/0?ssl_ca_certs=/tmp/ca.pem", max_connections=4)
    assert url == "rediss://h:1/0?ssl_ca_certs=/tmp/ca.pem&max_connections=4"
    assert common.is_tls(url) and not common.is_tls("redis://h:1/0")
    assert common.redacted("redis://u:secret@h:1/0") == "redis://u:***@h:1/0"
    assert common.redacted("redis://h:1/0") == "redis://h:1/0"


def test_ju_ms_and_busy_cores() -> None:
    cache: dict[str, int] = {}
    assert common.ju_ms("20240101000000.250", cache) == 1_704_067_200_250
    assert cache == {"20240101000000": 1_704_067_200_000}
    assert common.ju_ms("garbage", cache) is None
    s0 = {"total": 1000, "idle": 800, "steal": 0}
    s1 = {"total": 1000 + 4 * common.CLK_TCK, "idle": 800 + 2 * common.CLK_TCK, "steal": 0}
    assert math.isclose(common.busy_cores(s0, s1, 2.0) or 0, 1.0)
    assert common.busy_cores(None, s1, 2.0) is None and common.busy_cores(s0, s1, 0) is None


def test_proc_readers() -> None:
    if not Path("/proc/self/status").exists():
        pytest.skip("no /proc")
    assert common.proc_status_kb()["VmRSS"] > 0
    assert common.proc_memory_bytes()["VmRSS"] > 1024
    assert (common.proc_cpu_seconds(os.getpid()) or 0) >= 0
    assert common.proc_stat() is not None and common.meminfo().get("MemTotal", 0) > 0


def _tls_redis_available() -> bool:
    from hotmesh_core.errors import RedisServerError
    from hotmesh_core.redis_server import find_redis_server

    try:
        find_redis_server()
    except RedisServerError:
        return False
    return shutil.which("openssl") is not None


@pytest.mark.skipif(not _tls_redis_available(), reason="no redis-server or openssl")
def test_tls_redis_server() -> None:
    server = common.start_redis(tls=True)
    try:
        assert server.url.startswith(f"rediss://127.0.0.1:{server.port}/0?ssl_ca_certs=")
        assert server.tls_files.ca.exists() and server.tls_files.cert.exists() and server.tls_files.key.exists()
        if shutil.which("redis-cli"):
            assert common.redis_cli_tls_ping(server.port, server.tls_files.ca) == "PONG"
        admin = common.sync_client(server.url)                 # the harness' admin client, over TLS
        try:
            assert admin.ping() is True
            assert admin.config_get("port") == {"port": "0"}       # no plain TCP listener
            assert admin.config_get("tls-port") == {"tls-port": str(server.port)}
        finally:
            admin.close()
        assert not common.tls_ping(server.port, BENCH / "bench.yaml")   # not a CA: the check must fail
    finally:
        server.stop()
    assert not server.data_dir.exists()                         # certificates and keys removed


@pytest.mark.skipif(not _tls_redis_available(), reason="no redis-server or openssl")
def test_hotmesh_bench_over_tls(tmp_path: Path) -> None:
    """``hotmesh_bench.py --tls``: its own TLS-only redis-server; the harness and the core connect over TLS."""
    import json
    import subprocess

    proc = subprocess.run([sys.executable, str(BENCH / "hotmesh_bench.py"), "--tls", "--scenario", "seq", "--n", "40",
                           "--lat", "5", "--warmup", "2", "--idle-ms", "200", "--settle-ms", "100",
                           "--out", str(tmp_path / "out.jsonl")],
                          capture_output=True, text=True, timeout=90, env={**os.environ, "REDIS_PORT": ""})
    assert proc.returncode == 0, proc.stderr[-4000:]
    result = json.loads(proc.stdout)
    assert result["env"]["redisUrl"].startswith("rediss://127.0.0.1:") and "errors" not in result
    assert set(result["phases"]) == {"pub", "pubsub_concurrent", "pubsub_sequential"}
