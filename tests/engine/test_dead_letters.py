"""Dead letters through the API: what lands there, replay (back to its stream, handled), discard."""

from __future__ import annotations

from typing import Any

import pytest

from hotmesh_core import ValidationError
from hotmesh_core.deadletters import DeadLetters
from hotmesh_core.keys import WORKER_GROUP

from ..helpers import assert_eventually
from .test_scenarios_basic import PARALLEL, hello_world, more_world


async def test_unparseable_messages_are_dead_lettered_and_acked(mesh, sync_redis: Any) -> None:
    hm = await mesh(PARALLEL, workers={"work.do": hello_world, "work.do.more": more_world})
    stream = hm.keys.engine_stream()
    sync_redis.xadd(stream, {"message": "{not json"})
    await assert_eventually(lambda: sync_redis.xlen(hm.keys.dead_letters()) == 1)
    [letter] = await hm.dead_letters()
    assert letter.stream == stream and letter.message == "{not json" and letter.reason
    assert await hm.dead_letter(letter.id) == letter
    assert sync_redis.xpending(stream, "ENGINE")["pending"] == 0        # acked with the dead letter


async def test_a_replayed_dead_letter_is_handled_and_a_discarded_one_is_gone(mesh, sync_redis: Any) -> None:
    # the job's first worker has no consumer yet: its message waits in the worker stream
    hm = await mesh(PARALLEL, workers={"work.do.more": more_world})
    jid = await hm.pub("seq.test", {"a": "hello"})
    work = hm.keys.worker_stream("work.do", jid)
    await assert_eventually(lambda: sync_redis.xlen(work) == 1)
    [(message_id, fields)] = sync_redis.xrange(work)
    sync_redis.xreadgroup(WORKER_GROUP, "operator", {work: ">"})
    await DeadLetters(hm.redis, hm.keys).add(work, WORKER_GROUP, message_id, fields["message"], "operator test")
    assert sync_redis.xpending(work, WORKER_GROUP)["pending"] == 0
    [letter] = await hm.dead_letters()
    assert letter.reason == "operator test"
    worker = await mesh(None, workers={"work.do": hello_world}, engine=False)   # a worker comes up
    assert await hm.replay_dead_letter(letter.id)
    assert await hm.dead_letters() == []
    await assert_eventually(lambda: sync_redis.hget(hm.keys.job(jid), ":") == "0")
    assert (await hm.get_state("seq.test", jid))["data"] == {"b": "hello world", "c": "hello world world"}
    await worker.stop()
    sync_redis.xadd(hm.keys.engine_stream(), {"message": "[]"})
    await assert_eventually(lambda: sync_redis.xlen(hm.keys.dead_letters()) == 1)
    [letter] = await hm.dead_letters()
    assert await hm.discard_dead_letter(letter.id) is True
    assert await hm.discard_dead_letter(letter.id) is False
    assert await hm.replay_dead_letter(letter.id) is None and await hm.dead_letter(letter.id) is None
    with pytest.raises(ValidationError):
        await hm.dead_letter("nonsense")
