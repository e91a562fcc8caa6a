"""Activity statuses of one job, from an export snapshot plus live events (pure, no I/O).

An *execution* is one address ``(aid, dad)``: an activity that ran several times (cycles, repeated
signals) has one per run, which gives the count badge. Updates are monotonic per execution
(pending < running < done/failed), so the snapshot and the events may be applied in any order and
any number of times: subscribe first, snapshot, then apply everything buffered.

Ledger digits (see ``hotmesh_core.activities.legs``): digit 1 ``9`` = seeded, not yet entered;
digit 3 ``9`` = open (waiting for leg 2, or a cycle pivot); ``8`` = closed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from hotmesh_core.util import parse_timestamp

STATUSES = ("pending", "running", "done", "failed", "interrupted")
RANK = {"pending": 0, "running": 1, "done": 2, "failed": 2}
INTERRUPTED_BELOW = -100_000_000


def parse_ts(value: str | None) -> int | None:
    """``YYYYMMDDHHmmss.sss`` (UTC) to epoch milliseconds (None when missing or malformed)."""
    return parse_timestamp(value) or None


@dataclass
class Execution:
    aid: str
    dad: str
    status: str = "pending"
    started: int | None = None
    ended: int | None = None
    code: int | None = None

    def advance(self, status: str, ts: int | None, code: int | None = None) -> bool:
        changed = False
        if RANK[status] > RANK[self.status] or (RANK[status] == RANK[self.status] == 2 and status != self.status
                                                 and status == "failed"):
            self.status, changed = status, True
            if code is not None:
                self.code = code
        if ts is not None:
            if self.started is None or ts < self.started:
                self.started, changed = ts, True
            if self.status in ("done", "failed") and (self.ended is None or ts > self.ended):
                self.ended, changed = ts, True
        return changed


@dataclass
class JobState:
    """What the run views show for one job; ``apply`` returns the activity ids that changed."""

    jid: str
    executions: dict[tuple[str, str], Execution] = field(default_factory=dict)
    job_status: str = "running"
    semaphore: int | None = None
    loaded: bool = False
    interrupted_at: int | None = None

    # -- inputs --------------------------------------------------------------------------------
    def load_export(self, export: dict[str, Any]) -> set[str]:
        changed: set[str] = set()
        status = int(export.get("status") or 0)
        self.semaphore = status
        err = (export.get("metadata") or {}).get("err")
        self.job_status = job_status(status, bool(err))
        finished = self.job_status in ("done", "failed")
        for entry in export.get("activities", []):
            aid, dad = entry["aid"], entry["dad"]
            execution = self.executions.setdefault((aid, dad), Execution(aid, dad))
            started, updated = parse_ts(entry.get("created")), parse_ts(entry.get("updated"))
            if entry.get("error"):
                state = "failed"
            else:
                state = ledger_status(entry.get("ledger"), entry.get("type"))
                if state == "running" and finished:
                    state = "done"
            if execution.advance(state, started, _code(entry.get("error"))):
                changed.add(aid)
            if state in ("done", "failed") and updated is not None:
                execution.advance(state, updated)
        self._close_stale_executions()
        self.loaded = True
        return changed

    def apply(self, events: list[dict[str, Any]]) -> set[str]:
        changed: set[str] = set()
        for event in events:
            if event.get("jid") not in (None, self.jid):
                continue
            changed |= self._apply_one(event)
        return changed

    def _apply_one(self, event: dict[str, Any]) -> set[str]:
        status, aid, dad = event.get("status"), event.get("aid") or "", event.get("dad") or ",0"
        ts = event.get("ts") if isinstance(event.get("ts"), int) else None
        changed: set[str] = set()
        js = event.get("js")
        if isinstance(js, int):
            self.semaphore = js
        if status == "interrupted" or (isinstance(js, int) and js < INTERRUPTED_BELOW):
            if self.job_status != "interrupted":
                self.job_status = "interrupted"
                self.interrupted_at = ts
                changed |= {e.aid for e in self.executions.values() if e.status in ("pending", "running")}
            if event.get("atp") == "job":
                return changed
        if status not in ("started", "running", "done", "failed", "pending"):
            return changed
        if status == "started":
            state = "done"
        elif status == "pending":
            state = "pending" if event.get("atp") == "trigger" else "running"
        else:
            state = status
        execution = self.executions.setdefault((aid, dad), Execution(aid, dad))
        created = execution.started is None
        if execution.advance(state, ts, event.get("code") if state == "failed" else None) or created:
            changed.add(aid)
        if state == "running" and ts is not None and execution.started is None:
            execution.started = ts
        if event.get("finished") == 1 and self.job_status == "running":
            self.job_status = "failed" if status == "failed" else "done"
            changed |= self._close_stale_executions()
        return changed

    def _close_stale_executions(self) -> set[str]:
        """Once the job is done, executions still open (cycle pivots, hooks) count as done."""
        if self.job_status not in ("done", "failed"):
            return set()
        closed = set()
        for execution in self.executions.values():
            if execution.status == "running":
                execution.status = "done"
                closed.add(execution.aid)
        return closed

    # -- outputs -------------------------------------------------------------------------------
    def node_status(self, aid: str) -> str:
        runs = [e for e in self.executions.values() if e.aid == aid]
        if not runs:
            return "pending"
        states = {e.status for e in runs}
        if self.job_status == "interrupted" and states & {"running", "pending"}:
            return "interrupted"
        for state in ("running", "failed", "done"):
            if state in states:
                return state
        return "pending"

    def count(self, aid: str) -> int:
        return sum(1 for e in self.executions.values() if e.aid == aid)

    def statuses(self, aids: list[str] | tuple[str, ...]) -> dict[str, tuple[str, int]]:
        return {aid: (self.node_status(aid), self.count(aid)) for aid in aids}

    def timeline(self, now_ms: int | None = None) -> list[dict[str, Any]]:
        """Gantt rows, one per execution with a start: aid, dad, start, end (ms), status."""
        now_ms = now_ms or int(time.time() * 1000)
        rows = []
        for e in self.executions.values():
            if e.started is None:
                continue
            status = e.status
            if self.job_status == "interrupted" and status in ("running", "pending"):
                status = "interrupted"
            if status == "interrupted":
                end = self.interrupted_at or now_ms
            else:
                end = e.ended if e.ended is not None else (now_ms if status == "running" else e.started)
            rows.append({"aid": e.aid, "dad": e.dad, "start": e.started, "end": max(end, e.started + 1),
                         "status": status})
        rows.sort(key=lambda r: (r["start"], r["dad"]))
        return rows


def job_status(semaphore: int, has_error: bool) -> str:
    if semaphore < INTERRUPTED_BELOW:
        return "interrupted"
    if semaphore > 0:
        return "running"
    return "failed" if has_error else "done"


def ledger_status(ledger: int | None, activity_type: str | None) -> str:
    if activity_type == "trigger" or ledger is None:
        return "done"
    digits = f"{int(ledger):015d}"
    if digits[0] == "9":
        return "pending"
    if digits[2] == "9":
        return "running"
    return "done"


def _code(error: Any) -> int | None:
    if isinstance(error, str):
        import json

        try:
            error = json.loads(error)
        except ValueError:
            return None
    return int(error["code"]) if isinstance(error, dict) and "code" in error else None
