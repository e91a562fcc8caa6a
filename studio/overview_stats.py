"""The overview's counters (pure, no I/O): per-second job counts and per-activity latency samples of
one app, from its live activity events. ``studio/runtime.py`` keeps one per app per server process
(fed by the ``EventHub``); ``studio/overview.py`` draws them (its docstring says what is counted).
"""

from __future__ import annotations

import time
from collections import Counter, OrderedDict, deque
from dataclasses import dataclass
from typing import Any

import numpy as np

from hotmesh_core.compiler import CompiledApp

KEEP_SECONDS = 3600
SAMPLES_PER_ACTIVITY = 4096       # latency samples kept per activity (the newest)
OPEN_LIMIT = 50_000               # running executions remembered (to time their end)
JOBS_LIMIT = 20_000               # running jobs whose finished steps are remembered (step waits)
KINDS = ("started", "completed", "failed")


# -- counting (pure, no I/O) --------------------------------------------------------------------
@dataclass
class Percentiles:
    count: int
    p50: float | None
    p95: float | None
    p99: float | None


class OverviewStats:
    """Per-second counts and latency samples of one app, from its live events (see the module doc).

    ``push`` is called for every event of the app (a few dictionary updates); everything it keeps
    is bounded: one hour of per-second counters, ``SAMPLES_PER_ACTIVITY`` samples per activity and
    at most ``OPEN_LIMIT`` / ``JOBS_LIMIT`` in-flight entries.
    """

    def __init__(self) -> None:
        self.since_ms: int | None = None
        self.events = 0
        self.seconds: dict[int, Counter[tuple[str, str]]] = {}
        self.durations: dict[str, deque[tuple[int, int]]] = {}
        self.waits: dict[str, deque[tuple[int, int]]] = {}
        self.parents: dict[str, str | None] = {}
        self.triggers: set[str] = set()
        self._started: OrderedDict[str, None] = OrderedDict()
        self._open: OrderedDict[tuple[str, str, str], int] = OrderedDict()
        self._done: OrderedDict[str, dict[str, int]] = OrderedDict()

    def set_app(self, app: CompiledApp | None) -> None:
        """Learn each activity's parent (for the step waits) from the active version."""
        if app is not None:
            self.parents.update({aid: a.parent for aid, a in app.activities.items()})
            self.triggers.update(a.trigger for a in app.activities.values())

    def push(self, event: dict[str, Any]) -> None:
        ts, jid, aid = event.get("ts"), event.get("jid"), event.get("aid")
        if not isinstance(ts, int) or not isinstance(jid, str) or not isinstance(aid, str):
            return
        self.events += 1
        if self.since_ms is None or ts < self.since_ms:
            self.since_ms = ts
        status, dad, atp = event.get("status"), str(event.get("dad") or ""), event.get("atp")
        second = ts // 1000
        bucket = self.seconds.get(second)
        if bucket is None:
            bucket = self.seconds[second] = Counter()
            self._prune(second)
        key = (jid, aid, dad)
        if dad == ",0,0" and self.parents.get(aid) in self.triggers:
            self._count_start(bucket, jid, str(self.parents[aid]))      # its trigger's event was not seen
        if status == "started":
            self._count_start(bucket, jid, aid)
            self._finished_step(jid, aid, ts)
        elif status == "running":
            if key not in self._open:
                self._open[key] = ts
                if len(self._open) > OPEN_LIMIT:
                    self._open.popitem(last=False)
                self._wait(jid, aid, ts)
        elif status in ("done", "failed") and atp not in ("trigger", "job"):
            start = self._open.pop(key, None)
            if start is None:
                self._wait(jid, aid, ts)         # a synchronous activity: its first event is its end
            else:
                _sample(self.durations, aid, ts, ts - start)
            bucket["ran", aid] += 1
            if status == "failed":
                bucket["activity failed", aid] += 1
            self._finished_step(jid, aid, ts)
        if event.get("finished") == 1 and status in ("done", "failed", "started"):
            bucket["failed" if status == "failed" else "completed", aid] += 1
            self._done.pop(jid, None)

    def _count_start(self, bucket: Counter[tuple[str, str]], jid: str, trigger: str) -> None:
        if jid not in self._started:
            self._started[jid] = None
            if len(self._started) > JOBS_LIMIT:
                self._started.popitem(last=False)
            bucket["started", trigger] += 1

    def _finished_step(self, jid: str, aid: str, ts: int) -> None:
        steps = self._done.get(jid)
        if steps is None:
            steps = self._done[jid] = {}
            if len(self._done) > JOBS_LIMIT:
                self._done.popitem(last=False)
        steps[aid] = ts

    def _wait(self, jid: str, aid: str, ts: int) -> None:
        parent = self.parents.get(aid)
        ended = self._done.get(jid, {}).get(parent) if parent else None
        if ended is not None:
            # a child folded into its parent's last step (``steps.seed_children``) has its event
            # stamped while that step is built, a millisecond before the parent's own: no wait
            _sample(self.waits, aid, ts, max(0, ts - ended))

    def _prune(self, newest: int) -> None:
        for second in [s for s in self.seconds if s <= newest - KEEP_SECONDS]:
            del self.seconds[second]

    # -- reading -------------------------------------------------------------------------------
    def totals(self, window_s: int, aids: set[str] | None = None, now_ms: int | None = None) -> Counter[str]:
        """Counts per kind (``started``, ``completed``, ``failed``, ``ran``, ``activity failed``)."""
        low = _now_s(now_ms) - window_s
        out: Counter[str] = Counter()
        for second, bucket in self.seconds.items():
            if second > low:
                for (kind, aid), n in bucket.items():
                    if aids is None or aid in aids:
                        out[kind] += n
        return out

    def per_activity(self, window_s: int, now_ms: int | None = None) -> dict[str, Counter[str]]:
        low = _now_s(now_ms) - window_s
        out: dict[str, Counter[str]] = {}
        for second, bucket in self.seconds.items():
            if second > low:
                for (kind, aid), n in bucket.items():
                    out.setdefault(aid, Counter())[kind] += n
        return out

    def rates(self, window_s: int, step_s: int, aids: set[str] | None = None,
              now_ms: int | None = None) -> dict[str, list[float]]:
        """Jobs per second in buckets of ``step_s`` over the last ``window_s``: ``time`` (bucket
        start, epoch ms) and one column per kind of ``KINDS``."""
        end = _now_s(now_ms) // step_s * step_s + step_s          # the current bucket included
        start = end - window_s
        counts = {kind: [0] * (window_s // step_s) for kind in KINDS}
        for second, bucket in self.seconds.items():
            if start <= second < end:
                slot = (second - start) // step_s
                for (kind, aid), n in bucket.items():
                    if kind in counts and (aids is None or aid in aids):
                        counts[kind][slot] += n
        data: dict[str, list[float]] = {"time": [float((start + i * step_s) * 1000)
                                                 for i in range(window_s // step_s)]}
        for kind in KINDS:
            data[kind] = [n / step_s for n in counts[kind]]
        return data

    def latency(self, aid: str, window_s: int, now_ms: int | None = None) -> tuple[Percentiles, Percentiles]:
        """(step wait, duration) percentiles in ms of ``aid`` over the window."""
        low = (_now_s(now_ms) - window_s) * 1000
        return (_percentiles([ms for ts, ms in self.waits.get(aid, ()) if ts > low]),
                _percentiles([ms for ts, ms in self.durations.get(aid, ()) if ts > low]))


def _sample(store: dict[str, deque[tuple[int, int]]], aid: str, ts: int, ms: int) -> None:
    samples = store.get(aid)
    if samples is None:
        samples = store[aid] = deque(maxlen=SAMPLES_PER_ACTIVITY)
    samples.append((ts, ms))


def _percentiles(values: list[int]) -> Percentiles:
    if not values:
        return Percentiles(0, None, None, None)
    p50, p95, p99 = (float(v) for v in np.percentile(values, [50, 95, 99]))
    return Percentiles(len(values), p50, p95, p99)


def _now_s(now_ms: int | None) -> int:
    return int((now_ms if now_ms is not None else time.time() * 1000) // 1000)


# -- Redis side -----------------------------------------------------------------------------------
