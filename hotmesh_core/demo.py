"""``python -m hotmesh_core.demo``: the embedded Redis, the example apps deployed with their
workers running, and one job of each run end to end with its result printed.

``--serve`` keeps the engines and workers running afterwards (Ctrl-C stops them).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys

from .errors import DuplicateJobError
from .examples import example_apps
from .hotmesh import HotMesh
from .redis_server import embedded_url


async def main(serve: bool) -> int:
    url = os.environ.get("REDIS_URL")
    if not url:
        url = embedded_url()
        print(f"embedded redis-server running at {url}")
    meshes: list[HotMesh] = []
    try:
        for example in example_apps():
            hm = await HotMesh.init(example.app_id, url, engine=True, workers=example.workers)
            meshes.append(hm)
            version = await hm.deploy(example.manifest)
            await hm.activate(version)
            print(f"deployed {example.app_id} version {version} with workers "
                  f"{', '.join(w.topic for w in example.workers) or '(none)'}")
            if example.example:
                topic, data = example.example["topic"], example.example.get("data", {})
                print(f"  {topic} {json.dumps(data)}")
                try:
                    job = await hm.pubsub(topic, data, timeout=10)
                    print(f"  -> job {job['metadata']['jid']}: {json.dumps(job.get('data', {}), sort_keys=True)}")
                except DuplicateJobError as exc:       # the embedded store keeps jobs across runs
                    job = await hm.get_state(topic, str(exc.details.get("job_id")))
                    print(f"  -> job {job['metadata']['jid']} ran before (the store keeps it): "
                          f"{json.dumps(job.get('data', {}), sort_keys=True)}")
        if serve:
            print("engines and workers are running; Ctrl-C to stop")
            await asyncio.Event().wait()
    finally:
        for hm in meshes:
            await hm.stop()
    return 0


def run() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--serve", action="store_true", help="keep engines and workers running")
    args = parser.parse_args()
    try:
        sys.exit(asyncio.run(main(args.serve)))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    run()
