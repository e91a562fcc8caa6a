"""Leg 1 and leg 2 of non-trigger activities (spec 5.3.2 to 5.3.4), each one atomic step.

Ledger arithmetic (spec 5.4) on the 15-digit value at ``l/<aid><dad>``::

    999000000000000  seeded by the parent        leg 1 enter+exit (duplex) -> 889000000000000
    single-leg completion -> 888000001000001     (cycle pivot: 889000001000001, stays open)
    leg 2, each entry: +1000000; exit +1; final exit also -1000000000000 (digit 2 -> 8)

Every step is read, compute, then one compare-and-set commit on that ledger (``scripts/step.lua``).
If the process dies before the commit, the message is redelivered and recomputed; if it dies
after, the redelivered copy finds the ledger moved on and is dropped.

Leg 1 dispatches by activity type to ``hooks`` and ``control``; what every type shares
(metadata, completion, seeding children) is in ``steps``.
"""

from __future__ import annotations

import logging
from typing import Any

from .. import messages as msgs
from ..compiler.model import Activity
from ..context import SEEDED, AppIndex, StepState, entry_fields, fields_to_read, restore
from ..errors import HotMeshError, PipeError, VersionNotFoundError
from ..faults import crash_point
from ..keys import JobFields
from ..mapper import children_for, job_map_fields
from ..pipe import map_rules, resolve
from ..protocols import StepContext
from ..serializer import dumps
from ..store import StepSpec
from ..util import with_index
from . import control, hooks
from .hooks import signal_key
from .steps import (
    LEG1_OPEN,
    SINGLE_DONE,
    activity_meta,
    count_step,
    dispatch,
    finish_spec,
    mapping_budget,
    seed_children,
    single_leg,
)

log = logging.getLogger("hotmesh.engine")


async def read_state(engine: StepContext, jid: str, aid: str, dad: str) -> tuple[AppIndex, Activity, StepState] | None:
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


async def _read_or_drop(engine: StepContext, meta: dict[str, Any], ack: tuple[str, str, str],
                        ) -> tuple[AppIndex, Activity, StepState] | None:
    """The step's state, or None (the message acked and dropped) when the job is gone, of another
    generation, or no longer running: the expected faults that make redeliveries harmless."""
    found = await read_state(engine, meta["jid"], meta["aid"], meta["dad"])
    if found is None or found[2].meta.get("gid") != meta.get("gid") or (found[2].semaphore or 0) <= 0:
        await engine.store.ack(*ack)
        return None
    return found


# -- leg 1 --------------------------------------------------------------------------------------
async def leg1(engine: StepContext, message: dict[str, Any], ack: tuple[str, str, str]) -> None:
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
        spec = new_leg1_spec(engine, index, activity, jid, gid, dad, ack)
        ctx = state.ctx
        try:
            with mapping_budget(engine, aid):
                if activity.status_threshold is not None:
                    threshold = resolve(activity.status_threshold, ctx)
                    if isinstance(threshold, int | float) and not isinstance(threshold, bool):
                        spec.precheck = int(threshold)
                if activity.type in ("worker", "await"):
                    dispatch(engine, activity, jid, state.meta["gid"], ctx, spec, dad, meta.get("trc"),
                              index=index)
                elif activity.type == "hook":
                    if not hooks.open_hook(engine, index, activity, state, spec, dad):
                        single_leg(engine, index, activity, state, spec, dad, ctx)
                elif activity.type == "cycle":
                    control.cycle(engine, activity, state, spec, dad)
                elif activity.type == "signal":
                    await control.signal(engine, index, activity, state, spec, dad)
                    single_leg(engine, index, activity, state, spec, dad, ctx)
                elif activity.type == "interrupt":
                    control.interrupt_activity(engine, index, activity, state, spec, dad)
                else:
                    raise HotMeshError(f"activity type '{activity.type}' ({aid}) cannot run", 500)
        except (PipeError, HotMeshError) as exc:
            spec = new_leg1_spec(engine, index, activity, jid, gid, dad, ack)
            _fail_in_leg1(engine, index, activity, state, spec, dad, exc)
        crash_point("leg1.before_step")
        result = await engine.store.step(spec)
        crash_point("leg1.after_step")
        if spec.timer is not None:
            engine.timer_registered()
        if result.status == "threshold":
            result = await engine.store.step(_conclude(engine, index, activity, state, dad, ack, result.semaphore))
        if result.status == "limit":
            await control.stop_runaway(engine, index, activity, state.meta, result.detail, ack)
        if result.status != "conflict":
            return
    raise HotMeshError(f"leg 1 of {aid} kept conflicting", 503)


