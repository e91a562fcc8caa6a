"""What the steps of every activity type share (spec 5.3, 5.4): the activity's metadata, the
job's expiry, completion planning, leg 1 of a worker or await, single-leg completion, and
seeding an activity's children.

The modules of the activity types (``trigger``, ``legs``, ``hooks``, ``control``, ``stats``)
build on this one; it imports none of them. A step reaches its engine only through the
``StepContext`` protocol (``protocols.py``).

Ledger values (see ``legs.py`` for the arithmetic): ``LEG1_OPEN`` after leg 1 of a duplex
activity, ``SINGLE_DONE`` after a single-leg completion, ``SINGLE_PIVOT`` for a single-leg cycle
pivot (it stays open).
"""

from __future__ import annotations

import json
from contextlib import AbstractContextManager
from typing import Any

from .. import messages as msgs
from ..compiler.model import Activity
from ..context import SEEDED, AppIndex, StepState, entry_fields, fields_to_read
from ..errors import HotMeshError, PipeError
from ..keys import JobFields, Keys
from ..mapper import children_for, job_map_fields, truthy
from ..pipe import map_rules, resolve
from ..pipe.evaluator import Budget, time_budget
from ..protocols import StepContext
from ..store import StepSpec
from ..util import guid, timestamp

LEG1_OPEN = 889000000000000
SINGLE_DONE = 888000001000001
SINGLE_PIVOT = 889000001000001


def signal_value(value: Any) -> str:
    """A resolved value as it stands in a key (signal registrations, stats keys and indexes)."""
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def activity_meta(activity: Activity, dad: str, state: StepState | dict[str, Any], **extra: Any) -> dict[str, Any]:
    """The ``output.metadata`` of an activity entry at ``dad`` (created time kept from before)."""
    ctx = state.ctx if isinstance(state, StepState) else state
    previous = ctx.get(activity.id, {}).get("output", {}).get("metadata", {})
    now = timestamp()
    meta = {"aid": activity.id, "dad": dad, "atp": activity.type, "ac": previous.get("ac", now), "au": now}
    if activity.subtype:
        meta["stp"] = activity.subtype
    meta.update(extra)
    return meta


def mapping_budget(engine: StepContext, activity_id: str) -> AbstractContextManager[Budget | None]:
    """The evaluation time all mappings of one step of ``activity_id`` share
    (``Settings.mapping_budget_ms``): a heavy mapping fails the activity with ``PipeError``
    instead of holding the engine's event loop."""
    return time_budget(engine.settings.mapping_budget_ms / 1000, f"activity '{activity_id}'")


def job_limits(engine: StepContext, index: AppIndex, activity: Activity) -> dict[str, int]:
    """The runaway limits of the job ``activity`` runs in: its graph's ``limits``, the Settings'
    ``max_steps`` / ``max_cycles`` where the graph sets none (0: no limit)."""
    own = index.app.graph_of(activity.graph).limits
    return {"steps": own.get("steps", engine.settings.max_steps),
            "cycles": own.get("cycles", engine.settings.max_cycles)}


def count_step(engine: StepContext, index: AppIndex, activity: Activity, spec: StepSpec) -> None:
    """Make ``spec`` one more of its job's activity steps (a ``cycle`` step also one more cycle
    iteration), checked against ``job_limits`` inside the step script: past a limit it writes
    nothing and answers ``limit`` (then ``control.stop_runaway`` ends the job)."""
    limits = job_limits(engine, index, activity)
    spec.count = (limits["steps"], limits["cycles"]) if activity.type == "cycle" else (limits["steps"],)


def expire_seconds(engine: StepContext, activity: Activity, graph_expire: Any, ctx: dict[str, Any]) -> int:
    """The job's expiry once it completes: the activity's ``expire``, its graph's, or the default."""
    rule = activity.expire if activity.expire is not None else graph_expire
    if rule is None:
        return engine.settings.expire_seconds
    value = resolve(rule, ctx)
    try:
        return int(value)
    except (TypeError, ValueError):
        return engine.settings.expire_seconds


def completion_message(engine: StepContext, jid: str, gid: str, meta: dict[str, str], publishes: str | None,
                       *, emit: bool = False, force: bool = False, expire: int | None = None,
                       ) -> tuple[str, str] | None:
    """The ``complete`` message, when anyone is to be told (parent, pubsub caller, subscribers).

    It carries the job's expiry: the completion step sets it once it has read and told, so a
    short expiry never removes the job before its outcome is delivered."""
    awaited = bool(meta.get("pj")) and meta.get("px") != "true"
    if not (force or awaited or meta.get("ngn") or publishes):
        return None
    extra: dict[str, Any] = {"emit": True} if emit else {}
    if expire is not None and not emit:
        extra["expire"] = expire
    message = msgs.build(msgs.metadata(jid, gid, ",0", meta.get("tpc", ""), trc=meta.get("trc")),
                         type=msgs.COMPLETE, **extra)
    return engine.keys.engine_stream(jid), message


