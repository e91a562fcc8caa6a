"""Control-flow activities (spec 2.4): ``cycle``, ``signal`` and ``interrupt``, and job interrupts."""

from __future__ import annotations

import json
from typing import Any

from .. import messages as msgs
from ..compiler.model import Activity
from ..context import AppIndex, StepState, entry_fields
from ..errors import HotMeshError, JobCompletedError, JobLimitError, JobNotFoundError, PipeError
from ..keys import META_FIELDS, JobFields
from ..mapper import job_map_fields, truthy
from ..pipe import UNDEFINED, map_rules, resolve
from ..protocols import StepContext
from ..serializer import dumps
from ..store import StepSpec
from ..util import guid
from .hooks import hook_rule, signal_keys
from .stats import job_key_and_slice
from .steps import (
    SINGLE_DONE,
    activity_meta,
    completion_message,
    finish_spec,
    job_limits,
    signal_value,
    single_leg,
)

INTERRUPTED = -1_000_000_000
CYCLE_DONE = 888000000000000


def cycle(engine: StepContext, activity: Activity, state: StepState, spec: StepSpec, dad: str) -> None:
    """Send a typeless re-entry message to the pivot at its index-0 address (spec 5.3.5, 3.5)."""
    ctx = state.ctx
    jid, gid = state.meta["jid"], state.meta["gid"]
    pivot = activity.ancestor
    if not pivot or pivot not in activity.ancestors:
        raise HotMeshError(f"cycle '{activity.id}' has no ancestor to re-enter", 500)
    depth = activity.ancestors.index(pivot)
    segments = dad.split(",")[1:]
    target = "".join("," + s for s in segments[:depth]) + ",0"
    data = map_rules(activity.input_maps, ctx) if activity.input_maps is not None else None
    spec.xadd.append((engine.keys.engine_stream(jid), msgs.build(
        msgs.metadata(jid, gid, target, pivot, trc=state.meta.get("trc")), data=data)))
    entry: dict[str, Any] = {"output": {"metadata": activity_meta(activity, dad, state)}}
    if data is not None:
        entry["input"] = {"data": data}
    spec.hset.update(entry_fields(activity.id, dad, entry))
    spec.hset[JobFields.ledger(activity.id, dad)] = str(CYCLE_DONE)
    spec.event = engine.event(jid, activity.id, dad, activity.type, "done", 200)


async def signal(engine: StepContext, index: AppIndex, activity: Activity, state: StepState, spec: StepSpec,
                 dad: str) -> None:
    """Signal one waiting hook, or every job in a stats index (``subtype: all``)."""
    ctx = state.ctx
    topic = resolve(activity.topic, ctx)
    if not isinstance(topic, str):
        raise PipeError(f"signal '{activity.id}': topic resolved to {topic!r}")
    data = map_rules(activity.signal_maps, ctx) if activity.signal_maps is not None else {}
    status = resolve(activity.status, ctx) if activity.status is not None else "success"
    code = resolve(activity.code, ctx) if activity.code is not None else 200
    rule = await hook_rule(engine, topic)
    if rule is None:
        return
    targets: list[dict[str, Any]] = []
    if (activity.subtype or "one") == "all":
        resolver = map_rules(activity.resolver_maps, ctx) if activity.resolver_maps is not None else {}
        key_name = resolve(activity.key_name, ctx)
        key_value = resolve(activity.key_value, ctx)
        lists = await _index_lists(engine, index, rule.to, resolver.get("data") or {}, key_name, key_value)
        for list_key, stats_key in lists:
            for jid in await engine.store.list_range(list_key):
                targets.append({**data, "id": jid})
            if truthy(resolver.get("scrub")):
                spec.delete += [list_key, stats_key]
    else:
        targets.append(data)
    for payload in targets:
        where = signal_keys(engine, rule, payload)
        registration = await engine.store.first(where) if where else None
        if registration is None:
            continue
        aid, hook_dad, gid, jid = registration.split("::", 3)
        meta = msgs.metadata(jid, gid, hook_dad, aid, topic=topic, message_guid=guid())
        spec.xadd.append((engine.keys.engine_stream(jid), msgs.build(
            meta, type=msgs.WEBHOOK, data=payload, status=status, code=int(code))))


async def _index_lists(engine: StepContext, index: AppIndex, hook_aid: str, query: dict[str, Any],
                       key_name: Any, key_value: Any) -> list[tuple[str, str]]:
    """The stats index lists (and their stats hash) holding the job ids a ``signal all`` targets."""
    hook_activity = index.app.activities.get(hook_aid)
    if hook_activity is None:
        return []
    trigger = index.app.activities[hook_activity.trigger]
    found = job_key_and_slice(trigger, {"$self": {"input": {"data": query}, "output": {"data": query}},
                                        trigger.id: {"input": {"data": query}, "output": {"data": query}}})
    if found is None or key_name in (None, UNDEFINED):
        return []
    job_key, time_slice = found
    return [(engine.keys.stats_index(job_key, time_slice, str(key_name), signal_value(key_value), shard),
             engine.keys.stats(job_key, time_slice, shard)) for shard in engine.keys.shard_ids]


