"""The trigger (spec 5.3.1): create the job and dispatch its first children in one atomic step."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import messages as msgs
from ..context import TRIGGER_LEDGER, AppIndex, entry_fields
from ..errors import DuplicateJobError, HotMeshError, TopicNotFoundError, ValidationError
from ..faults import crash_point
from ..keys import JobFields, check_id, tag_of
from ..mapper import children_for, job_map_fields, truthy
from ..pipe import UNDEFINED, resolve
from ..protocols import StepContext
from ..serializer import dumps
from ..store import StepSpec
from ..tracing import Step
from ..util import guid, timestamp
from .stats import add_stats
from .steps import completion_message, expire_seconds, mapping_budget, plan_completion, seed_children


@dataclass
class Parent:
    jid: str
    gid: str
    dad: str
    aid: str
    awaits: bool
    trc: str | None = None
    spn: str | None = None       # the parent job's span (traced jobs)
    l1s: str | None = None       # the span of the step that started this job (traced jobs)


@dataclass
class PreparedJob:
    jid: str
    spec: StepSpec
    message_guid: str | None
    trace: tuple[Step, int, str] | None = None     # (trigger step, start ns, topic) when traced


async def prepare(engine: StepContext, topic: str, data: dict[str, Any], *, index: AppIndex | None = None,
                  ngn: str | None = None, parent: Parent | None = None, pending: float | None = None,
                  search: dict[str, Any] | None = None, markers: dict[str, Any] | None = None,
                  message_guid: str | None = None, ack: tuple[str, str, str] | None = None,
                  trc: str | None = None) -> PreparedJob:
    index = index or await engine.active_app()
    app = index.app
    trigger_id = app.subscriptions.get(topic)
    if trigger_id is None:
        raise TopicNotFoundError(f"no graph of app '{app.id}' version '{app.version}' subscribes to '{topic}'")
    if not isinstance(data, dict):
        raise ValidationError(f"job input must be a JSON object, got {type(data).__name__}")
    msgs.check_size("job input", data, engine.settings.max_payload_bytes)
    for name, extra in (("search", search), ("markers", markers)):
        if extra is not None:
            if not isinstance(extra, dict):
                raise ValidationError(f"{name} must be a JSON object, got {type(extra).__name__}")
            msgs.check_size(name, extra, engine.settings.max_payload_bytes)
    activity = app.activities[trigger_id]
    graph = app.graph_of(topic)
    now = timestamp()
    entry: dict[str, Any] = {"output": {"data": data, "metadata": {
        "aid": trigger_id, "dad": ",0", "atp": "trigger", "ac": now, "au": now}}}
    ctx: dict[str, Any] = {trigger_id: {**entry, "input": {"data": data}},
                           "$job": {"metadata": {}, "data": {}}, "$app": {"settings": app.settings}}
    ctx["$self"] = ctx[trigger_id]
    with mapping_budget(engine, trigger_id):        # the trigger's mappings share one time budget
        stats = activity.stats or {}
        jid: Any = UNDEFINED
        if stats.get("id") is not None:
            jid = resolve(stats["id"], ctx)
        if jid is UNDEFINED or jid is None or jid == "":
            jid = message_guid or guid()
        jid = check_id("job id", str(jid))
        key = resolve(stats["key"], ctx) if stats.get("key") is not None else UNDEFINED
        gid = guid()
        meta: dict[str, str] = {"jid": jid, "gid": gid, "tpc": topic, "app": app.id, "vrs": app.version,
                                "ts": now[:12], "jc": now, "ju": now}
        if key is not UNDEFINED and key is not None:
            meta["key"] = str(key)
        if ngn:
            meta["ngn"] = ngn
        if parent:
            meta.update(pj=parent.jid, pg=parent.gid, pd=parent.dad, pa=parent.aid,
                        px="false" if parent.awaits else "true")
        if message_guid:
            meta["src"] = message_guid
        telemetry, traced = engine.telemetry, None
        if telemetry is not None:                 # trc, spn (and tps, ps): the job's trace context
            step, token, t0 = telemetry.trigger(meta, trigger_id, trc=trc,
                                                parent_span=parent.l1s if parent else None,
                                                parent_job_span=parent.spn if parent else None)
            traced = (step, t0, topic)
        elif trc and trc != msgs.ZERO_TRACE:
            meta["trc"] = trc                     # no trace: nothing stored (messages carry the zero trace)
        try:
            ctx["$job"]["metadata"] = {**meta, "js": 0}
            spec = StepSpec(engine.keys.job(jid))
            spec.hset.update({JobFields.meta(k): v for k, v in meta.items()})
            spec.hset.update(job_map_fields(activity.job_maps, ctx))
            for k, v in (search or {}).items():
                spec.hset["_" + k] = v if isinstance(v, str) else dumps(v)
            for k, v in (markers or {}).items():
                if not k.startswith("-"):
                    raise ValidationError(f"marker '{k}' must start with '-'")
                spec.hset[k] = v if isinstance(v, str) else dumps(v)
            spec.hset.update(entry_fields(trigger_id, ",0", entry))
            spec.hset[JobFields.ledger(trigger_id, ",0")] = str(TRIGGER_LEDGER)
            children = [] if pending else children_for(activity, 200, ctx)
            spec.create = -1 if pending else len(children)
            seed_children(engine, spec, jid, gid, ",0", children, meta.get("trc"), index, ctx)
            if parent and not parent.awaits:
                parent_meta = msgs.metadata(parent.jid, parent.gid, parent.dad, parent.aid, trc=parent.trc,
                                            spn=parent.spn, message_guid="R" + (message_guid or gid)[1:])
                spec.xadd.append((engine.keys.engine_stream(parent.jid), msgs.build(
                    parent_meta, type=msgs.RESULT, data={"job_id": jid, "jc": now, "ju": now},
                    status="success", code=200)))
            add_stats(engine, activity, ctx, jid, spec)
            if parent and parent.awaits:
                spec.push.append((engine.keys.dependents(parent.jid), jid))
            spec.event = engine.event(jid, trigger_id, ",0", "trigger", "started" if not pending else "pending", 200)
            if pending:
                spec.expire = max(1, int(pending))
            else:
                plan_completion(engine, spec, jid, gid, meta, graph.publishes,
                                expire_seconds(engine, activity, graph.expire, ctx))
                if activity.emit is not None and truthy(resolve(activity.emit, ctx)):
                    spec.emit_message = completion_message(engine, jid, gid, meta, graph.publishes, emit=True,
                                                           force=True)
            spec.ack = ack
        except BaseException as exc:
            if traced is not None and telemetry is not None:
                await telemetry.triggered(traced[0], traced[1], False, False, topic, exc)
            raise
        finally:
            if traced is not None and telemetry is not None:
                telemetry.leave(token)      # the messages are built: this task leaves the trigger step
    return PreparedJob(jid, spec, message_guid, traced)


async def commit(engine: StepContext, job: PreparedJob) -> None:
    try:
        result = await engine.store.step(job.spec)
    except BaseException as exc:
        if job.trace is not None and engine.telemetry is not None:
            await engine.telemetry.triggered(job.trace[0], job.trace[1], False, False, job.trace[2], exc)
        raise
    crash_point("trigger.after_step")
    error = None
    if result.status == "exists" and not (job.message_guid and result.detail == job.message_guid):
        error = DuplicateJobError(f"Duplicate job: {job.jid}", job_id=job.jid)
    if job.trace is not None and engine.telemetry is not None:
        await engine.telemetry.triggered(job.trace[0], job.trace[1], result.status == "ok", result.finished,
                                         job.trace[2], error)
    if error is not None:
        raise error
    if result.status == "exists" and job.spec.ack:
        await engine.store.ack(*job.spec.ack)   # a redelivered spawn: already applied


async def start_child(engine: StepContext, message: dict[str, Any], ack: tuple[str, str, str]) -> None:
    """An ``await`` message: start the child job with parent pointers (idempotent per message guid)."""
    meta = message["metadata"]
    parent = Parent(meta["jid"], meta["gid"], meta["dad"], meta["aid"],
                    awaits=meta.get("await", True) is not False, trc=meta.get("trc"), spn=meta.get("spn"),
                    l1s=meta.get("l1s"))
    try:
        job = await prepare(engine, meta["topic"], message.get("data") or {}, parent=parent,
                            message_guid=meta["guid"], ack=ack, trc=meta.get("trc"))
        if tag_of(job.spec.job_key) != tag_of(ack[0]):
            # the child's id puts it on another shard: this message goes there (through this
            # shard's outbox) and starts it there, in one step on that shard
            if job.trace is not None and engine.telemetry is not None:
                await engine.telemetry.triggered(job.trace[0], job.trace[1], False, False, job.trace[2], None)
            await engine.store.add_and_ack(engine.keys.engine_stream(job.jid), dumps(message), ack)
            return
        await commit(engine, job)
    except HotMeshError as exc:
        # The child cannot start (duplicate id, unknown topic, bad input): the parent's await
        # receives the error, and this message is acked in the same transaction.
        error = {"message": exc.message, "code": exc.code}
        parent_meta = msgs.metadata(parent.jid, parent.gid, parent.dad, parent.aid, trc=parent.trc,
                                    spn=parent.spn, message_guid="E" + meta["guid"][1:])
        await engine.store.add_and_ack(engine.keys.engine_stream(parent.jid), msgs.build(
            parent_meta, type=msgs.RESULT, data=error, status="error", code=exc.code), ack)
