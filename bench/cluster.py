"""One Redis against a three-master Redis Cluster: the same flows, two engine processes.

    python bench/cluster.py [--jobs 2000] [--concurrency 100] [--processes 2]

Starts a redis-server and a three-master cluster (``redis-server --cluster-enabled yes`` joined by
``redis-cli --cluster create``) on free loopback ports, then for each:

- ``seq``: trigger -> worker -> worker -> worker (``bench.yaml``'s ``bench.seq``);
- ``await``: a parent that awaits a child job whose id comes from its input (``stats.id``), so the
  child usually lives on another shard: its start and its result cross shards through the outbox.

``--processes`` engine processes (each also runs the flows' workers) do the work; this process
only starts jobs (``pubsub``, ``--concurrency`` at a time). Printed per target and flow:
workflows/s, latency p50/p95, Redis commands per workflow (INFO commandstats of every node,
harness commands excluded), Redis CPU ms per workflow and each node's share of it (the cluster
should split about evenly: no shard above 45 %). A JSON line per run goes to ``--out``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import BENCH_WORKER_TOPICS, HARNESS_CMDS, cpu_model, echo, pct, put_repo_on_path  # noqa: E402

put_repo_on_path()

import redis  # noqa: E402

from hotmesh_core import HotMesh, RedisServer, Settings, Worker  # noqa: E402

APP = "clusterbench"
AWAIT_YAML = """
    - subscribes: cb.parent
      activities:
        tp: {type: trigger}
        child:
          type: await
          topic: cb.child
          input: {maps: {cid: '{tp.output.data.cid}', a: '{tp.output.data.a}'}}
      transitions:
        tp: [{to: child}]
    - subscribes: cb.child
      activities:
        tc:
          type: trigger
          stats: {id: '{$self.input.data.cid}'}
        cw:
          type: worker
          topic: bench.w1
          input: {maps: {x: '{tc.output.data.a}'}}
      transitions:
        tc: [{to: cw}]
