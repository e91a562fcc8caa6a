"""Bytes per completed job, weighed like the reference's ``layout.js`` (its "bulk" part).

The throughput benchmark's "bytes/job at completion" divides Redis' memory growth by N at the
moment the last job finished; with the default 1 s expiry that is mostly "jobs finished in the
last second", so a faster engine looks heavier. This probe keeps completed jobs (expiry one day),
publishes ``--n`` jobs of each scenario, waits until all completed, and reports what a finished
job keeps: ``used_memory`` growth per job, new keys per job, and the average ``MEMORY USAGE``,
field count and encoding of the job hashes. ``bench/run.py`` runs it beside ``layout.js``.
Then (``residue``) it runs N jobs with the default 1 s expiry, waits until they expired, stops the
process and weighs what stayed in Redis: ``bytesPerJobLeft`` (0 means nothing per job remains;
the throughput benchmark's "after settle" figure still includes the open connections' buffers).

Usage: ``python bench/layout.py [--n 1000] [--port P | --redis-url URL] [--scenarios trigger,seq,fan]``
(``--redis-url`` is used as is, e.g. ``rediss://127.0.0.1:P/0?ssl_ca_certs=ca.pem``); prints one
JSON line ``{"bulk": {scenario: {...}}}`` (the keys of ``layout.js``) on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import redis
from common import ALL_WORKER_TOPICS as WORKER_TOPICS  # bench/common.py
from common import BENCH_TOPICS as TOPICS
from common import echo, put_repo_on_path, redis_url, start_redis, sync_client

HERE = Path(__file__).resolve().parent
put_repo_on_path()    # after $PYTHONPATH: run.py's copy of hotmesh_core/ wins

from hotmesh_core import HotMesh, Settings, Worker  # noqa: E402

DAY = 86_400


def memory(admin: redis.Redis) -> tuple[int, int, int]:
    info = admin.info("memory")
    clients = int(admin.memory_stats().get("clients.normal", 0))
    return int(info["used_memory"]), int(info["used_memory_dataset"]), clients


async def weigh(hm: HotMesh, admin: redis.Redis, scenario: str, n: int) -> dict[str, Any]:
    await asyncio.sleep(2)
    m0, d0, c0 = memory(admin)
    k0 = int(admin.dbsize())
    jids = await asyncio.gather(*[hm.pub(TOPICS[scenario], {"a": f"m{i}"}) for i in range(n)])
    keys = [hm.keys.job(jid) for jid in jids]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with admin.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.hget(key, ":done")
            if all(v == "1" for v in pipe.execute()):
                break
        await asyncio.sleep(0.2)
    await asyncio.sleep(2)
    m1, d1, c1 = memory(admin)
    k1 = int(admin.dbsize())
    usage = fields = completed = 0
    encodings: dict[str, int] = {}
    for key in keys:
        usage += int(admin.memory_usage(key, samples=0) or 0)
        fields += int(admin.hlen(key))
        completed += admin.hget(key, ":done") == "1"
        encoding = str(admin.object("encoding", key))
        encodings[encoding] = encodings.get(encoding, 0) + 1
    admin.delete(*keys)
    return {"jobs": n, "completed": completed, "newKeys": k1 - k0, "newKeysPerJob": round((k1 - k0) / n, 3),
            "usedMemoryDelta": m1 - m0, "usedMemoryDeltaPerJob": round((m1 - m0) / n, 1),
            "usedMemoryDatasetDeltaPerJob": round((d1 - d0) / n, 1),
            "clientBuffersDelta": c1 - c0,
            "jobHashMemoryUsageAvg": round(usage / n, 1), "jobHashFieldsAvg": round(fields / n, 1),
            "jobHashEncoding": encodings}


async def residue(url: str, admin: redis.Redis, scenario: str, n: int) -> dict[str, Any]:
    """What N jobs leave behind once they expired (default 1 s expiry) and the process that ran
    them closed its connections: the per-job cost that stays in Redis for good."""
    admin.flushdb()
    before = int(admin.info("memory")["used_memory"])
    hm = await HotMesh.init("bench", url, workers=[Worker(t, echo(t)) for t in WORKER_TOPICS])
    try:
        version = await hm.deploy((HERE / "bench.yaml").read_text())
        await hm.activate(version)
        jids = await asyncio.gather(*[hm.pub(TOPICS[scenario], {"a": f"r{i}"}) for i in range(n)])
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and admin.exists(*[hm.keys.job(j) for j in jids[-100:]]):
            await asyncio.sleep(0.5)
        await asyncio.sleep(3)               # the rest expire; acked stream entries are trimmed
    finally:
        await hm.stop()
    await asyncio.sleep(1)
    job_keys = sum(1 for _ in admin.scan_iter(match="hmsh:bench:j:*", count=1000))
    after = int(admin.info("memory")["used_memory"])
    # the app's own keys (registry, versions, one stream per topic): there once, whatever N is
    app_keys = sum(int(admin.memory_usage(k, samples=0) or 0) for k in admin.scan_iter(count=1000))
    left = after - before - app_keys
    return {"jobs": n, "jobKeysLeft": job_keys, "keysLeft": int(admin.dbsize()), "appKeysBytes": app_keys,
            "usedMemoryDelta": after - before, "bytesPerJobLeft": round(left / n, 1)}


async def main(args: argparse.Namespace) -> dict[str, Any]:
    server = None
    url = args.redis_url or (redis_url(args.port) if args.port else "")
    if not url:
        server = start_redis()
        url = server.url
    admin = sync_client(url)
    admin.flushdb()
    hm = await HotMesh.init("bench", url, workers=[Worker(t, echo(t)) for t in WORKER_TOPICS],
                            settings=Settings(expire_seconds=DAY))
    report: dict[str, Any] = {"bulk": {}}
    scenarios = args.scenarios.replace(",", " ").split()
    try:
        try:
            version = await hm.deploy((HERE / "bench.yaml").read_text())
            await hm.activate(version)
            for scenario in scenarios:
                report["bulk"][scenario] = await weigh(hm, admin, scenario, args.n)
                print(scenario, json.dumps(report["bulk"][scenario]), file=sys.stderr)
        finally:
            await hm.stop()
        for scenario in scenarios:
            report["bulk"][scenario]["residue"] = left = await residue(url, admin, scenario, args.n)
            print(scenario, "after expiry", json.dumps(left), file=sys.stderr)
    finally:
        admin.close()
        if server is not None:
            server.stop()
    return report


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--redis-url", default="", help="used as is (wins over --port)")
    parser.add_argument("--scenarios", default="trigger,seq,fan")
    print(json.dumps(asyncio.run(main(parser.parse_args()))))
