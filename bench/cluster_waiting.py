"""Many waiting jobs on a three-master Redis Cluster: bytes per waiting job, per shard.

    python bench/cluster_waiting.py [--n 1000000] [--procs 2] [--concurrency 200] [--release 2000]

Starts a three-master cluster on loopback ports (``tests/cluster``), deploys ``bench/wait.yaml``
(app ``wait``) and has ``--procs`` engine processes publish ``--n`` jobs of ``wait.signal``: each
parks in a web hook (its job hash and its hook registration, on the job's shard). When every job is
parked (no engine stream has pending or undelivered entries), it reads ``used_memory`` of each
master (after ``--settle`` seconds) against the snapshot before, and prints the bytes per waiting
job of each shard and overall, with how many jobs each shard holds. Then it signals ``--release``
of them and checks they complete (the waiting jobs are alive, not just stored).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import put_repo_on_path  # noqa: E402

put_repo_on_path()
sys.path.insert(0, str(HERE.parent))

import redis  # noqa: E402

from hotmesh_core import HotMesh, Settings  # noqa: E402

APP = "wait"


def publisher(url: str, first: int, count: int, concurrency: int, done: Any, stop: Any) -> None:
    async def main() -> None:
        hm = await HotMesh.init(APP, url, settings=Settings(reconnect_seconds=60))
        limit = asyncio.Semaphore(concurrency)

        async def one(n: int) -> None:
            async with limit:
                await hm.pub("wait.signal", {"id": f"w{n}"})
        for start in range(first, first + count, 10_000):
            await asyncio.gather(*(one(n) for n in range(start, min(first + count, start + 10_000))))
        done.set()
        while not stop.is_set():            # keep the engine up: it parks and releases
            await asyncio.sleep(0.2)
        await hm.stop(drain_seconds=1)
    asyncio.run(main())


def masters(url: str) -> list[redis.Redis]:
    host, _, port = url.split("://", 1)[1].split(",")[0].partition(":")
    with redis.Redis(host=host, port=int(port), decode_responses=True) as one:
        found = [a for a, n in one.cluster("nodes").items() if "master" in n["flags"]]
    return [redis.Redis(host=a.split(":")[0], port=int(a.split(":")[1].split("@")[0]), decode_responses=True)
            for a in sorted(found)]


async def parked(hm: HotMesh) -> bool:
    report = await hm.queue_report()
    return all(s["pending"] == 0 and not s["lag"] for s in report["streams"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--procs", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--release", type=int, default=2000)
    parser.add_argument("--settle", type=float, default=3.0)
    parser.add_argument("--out", type=lambda v: Path(v) if v else None, default=HERE / "results.jsonl")
    args = parser.parse_args()
    from tests.cluster import running_cluster

    with running_cluster(3) as cluster:
        url = cluster.url
        nodes = masters(url)

        async def setup() -> None:
            hm = await HotMesh.init(APP, url, engine=False)
            await hm.activate(await hm.deploy((HERE / "wait.yaml").read_text().replace("@EXPIRE@", "86400")))
            await hm.stop()
        asyncio.run(setup())
        time.sleep(args.settle)
        before = [int(node.info("memory")["used_memory"]) for node in nodes]
        ctx = multiprocessing.get_context("spawn")
        stop = ctx.Event()
        share = args.n // args.procs
        procs, dones = [], []
        began = time.monotonic()
        for p in range(args.procs):
            done = ctx.Event()
            count = share if p < args.procs - 1 else args.n - share * (args.procs - 1)
            proc = ctx.Process(target=publisher, args=(url, p * share, count, args.concurrency, done, stop))
            proc.start()
            procs.append(proc)
            dones.append(done)
        for done in dones:
            while not done.wait(10):
                print(f"  publishing... {time.monotonic() - began:.0f} s", flush=True)
        published = time.monotonic() - began

        async def measure() -> dict[str, Any]:
            hm = await HotMesh.init(APP, url, engine=False)
            try:
                while not await parked(hm):
                    await asyncio.sleep(1)
                parked_s = time.monotonic() - began
                await asyncio.sleep(args.settle)
                after = [int(node.info("memory")["used_memory"]) for node in nodes]
                jobs = [int(node.dbsize()) for node in nodes]
                release_began = time.monotonic()
                for n in range(args.release):
                    await hm.hook("wait.go", {"id": f"w{n}", "v": n})
                released = 0
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline:
                    values = await hm.job_fields([f"w{n}" for n in range(args.release)], [":"])
                    released = sum(1 for (sem,) in values if sem == "0")
                    if released == args.release:
                        break
                    await asyncio.sleep(0.5)
                return {"published_s": round(published, 1), "parked_s": round(parked_s, 1),
                        "bytes": [a - b for a, b in zip(after, before, strict=True)], "keys": jobs,
                        "released": released, "release_s": round(time.monotonic() - release_began, 2)}
            finally:
                await hm.stop()
        result = asyncio.run(measure())
        stop.set()
        for proc in procs:
            proc.join(15)
    total = sum(result["bytes"])
    print(f"{args.n} waiting jobs on a 3-master cluster ({args.procs} engine processes): started in "
          f"{result['published_s']} s ({args.n / result['published_s']:.0f} jobs/s), all parked at {result['parked_s']} s")
    for i, (used, keys) in enumerate(zip(result["bytes"], result["keys"], strict=True)):
        # each waiting job is 2 keys on its shard: the job hash and its hook registration
        print(f"  shard {i}: +{used / 1e6:.1f} MB, {keys} keys (~{keys // 2} jobs), "
              f"{used / max(1, keys // 2):.0f} bytes per waiting job")
    print(f"  overall: {total / args.n:.0f} bytes per waiting job; {result['released']}/{args.release} released "
          f"by signal in {result['release_s']} s")
    if args.out:
        with args.out.open("a") as f:
            f.write(json.dumps({"bench": "cluster_waiting", "at": time.strftime("%Y-%m-%dT%H:%M:%S"),
                                "n": args.n, **result}) + "\n")


if __name__ == "__main__":
    main()
