"""A real engine and/or worker process for the fault tests (started with subprocess, killed with -9).

    python tests/fault/runner.py --url URL --app APP --role engine|worker|all --topics t1,t2 \\
        --oracle FILE [--work 0.05,0.3] [--settings JSON]

Worker callbacks sleep a random time in the ``--work`` range, append ``jid,aid,dad,guid,try,pid`` to
the oracle file (outside Redis, so Redis faults cannot touch it) and return ``{"n": x + 1}``.
Inputs ``{"poison": "raise"}`` always raise; ``{"poison": "exit"}`` kills the worker process.
SIGTERM stops gracefully (drain in-flight work, release leases).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from hotmesh_core import HotMesh, Settings, Worker, WorkerMessage  # noqa: E402


def make_callback(oracle: Path, low: float, high: float) -> Any:
    async def work(message: WorkerMessage) -> dict[str, Any]:
        poison = message.data.get("poison")
        if poison == "raise":
            raise RuntimeError("poison input")
        await asyncio.sleep(random.uniform(low, high))
        if poison == "exit":
            os._exit(3)
        meta = message.metadata
        line = f"{meta['jid']},{meta['aid']},{meta['dad']},{meta['guid']},{meta.get('try', 0)},{os.getpid()}\n"
        with oracle.open("a") as out:          # O_APPEND: one write per line
            out.write(line)
        return {"n": int(message.data.get("x") or 0) + 1}
    return work


async def main(args: argparse.Namespace) -> None:
    settings = Settings(**json.loads(args.settings))
    low, high = (float(v) for v in args.work.split(","))
    callback = make_callback(Path(args.oracle), low, high)
    workers = [Worker(t, callback) for t in args.topics.split(",") if t] if args.role in ("worker", "all") else []
    hm = await HotMesh.init(args.app, args.url, engine=args.role in ("engine", "all"), workers=workers,
                            settings=settings)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print("ready", flush=True)
    await stop.wait()
    await hm.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--app", required=True)
    parser.add_argument("--role", choices=["engine", "worker", "all"], required=True)
    parser.add_argument("--topics", default="")
    parser.add_argument("--oracle", required=True)
    parser.add_argument("--work", default="0.01,0.05")
    parser.add_argument("--settings", default="{}")
    asyncio.run(main(parser.parse_args()))
