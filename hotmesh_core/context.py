"""Restore the mapping context of one step from the job hash (spec 3.2, 3.5).

A step reads only what its activity needs: the semaphore, job metadata, its own ledger and
state, the state of the activities its expressions consume (at their dimension as seen from this
thread), and the job data when an expression reads ``$job.data``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .compiler.model import Activity, CompiledApp
from .keys import META_FIELDS, JobFields
from .mapper import job_map_paths
from .serializer import decode, dumps, unflatten
from .util import dad_at_depth

TRIGGER_LEDGER = 888000001000001
SEEDED = 999000000000000


@dataclass
class AppIndex:
    """A compiled app plus what engines derive from it once per version."""

    app: CompiledApp
    job_fields: dict[str, list[str]] = field(default_factory=dict)   # graph topic -> d/ fields
    reads_job: dict[str, bool] = field(default_factory=dict)          # aid -> reads $job.data
    depth: dict[str, int] = field(default_factory=dict)               # aid -> number of dad segments
    foldable: dict[str, bool] = field(default_factory=dict)           # aid -> leg 1 runs in its parent's step
    fold_reads: dict[str, tuple[str, ...]] = field(default_factory=dict)   # aid -> blobs its folded children read

    @classmethod
    def build(cls, app: CompiledApp) -> AppIndex:
        index = cls(app)
        for graph in app.graphs:
            paths: list[str] = []
            for aid in graph.activities:
                activity = app.activities[aid]
                paths += job_map_paths(activity.job_maps)
                for rules in activity.code_job_maps.values():
                    paths += job_map_paths(rules)
            index.job_fields[graph.subscribes] = sorted(set(paths))
        for aid, activity in app.activities.items():
            index.depth[aid] = len(activity.ancestors) + 1
            text = json.dumps([activity.input_maps, activity.output_maps, activity.job_maps,
                               activity.code_job_maps, activity.emit, activity.sleep, activity.topic,
                               activity.persist, activity.expire, activity.status_threshold,
                               [t.conditions.match if t.conditions else None for t in activity.transitions]],
                              default=repr)
            index.reads_job[aid] = "$job" in text
        for aid, activity in app.activities.items():
            # leg 1 of a worker can run inside its parent's step when everything it maps comes from
            # its ancestors' state (read by that step) and nothing else can stop it there
            index.foldable[aid] = (activity.type == "worker" and activity.status_threshold is None
                                   and not index.reads_job[aid] and activity.parent is not None
                                   and all(c == aid or c in activity.ancestors for c in activity.consumes))
        for aid, activity in app.activities.items():
            extra: set[str] = set()
            for child in activity.children:
                if index.foldable.get(child):
                    extra.update(c for c in app.activities[child].consumes if c not in (child, aid))
            index.fold_reads[aid] = tuple(sorted(extra - set(activity.consumes)))
        return index

    def activity(self, aid: str) -> Activity:
        return self.app.activities[aid]


@dataclass
class StepState:
    """The values read for one step, decoded into a mapping context."""

    semaphore: int | None
    meta: dict[str, str]
    ledger: int | None
    ctx: dict[str, Any]

    @property
    def exists(self) -> bool:
        return self.semaphore is not None


#: metadata an entry gets back from its field name and the app instead of storing it
DERIVED_META = ("aid", "dad", "atp", "stp")


def entry_fields(aid: str, dad: str, entry: dict[str, Any]) -> dict[str, str]:
    """An activity entry ``{"output": {"metadata", "data"}, "input": {"data"}, "hook": {"data"}}``
    as job-hash fields (layout: ``keys.JobFields``)."""
    meta_f, out_f, in_f, hook_f = JobFields.entry(aid, dad)
    output = entry.get("output") or {}
    meta = {k: v for k, v in (output.get("metadata") or {}).items() if k not in DERIVED_META}
    fields = {meta_f: dumps(meta)}
    if "data" in output:
        fields[out_f] = dumps(output["data"])
    for part, name in (("input", in_f), ("hook", hook_f)):
        value = entry.get(part)
        if isinstance(value, dict) and "data" in value:
            fields[name] = dumps(value["data"])
    return fields


def entry_from(aid: str, dad: str, values: dict[str, str | None], atp: str | None = None,
               stp: str | None = None) -> dict[str, Any]:
    """The entry stored by ``entry_fields`` (``{}`` when the activity has not run at ``dad``)."""
    meta_f, out_f, in_f, hook_f = JobFields.entry(aid, dad)
    raw = values.get(meta_f)
    if raw is None:
        return {}
    meta: dict[str, Any] = {"aid": aid, "dad": dad}
    if atp:
        meta["atp"] = atp
    if stp:
        meta["stp"] = stp
    meta.update(json.loads(raw))
    entry: dict[str, Any] = {"output": {"metadata": meta}}
    if (out := values.get(out_f)) is not None:
        entry["output"]["data"] = json.loads(out)
    if (given := values.get(in_f)) is not None:
        entry["input"] = {"data": json.loads(given)}
    if (hook := values.get(hook_f)) is not None:
        entry["hook"] = {"data": json.loads(hook)}
    return entry


def fields_to_read(index: AppIndex, activity: Activity, dad: str) -> tuple[list[str], list[tuple[str, str]]]:
    """The HMGET field list for a step of ``activity`` at ``dad`` and the (aid, address dad) of
    each activity entry in it."""
    fields = [JobFields.SEMAPHORE, *META_FIELDS, JobFields.ledger(activity.id, dad)]
    blobs = [(activity.id, dad)]
    for aid in (*activity.consumes, *index.fold_reads.get(activity.id, ())):
        if aid != activity.id and aid in index.depth:
            blobs.append((aid, dad_at_depth(dad, index.depth[aid])))
    for aid, at in blobs:
        fields += JobFields.entry(aid, at)
    if index.reads_job.get(activity.id):
        fields += index.job_fields.get(activity.graph, [])
    return fields, blobs


def restore(index: AppIndex, activity: Activity, fields: list[str], blobs: list[tuple[str, str]],
            values: list[str | None]) -> StepState:
    got = dict(zip(fields, values, strict=True))
    sem_raw = got.get(JobFields.SEMAPHORE)
    meta = {name[2:]: v for name in META_FIELDS if (v := got.get(name)) is not None}
    ledger_raw = values[len(META_FIELDS) + 1]
    data = unflatten({f[2:]: decode(v) for f, v in got.items() if f.startswith("d/") and v is not None})
    job_meta: dict[str, Any] = dict(meta)
    if "px" in job_meta:
        job_meta["px"] = job_meta["px"] == "true"
    if sem_raw is not None:
        job_meta["js"] = int(sem_raw)
    ctx: dict[str, Any] = {"$job": {"metadata": job_meta, "data": data},
                           "$app": {"settings": index.app.settings}}
    for aid, at in blobs:
        definition = index.activity(aid)
        entry = entry_from(aid, at, got, definition.type, definition.subtype)
        if definition.type == "trigger" and "output" in entry:
            entry["input"] = {"data": entry["output"].get("data", {})}
        ctx[aid] = entry
    ctx["$self"] = ctx.setdefault(activity.id, {})
    return StepState(int(sem_raw) if sem_raw is not None else None, meta,
                     int(ledger_raw) if ledger_raw else None, ctx)


def job_output(raw: dict[str, str]) -> dict[str, Any]:
    """``{"metadata": {...}, "data": {...}}`` of a job hash (``data`` absent when empty, as in S1)."""
    meta: dict[str, Any] = {k[2:]: v for k, v in raw.items() if k.startswith("m/")}
    if "px" in meta:
        meta["px"] = meta["px"] == "true"
    if JobFields.SEMAPHORE in raw:
        meta["js"] = int(raw[JobFields.SEMAPHORE])
    meta.pop("src", None)
    data = unflatten({k[2:]: decode(v) for k, v in raw.items() if k.startswith("d/")})
    out: dict[str, Any] = {"metadata": meta}
    if data:
        out["data"] = data
    return out
