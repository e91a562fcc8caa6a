"""Idle cost: Redis commands per second sent by engine processes that have nothing to do.

    .venv/bin/python bench/idle.py [--processes 2] [--seconds 300] [--ref REF] [--timer]

A private redis-server, an app with a worker and a time hook deployed, ``--processes`` processes
each running an engine and the worker, idle. After a warm-up, ``CONFIG RESETSTAT``, then
``--seconds`` of nothing, then ``INFO commandstats``: the commands every process sent meanwhile
(the admin's own two commands are not counted), per second per process, with the breakdown by
command. ``--timer`` first starts a job that waits on a time hook due in an hour (a timer is waiting
but not near). ``--ref REF`` measures hotmesh_core as of git commit REF (``git archive``) instead of the
working tree: the before/after figure of a change. The reference (HotMesh 0.3.32) sends about 0.2
commands per second per idle process (bench/README.md).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import REPO, export_ref, git_head, put_repo_on_path, start_redis

APP = """
app:
  id: idle
  version: '1'
  graphs:
    - subscribes: idle.go
      activities:
        t: { type: trigger }
        w: { type: worker, topic: idle.work }
        nap: { type: hook, sleep: '{t.output.data.sleep}' }
      transitions:
        t: [ { to: w } ]
        w: [ { to: nap } ]
"""

#: one engine + worker process, idle until killed; prints "ready" once it has joined
CHILD = """
import asyncio, sys
from hotmesh_core import HotMesh, Worker

async def main():
    hm = await HotMesh.init("idle", sys.argv[1], workers=[Worker("idle.work", lambda m: {"ok": True})])
    print("ready", flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


async def measure(url: str, processes: int, seconds: float, timer: bool, env: dict[str, str]) -> dict[str, object]:
    from redis.asyncio import Redis

    from hotmesh_core import HotMesh

    admin = Redis.from_url(url, decode_responses=True)
    hm = await HotMesh.init("idle", url, engine=False)
    children: list[subprocess.Popen[str]] = []
    try:
        await hm.activate(await hm.deploy(APP))
        for _ in range(processes):
            children.append(subprocess.Popen([sys.executable, "-c", CHILD, url], env=env, text=True,
                                             stdout=subprocess.PIPE))
        for child in children:
            assert child.stdout is not None
            line = await asyncio.to_thread(child.stdout.readline)
            if line.strip() != "ready":
                raise SystemExit(f"an engine process did not start: {line!r}")
        if timer:
            await hm.pub("idle.go", {"sleep": 3600})
            deadline = time.monotonic() + 30
            while not await admin.zcard("hmsh:idle:t:"):
                if time.monotonic() > deadline:
                    raise SystemExit("the job did not reach its time hook within 30 s")
                await asyncio.sleep(0.1)
        await hm.stop()
        await asyncio.sleep(5)                       # the start's own traffic settles
        await admin.config_resetstat()
        started = time.monotonic()
        await asyncio.sleep(seconds)
        stats = await admin.info("commandstats")
        elapsed = time.monotonic() - started
        timers = await admin.zcard("hmsh:idle:t:")
    finally:
        for child in children:
            child.kill()
            child.wait(10)
        await admin.aclose()
    calls = {name.removeprefix("cmdstat_"): int(value["calls"]) for name, value in stats.items()}
    calls.pop("config|resetstat", None)
    calls.pop("config", None)
    total = sum(calls.values())
    return {"processes": processes, "seconds": round(elapsed, 1), "commands": total,
            "perSecondPerProcess": round(total / elapsed / processes, 3), "timersWaiting": timers,
            "breakdown": dict(sorted(calls.items(), key=lambda kv: -kv[1]))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--ref", help="measure hotmesh_core of this git commit (git archive)")
    parser.add_argument("--timer", action="store_true", help="a job waits on a timer due in an hour")
    args = parser.parse_args()
    env = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="hotmesh-idle-") as tmp:
        if args.ref:
            src = export_ref(args.ref, Path(tmp))
            sys.path.insert(0, str(src))
            env["PYTHONPATH"] = os.pathsep.join([str(src), env.get("PYTHONPATH", "")])
            source = f"{args.ref} ({git_head(args.ref)})"
        else:
            put_repo_on_path()
            env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
            source = "working tree"
        redis = start_redis()
        try:
            result = asyncio.run(measure(redis.url, args.processes, args.seconds, args.timer, env))
        finally:
            redis.stop()
    result["source"] = source
    print(f"idle: hotmesh_core from {source}, {result['processes']} engine+worker processes, "
          f"{result['seconds']} s{', one job waiting on a timer due in 1 h' if args.timer else ''}: "
          f"{result['commands']} redis commands = {result['perSecondPerProcess']} per second per process "
          f"(reference: about 0.2)")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