def plan_completion(engine: StepContext, spec: StepSpec, jid: str, gid: str, meta: dict[str, str],
                    publishes: str | None, expire: int) -> None:
    """What the step does if it completes the job.

    A parent that awaits the job is told through a ``complete`` message (its stream may live in
    another hash slot). Otherwise the step itself publishes the outcome to the ``pubsub`` caller
    and the ``publishes`` subscribers (the job's metadata and data fields, read inside the script)
    and sets the expiry: no extra stream hop."""
    spec.finishing = True
    spec.done_expire = expire
    if meta.get("pj") and meta.get("px") != "true":
        spec.done_message = completion_message(engine, jid, gid, meta, publishes, expire=expire)
        return
    spec.done_message = None
    spec.done_publish = []
    if meta.get("ngn"):
        spec.done_publish.append((engine.keys.quorum_channel(meta["ngn"]),
                                  msgs.build({"jid": jid}, type="job", topic=jid)[:-1]))
    if publishes:
        spec.done_publish.append((engine.keys.quorum_channel(f"{publishes}.{jid}"),
                                  msgs.build({"jid": jid}, type="job", topic=publishes)[:-1]))


def finish_spec(engine: StepContext, index: AppIndex, activity: Activity, state: StepState, spec: StepSpec,
                ctx: dict[str, Any]) -> None:
    """What a step that may end the job adds: its last-update time, the completion plan (used if
    the step script finds the semaphore at zero), and the ``emit`` / ``persist`` messages."""
    graph = index.app.graph_of(activity.graph)
    jid, gid = state.meta["jid"], state.meta["gid"]
    spec.hset[JobFields.meta("ju")] = timestamp()     # last update: a finished job's end time
    plan_completion(engine, spec, jid, gid, state.meta, graph.publishes,
                    expire_seconds(engine, activity, graph.expire, ctx))
    if activity.emit is not None and truthy(resolve(activity.emit, ctx)):
        spec.emit_message = completion_message(engine, jid, gid, state.meta, graph.publishes,
                                               emit=True, force=True)
    if activity.persist is not None and truthy(resolve(activity.persist, ctx)):
        # completion tasks (outcome published, expiry scheduled) while the job stays open
        spec.emit_message = completion_message(engine, jid, gid, state.meta, graph.publishes, force=True)
        spec.expire = spec.done_expire if spec.done_expire and spec.done_expire > 0 else None


def seed_children(engine: StepContext, spec: StepSpec, jid: str, gid: str, dad: str, children: list[str],
                  trc: str | None, index: AppIndex | None = None, ctx: dict[str, Any] | None = None) -> None:
    """Start each child at ``dad,0``.

    A worker child whose input needs only what this step already holds (``AppIndex.foldable``)
    runs its leg 1 here, in this same atomic step: its ledger opens, its input is mapped and its
    work goes straight to the worker stream. That saves a ``transition`` message and a whole
    read-compute-write round per activity; the outcome is exactly what leg 1 would have written.
    Every other child is seeded (ledger at ``999...``) and gets a ``transition`` message; so is a
    foldable child whose mapping fails, so that leg 1 proper reports the error."""
    child_dad = f"{dad},0"
    for child in children:
        if index is not None and ctx is not None and index.foldable.get(child):
            activity = index.app.activities[child]
            child_ctx = {**ctx, child: {}}
            child_ctx["$self"] = child_ctx[child]
            try:
                dispatch(engine, activity, jid, gid, child_ctx, spec, child_dad, trc, own_event=False,
                         index=index)
                continue
            except (PipeError, HotMeshError):
                pass
        spec.hset[JobFields.ledger(child, child_dad)] = str(SEEDED)
        spec.xadd.append((engine.keys.engine_stream(jid), msgs.build(
            msgs.metadata(jid, gid, child_dad, child, trc=trc), type=msgs.TRANSITION)))


def guid_on_shard_of(keys: Keys, jid: str) -> str:
    """A new guid on ``jid``'s shard (a child job started with it as its id stays local)."""
    found = guid()
    if keys.shards > 1:
        shard = keys.shard_of(jid)
        while keys.shard_of(found) != shard:
            found = guid()
    return found


