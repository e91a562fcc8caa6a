"""The example apps of ``assets/apps`` (the conformance apps a new user starts from) run their own
example job to completion: on one Redis, and with ``HMSH_TEST_REDIS=cluster`` on a Redis Cluster."""

from __future__ import annotations

import pytest

from hotmesh_core import HotMesh
from hotmesh_core.examples import ExampleApp, example_apps

from ..conftest import fast_settings

EXAMPLES = example_apps()


@pytest.mark.parametrize("example", EXAMPLES, ids=[example.app_id for example in EXAMPLES])
async def test_an_example_app_runs_its_example_job(example: ExampleApp, redis_url: str) -> None:
    assert example.example, f"{example.app_id} has no EXAMPLE in its workers.py"
    hm = await HotMesh.init(example.app_id, redis_url, workers=example.workers, settings=fast_settings())
    try:
        await hm.activate(await hm.deploy(example.manifest))
        job = await hm.pubsub(example.example["topic"], example.example["data"], timeout=15)
        assert job["metadata"]["js"] == 0 and not job["metadata"].get("err"), job
        assert await hm.get_status(job["metadata"]["jid"]) == 0
    finally:
        await hm.stop()