def interrupt_activity(engine: StepContext, index: AppIndex, activity: Activity, state: StepState,
                       spec: StepSpec, dad: str) -> None:
    """Interrupt this job (after its job maps) or another one (then carry on, spec 5.3.6)."""
    ctx = state.ctx
    jid = state.meta["jid"]
    target = resolve(activity.target, ctx) if activity.target is not None else UNDEFINED
    options = interrupt_options(activity, ctx)
    if target in (UNDEFINED, None, "", jid):
        spec.hset.update(job_map_fields(activity.job_maps, ctx))
        spec.hset.update(entry_fields(activity.id, dad, {"output": {"metadata": activity_meta(
            activity, dad, state)}}))
        spec.hset[JobFields.ledger(activity.id, dad)] = str(SINGLE_DONE)
        apply_interrupt(engine, index, state.meta, spec, options, extra=-1)
        finish_spec(engine, index, activity, state, spec, ctx)
        spec.finishing = False
        spec.emit_message = None
        return
    single_leg(engine, index, activity, state, spec, dad, ctx)
    message = msgs.build(msgs.metadata(str(target), "", ",0", "", message_guid=guid()), type="interrupt",
                         data={**options, "topic": resolve(activity.topic, ctx) if activity.topic else None})
    spec.xadd.append((engine.keys.engine_stream(str(target)), message))


def interrupt_options(activity: Activity, ctx: dict[str, Any]) -> dict[str, Any]:
    def value(rule: Any) -> Any:
        got = resolve(rule, ctx) if rule is not None else UNDEFINED
        return None if got is UNDEFINED else got

    return {"reason": value(activity.reason), "throw": value(activity.throw), "code": value(activity.code),
            "expire": value(activity.expire), "descend": value(activity.descend), "stack": value(activity.stack)}


def apply_interrupt(engine: StepContext, index: AppIndex | None, meta: dict[str, str], spec: StepSpec,
                    options: dict[str, Any], *, extra: int = 0) -> None:
    """Add the interrupt of the job ``meta`` describes to ``spec`` (semaphore -1e9, error, notify)."""
    jid, gid = meta["jid"], meta["gid"]
    spec.sem += INTERRUPTED + extra
    if options.get("throw") is not False:
        code = int(options.get("code") or 410)
        spec.hset[JobFields.meta("err")] = dumps({
            "code": code, "message": options.get("reason") or f"job [{jid}] interrupted",
            "stack": options.get("stack") or "", "job_id": jid})
    expire = options.get("expire")
    seconds = int(expire) if isinstance(expire, int | float) and expire > 0 else engine.settings.expire_seconds
    publishes = None
    if index is not None:
        try:
            publishes = index.app.graph_of(meta.get("tpc", "")).publishes
        except KeyError:
            publishes = None
    spec.notify = completion_message(engine, jid, gid, meta, publishes, expire=seconds)
    if spec.notify is None:
        spec.expire = seconds                 # nobody to tell: expire now
    spec.event = engine.event(jid, meta.get("aid") or "", ",0", "job", "interrupted",
                              int(options.get("code") or 410))


async def interrupt_job(engine: StepContext, jid: str, options: dict[str, Any], *, suppress: bool = False,
                        ack: tuple[str, str, str] | None = None) -> bool:
    """Interrupt a running job; with ``descend`` its awaited children too. True when it was running."""
    values = await engine.store.read_fields(jid, [JobFields.SEMAPHORE, *META_FIELDS])
    if values[0] is None:
        if ack:
            await engine.store.ack(*ack)
        if suppress:
            return False
        raise JobNotFoundError(f"Job {jid} not found", job_id=jid)
    meta = {name[2:]: v for name, v in zip(META_FIELDS, values[1:], strict=True) if v is not None}
    index = await engine.app(meta["vrs"]) if meta.get("vrs") else None
    spec = StepSpec(engine.keys.job(jid), gid=meta.get("gid"), active=0, ack=ack)
    apply_interrupt(engine, index, meta, spec, options)
    result = await engine.store.step(spec)
    running = result.status == "ok"
    if not running and not suppress:
        raise JobCompletedError(f"Job {jid} already completed", job_id=jid)
    if truthy(options.get("descend")):
        for child in await engine.store.list_range(engine.keys.dependents(jid)):
            await interrupt_job(engine, child, {**options, "throw": options.get("throw")}, suppress=True)
    return running


async def stop_runaway(engine: StepContext, index: AppIndex, activity: Activity, meta: dict[str, str], kind: str,
                       ack: tuple[str, str, str]) -> None:
    """A step found its job past a limit (the step script answered ``limit``; nothing was written):
    end the job the way an interrupt does, with ``JobLimitError``'s code 508 and a message naming
    the activity and the limit, so every branch still running stops and the caller is told. Its
    awaited children are interrupted too (``descend``); the consumed message is acked with it."""
    limit = job_limits(engine, index, activity)[kind]
    setting = "HMSH_MAX_STEPS" if kind == "steps" else "HMSH_MAX_CYCLES"
    error = JobLimitError(
        f"job {meta['jid']} stopped at activity '{activity.id}': it reached its limit of {limit} "
        f"{'activity steps' if kind == 'steps' else 'cycle iterations'} (graph '{activity.graph}' "
        f"limits.{kind}, default {setting}); a loop with no exit?")
    await interrupt_job(engine, meta["jid"], {"reason": error.message, "code": error.code, "descend": True},
                        suppress=True, ack=ack)


def parse_options(data: Any) -> dict[str, Any]:
    return data if isinstance(data, dict) else json.loads(data or "{}")
