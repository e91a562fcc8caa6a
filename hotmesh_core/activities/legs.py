"""Leg 1 and leg 2 of non-trigger activities (spec 5.3.2 to 5.3.4), each one atomic step.

Ledger arithmetic (spec 5.4) on the 15-digit value at ``l/<aid><dad>``::

    999000000000000  seeded by the parent        leg 1 enter+exit (duplex) -> 889000000000000
    single-leg completion -> 888000001000001     (cycle pivot: 889000001000001, stays open)
    leg 2, each entry: +1000000; exit +1; final exit also -1000000000000 (digit 2 -> 8)

Every step is read, compute, then one compare-and-set commit on that ledger (``scripts/step.lua``).
If the process dies before the commit, the message is redelivered and recomputed; if it dies
after, the redelivered copy finds the ledger moved on and is dropped.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from .. import messages as msgs
from ..compiler.model import Activity
from ..context import SEEDED, AppIndex, StepState, entry_fields, fields_to_read, restore
from ..errors import HotMeshError, PipeError, VersionNotFoundError
from ..faults import crash_point
from ..keys import JobFields
from ..mapper import children_for, job_map_fields, truthy
from ..pipe import map_rules, resolve
from ..serializer import dumps
from ..store import StepSpec
from ..util import timestamp, with_index
from .hooks import signal_key

if TYPE_CHECKING:
    from ..engine import Engine

log = logging.getLogger("hotmesh.engine")

LEG1_OPEN = 889000000000000
SINGLE_DONE = 888000001000001
SINGLE_PIVOT = 889000001000001


async def read_state(engine: Engine, jid: str, aid: str, dad: str) -> tuple[AppIndex, Activity, StepState] | None:
    """Read what a step of ``aid`` needs; None when the job is gone or unknown to this version."""
    index = await engine.active_app()
    for _ in range(2):
        activity = index.app.activities.get(aid)
        if activity is None:
            index2 = await engine.index_for_job(jid)
            if index2 is None or aid not in index2.app.activities:
                return None
            index, activity = index2, index2.app.activities[aid]
        fields, blobs = fields_to_read(index, activity, dad)
        values = await engine.store.read_fields(jid, fields)
        state = restore(index, activity, fields, blobs, values)
        if not state.exists:
            return None
        version = state.meta.get("vrs")
        if version == index.app.version:
            return index, activity, state
        index = await engine.app(version or "")
    return None


def seed_children(engine: Engine, spec: StepSpec, jid: str, gid: str, dad: str, children: list[str],
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
                _dispatch(engine, activity, jid, gid, child_ctx, spec, child_dad, trc, own_event=False,
                          index=index)
                continue
            except (PipeError, HotMeshError):
                pass
        spec.hset[JobFields.ledger(child, child_dad)] = str(SEEDED)
        spec.xadd.append((engine.keys.engine_stream(jid), msgs.build(
            msgs.metadata(jid, gid, child_dad, child, trc=trc), type=msgs.TRANSITION)))


def expire_seconds(engine: Engine, activity: Activity, graph_expire: Any, ctx: dict[str, Any]) -> int:
    rule = activity.expire if activity.expire is not None else graph_expire
    if rule is None:
        return engine.settings.expire_seconds
    value = resolve(rule, ctx)
    try:
        return int(value)
    except (TypeError, ValueError):
        return engine.settings.expire_seconds


def completion_message(engine: Engine, jid: str, gid: str, meta: dict[str, str], publishes: str | None,
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
    message = msgs.build(msgs.metadata(jid, gid, ",0", meta.get("tpc", "")), type=msgs.COMPLETE, **extra)
    return engine.keys.engine_stream(jid), message


def plan_completion(engine: Engine, spec: StepSpec, jid: str, gid: str, meta: dict[str, str],
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


def _finish_spec(engine: Engine, index: AppIndex, activity: Activity, state: StepState, spec: StepSpec,
                 ctx: dict[str, Any]) -> None:
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


def _activity_meta(activity: Activity, dad: str, state: StepState | dict[str, Any], **extra: Any) -> dict[str, Any]:
    ctx = state.ctx if isinstance(state, StepState) else state
    previous = ctx.get(activity.id, {}).get("output", {}).get("metadata", {})
    now = timestamp()
    meta = {"aid": activity.id, "dad": dad, "atp": activity.type, "ac": previous.get("ac", now), "au": now}
    if activity.subtype:
        meta["stp"] = activity.subtype
    meta.update(extra)
    return meta


async def _read_or_drop(engine: Engine, meta: dict[str, Any], ack: tuple[str, str, str],
                        ) -> tuple[AppIndex, Activity, StepState] | None:
    """The step's state, or None (the message acked and dropped) when the job is gone, of another
    generation, or no longer running: the expected faults that make redeliveries harmless."""
    found = await read_state(engine, meta["jid"], meta["aid"], meta["dad"])
    if found is None or found[2].meta.get("gid") != meta.get("gid") or (found[2].semaphore or 0) <= 0:
        await engine.store.ack(*ack)
        return None
    return found


# -- leg 1 --------------------------------------------------------------------------------------
async def leg1(engine: Engine, message: dict[str, Any], ack: tuple[str, str, str]) -> None:
    from . import control, hooks

    meta = message["metadata"]
    jid, aid, dad, gid = meta["jid"], meta["aid"], meta["dad"], meta.get("gid")
    for _ in range(20):
        found = await _read_or_drop(engine, meta, ack)
        if found is None:
            return
        index, activity, state = found
        if state.ledger != SEEDED:
            await engine.store.ack(*ack)          # stale generation, inactive job, or a duplicate
            return
        spec = new_leg1_spec(engine, activity, jid, gid, dad, ack)
        ctx = state.ctx
        try:
            if activity.status_threshold is not None:
                threshold = resolve(activity.status_threshold, ctx)
                if isinstance(threshold, int | float) and not isinstance(threshold, bool):
                    spec.precheck = int(threshold)
            if activity.type in ("worker", "await"):
                _dispatch(engine, activity, jid, state.meta["gid"], ctx, spec, dad, meta.get("trc"),
                          index=index)
            elif activity.type == "hook":
                if not hooks.open_hook(engine, index, activity, state, spec, dad):
                    _single_leg(engine, index, activity, state, spec, dad, ctx)
            elif activity.type == "cycle":
                control.cycle(engine, activity, state, spec, dad)
            elif activity.type == "signal":
                await control.signal(engine, index, activity, state, spec, dad)
                _single_leg(engine, index, activity, state, spec, dad, ctx)
            elif activity.type == "interrupt":
                control.interrupt_activity(engine, index, activity, state, spec, dad)
            else:
                raise HotMeshError(f"activity type '{activity.type}' ({aid}) cannot run", 500)
        except (PipeError, HotMeshError) as exc:
            spec = new_leg1_spec(engine, activity, jid, gid, dad, ack)
            _fail_in_leg1(engine, index, activity, state, spec, dad, exc)
        crash_point("leg1.before_step")
        result = await engine.store.step(spec)
        crash_point("leg1.after_step")
        if spec.timer is not None and engine.hm.scout is not None:
            engine.hm.scout.nudge()
        if result.status == "threshold":
            result = await engine.store.step(_conclude(engine, index, activity, state, dad, ack, result.semaphore))
        if result.status != "conflict":
            return
    raise HotMeshError(f"leg 1 of {aid} kept conflicting", 503)


def new_leg1_spec(engine: Engine, activity: Activity, jid: str, gid: str | None, dad: str,
                  ack: tuple[str, str, str]) -> StepSpec:
    return StepSpec(engine.keys.job(jid), gid=gid, active=0, ledger=(JobFields.ledger(activity.id, dad), SEEDED),
                    ack=ack)


def _conclude(engine: Engine, index: AppIndex, activity: Activity, state: StepState, dad: str,
              ack: tuple[str, str, str], threshold: int) -> StepSpec:
    """statusThreshold (spec 5.3.8): the semaphore equals the threshold, so the job concludes here.

    The activity is notarised as skipped and does nothing else (no signal key is left behind: Q6).
    """
    spec = new_leg1_spec(engine, activity, state.meta["jid"], state.meta["gid"], dad, ack)
    spec.semeq = threshold
    spec.sem = -threshold
    spec.hset[JobFields.ledger(activity.id, dad)] = str(888000000000000)
    spec.hset.update(entry_fields(activity.id, dad, {"output": {"metadata": _activity_meta(
        activity, dad, state, skipped=True)}}))
    spec.event = engine.event(state.meta["jid"], activity.id, dad, activity.type, "done", 200)
    _finish_spec(engine, index, activity, state, spec, state.ctx)
    spec.emit_message = None
    return spec


def _dispatch(engine: Engine, activity: Activity, jid: str, gid: str, ctx: dict[str, Any], spec: StepSpec,
              dad: str, trc: str | None, *, own_event: bool = True, index: AppIndex | None = None) -> None:
    """Leg 1 of a worker or await: map the input, send the work, open the ledger. Raises (before
    touching ``spec``) when the input, the topic or the payload size is wrong."""
    payload = map_rules(activity.input_maps, ctx) if activity.input_maps is not None else None
    topic = resolve(activity.topic, ctx)
    if not isinstance(topic, str) or not topic:
        raise PipeError(f"activity '{activity.id}': topic resolved to {topic!r}")
    out_meta = msgs.metadata(jid, gid, dad, activity.id, topic=topic, trc=trc)
    if payload is not None:
        msgs.check_size(f"input of {activity.id}", payload, engine.settings.max_payload_bytes)
    entry = {"output": {"metadata": _activity_meta(activity, dad, ctx)}}
    if payload is not None:
        entry["input"] = {"data": payload}
    fields = entry_fields(activity.id, dad, entry)
    if activity.type == "worker":
        extra: dict[str, Any] = {"policies": {"retry": activity.retry}} if activity.retry else {}
        if index is not None:
            carried = carry(index, activity, dad, ctx, fields)
            if carried is not None:
                extra["c"] = carried
        spec.xadd.append((engine.keys.worker_stream(topic), msgs.build(out_meta, data=payload, **extra)))
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


def _single_leg(engine: Engine, index: AppIndex, activity: Activity, state: StepState, spec: StepSpec,
                dad: str, ctx: dict[str, Any]) -> None:
    data = map_rules(activity.output_maps, ctx) if activity.output_maps is not None else {}
    entry = {"output": {"data": data, "metadata": _activity_meta(activity, dad, state)}}
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
    _finish_spec(engine, index, activity, state, spec, ctx)


def _fail_in_leg1(engine: Engine, index: AppIndex, activity: Activity, state: StepState, spec: StepSpec,
                  dad: str, exc: HotMeshError) -> None:
    """A mapping error in leg 1 fails the activity (and so the job) instead of hanging it."""
    error = {"message": exc.message, "code": exc.code}
    spec.hset = {
        **entry_fields(activity.id, dad, {"output": {"metadata": _activity_meta(
            activity, dad, state, err=dumps(error))}}),
        JobFields.ledger(activity.id, dad): str(SINGLE_DONE),
        JobFields.meta("err"): dumps({**error, "is_stream_error": True, "job_id": state.meta["jid"]}),
    }
    spec.sem = -1
    spec.event = engine.event(state.meta["jid"], activity.id, dad, activity.type, "failed", exc.code)
    _finish_spec(engine, index, activity, state, spec, state.ctx)
    spec.emit_message = None


# -- carried state -----------------------------------------------------------------------------
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


async def _state_carried(engine: Engine, meta: dict[str, Any], carried: dict[str, Any],
                         ) -> tuple[AppIndex, Activity, StepState] | None:
    """Leg 2's state from what its message carries (see ``carry``); None when it falls short."""
    try:
        job_meta, carried_fields = carried["m"], carried["f"]
        index = await engine.app(str(job_meta["vrs"]))
    except (KeyError, TypeError, VersionNotFoundError):
        return None
    aid, dad = meta.get("aid"), meta.get("dad")
    activity = index.app.activities.get(aid or "")
    if activity is None or not isinstance(dad, str) or job_meta.get("gid") != meta.get("gid"):
        return None
    fields, blobs = fields_to_read(index, activity, dad)
    given = {JobFields.SEMAPHORE: "1", JobFields.ledger(activity.id, dad): str(LEG1_OPEN),
             **carried_fields, **{JobFields.meta(k): v for k, v in job_meta.items()}}
    values: list[str | None] = []
    for name in fields:
        if name in given:
            values.append(given[name])
        elif name[:2] in ("m/", "o/", "i/", "h/"):
            values.append(None)             # absent in the job too
        else:
            return None                     # an entry (or a field) it does not carry: read the job
    return index, activity, restore(index, activity, fields, blobs, values)


