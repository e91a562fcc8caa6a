"""``SyncHotMesh``: every coroutine method of ``HotMesh`` has a blocking twin with the same
signature, and the twins work against a real redis-server."""

from __future__ import annotations

import inspect

from hotmesh_core import HotMesh, SyncHotMesh, Worker

from ..conftest import fast_settings
from .test_scenarios_basic import PARALLEL, hello_world, more_world


def public_coroutines(cls: type) -> dict[str, inspect.Signature]:
    return {name: inspect.signature(member) for name, member in vars(cls).items()
            if not name.startswith("_") and inspect.iscoroutinefunction(member) and name != "init"}


def test_every_coroutine_has_a_twin_with_the_same_signature() -> None:
    coroutines = public_coroutines(HotMesh)
    assert len(coroutines) > 30
    missing = [name for name in coroutines if not callable(getattr(SyncHotMesh, name, None))]
    assert not missing, f"SyncHotMesh lacks {missing}"
    for name, signature in coroutines.items():
        twin = inspect.signature(getattr(SyncHotMesh, name))
        assert list(twin.parameters.values()) == list(signature.parameters.values()), name
        assert not inspect.iscoroutinefunction(getattr(SyncHotMesh, name)), name


def test_the_twins_run_a_job(redis_url: str, app_id: str) -> None:
    with SyncHotMesh(app_id, redis_url, workers=[Worker("work.do", hello_world), Worker("work.do.more", more_world)],
                     settings=fast_settings()) as hm:
        version = hm.deploy(PARALLEL.replace("{APP}", app_id))
        assert hm.activate(version)
        assert [v.version for v in hm.versions()] == [version] and hm.active_version() == version
        job = hm.pubsub("seq.test", {"a": "hello"}, timeout=10)
        jid = job["metadata"]["jid"]
        assert hm.get_status(jid) == 0 and hm.get_state("seq.test", jid)["data"] == job["data"]
        events: list[dict[str, object]] = []
        stop = hm.listen_events(events.append)
        stop()
        assert hm.dead_letters() == []
