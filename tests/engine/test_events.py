"""Live activity events (studio, widgets) and the job index."""

from __future__ import annotations

import asyncio
from typing import Any

from ..helpers import assert_eventually
from .test_scenarios_basic import PARALLEL, hello_world, more_world


async def test_events_flow_only_while_watched(mesh, redis_url) -> None:
    hm = await mesh(PARALLEL, workers={"work.do": hello_world, "work.do.more": more_world})
    received: list[dict[str, Any]] = []
    stop = await hm.listen_events(received.append)
    try:
        quiet = await hm.pubsub("seq.test", {"a": "quiet"})
        await asyncio.sleep(0.3)
        assert not [e for e in received if e["jid"] == quiet["metadata"]["jid"]]
        await hm.watch(30)
        job = await hm.pubsub("seq.test", {"a": "loud"})
        jid = job["metadata"]["jid"]
        await assert_eventually(lambda: any(e.get("finished") == 1 for e in received if e["jid"] == jid))
        steps = [(e["aid"], e["status"]) for e in received if e["jid"] == jid]
        assert steps == [("s1", "started"), ("b1", "running"), ("b1", "done"), ("b2", "running"),
                         ("b2", "done")]
        last = [e for e in received if e["jid"] == jid][-1]
        assert last["js"] == 0 and last["dad"] == ",0,0,0"
    finally:
        await stop()


async def test_list_jobs_finds_live_jobs_newest_first(mesh, sync_redis) -> None:
    hm = await mesh(PARALLEL, workers={"work.do": hello_world, "work.do.more": more_world})
    first = await hm.pub("seq.test", {"a": "1"})
    await asyncio.sleep(0.01)
    second = await hm.pub("seq.test", {"a": "2"})
    rows = await hm.list_jobs(limit=10)
    assert [jid for jid, _ in rows] == [second, first]
    assert [jid for jid, _ in await hm.list_jobs(limit=10, newest_first=False)] == [first, second]
    assert [jid for jid, _ in await hm.list_jobs(limit=1, offset=1)] == [first]
    await hm.scrub(first)
    assert [jid for jid, _ in await hm.list_jobs(limit=10)] == [second]
    assert not [key for key in sync_redis.scan_iter(match=f"hmsh:{hm.app_id}:*") if key.endswith(":jobs")]