# -- leg 2 --------------------------------------------------------------------------------------
async def leg2(engine: Engine, message: dict[str, Any], ack: tuple[str, str, str]) -> None:
    meta = message["metadata"]
    aid, dad = meta["aid"], meta["dad"]
    carried = message.get("c")
    for attempt in range(20):
        found = None
        if attempt == 0 and isinstance(carried, dict):
            found = await _state_carried(engine, meta, carried)
        if found is None:
            found = await _read_or_drop(engine, meta, ack)
            if found is None:
                return
        index, activity, state = found
        ledger = state.ledger
        digits = f"{ledger:015d}" if ledger is not None else ""
        if not digits or digits[0] == "9" or digits[1] == "9" or digits[2] != "9":
            await engine.store.ack(*ack)          # leg 1 not done, or leg 2 already closed
            return
        assert ledger is not None
        spec = _leg2_spec(engine, index, activity, state, message, dad, ledger, ack)
        crash_point("leg2.before_step")
        result = await engine.store.step(spec)
        crash_point("leg2.after_step")
        if result.status != "conflict":
            return
    raise HotMeshError(f"leg 2 of {aid} kept conflicting", 503)


def _leg2_spec(engine: Engine, index: AppIndex, activity: Activity, state: StepState,
               message: dict[str, Any], dad: str, ledger: int, ack: tuple[str, str, str]) -> StepSpec:
    meta = message["metadata"]
    status = message.get("status") or "success"
    code = int(message.get("code") or (500 if status == "error" else 200))
    data = message.get("data")
    if not isinstance(data, dict):
        data = {} if data is None else {"value": data}
    entries = int(f"{ledger:015d}"[3:9]) + 1
    effective = with_index(dad, entries - 1)
    final = status != "pending"
    jid, gid = state.meta["jid"], state.meta["gid"]
    ctx = state.ctx
    extra: dict[str, Any] = {}
    if status == "error":
        extra["err"] = dumps({"message": data.get("message", "error"), "code": code})
    entry: dict[str, Any] = {"output": {"metadata": _activity_meta(activity, effective, state, **extra)}}
    previous_input = ctx.get(activity.id, {}).get("input")
    if previous_input is not None:
        entry["input"] = previous_input
    signalled = message.get("type") in (msgs.TIMEHOOK, msgs.WEBHOOK)
    if signalled:
        entry["hook"] = {"data": data}
    elif status != "error":
        entry["output"]["data"] = data
    if status == "error":
        ctx["$error"] = {"message": data.get("message"), "code": code}
    ctx[activity.id] = ctx["$self"] = entry
    spec = StepSpec(engine.keys.job(jid), gid=gid, active=0, ledger=(JobFields.ledger(activity.id, dad), ledger),
                    ack=ack, guid=None if final else meta.get("guid"))
    try:
        if activity.output_maps is not None and status != "error":
            entry["output"]["data"] = {**(entry["output"].get("data") or {}),
                                       **map_rules(activity.output_maps, ctx)}
        children = children_for(activity, code, ctx)
        spec.hset.update(job_map_fields(activity.job_maps, ctx))
        spec.hset.update(job_map_fields(activity.code_job_maps.get(str(code)), ctx))
    except (PipeError, HotMeshError) as exc:
        children, status, final = [], "error", True
        entry["output"]["metadata"]["err"] = dumps({"message": exc.message, "code": exc.code})
        data = {"message": exc.message, "code": exc.code}
        code = exc.code
    if message.get("type") == msgs.WEBHOOK and code == 200:
        rule = index.app.hooks.get(meta.get("topic", ""))
        key = signal_key(engine, rule, data) if rule else None
        if key:
            spec.unsignal = key               # the hook closes: later signals find nothing
    if status == "error" and final and not children:
        spec.hset[JobFields.meta("err")] = dumps({"code": code, "message": data.get("message", "error"),
                                                  "is_stream_error": True, "job_id": jid})
    spec.hset.update(entry_fields(activity.id, effective, entry))
    closing = final and not activity.cycle
    new_ledger = ledger + 1_000_000 + 1 - (1_000_000_000_000 if closing else 0)
    spec.hset[JobFields.ledger(activity.id, dad)] = str(new_ledger)
    seed_children(engine, spec, jid, gid, effective, children, meta.get("trc"), index, ctx)
    spec.sem = len(children) - 1 if final else len(children)
    outcome = "failed" if status == "error" else "done" if final else "pending"
    spec.event = engine.event(jid, activity.id, effective, activity.type, outcome, code)
    _finish_spec(engine, index, activity, state, spec, ctx)
    return spec


