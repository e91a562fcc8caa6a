"""Job export (spec 6 ``export``): the job hash as a tree keyed by dimension segments."""

from __future__ import annotations

import json
from typing import Any

from .compiler.model import CompiledApp
from .context import entry_from, job_output
from .keys import JobFields

#: the job-hash field holding the run's history (resumes, re-runs): a JSON array (``rerun.py``)
HISTORY_FIELD = "r/history"
#: the marker a re-run job carries from its creation: the job it re-runs
RERUN_MARKER = "-rerun_of"


def export_job(raw: dict[str, str], app: CompiledApp | None = None) -> dict[str, Any]:
    """``{"status", "data", "metadata", "process": {"0": {"0": {aid: {...}}}}, "activities": [...]}``.

    ``activities`` is the flat list (aid, dad, ledger, output, hook, timings) the studio uses.
    ``app`` (the job's version) names each activity's type and subtype.
    """
    output = job_output(raw)
    process: dict[str, Any] = {}
    activities: list[dict[str, Any]] = []
    ledgers = {k[2:]: int(v) for k, v in raw.items() if k.startswith("l/")}
    for name in raw:
        if not name.startswith("a/"):
            continue
        address = name[2:]
        cut = address.index(",")
        aid, dad = address[:cut], address[cut:]
        definition = app.activities.get(aid) if app is not None else None
        entry = entry_from(aid, dad, dict(raw), definition.type if definition else None,
                           definition.subtype if definition else None)
        node = process
        for segment in dad.split(",")[1:]:
            node = node.setdefault(segment, {})
        node[aid] = entry
        meta = entry.get("output", {}).get("metadata", {})
        activities.append({
            "aid": aid, "dad": dad, "type": meta.get("atp"),
            "ledger": ledgers.get(address) or ledgers.get(_index_zero(aid, dad)),
            "created": meta.get("ac"), "updated": meta.get("au"), "error": meta.get("err"),
            "input": entry.get("input", {}).get("data"), "output": entry.get("output", {}).get("data"),
            "hook": entry.get("hook", {}).get("data"),
        })
    activities.sort(key=lambda a: (a["created"] or "", a["dad"]))
    history = json.loads(raw[HISTORY_FIELD]) if HISTORY_FIELD in raw else []
    return {"status": raw.get(JobFields.SEMAPHORE), "metadata": output["metadata"],
            "data": output.get("data", {}), "process": process, "activities": activities,
            "history": history, "rerun_of": raw.get(RERUN_MARKER)}


def _index_zero(aid: str, dad: str) -> str:
    return f"{aid}{dad[: dad.rfind(',')]},0"
