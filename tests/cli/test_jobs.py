"""Job commands against a running engine and worker: pub, pubsub, state, status, export, scrub,
hook and interrupt."""

from __future__ import annotations

import json
import re
from pathlib import Path

import redis

from hotmesh_core.keys import JobFields, Keys

from .conftest import Cli, Fleet, eventually


def _status(sync_redis: redis.Redis, app_id: str, jid: str) -> int | None:
    value = sync_redis.hget(Keys(app_id).job(jid), JobFields.SEMAPHORE)
    return None if value is None else int(value)


def test_pub_status_state_export_scrub(cli: Cli, fleet: Fleet, app_id: str, sync_redis: redis.Redis) -> None:
    assert cli("pub", "cli.double", "--data", '{"id": "job-a", "x": 21}').json() == {"job_id": "job-a"}
    eventually(lambda: _status(sync_redis, app_id, "job-a") == 0, timeout=15)
    assert cli("status", "job-a").json() == {"job_id": "job-a", "status": 0}
    state = cli("state", "cli.double", "job-a").json()
    assert state["data"] == {"y": 42}
    assert state["metadata"]["jid"] == "job-a" and state["metadata"]["js"] == 0
    exported = cli("export", "job-a").json()
    assert exported["data"] == {"y": 42} and exported["status"] == "0"
    activities = {a["aid"]: a for a in exported["activities"]}
    assert set(activities) == {"t1", "w1"} and activities["w1"]["output"] == {"y": 42}
    assert activities["w1"]["input"] == {"x": 21} and activities["w1"]["type"] == "worker"
    assert cli("scrub", "job-a").json() == {"job_id": "job-a", "scrubbed": True}
    assert _status(sync_redis, app_id, "job-a") is None
    gone = cli("status", "job-a")
    assert gone.code == 1 and gone.error == "error: Job job-a not found (code 404)"
    assert cli("scrub", "job-a").json() == {"job_id": "job-a", "scrubbed": False}


def test_pubsub_prints_the_output_or_fails_with_the_job_error(cli: Cli, fleet: Fleet, tmp_path: Path) -> None:
    job = cli("pubsub", "cli.double", input='{"x": 5}').json()          # input from stdin
    assert job["data"] == {"y": 10} and job["metadata"]["js"] == 0 and job["metadata"]["tpc"] == "cli.double"
    data_file = tmp_path / "data.json"
    data_file.write_text('{"why": "it fails"}')
    failed = cli("pubsub", "cli.fail", "--data-file", str(data_file))
    assert failed.code == 1 and failed.stdout == ""
    assert re.fullmatch(r"error: job \S+ failed with code 500: the cli test worker fails on purpose",
                        failed.error), failed.error
    waiting = cli("pubsub", "cli.wait", "--data", '{"id": "slow-1"}', "--timeout", "0.5")
    assert waiting.code == 1
    assert waiting.error == "error: timeout waiting for job slow-1 (code 504); the job goes on"


def test_hook_and_interrupt(cli: Cli, fleet: Fleet, app_id: str, sync_redis: redis.Redis,
                            tmp_path: Path) -> None:
    """hook resumes a waiting job; interrupt stops two others (with and without an error)."""
    keys = Keys(app_id)
    for jid in ("hooked", "stop-1", "stop-2"):
        assert cli("pub", "cli.wait", "--data", json.dumps({"id": jid})).json() == {"job_id": jid}
    eventually(lambda: all(sync_redis.exists(keys.signal("cli.resume", j)) for j in ("hooked", "stop-1", "stop-2")),
               timeout=15)
    signal_file = tmp_path / "signal.json"
    signal_file.write_text(json.dumps({"id": "hooked", "answer": 42}))
    sent = cli("hook", "cli.resume", "--data-file", str(signal_file)).json()
    assert sent["delivered"] is True and re.fullmatch(r"\d+-\d+", sent["id"]), sent
    eventually(lambda: _status(sync_redis, app_id, "hooked") == 0, timeout=15)
    assert cli("state", "cli.wait", "hooked").json()["data"] == {"answer": 42}
    nobody = cli("hook", "cli.resume", "--data", '{"id": "nobody"}', "--status", "error", "--code", "422")
    assert nobody.json() == {"delivered": False, "id": None}
    done = cli("interrupt", "cli.wait", "stop-1", "--reason", "stop it", "--code", "499", "--expire", "30")
    assert done.json() == {"job_id": "stop-1", "interrupted": True}
    state = cli("state", "cli.wait", "stop-1").json()
    assert state["metadata"]["js"] < -100_000_000
    assert json.loads(state["metadata"]["err"])["code"] == 499
    assert json.loads(state["metadata"]["err"])["message"] == "stop it"
    assert 20 < sync_redis.ttl(keys.job("stop-1")) <= 30
    quiet = cli("interrupt", "cli.wait", "stop-2", "--no-throw", "--descend")
    assert quiet.json() == {"job_id": "stop-2", "interrupted": True}
    assert (_status(sync_redis, app_id, "stop-2") or 0) < -100_000_000
    assert sync_redis.hget(keys.job("stop-2"), JobFields.meta("err")) is None       # --no-throw: no error
    again = cli("interrupt", "cli.wait", "stop-1")
    assert again.code == 1 and again.error == "error: Job stop-1 already completed (code 410)"


def test_resume_and_rerun(cli: Cli, fleet: Fleet, app_id: str, sync_redis: redis.Redis) -> None:
    """jobs resume re-opens a failed job at its failed worker with edited input; jobs rerun starts a
    linked copy; both refuse what they cannot do with one error line."""
    key = Keys(app_id).job("r-1")
    assert cli("pub", "cli.double", "--data", '{"id": "r-1", "x": "not a number"}').json() == {"job_id": "r-1"}
    eventually(lambda: _status(sync_redis, app_id, "r-1") == 0 and sync_redis.hget(key, "m/err"), timeout=15)
    same = cli("jobs", "resume", "r-1", "--activity", "nope")
    assert same.code == 1 and same.error == "error: Job r-1 (version 1) has no activity 'nope' (code 400)"
    resumed = cli("jobs", "resume", "r-1", "--data", '{"x": 4}').json()
    assert resumed["activity"] == "w1" and resumed["input"] == {"x": 4} and resumed["edited"] is True
    eventually(lambda: _status(sync_redis, app_id, "r-1") == 0 and not sync_redis.hget(key, "m/err"), timeout=15)
    assert cli("state", "cli.double", "r-1").json()["data"] == {"y": 8}
    [record] = cli("export", "r-1").json()["history"]
    assert record["kind"] == "resume" and record["failed"]["input"] == {"x": "not a number"}
    again = cli("jobs", "resume", "r-1")
    assert again.code == 1 and again.error.startswith("error: Job r-1 completed without error") \
        and again.error.endswith("(code 409)")

    duplicate = cli("jobs", "rerun", "r-1")             # the graph takes the job id from the input
    assert duplicate.code == 1 and duplicate.error == "error: Duplicate job: r-1 (code 409)"
    copy = cli("rerun", "r-1", "--data", '{"id": "r-2", "x": 5}').json()
    assert copy["jid"] == "r-2" and copy["from"] == "r-1" and copy["input"] == {"id": "r-2", "x": 5}
    eventually(lambda: _status(sync_redis, app_id, "r-2") == 0, timeout=15)
    assert cli("state", "cli.double", "r-2").json()["data"] == {"y": 10}
    assert cli("export", "r-2").json()["rerun_of"] == "r-1"
    assert cli("export", "r-1").json()["history"][-1]["to"] == "r-2"