async def fail_exhausted(engine: Engine, message: dict[str, Any], ack: tuple[str, str, str], reason: str) -> None:
    """A message past the delivery cap fails its activity with code 999 (never loops, spec Q11)."""
    meta = message["metadata"]
    kind = message.get("type")
    error = {"message": reason, "code": 999}
    client = engine.store.client
    if kind == msgs.TRANSITION:
        found = await read_state(engine, meta["jid"], meta["aid"], meta["dad"])
        if found is None or found[2].ledger != SEEDED or found[2].meta.get("gid") != meta.get("gid"):
            await engine.store.ack(*ack)
            return
        index, activity, state = found
        spec = StepSpec(engine.keys.job(meta["jid"]), gid=meta.get("gid"), active=0,
                        ledger=(JobFields.ledger(activity.id, meta["dad"]), SEEDED), ack=ack)
        _fail_in_leg1(engine, index, activity, state, spec, meta["dad"], HotMeshError(reason, 999))
        await engine.store.step(spec)
        return
    if kind in (msgs.COMPLETE, None) or message.get("exhausted"):
        log.error("dropping %s message for job %s: %s", kind or "re-entry", meta.get("jid"), reason)
        await engine.store.ack(*ack)
        return
    if kind == msgs.AWAIT:
        target = msgs.metadata(meta["jid"], meta.get("gid", ""), meta["dad"], meta["aid"],
                               message_guid="X" + meta["guid"][1:])
        reply = msgs.build(target, type=msgs.RESULT, data=error, status="error", code=999)
    else:
        reply = msgs.build({**meta, "guid": "X" + meta["guid"][1:]}, type=msgs.RESPONSE, data=error,
                           status="error", code=999, exhausted=True)
    async with client.pipeline(transaction=True) as pipe:
        pipe.xadd(engine.keys.engine_stream(meta["jid"]), {"message": reply})
        pipe.xack(ack[0], ack[1], ack[2])
        await pipe.execute()
