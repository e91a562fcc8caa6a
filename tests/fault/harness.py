"""Process supervisor, fault app and invariant checker for the fault tests (reliability.md section 5)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from hotmesh_core.keys import Keys

from ..helpers import backlog

RUNNER = Path(__file__).with_name("runner.py")
ROOT = Path(__file__).resolve().parents[2]

FAULT_APP = """
app:
  id: {APP}
  version: '1'
  graphs:
    - subscribes: fault.test
      expire: 300
      activities:
        t: { type: trigger, stats: { id: '{$self.input.data.id}' } }
        w1:
          type: worker
          topic: f.one
          input: { maps: { x: 1, poison: '{t.output.data.poison}' } }
          job: { maps: { a: '{$self.output.data.n}' } }
        w2:
          type: worker
          topic: f.two
          input: { maps: { x: '{w1.output.data.n}' } }
          job: { maps: { b: '{$self.output.data.n}' } }
        c:
          type: await
          topic: fault.child
          input: { maps: { id: { '@pipe': [ ['{t.output.data.id}', '-c'], ['{@string.concat}'] ] } } }
          job: { maps: { c: '{$self.output.data.k}' } }
        s: { type: hook, sleep: '{t.output.data.sleep}', job: { maps: { slept: true } } }
      transitions:
        t: [ { to: w1 }, { to: s } ]
        w1: [ { to: w2 }, { to: c } ]
    - subscribes: fault.child
      expire: 300
      activities:
        k0: { type: trigger, stats: { id: '{$self.input.data.id}' } }
        k1: { type: worker, topic: f.two, input: { maps: { x: 10 } }, job: { maps: { k: '{$self.output.data.n}' } } }
      transitions:
        k0: [ { to: k1 } ]
"""
EXPECTED = {"a": 2, "b": 3, "c": 11, "slept": True}
TOPICS = "f.one,f.two"
FAST = {"reclaim_delay_ms": 1000, "reclaim_interval_ms": 250, "block_time_ms": 500, "fidelity_seconds": 1,
        "scout_lease_seconds": 1, "expire_seconds": 300, "reclaim_count": 3}


@dataclass
class Fleet:
    """Engine and worker subprocesses of one app; every test stops them all at the end."""

    url: str
    app: str
    tmp: Path
    procs: list[subprocess.Popen[str]] = field(default_factory=list)

    @property
    def oracle(self) -> Path:
        return self.tmp / "oracle.log"

    def start(self, role: str, *, env: dict[str, str] | None = None, work: str = "0.01,0.05",
              settings: dict[str, Any] | None = None, topics: str = TOPICS) -> subprocess.Popen[str]:
        args = [sys.executable, str(RUNNER), "--url", self.url, "--app", self.app, "--role", role,
                "--topics", topics, "--oracle", str(self.oracle), "--work", work,
                "--settings", json.dumps({**FAST, **(settings or {})})]
        with (self.tmp / f"{role}-{len(self.procs)}.err").open("w") as errors:
            proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=errors, text=True,
                                    env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})
        self.procs.append(proc)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if line.strip() != "ready" and not (env and env.get("HOTMESH_FAULTS")):
            raise AssertionError(f"{role} process did not start: {line!r}")
        return proc

    @staticmethod
    def kill(proc: subprocess.Popen[str]) -> None:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for proc in self.procs:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.kill(proc)


@dataclass
class Report:
    jobs: int
    lost: list[str]
    dup_engine: list[str]
    dup_exec: int
    wrong_data: list[str]
    pending_entries: int
    stream_entries: int

    def __str__(self) -> str:
        return (f"jobs={self.jobs} lost={len(self.lost)} dup_engine={len(self.dup_engine)} "
                f"dup_exec={self.dup_exec} wrong_data={len(self.wrong_data)} "
                f"pending={self.pending_entries} stream={self.stream_entries}")


_KEYS: dict[str, Keys] = {}


def app_keys(client: redis.Redis, app: str) -> Keys:
    """The ``Keys`` of ``app`` with its recorded shard count (a sharded app's job keys carry a tag)."""
    if app not in _KEYS:
        shards = client.hget(f"hmsh:{app}:a:", "shards")
        if shards is None:
            return Keys(app)
        _KEYS[app] = Keys(app, shards=int(shards))
    return _KEYS[app]


def job_key(client: redis.Redis, app: str, jid: str) -> str:
    return app_keys(client, app).job(jid)


def job_done(client: redis.Redis, app: str, jid: str) -> bool:
    return client.hget(job_key(client, app, jid), ":") == "0"


def all_done(client: redis.Redis, app: str, jids: list[str]) -> bool:
    with client.pipeline(transaction=False) as pipe:
        for jid in jids:
            pipe.hget(job_key(client, app, jid), ":")
        return all(v == "0" for v in pipe.execute())


def job_hashes(client: redis.Redis, app: str, jids: list[str],
               chunk: int = 500) -> Iterator[tuple[str, dict[str, str], dict[str, str]]]:
    """``(jid, job hash, child job hash)`` of each job, read in pipelined chunks (a soak checks
    100,000 jobs: one round trip each would take minutes on a loaded machine)."""
    for start in range(0, len(jids), chunk):
        part = jids[start:start + chunk]
        with client.pipeline(transaction=False) as pipe:
            for jid in part:
                pipe.hgetall(job_key(client, app, jid))
                pipe.hgetall(job_key(client, app, f"{jid}-c"))
            replies = pipe.execute()
        yield from zip(part, replies[::2], replies[1::2], strict=True)


def check(client: redis.Redis, app: str, jids: list[str], oracle: Path,
          expected: dict[str, Any] | None = None) -> Report:
    """The invariants: one terminal state per job, completion counter 1, ledgers closed exactly,
    the expected data, the child spawned once, empty pending lists and streams."""
    lost, dup, wrong = [], [], []
    for jid, raw, child in job_hashes(client, app, jids):
        if raw.get(":") != "0":
            lost.append(jid)
            continue
        ledgers = {k: v for k, v in raw.items() if k.startswith("l/")}
        if raw.get(":done") != "1" or any(v != "888000001000001" for v in ledgers.values()):
            dup.append(jid)
        if child and child.get(":done") != "1":
            dup.append(jid + "-c")
        data = {k[2:]: v for k, v in raw.items() if k.startswith("d/")}
        decoded = {k: json.loads(v[2:]) if v.startswith("/d") else (v == "/t" if v in ("/t", "/f") else v)
                   for k, v in data.items()}
        if expected is not None and decoded != expected:
            wrong.append(jid)
    lines = oracle.read_text().splitlines() if oracle.exists() else []
    runs = Counter(tuple(line.split(",")[:3]) for line in lines)
    dup_exec = sum(n - 1 for n in runs.values())
    pending = stream = 0
    for key in client.scan_iter(match=f"hmsh:{app}:x:*"):
        stream += backlog(client, key)
        for group in client.xinfo_groups(key):
            pending += int(group["pending"])
    return Report(len(jids), lost, dup, dup_exec, wrong, pending, stream)


def deploy(url: str, app: str, text: str = FAULT_APP) -> None:
    """Deploy and activate with a short-lived client process (the test's own loop stays free)."""
    code = ("import asyncio,sys\nfrom hotmesh_core import HotMesh\n"
            "async def main():\n"
            f"    hm = await HotMesh.init({app!r}, {url!r}, engine=False)\n"
            "    v = await hm.deploy(sys.stdin.read()); await hm.activate(v); await hm.stop()\n"
            "asyncio.run(main())\n")
    subprocess.run([sys.executable, "-c", code], input=text.replace("{APP}", app), text=True, check=True,
                   env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60)
