"""roll-call and throttle against a running engine process and worker process."""

from __future__ import annotations

import redis

from hotmesh_core.keys import JobFields, Keys

from ..helpers import backlog
from .conftest import Cli, Fleet, eventually

PAUSED = 2_147_483_647


def test_roll_call_and_throttle(cli: Cli, fleet: Fleet, app_id: str, sync_redis: redis.Redis) -> None:
    """roll-call lists every member; throttle pauses one topic (its message waits unread), resumes it,
    then reaches every member, then one guid."""
    profiles = cli("roll-call", "--json", "--delay", "0.5").json()
    members = sorted((p["role"], p["topic"], p["guid"]) for p in profiles)
    assert members == [("engine", None, fleet.engine_guid),
                       ("worker", "cli.double.work", fleet.worker_guid),
                       ("worker", "cli.fail.work", fleet.worker_guid)]
    for profile in profiles:
        assert profile["stream_depth"] == 0 and profile["throttle"] == 0
        assert isinstance(profile["counts"], dict) and isinstance(profile["system"]["pid"], int)
    table = cli("roll-call").stdout.splitlines()
    assert table[0].split()[:6] == ["ROLE", "TOPIC", "GUID", "DEPTH", "THROTTLE", "COUNTS"]
    rows = sorted(line.split()[:5] for line in table[1:-1])
    assert rows == [["engine", "-", fleet.engine_guid, "0", "-"],
                    ["worker", "cli.double.work", fleet.worker_guid, "0", "-"],
                    ["worker", "cli.fail.work", fleet.worker_guid, "0", "-"]]
    assert table[-1] == "3 member(s): 1 engine(s), 2 worker(s)"

    # throttle (same fleet: each fleet costs seconds of process start-up)
    keys = Keys(app_id)
    paused = cli("throttle", "pause", "--topic", "cli.double.work", "--json").json()
    assert paused == {"throttle": -1, "topic": "cli.double.work", "guid": None, "heard": 1}
    cli("pub", "cli.double", "--data", '{"id": "held", "x": 3}').json()
    eventually(lambda: backlog(sync_redis, keys.worker_stream("cli.double.work")) == 1, timeout=15)
    profiles = {p["topic"]: p for p in cli("--json", "roll-call").json()}
    assert profiles["cli.double.work"]["throttle"] == PAUSED      # the message waits, unread
    assert profiles["cli.double.work"]["stream_depth"] == 1 and profiles["cli.fail.work"]["throttle"] == 0
    assert int(sync_redis.hget(keys.job("held"), JobFields.SEMAPHORE) or 0) > 0
    resumed = cli("throttle", "resume", "--topic", "cli.double.work").stdout.splitlines()
    assert resumed[0].split() == ["SCOPE", "THROTTLE", "HEARD", "BY"]
    assert resumed[1].split() == ["topic", "cli.double.work", "resumed", "1", "member(s)"]
    eventually(lambda: sync_redis.hget(keys.job("held"), JobFields.SEMAPHORE) == "0", timeout=15)
    everyone = cli("throttle", "-1", "--json").json()        # -1 is a value here, not an option
    assert everyone == {"throttle": -1, "topic": None, "guid": None, "heard": 3}
    assert cli("--json", "throttle", "0").json()["heard"] == 3
    one = cli("throttle", "25", "--guid", fleet.engine_guid).stdout.splitlines()
    assert one[1].split() == ["guid", fleet.engine_guid, "25", "ms", "1", "member(s)"]
