"""Resume a failed job at its failed activity, or run a job again (``HotMesh.resume`` / ``rerun``).

Resume: a job failed when it ended (semaphore in (-1e8, 0]) with ``m/err`` set, because one of
its activities failed (its entry's metadata has ``err``, its ledger is closed). One atomic script
(``scripts/resume.lua``) re-opens it there: the semaphore goes back up by one (that branch runs
again), the failed attempt's entry moves into the run's history, the activity's ledger is set as
its leg 1 would leave it and its message goes out on the proper stream (the work of a worker, the
child start of an await, or a ``transition`` for any other activity, whose leg 1 then runs again).
From there the job runs as usual: the exactly-once ledger takes the new attempt's reply, later
activities run, and the completion tells ``pubsub``/``sub`` listeners again. The script's guards
(semaphore, ``m/err``, ledger and generation unchanged since they were read) make a resume apply
once even when two are asked at the same time. The job gets a new generation id (``m/gid``), so a
message minted for the failed attempt that arrives late is dropped like any stale message.

Re-run: a new job of the same graph (the active version) with the original trigger input, edited
or not; the new job carries the marker ``-rerun_of`` from its creation, and both jobs get a
history record naming the other.

History: a JSON array in the job hash field ``HISTORY_FIELD`` (``export`` returns it as
``history``), one record per resume or re-run: ``kind``, ``at`` (timestamp), and for a resume the
activity, its address, the input it was given, whether it was edited, and the failed attempt.
"""

from __future__ import annotations

import json
from typing import Any

from . import messages as msgs
from .activities import trigger
from .activities.legs import read_state
from .activities.steps import dispatch, seed_children
from .engine import Engine
from .errors import JobNotFailedError, JobNotFoundError, ValidationError
from .exporter import HISTORY_FIELD, RERUN_MARKER
from .keys import JobFields, check_id
from .seam import script
from .serializer import dumps
from .store import StepSpec
from .util import guid as new_guid
from .util import parent_dad, timestamp, with_index

RESUME = script("resume")
INTERRUPTED_BELOW = -100_000_000


def failures(raw: dict[str, str]) -> list[dict[str, Any]]:
    """The failed activity entries of a job hash, the latest first: ``aid``, ``address`` (the
    entry's dad), ``dad`` (its ledger's), ``ledger``, ``error``, ``input``, ``output``, ``created``,
    ``updated``."""
    found = []
    for name, value in raw.items():
        if not name.startswith("a/"):
            continue
        meta = json.loads(value)
        if not meta.get("err"):
            continue
        address = name[2:]
        cut = address.index(",")
        aid, at = address[:cut], address[cut:]
        ledger_dad = at if JobFields.ledger(aid, at) in raw else with_index(at, 0)
        ledger = raw.get(JobFields.ledger(aid, ledger_dad))
        if ledger is None or f"{int(ledger):015d}"[2] != "8":
            continue                                  # not closed: not a finished failure
        _, out_f, in_f, _ = JobFields.entry(aid, at)
        found.append({"aid": aid, "address": at, "dad": ledger_dad, "ledger": int(ledger),
                      "error": _loads(meta["err"]), "input": _loads(raw.get(in_f)),
                      "output": _loads(raw.get(out_f)), "created": meta.get("ac"), "updated": meta.get("au")})
    found.sort(key=lambda f: (f["updated"] or "", f["address"]), reverse=True)
    return found