def new_leg1_spec(engine: StepContext, index: AppIndex, activity: Activity, jid: str, gid: str | None, dad: str,
                  ack: tuple[str, str, str]) -> StepSpec:
    spec = StepSpec(engine.keys.job(jid), gid=gid, active=0, ledger=(JobFields.ledger(activity.id, dad), SEEDED),
                    ack=ack)
    count_step(engine, index, activity, spec)
    return spec


def _conclude(engine: StepContext, index: AppIndex, activity: Activity, state: StepState, dad: str,
              ack: tuple[str, str, str], threshold: int) -> StepSpec:
    """statusThreshold (spec 5.3.8): the semaphore equals the threshold, so the job concludes here.

    The activity is notarised as skipped and does nothing else (no signal key is left behind: Q6).
    """
    spec = new_leg1_spec(engine, index, activity, state.meta["jid"], state.meta["gid"], dad, ack)
    spec.semeq = threshold
    spec.sem = -threshold
    spec.hset[JobFields.ledger(activity.id, dad)] = str(888000000000000)
    spec.hset.update(entry_fields(activity.id, dad, {"output": {"metadata": activity_meta(
        activity, dad, state, skipped=True)}}))
    spec.event = engine.event(state.meta["jid"], activity.id, dad, activity.type, "done", 200)
    finish_spec(engine, index, activity, state, spec, state.ctx)
    spec.emit_message = None
    return spec


def _fail_in_leg1(engine: StepContext, index: AppIndex, activity: Activity, state: StepState, spec: StepSpec,
                  dad: str, exc: HotMeshError) -> None:
    """A mapping error in leg 1 fails the activity (and so the job) instead of hanging it."""
    error = {"message": exc.message, "code": exc.code}
    spec.hset = {
        **entry_fields(activity.id, dad, {"output": {"metadata": activity_meta(
            activity, dad, state, err=dumps(error))}}),
        JobFields.ledger(activity.id, dad): str(SINGLE_DONE),
        JobFields.meta("err"): dumps({**error, "is_stream_error": True, "job_id": state.meta["jid"]}),
    }
    spec.sem = -1
    spec.event = engine.event(state.meta["jid"], activity.id, dad, activity.type, "failed", exc.code)
    finish_spec(engine, index, activity, state, spec, state.ctx)
    spec.emit_message = None


# -- carried state -----------------------------------------------------------------------------
async def _state_carried(engine: StepContext, meta: dict[str, Any], carried: dict[str, Any],
                         ) -> tuple[AppIndex, Activity, StepState] | None:
    """Leg 2's state from what its message carries (see ``steps.carry``); None when it falls short."""
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
async def leg2(engine: StepContext, message: dict[str, Any], ack: tuple[str, str, str]) -> None:
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
        if result.status == "limit":
            await control.stop_runaway(engine, index, activity, state.meta, result.detail, ack)
        if result.status != "conflict":
            return
    raise HotMeshError(f"leg 2 of {aid} kept conflicting", 503)


def _leg2_spec(engine: StepContext, index: AppIndex, activity: Activity, state: StepState,
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
    entry: dict[str, Any] = {"output": {"metadata": activity_meta(activity, effective, state, **extra)}}
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
    count_step(engine, index, activity, spec)
    try:
        with mapping_budget(engine, activity.id):
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
        key = signal_key(engine, rule, data, jid) if rule else None
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
    finish_spec(engine, index, activity, state, spec, ctx)
    return spec


async def fail_exhausted(engine: StepContext, message: dict[str, Any], ack: tuple[str, str, str], reason: str) -> None:
    """A message past the delivery cap fails its activity with code 999 (never loops, spec Q11)."""
    meta = message["metadata"]
    kind = message.get("type")
    error = {"message": reason, "code": 999}
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
    await engine.store.add_and_ack(engine.keys.engine_stream(meta["jid"]), reply, ack)