def dispatch(engine: StepContext, activity: Activity, jid: str, gid: str, ctx: dict[str, Any], spec: StepSpec,
             dad: str, trc: str | None, *, own_event: bool = True, index: AppIndex | None = None,
             given: dict[str, Any] | None = None) -> None:
    """Leg 1 of a worker or await: map the input, send the work, open the ledger. Raises (before
    touching ``spec``) when the input, the topic or the payload size is wrong. ``given`` is the
    input to send instead of the mapped one (a resumed activity's input, ``rerun.py``)."""
    if given is not None:
        payload: dict[str, Any] | None = given
    else:
        payload = map_rules(activity.input_maps, ctx) if activity.input_maps is not None else None
    topic = resolve(activity.topic, ctx)
    if not isinstance(topic, str) or not topic:
        raise PipeError(f"activity '{activity.id}': topic resolved to {topic!r}")
    # an awaited child takes this message's guid as its id unless its graph names one: a guid on
    # this job's shard keeps the child's steps and its result on this shard (keys.py)
    out_meta = msgs.metadata(jid, gid, dad, activity.id, topic=topic, trc=trc,
                             message_guid=None if activity.type == "worker" else guid_on_shard_of(engine.keys, jid))
    if payload is not None:
        msgs.check_size(f"input of {activity.id}", payload, engine.settings.max_payload_bytes,
                        strict=False)
    entry = {"output": {"metadata": activity_meta(activity, dad, ctx)}}
    if payload is not None:
        entry["input"] = {"data": payload}
    fields = entry_fields(activity.id, dad, entry)
    if activity.type == "worker":
        extra: dict[str, Any] = {"policies": {"retry": activity.retry}} if activity.retry else {}
        if index is not None:
            carried = carry(index, activity, dad, ctx, fields)
            if carried is not None:
                extra["c"] = carried
        spec.xadd.append((engine.keys.worker_stream(topic, jid), msgs.build(out_meta, data=payload, **extra)))
    else:
        awaits = True if activity.await_child is True else truthy(resolve(activity.await_child, ctx))
        if not awaits:
            out_meta["await"] = False
        spec.xadd.append((engine.keys.engine_stream(jid), msgs.build(out_meta, type=msgs.AWAIT,
                                                                      data=payload or {})))
    spec.hset.update(fields)
    spec.hset[JobFields.ledger(activity.id, dad)] = str(LEG1_OPEN)
    event = engine.event(jid, activity.id, dad, activity.type, "running", 200)
    if own_event:
        spec.event = event
    elif event is not None:
        spec.events.append(event)


def single_leg(engine: StepContext, index: AppIndex, activity: Activity, state: StepState, spec: StepSpec,
               dad: str, ctx: dict[str, Any]) -> None:
    """Complete the activity in this one step (a pass-through hook, a signal, an interrupt of
    another job): map its output and job data, close its ledger and seed its children."""
    data = map_rules(activity.output_maps, ctx) if activity.output_maps is not None else {}
    entry = {"output": {"data": data, "metadata": activity_meta(activity, dad, state)}}
    ctx[activity.id] = ctx["$self"] = entry
    children = children_for(activity, 200, ctx)
    spec.hset.update(job_map_fields(activity.job_maps, ctx))
    spec.hset.update(job_map_fields(activity.code_job_maps.get("200"), ctx))
    spec.hset.update(entry_fields(activity.id, dad, entry))
    spec.hset[JobFields.ledger(activity.id, dad)] = str(SINGLE_PIVOT if activity.cycle else SINGLE_DONE)
    seed_children(engine, spec, state.meta["jid"], state.meta["gid"], dad, children, state.meta.get("trc"),
                  index, ctx)
    spec.sem = len(children) - 1
    spec.event = engine.event(state.meta["jid"], activity.id, dad, activity.type, "done", 200)
    finish_spec(engine, index, activity, state, spec, ctx)


#: the most a worker message carries for its leg 2 (bigger states are read back instead)
CARRY_MAX_BYTES = 16_384
CARRY_META = ("jid", "gid", "vrs", "tpc", "trc", "pj", "px", "ngn")


def carry(index: AppIndex, activity: Activity, dad: str, ctx: dict[str, Any], own: dict[str, str],
          ) -> dict[str, Any] | None:
    """What leg 2 of a worker activity would read from the job hash, sent along with the work.

    The worker echoes it (``c``) in its response, so leg 2 computes without reading the job: it
    needs the job's fixed metadata (``m``), the activity's own leg-1 entry and the entries of the
    ancestors its mappings consume (``f``, as job-hash fields), all write-once while it is open. The step
    script still checks everything that can change (generation, semaphore, and the ledger
    compare-and-set against leg 1's value): when any differs (a pending response moved the
    ledger, a duplicate, an interrupt) leg 2 reads the job and computes again. Activities whose
    mappings read ``$job``, cycle pivots and anything that needs a non-ancestor's state carry nothing."""
    if activity.cycle or index.reads_job.get(activity.id):
        return None
    job_meta = ctx.get("$job", {}).get("metadata", {})
    meta: dict[str, str] = {}
    for key in CARRY_META:
        value = job_meta.get(key)
        if value is not None:
            meta[key] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    if "vrs" not in meta or "gid" not in meta:
        return None
    _, blobs = fields_to_read(index, activity, dad)
    fields = dict(own)
    for aid, at in blobs:
        if aid == activity.id:
            continue
        entry = ctx.get(aid)
        if aid not in activity.ancestors or not entry:
            return None
        fields.update(entry_fields(aid, at, entry))
    if sum(len(v) for v in fields.values()) > CARRY_MAX_BYTES:
        return None
    return {"m": meta, "f": fields}
