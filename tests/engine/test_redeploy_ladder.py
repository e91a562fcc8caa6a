"""The reference's hot-redeploy ladder: one app deployed and activated as v1 to v9 in one process,
each version adding to the graph, with a pubsub after each activation checking that version."""

from __future__ import annotations

from typing import Any

from hotmesh_core import WorkerMessage

HEAD = """
app:
  id: {APP}
  version: '%s'
  graphs:
    - subscribes: abc.test
      expire: 60
      activities:
        t1: { type: trigger }
%s
      transitions:
%s
    - subscribes: abc.child
      expire: 60
      activities:
        c0: { type: trigger, job: { maps: { child: '{$self.output.data.n}' } } }
%s
      transitions:
%s
"""

W1 = "        w1: { type: worker, topic: work.do, input: { maps: { x: '{t1.output.data.a}' } }, job: { maps: { b: '{$self.output.data.y}' } } }"
W2_PAR = "        w2: { type: worker, topic: work.do.more, input: { maps: { i: '{t1.output.data.a}' } }, job: { maps: { c: '{$self.output.data.o}' } } }"
W2_SEQ = "        w2: { type: worker, topic: work.do.more, input: { maps: { i: '{w1.output.data.y}' } }, job: { maps: { c: '{$self.output.data.o}' } } }"
H1 = "        h1: { type: hook, job: { maps: { hooked: true } } }"
AW = "        aw: { type: await, topic: abc.child, input: { maps: { n: 7, a: '{t1.output.data.a}' } }, job: { maps: { child: '{$self.output.data.child}', kid: '{$self.output.data.kid}' } } }"
CW = "        cw: { type: worker, topic: work.do, input: { maps: { x: '{c0.output.data.a}' } }, job: { maps: { kid: '{$self.output.data.y}' } } }"
W1_DONE = "        w1: { type: worker, topic: work.do, input: { maps: { x: '{t1.output.data.a}' } }, job: { maps: { b: '{$self.output.data.y}', done: true } } }"

LADDER: list[tuple[list[str], list[str], list[str], list[str], dict[str, Any]]] = [
    # v1 trigger only
    ([], [], [], [], {}),
    # v2 a hook
    ([H1], ["        t1: [ { to: h1 } ]"], [], [], {"hooked": True}),
    # v3 an await
    ([H1, AW], ["        t1: [ { to: h1 }, { to: aw } ]"], [], [], {"hooked": True, "child": 7}),
    # v4 a worker
    ([H1, AW, W1], ["        t1: [ { to: h1 }, { to: aw }, { to: w1 } ]"], [], [],
     {"hooked": True, "child": 7, "b": "hello world"}),
    # v5 maps (the worker's input and output are mapped; the output maps into job data)
    ([H1, AW, W1_DONE], ["        t1: [ { to: h1 }, { to: aw }, { to: w1 } ]"], [], [],
     {"hooked": True, "child": 7, "b": "hello world", "done": True}),
    # v6 parallel workers
    ([H1, AW, W1_DONE, W2_PAR], ["        t1: [ { to: h1 }, { to: aw }, { to: w1 }, { to: w2 } ]"], [], [],
     {"hooked": True, "child": 7, "b": "hello world", "done": True, "c": "hello world"}),
    # v7 sequential workers
    ([H1, AW, W1_DONE, W2_SEQ], ["        t1: [ { to: h1 }, { to: aw }, { to: w1 } ]", "        w1: [ { to: w2 } ]"],
     [], [], {"hooked": True, "child": 7, "b": "hello world", "done": True, "c": "hello world world"}),
    # v8 an await with a worker in the child
    ([H1, AW, W1_DONE, W2_SEQ], ["        t1: [ { to: h1 }, { to: aw }, { to: w1 } ]", "        w1: [ { to: w2 } ]"],
     [CW], ["        c0: [ { to: cw } ]"],
     {"hooked": True, "child": 7, "kid": "hello world", "b": "hello world", "done": True,
      "c": "hello world world"}),
    # v9 conditional transitions
    ([H1, AW, W1_DONE, W2_SEQ], ["        t1: [ { to: h1 }, { to: aw }, { to: w1 } ]",
                                 "        w1: [ { to: w2, conditions: { match: [ { expected: 'hello world', actual: '{w1.output.data.y}' } ] } } ]"],
     [CW], ["        c0: [ { to: cw } ]"],
     {"hooked": True, "child": 7, "kid": "hello world", "b": "hello world", "done": True,
      "c": "hello world world"}),
]


async def hello(message: WorkerMessage) -> dict[str, Any]:
    return {"y": f"{message.data['x']} world"}


async def more(message: WorkerMessage) -> dict[str, Any]:
    return {"o": f"{message.data['i']} world"}


def manifest(app_id: str, number: int) -> str:
    activities, transitions, child_activities, child_transitions, _ = LADDER[number - 1]
    text = HEAD % (number, "\n".join(activities), "\n".join(transitions) or "        {}",
                   "\n".join(child_activities), "\n".join(child_transitions) or "        {}")
    return text.replace("{APP}", app_id)


async def test_hot_redeploy_ladder_v1_to_v9(mesh) -> None:
    hm = await mesh(None, workers={"work.do": hello, "work.do.more": more})
    for number in range(1, 10):
        version = await hm.deploy(manifest(hm.app_id, number))
        assert version == str(number)
        assert await hm.activate(version) is True
        job = await hm.pubsub("abc.test", {"a": "hello"}, timeout=10)
        assert job["metadata"]["vrs"] == str(number)
        assert job.get("data", {}) == LADDER[number - 1][4], f"version {number}"
    # the conditional edge of v9 is really conditional
    job = await hm.pubsub("abc.test", {"a": "bye"}, timeout=10)
    assert job["data"]["b"] == "bye world" and "c" not in job["data"]