def _loads(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def job_failure_state(jid: str, raw: dict[str, str]) -> None:
    """Raise unless the job ``raw`` ended in failure (``JobNotFoundError``, ``JobNotFailedError``)."""
    if not raw:
        raise JobNotFoundError(f"Job {jid} not found (never created, scrubbed or expired: a graph's "
                               "'expire' keeps finished jobs to resume)", job_id=jid)
    sem = int(raw.get(JobFields.SEMAPHORE) or 0)
    if sem < INTERRUPTED_BELOW:
        raise JobNotFailedError(f"Job {jid} was interrupted, not failed: there is nothing to resume", job_id=jid)
    if sem > 0:
        raise JobNotFailedError(f"Job {jid} is still running: only a failed job can be resumed", job_id=jid)
    if not raw.get(JobFields.meta("err")):
        raise JobNotFailedError(f"Job {jid} completed without error: only a failed job can be resumed "
                                "(run it again with rerun)", job_id=jid)


def new_input(previous: Any, data: dict[str, Any] | None, merge: bool, limit: int) -> tuple[Any, bool]:
    """The input a resumed activity gets: ``data`` merged over (or replacing) what it received."""
    if data is None:
        return previous, False
    if not isinstance(data, dict):
        raise ValidationError(f"resume data must be a JSON object, got {type(data).__name__}")
    given = {**previous, **data} if merge and isinstance(previous, dict) else dict(data)
    msgs.check_size("resume input", given, limit)
    return given, True


async def resume(engine: Engine, jid: str, activity: str | None = None, data: dict[str, Any] | None = None,
                 *, merge: bool = True, by: str | None = None) -> dict[str, Any]:
    """Re-open failed job ``jid`` at its failed ``activity`` (default: the latest failure) with
    the input it received, or with ``data`` merged over it (``merge=False``: replacing it).
    Returns what was done: ``jid``, ``activity``, ``dad``, ``input``, ``edited``, ``at``."""
    check_id("job id", jid)
    raw = await engine.store.read_job(jid)
    job_failure_state(jid, raw)
    version = raw.get(JobFields.meta("vrs")) or ""
    index = await engine.app(version)
    failed = failures(raw)
    if activity is not None:
        check_id("activity id", activity)
        if activity not in index.app.activities:
            raise ValidationError(f"Job {jid} (version {version}) has no activity '{activity}'")
        failed = [f for f in failed if f["aid"] == activity]
        if not failed:
            raise ValidationError(f"Activity '{activity}' did not fail in job {jid}: nothing to resume there")
    if not failed:
        raise JobNotFailedError(f"Job {jid} failed but no activity entry holds the failure", job_id=jid)
    target = failed[0]
    aid, dad, address = target["aid"], target["dad"], target["address"]
    definition = index.app.activities[aid]
    given, edited = new_input(target["input"], data, merge, engine.settings.max_payload_bytes)
    found = await read_state(engine, jid, aid, dad)
    if found is None:
        raise JobNotFoundError(f"Job {jid} not found", job_id=jid)
    index, definition, state = found
    # a new generation: any message minted for the failed attempt (a late reply, a stale retry)
    # carries the old gid and is dropped by the gid guard of every step
    old_gid, gid = state.meta["gid"], new_guid()
    state.meta["gid"] = gid
    ctx = state.ctx
    ctx["$job"]["metadata"]["gid"] = gid
    ctx[aid] = ctx["$self"] = {}                     # a new attempt: new created time
    spec = StepSpec(engine.keys.job(jid))
    if definition.type in ("worker", "await"):
        dispatch(engine, definition, jid, gid, ctx, spec, dad, state.meta.get("trc"), index=index,
                 given=given if isinstance(given, dict) else None)
    elif edited:
        raise ValidationError(f"Activity '{aid}' is a {definition.type}: its input comes from its mappings, "
                              "only a worker's or an await's input can be edited")
    else:
        seed_children(engine, spec, jid, gid, parent_dad(dad), [aid], state.meta.get("trc"))
        spec.event = engine.event(jid, aid, dad, definition.type, "pending", 200)
    now = timestamp()
    others = [f for f in failures(raw) if (f["aid"], f["address"]) != (aid, address)]
    hdel = [*JobFields.entry(aid, address), ":done"]
    err_field = JobFields.meta("err")
    if others:       # another branch failed too: the job still ends in error unless it is resumed
        spec.hset[err_field] = dumps({**_error_of(others[0]), "is_stream_error": True, "job_id": jid})
    else:
        hdel.append(err_field)
    spec.hset[JobFields.meta("ju")] = now
    spec.hset[JobFields.meta("gid")] = gid
    record = {"kind": "resume", "at": now, "activity": aid, "dad": dad, "input": given, "edited": edited,
              "by": by, "failed": {k: target[k] for k in ("address", "error", "input", "output", "created",
                                                         "updated")}}
    body: dict[str, Any] = {
        "history": [HISTORY_FIELD, dumps(record)], "gid": old_gid, "sem": raw[JobFields.SEMAPHORE],
        "err": raw[err_field], "ledger": [JobFields.ledger(aid, dad), str(target["ledger"])], "hdel": hdel,
        "hset": [x for kv in spec.hset.items() for x in kv], "delta": "1",
        "xadd": [[_key_index(spec, stream), message] for stream, message in spec.xadd],
    }
    events = [e for e in ([spec.event] if spec.event else []) + spec.events if e is not None]
    if events:
        body["events"] = [[channel, json.dumps(event, separators=(",", ":"))] for channel, event in events]
    reply = await engine.store.redis.run(RESUME, [spec.job_key, *spec.streams],
                                         [json.dumps(body, separators=(",", ":"))])
    if reply[0] == "gone":
        raise JobNotFoundError(f"Job {jid} not found (it expired or was replaced)", job_id=jid)
    if reply[0] == "conflict":
        raise JobNotFailedError(f"Job {jid} changed while it was being resumed ({reply[1]}): "
                                "another resume may have re-opened it first", job_id=jid)
    return {"jid": jid, "activity": aid, "dad": dad, "input": given, "edited": edited, "at": now}


def _key_index(spec: StepSpec, stream: str) -> int:
    if stream not in spec.streams:
        spec.streams.append(stream)
    return spec.streams.index(stream) + 2


def _error_of(failure: dict[str, Any]) -> dict[str, Any]:
    error = failure["error"]
    if isinstance(error, dict):
        return {"code": error.get("code", 500), "message": error.get("message", "error")}
    return {"code": 500, "message": str(error)}


async def note(engine: Engine, jid: str, record: dict[str, Any]) -> bool:
    """Append ``record`` to job ``jid``'s history; False when the job is gone."""
    reply = await engine.store.redis.run(RESUME, [engine.keys.job(jid)], [json.dumps(
        {"note": "1", "history": [HISTORY_FIELD, dumps(record)]}, separators=(",", ":"))])
    return bool(reply[0] == "ok")


async def rerun(engine: Engine, jid: str, data: dict[str, Any] | None = None, *, merge: bool = True,
                by: str | None = None) -> dict[str, Any]:
    """Start a new job of ``jid``'s graph with ``jid``'s trigger input (``data`` merged over it, or
    replacing it with ``merge=False``), linked both ways. Returns ``jid`` (the new job), ``from``,
    ``topic``, ``input``, ``edited``, ``at``. Raises ``DuplicateJobError`` when the graph derives
    the job id from the input and that job still exists."""
    check_id("job id", jid)
    raw = await engine.store.read_job(jid)
    if not raw:
        raise JobNotFoundError(f"Job {jid} not found", job_id=jid)
    topic = raw.get(JobFields.meta("tpc")) or ""
    index = await engine.app(raw.get(JobFields.meta("vrs")) or "")
    trigger_id = index.app.subscriptions.get(topic)
    previous = _loads(raw.get(JobFields.output(trigger_id, ",0"))) if trigger_id else None
    given, edited = new_input(previous if isinstance(previous, dict) else {}, data, merge,
                              engine.settings.max_payload_bytes)
    now = timestamp()
    job = await trigger.prepare(engine, topic, given, markers={RERUN_MARKER: jid})
    await trigger.commit(engine, job)
    await note(engine, jid, {"kind": "rerun", "at": now, "to": job.jid, "input": given, "edited": edited, "by": by})
    await note(engine, job.jid, {"kind": "rerun", "at": now, "from": jid, "edited": edited, "by": by})
    return {"jid": job.jid, "from": jid, "topic": topic, "input": given, "edited": edited, "at": now}
