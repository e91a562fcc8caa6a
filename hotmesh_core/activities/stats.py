"""Trigger statistics (spec 2.7): counts, sums, averages, medians and id indexes per job key."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from ..compiler.model import Activity
from ..pipe import UNDEFINED, resolve
from ..protocols import StepContext
from ..store import StepSpec
from ..util import time_slice
from .steps import signal_value

_PATH = re.compile(r"^\{[^.}]+\.[^.}]+\.[^.}]+\.(?P<path>[^}]+)\}$")


def measure_path(target: Any) -> str:
    """``{a5.input.data.price}`` -> ``price`` (the mapping path after the third dot, ``/``-joined)."""
    if isinstance(target, str):
        found = _PATH.match(target)
        if found:
            return found["path"].replace(".", "/")
    return str(target)


def job_key_and_slice(trigger: Activity, ctx: dict[str, Any]) -> tuple[str, str] | None:
    stats = trigger.stats or {}
    if stats.get("key") is None:
        return None
    key = resolve(stats["key"], ctx)
    if key in (UNDEFINED, None, ""):
        return None
    return signal_value(key), time_slice(stats.get("granularity"))


def add_stats(engine: StepContext, trigger: Activity, ctx: dict[str, Any], jid: str, spec: StepSpec) -> None:
    """Queue the trigger's stats writes into the job-creation step (same atomic script)."""
    stats = trigger.stats or {}
    measures = stats.get("measures")
    found = job_key_and_slice(trigger, ctx)
    if not measures or found is None:
        return
    job_key, bucket = found
    shard = engine.keys.shard_of(jid)         # stats of a shard's jobs live on that shard (keys.py)
    general = engine.keys.stats(job_key, bucket, shard)
    spec.incr.append((general, "count", 1))
    for measure in measures:
        kind = measure.get("measure")
        path = measure_path(measure.get("target"))
        value = resolve(measure.get("target"), ctx)
        if value is UNDEFINED or value is None:
            continue
        if kind in ("sum", "avg") and isinstance(value, int | float) and not isinstance(value, bool):
            spec.incr.append((general, f"{kind}:{path}", float(value)))
        elif kind == "count":
            spec.incr.append((general, f"count:{path}:{signal_value(value)}", 1))
        elif kind == "index":
            spec.push.append((engine.keys.stats_index(job_key, bucket, path, signal_value(value), shard), jid))
        elif kind == "mdn" and isinstance(value, int | float) and not isinstance(value, bool):
            spec.zadd.append((engine.keys.stats_median(job_key, bucket, path, shard), float(value), jid))


def slices(granularity: str | None, range_: str, end: datetime | None = None) -> list[str]:
    """Bucket names covering ``range_`` (``1h``, ``30m``, ``1d``) up to ``end``, oldest first."""
    if granularity == "infinity":
        return ["0"]
    unit = {"m": 60, "h": 3600, "d": 86400}
    step = int((granularity or "5m")[:-1] or 1) * unit[(granularity or "5m")[-1]]
    span = int(range_[:-1] or 1) * unit[range_[-1]]
    end = end or datetime.now(tz=UTC)
    out: list[str] = []
    for offset in range(span // step, -1, -1):
        stamp = end - timedelta(seconds=offset * step)
        bucket = time_slice(granularity, int(stamp.timestamp() * 1000))
        if bucket not in out:
            out.append(bucket)
    return out