"""


def app_yaml() -> str:
    text = (HERE / "bench.yaml").read_text()
    return text.replace("id: bench", f"id: {APP}", 1).rstrip() + "\n" + AWAIT_YAML


def engine_process(url: str, ready: Any, stop: Any) -> None:
    async def main() -> None:
        topics = BENCH_WORKER_TOPICS["seq"]
        hm = await HotMesh.init(APP, url, workers=[Worker(t, echo(t), concurrency=64) for t in topics],
                                settings=Settings(reconnect_seconds=30))
        ready.set()
        while not stop.is_set():
            await asyncio.sleep(0.1)
        await hm.stop(drain_seconds=1)
    asyncio.run(main())


def nodes_of(url: str) -> list[redis.Redis]:
    if "+cluster://" in url:
        seed = url.split("://", 1)[1].split(",")[0]
        host, _, port = seed.partition(":")
        with redis.Redis(host=host, port=int(port), decode_responses=True) as one:
            masters = [n for n in one.cluster("nodes").items() if "master" in n[1]["flags"]]
        return [redis.Redis(host=a.split(":")[0], port=int(a.split(":")[1].split("@")[0]), decode_responses=True)
                for a, _ in masters]
    return [redis.Redis.from_url(url, decode_responses=True)]


def counters(node: redis.Redis) -> tuple[int, float]:
    stats = node.info("commandstats")
    calls = sum(int(v["calls"]) for k, v in stats.items() if k.removeprefix("cmdstat_") not in HARNESS_CMDS)
    cpu = node.info("cpu")
    return calls, float(cpu["used_cpu_sys"]) + float(cpu["used_cpu_user"])


async def run_flow(hm: HotMesh, topic: str, jobs: int, concurrency: int, nodes: list[redis.Redis]) -> dict[str, Any]:
    latencies: list[float] = []
    limit = asyncio.Semaphore(concurrency)

    async def one(n: int) -> None:
        data = {"a": f"v{n}"}
        if topic == "cb.parent":
            data["cid"] = f"c{time.time_ns()}{n}"
        async with limit:
            t0 = time.perf_counter()
            await hm.pubsub(topic, data, timeout=60)
            latencies.append((time.perf_counter() - t0) * 1000)

    print(f"  {topic}: {jobs} jobs", flush=True)
    await asyncio.gather(*(one(n) for n in range(min(200, jobs // 10))))     # warm up
    latencies.clear()
    before = [counters(node) for node in nodes]
    t0 = time.perf_counter()
    await asyncio.gather(*(one(n) for n in range(jobs)))
    wall = time.perf_counter() - t0
    after = [counters(node) for node in nodes]
    calls = sum(a[0] - b[0] for a, b in zip(after, before, strict=True))
    cpu = [a[1] - b[1] for a, b in zip(after, before, strict=True)]
    latencies.sort()
    return {"workflows_per_s": round(jobs / wall, 1), "p50_ms": round(pct(latencies, 50) or 0, 2),
            "p95_ms": round(pct(latencies, 95) or 0, 2), "commands_per_wf": round(calls / jobs, 2),
            "redis_cpu_ms_per_wf": round(sum(cpu) * 1000 / jobs, 3),
            "cpu_share_per_node": [round(c / sum(cpu), 3) if sum(cpu) else 0 for c in cpu]}


async def measure(url: str, args: argparse.Namespace) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    stop = ctx.Event()
    admin = await HotMesh.init(APP, url, engine=False)
    await admin.activate(await admin.deploy(app_yaml()))
    procs = []
    for _ in range(args.processes):
        ready = ctx.Event()
        proc = ctx.Process(target=engine_process, args=(url, ready, stop), daemon=True)
        proc.start()
        ready.wait(60)
        procs.append(proc)
    nodes = nodes_of(url)
    try:
        return {flow: await run_flow(admin, topic, args.jobs, args.concurrency, nodes)
                for flow, topic in (("seq", "bench.seq"), ("await", "cb.parent"))}
    finally:
        stop.set()
        for proc in procs:
            proc.join(10)
        await admin.stop()
        for node in nodes:
            node.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--out", type=lambda v: Path(v) if v else None, default=HERE / "results.jsonl")
    args = parser.parse_args()
    sys.path.insert(0, str(HERE.parent))
    from tests.cluster import running_cluster

    results: dict[str, Any] = {}
    with ExitStack() as stack:
        single = RedisServer(port=0)
        single.start()
        stack.callback(single.stop)
        print("1 redis", flush=True)
        results["1 redis"] = asyncio.run(measure(single.url, args))
        print("3-master cluster", flush=True)
        cluster = stack.enter_context(running_cluster(3))
        results["3-master cluster"] = asyncio.run(measure(cluster.url, args))
    print(f"machine: {cpu_model()}, {multiprocessing.cpu_count()} cores; {args.processes} engine processes, "
          f"{args.jobs} jobs per flow, {args.concurrency} at a time")
    print("| target | flow | workflows/s | p50 ms | p95 ms | commands/wf | Redis CPU ms/wf | CPU share per node |")
    print("|---|---|---:|---:|---:|---:|---:|---|")
    for target, flows in results.items():
        for flow, r in flows.items():
            share = " / ".join(f"{s * 100:.0f} %" for s in r["cpu_share_per_node"])
            print(f"| {target} | {flow} | {r['workflows_per_s']} | {r['p50_ms']} | {r['p95_ms']} | "
                  f"{r['commands_per_wf']} | {r['redis_cpu_ms_per_wf']} | {share} |")
    if args.out:
        with args.out.open("a") as f:
            f.write(json.dumps({"bench": "cluster", "at": time.strftime("%Y-%m-%dT%H:%M:%S"),
                                "jobs": args.jobs, "processes": args.processes, "results": results}) + "\n")


if __name__ == "__main__":
    main()
