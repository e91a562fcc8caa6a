"""engine, worker, redis and demo: long-running commands and their graceful stop."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
import redis

from hotmesh_core.keys import WORKER_GROUP, JobFields, Keys

from .conftest import Cli, Fleet, eventually


def test_sigterm_drains_the_callback_in_flight(cli: Cli, fleet: Fleet, app_id: str,
                                               sync_redis: redis.Redis) -> None:
    """The worker is stopped while its callback sleeps: the callback finishes and its response is
    sent before the process exits 0, so the job completes."""
    keys = Keys(app_id)
    cli("pub", "cli.double", "--data", '{"id": "drain-1", "x": 4, "sleep": 1.5}').json()
    eventually(lambda: sync_redis.xpending(keys.worker_stream("cli.double.work"), WORKER_GROUP)["pending"] == 1,
               timeout=15)
    assert fleet.worker.stop(signal.SIGTERM) == 0
    assert "SIGTERM: stopping gracefully" in fleet.worker.stderr()
    assert f"worker {fleet.worker_guid} stopped" in fleet.worker.stderr()
    eventually(lambda: sync_redis.hget(keys.job("drain-1"), JobFields.SEMAPHORE) == "0", timeout=15)
    assert cli("state", "cli.double", "drain-1").json()["data"] == {"y": 8}
    assert fleet.engine.stop(signal.SIGINT) == 0                    # Ctrl-C stops it the same way
    assert f"engine {fleet.engine_guid} stopped" in fleet.engine.stderr()


def test_engine_and_worker_banners_in_json(cli: Cli, app_id: str) -> None:
    engine = cli.start("--json", "engine")
    worker = cli.start("worker", "--json", "--concurrency", "2", "cli.x=tests/cli/workers.py:double")
    engine_banner, worker_banner = json.loads(engine.line()), json.loads(worker.line())
    assert engine_banner["role"] == "engine" and engine_banner["app"] == app_id
    assert worker_banner == {"role": "worker", "guid": worker_banner["guid"], "app": app_id,
                             "topics": "cli.x"}
    assert engine.stop() == 0 and worker.stop() == 0


def test_redis_prints_its_url_and_stops_on_sigterm(cli: Cli, tmp_path: Path) -> None:
    data_dir = tmp_path / "redis-data"
    server = cli.start("redis", "--dir", str(data_dir))
    url = server.line()
    assert url.startswith("redis://127.0.0.1:")
    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        assert client.ping() is True
        assert server.stop(signal.SIGTERM) == 0
        with pytest.raises(redis.ConnectionError):
            redis.Redis.from_url(url, socket_connect_timeout=1, retry=None).ping()
    finally:
        client.close()
    assert (data_dir / "redis.log").exists()          # --dir is kept
    unix = cli.start("redis", "--socket")
    socket_url = unix.line()
    assert socket_url.startswith("unix://") and socket_url.endswith("/redis.sock")
    assert redis.Redis.from_url(socket_url).ping() is True
    assert unix.stop(signal.SIGINT) == 0
    assert not Path(socket_url[len("unix://"):]).exists()


def test_demo_runs_the_examples_on_the_embedded_redis(cli: Cli) -> None:
    env = {k: v for k, v in cli.env.items() if k not in ("REDIS_URL", "HOTMESH_APP")}
    env["HOTMESH_DATA_DIR"] = "memory"                 # a throwaway server: nothing left behind
    result = cli("demo", env=env, timeout=60)
    assert result.code == 0, result.stderr
    assert result.stdout.startswith("embedded redis-server running at unix://")
    assert "deployed demo version 1 with workers demo.compose, demo.shout" in result.stdout
    assert '"message": "HELLO, WORLD!"' in result.stdout


def test_worker_timeout_option(cli: Cli) -> None:
    assert "--timeout SECONDS" in cli("worker", "--help").stdout
    refused = cli("worker", "--timeout", "0", "cli.x=tests/cli/workers.py:double")
    assert refused.code == 2 and "Invalid value for '--timeout': 0.0 is not in the range x>0" in refused.stderr


def test_parse_worker_carries_the_timeout() -> None:
    from hotmesh_core.cli.loading import parse_worker

    worker = parse_worker("cli.x=tests/cli/workers.py:double", 4, 2.5)
    assert (worker.topic, worker.concurrency, worker.timeout) == ("cli.x", 4, 2.5)
