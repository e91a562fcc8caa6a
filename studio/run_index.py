"""The runs of one app held in memory, so that searching them costs no Redis read per keystroke.

Design (issue 15, item 2), chosen over an index kept by the engine's step script: a step script
that also wrote a search index would cost every job of every app commands and memory, whether
anyone searches or not, and would have to follow the key layout per shard. Instead the studio
scans once, with progress, and keeps what it read current from the live events it already gets:

- ``load``: ``HotMesh.list_jobs`` (one SCAN pass, the creation times in pipelines of 1,000), then
  ``HotMesh.job_fields`` in pipelines of ``batch`` jobs: the status, graph, version, times and the
  trigger's input of each job. ``progress`` says how far it got (the page shows a bar).
- ``push(event)`` notes the job of a live event that changes a row (a trigger, a job that finished
  or failed); ``sync`` re-reads those jobs in one round trip. The studio's server taps the event
  hub into the shared index of each app, so every browser session sees the same, current runs.
- ``match(query)``: a boolean mask over the frame, in memory. Input fields (``data.<path>``) are
  pulled out of the parsed inputs into a text and a numeric column on first use and cached until
  the rows change, so typing ``data.customer = 4``, ``= 42`` reuses them.
- Output fields (``output.<path>``, the job data ``d/<path>``) are not in the index: ``missing``
  lists the candidate runs (those matching every other clause) whose value is not cached,
  ``read_outputs`` reads them (``job_fields``, ``batch`` jobs per pipeline) and caches them; a
  live event for a job drops its cached values.

Measured at 100,000 jobs on the 2-core VM (``bench/studio_bench.py --only search``, figures in
bench/README.md): the build takes 3.4 to 8 s (a progress bar meanwhile, once per server); a
keystroke filters in 0.1 to 20 ms at p50 and under 60 ms at p95, except the first value typed for
an input field (about 150 ms: its columns are built once, then patched by live updates); reading
one output field of all 100,000 runs takes 1 to 1.5 s, of 2,000 candidates 16 ms.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import pandas as pd

from hotmesh_core.keys import JobFields
from hotmesh_core.serializer import decode

from .mesh import Mesh
from .query import FieldClause, Query
from .status import job_status, parse_ts

FIELDS = [JobFields.SEMAPHORE, JobFields.meta("tpc"), JobFields.meta("vrs"), JobFields.meta("jc"),
          JobFields.meta("ju"), JobFields.meta("err")]
COLUMNS = ["jid", "status", "topic", "version", "created", "duration", "input"]
FRAME_COLUMNS = [*COLUMNS, "created_ms", "data"]
INPUT_CHARS = 160
BATCH = 1000
MISSING: Any = type("Missing", (), {"__repr__": lambda self: "MISSING"})()
Progress = Callable[[int, int], None]
Mask = np.ndarray[Any, np.dtype[np.bool_]]


async def fetch_rows(mesh: Mesh, jobs: list[tuple[str, int]], triggers: dict[str, str],
                     batch: int = BATCH, progress: Progress | None = None) -> list[dict[str, Any]]:
    """One row per ``(jid, created_ms)``: status, topic, version, times and the trigger's input.

    ``job_fields`` reads the metadata and the trigger entry of every graph of the app (a handful
    of fields) of ``batch`` jobs per round trip, so the input comes with the status."""
    topics = list(triggers)
    inputs = [JobFields.output(triggers[t], ",0") for t in topics]
    rows = []
    for start in range(0, len(jobs), batch):
        chunk = jobs[start:start + batch]
        values = await mesh.job_fields([jid for jid, _ in chunk], FIELDS + inputs)
        for (jid, created_ms), value in zip(chunk, values, strict=True):
            if value[0] is None:
                continue
            head, tail = value[:len(FIELDS)], value[len(FIELDS):]
            raw_input = tail[topics.index(head[1])] if head[1] in topics else None
            rows.append(make_row(jid, created_ms, head, raw_input))
        if progress is not None:
            progress(start + len(chunk), len(jobs))
    return rows


def make_row(jid: str, created_ms: int, value: list[str | None], raw_input: str | None) -> dict[str, Any]:
    semaphore, topic, version, created, updated, err = value
    stamp = parse_ts(created)
    clock = _clock_of(created) if stamp else _clock(created_ms)
    created_ms = stamp or created_ms
    started, ended = created_ms, parse_ts(updated)
    status = job_status(int(semaphore or 0), bool(err))
    if status == "running":
        duration = "running"
    elif ended and ended > started:
        duration = f"{(ended - started) / 1000:.3f} s"
    else:
        duration = "—"         # the job hash does not record when it finished
    data: Any = MISSING
    text = ""
    if raw_input:
        try:
            data = json.loads(raw_input)
            text = json.dumps(data, sort_keys=True)
        except ValueError:
            data = MISSING
    return {"jid": jid, "status": status, "topic": topic or "", "version": version or "",
            "created_ms": created_ms, "created": clock, "duration": duration,
            "input": text[:INPUT_CHARS], "data": data}


def _clock_of(stamp: Any) -> str:
    """``YYYYMMDDHHmmss.sss`` as ``YYYY-MM-DD HH:mm:ss.sss`` (cheaper than formatting the ms)."""
    whole, _, frac = str(stamp).partition(".")
    return (f"{whole[0:4]}-{whole[4:6]}-{whole[6:8]} {whole[8:10]}:{whole[10:12]}:{whole[12:14]}"
            f".{(frac + '000')[:3]}")


def _clock(ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ms / 1000)) + f".{ms % 1000:03d}"


def dig(value: Any, path: Iterable[str]) -> Any:
    """``value[path[0]][path[1]]...`` through objects and lists; ``MISSING`` where it stops."""
    for part in path:
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return MISSING
    return value


def columns(values: list[Any]) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Raw values as text (JSON for non-strings; None when absent), as numbers (NaN when not one,
    numeric strings count) and as strings only (None for anything else): what ``compare_columns``
    needs. One pass in Python (about 1 us a value), then vectorised."""
    text: list[str | None] = []
    number: list[float] = []
    plain: list[str | None] = []
    nan = float("nan")
    for value in values:
        if isinstance(value, str):
            text.append(value)
            plain.append(value)
            number.append(nan)
            continue
        plain.append(None)
        if isinstance(value, bool):
            text.append("true" if value else "false")
            number.append(nan)
        elif isinstance(value, int | float):
            text.append(json.dumps(value))
            number.append(float(value))
        else:
            text.append(None if value is MISSING else json.dumps(value, sort_keys=True))
            number.append(nan)
    strings = pd.Series(plain, dtype=object)
    numbers = pd.Series(number, dtype=float)
    is_string = strings.notna().to_numpy()
    if is_string.any():
        numbers[is_string] = pd.to_numeric(strings[is_string], errors="coerce").to_numpy(dtype=float)
    return pd.Series(text, dtype=object), numbers, strings


def compare(values: list[Any], clause: FieldClause) -> Mask:
    """The clause over raw values (``MISSING`` where a run has no such field)."""
    return compare_columns(*columns(values), clause)


def compare_columns(text: pd.Series, number: pd.Series, plain: pd.Series, clause: FieldClause) -> Mask:
    """One clause over the ``columns`` of the runs' values."""
    value, op = clause.value, clause.op
    present = text.notna()
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    if op == "contains":
        needle = value if isinstance(value, str) else json.dumps(value)
        return _mask(present & text.str.contains(needle, case=False, regex=False, na=False))
    if op in ("=", "!="):
        same = (number == value) if numeric else (text == (value if isinstance(value, str) else json.dumps(value)))
        return _mask(same if op == "=" else present & ~same)
    if numeric:
        left, known = number, number.notna()
    else:                   # text order (ISO dates sort right), between strings only
        known = plain.notna()
        left = plain.where(known, "")
    result = {"<": left < value, ">": left > value, "<=": left <= value, ">=": left >= value}[op]
    return _mask(known & result)


def _mask(series: pd.Series) -> Mask:
    out: Mask = series.to_numpy(dtype=bool)
    return out


class RunIndex:
    """The newest ``limit`` runs of an app; ``load`` once, then ``push``/``sync`` keep it current."""

    def __init__(self, mesh: Mesh, limit: int = 100_000, batch: int = BATCH) -> None:
        self.mesh = mesh
        self.limit = limit
        self.batch = batch
        self.frame = pd.DataFrame(columns=FRAME_COLUMNS)
        self.triggers: dict[str, str] = {}
        self.addresses: dict[str, str] = {}          # activity id -> the address of its first execution
        self.version = 0                             # grows whenever the rows change
        self.progress = (0, 0)                       # (jobs read, jobs listed) of the current load
        self.loaded = False
        self.load_seconds = 0.0
        self.outputs: dict[tuple[str, ...], dict[str, Any]] = {}   # output path -> jid -> value
        self._pending: dict[str, int | None] = {}    # jid -> creation time known from its event
        self._ends: dict[str, int] = {}
        self._positions: dict[str, int] = {}
        self._columns: dict[tuple[str, ...], tuple[pd.Series, pd.Series, pd.Series]] = {}
        self._loading: asyncio.Task[None] | None = None

    # -- loading -------------------------------------------------------------------------------
    def start_load(self) -> asyncio.Task[None]:
        """The running load, or a new one (concurrent callers share it)."""
        if self._loading is None or self._loading.done():
            self._loading = asyncio.ensure_future(self.load())
        return self._loading

    async def load(self) -> None:
        started = time.perf_counter()
        self.progress = (0, 0)
        await self.read_triggers()
        jobs = await self.mesh.list_jobs(limit=self.limit, scan_limit=max(self.limit, 1))
        self.progress = (0, len(jobs))
        rows = await fetch_rows(self.mesh, jobs, self.triggers, self.batch, self._progressed)
        self.outputs.clear()
        self._set_frame(pd.DataFrame(rows, columns=FRAME_COLUMNS))
        self.loaded = True
        self.load_seconds = time.perf_counter() - started

    def _progressed(self, done: int, total: int) -> None:
        self.progress = (done, total)

    async def read_triggers(self) -> None:
        for info in await self.mesh.versions():
            app = await self.mesh.compiled(info.version)
            if app is not None:
                self.triggers.update(app.subscriptions)
                self.addresses.update({aid: ",0" * (len(a.ancestors) + 1) for aid, a in app.activities.items()
                                       if a.type != "trigger"})

    def _set_frame(self, frame: pd.DataFrame) -> None:
        """Replace every row (a load): the cached input columns go."""
        if len(frame) and not frame["created_ms"].is_monotonic_decreasing:
            frame = frame.sort_values("created_ms", ascending=False, kind="stable")
        self.frame = frame.head(self.limit).reset_index(drop=True)
        self._positions = {jid: n for n, jid in enumerate(self.frame["jid"])}
        self._columns.clear()
        self.version += 1

    # -- live ----------------------------------------------------------------------------------
    def push(self, event: dict[str, Any]) -> None:
        """Note the job of a live event that changes its row (read again by ``sync``)."""
        jid = event.get("jid")
        if not jid or not (event.get("finished") == 1 or event.get("atp") in ("trigger", "job")
                           or event.get("status") == "failed"):
            return
        created = event.get("ts") if event.get("atp") == "trigger" else None
        if jid not in self._pending or created is not None:
            self._pending[jid] = int(created) if isinstance(created, int) else self._pending.get(jid)
        if event.get("finished") == 1 and isinstance(event.get("ts"), int):
            self._ends[jid] = event["ts"]

    async def sync(self) -> int:
        """Read the jobs ``push`` noted and update their rows; how many rows changed."""
        if not self._pending or (self._loading is not None and not self._loading.done()):
            return 0
        pending, self._pending = self._pending, {}
        ends, self._ends = self._ends, {}
        if pending and not self.triggers:
            await self.read_triggers()
        now = int(time.time() * 1000)
        known = self.frame["created_ms"]
        jobs = [(jid, int(known.iat[self._positions[jid]]) if jid in self._positions else created or now)
                for jid, created in pending.items()]
        rows = await fetch_rows(self.mesh, jobs, self.triggers, self.batch)
        for row in rows:      # the live event knows when the job finished; the job hash does not
            end = ends.get(row["jid"])
            if end and row["status"] != "running" and end > row["created_ms"]:
                row["duration"] = f"{(end - row['created_ms']) / 1000:.3f} s"
        self.upsert(rows)
        return len(rows)

    def upsert(self, rows: list[dict[str, Any]]) -> None:
        """Update rows in place and put new runs on top; the cached input columns follow, so a
        live update costs the rows it changes, not a rebuild (the next keystroke stays fast)."""
        if not rows:
            return
        for cache in self.outputs.values():
            for row in rows:
                cache.pop(row["jid"], None)
        fresh = [row for row in rows if row["jid"] not in self._positions]
        frame = self.frame
        for row in rows:
            at = self._positions.get(row["jid"])
            if at is None:
                continue
            for n, column in enumerate(FRAME_COLUMNS):
                frame.iat[at, n] = row[column]
            for path, cached in self._columns.items():
                for series, value in zip(cached, columns([dig(row["data"], path)]), strict=True):
                    series.iat[at] = value.iat[0]
        if fresh:
            added = pd.DataFrame(fresh, columns=FRAME_COLUMNS)
            frame = pd.concat([added, frame], ignore_index=True) if len(frame) else added
            if not frame["created_ms"].is_monotonic_decreasing:    # a late event: sort, columns go
                self._set_frame(frame)
                return
            self.frame = frame.head(self.limit)
            for path, cached in self._columns.items():
                text, number, plain = (pd.concat([head, tail], ignore_index=True).head(self.limit)
                                       for head, tail in zip(columns([dig(v, path) for v in added["data"]]), cached,
                                                             strict=True))
                self._columns[path] = (text, number, plain)
            self._positions = {jid: n for n, jid in enumerate(self.frame["jid"])}
        self.version += 1

    # -- search --------------------------------------------------------------------------------
    def match(self, query: Query, now_ms: int | None = None) -> Mask:
        """The runs matching ``query``; an output field not read yet counts as no match."""
        frame = self.frame
        mask = self.candidates(query, now_ms)
        for clause in query.output_fields:
            cache = self.outputs.get(clause.path, {})
            at = np.flatnonzero(mask)
            values = [cache.get(jid, MISSING) for jid in frame["jid"].to_numpy()[at]]
            hit = compare(values, clause) if len(at) else np.zeros(0, bool)
            mask[at] = hit
        return mask

    def candidates(self, query: Query, now_ms: int | None = None) -> Mask:
        """The runs matching every clause but the output fields."""
        frame = self.frame
        mask = np.ones(len(frame), bool)
        if not len(frame):
            return mask
        if query.statuses:
            mask &= frame["status"].isin(query.statuses).to_numpy()
        if query.topics:
            mask &= frame["topic"].isin(query.topics).to_numpy()
        if query.versions:
            mask &= frame["version"].isin(query.versions).to_numpy()
        if query.id_prefixes:
            jids = frame["jid"].to_numpy(dtype=str)
            mask &= np.logical_or.reduce([np.char.startswith(jids, p) for p in query.id_prefixes])
        created = frame["created_ms"].to_numpy()
        if query.since_seconds is not None:
            mask &= created >= (now_ms or int(time.time() * 1000)) - query.since_seconds * 1000
        if query.after_ms is not None:
            mask &= created >= query.after_ms
        if query.before_ms is not None:
            mask &= created < query.before_ms
        for clause in query.fields:
            if clause.source == "data":
                mask &= compare_columns(*self._input_columns(clause.path), clause)
        return mask

    def _input_columns(self, path: tuple[str, ...]) -> tuple[pd.Series, pd.Series, pd.Series]:
        cached = self._columns.get(path)
        if cached is None:
            cached = self._columns[path] = columns([dig(v, path) for v in self.frame["data"]])
        return cached

    def missing(self, query: Query, now_ms: int | None = None) -> list[str]:
        """The candidate runs (newest first) whose output fields of ``query`` are not cached yet."""
        paths = [c.path for c in query.output_fields]
        if not paths:
            return []
        jids = self.frame["jid"].to_numpy()[self.candidates(query, now_ms)]
        return [str(j) for j in jids if any(j not in self.outputs.get(p, {}) for p in paths)]

    async def read_outputs(self, paths: list[tuple[str, ...]], jids: list[str],
                           progress: Progress | None = None) -> None:
        """Read the job data at ``paths`` of ``jids`` (``batch`` jobs per round trip) into the cache.

        ``output.a.b`` is the field ``d/a/b``, or inside ``d/a`` when the job map wrote an object."""
        paths = list(dict.fromkeys(paths))
        fields: list[str] = []
        for path in paths:
            fields += [JobFields.data("/".join(path[:n])) for n in range(len(path), 0, -1)]
        for start in range(0, len(jids), self.batch):
            chunk = jids[start:start + self.batch]
            replies = await self.mesh.job_fields(chunk, fields)
            for jid, reply in zip(chunk, replies, strict=True):
                at = 0
                for path in paths:
                    found = reply[at:at + len(path)]
                    at += len(path)
                    self.outputs.setdefault(path, {})[jid] = _leaf(found, path)
            if progress is not None:
                progress(start + len(chunk), len(jids))


def _leaf(found: list[str | None], path: tuple[str, ...]) -> Any:
    """The value at ``path`` from the replies for ``d/<a/b/c>``, ``d/<a/b>``, ``d/<a>``."""
    for depth, raw in zip(range(len(path), 0, -1), found, strict=True):
        if raw is not None:
            return dig(decode(raw), path[depth:])
    return MISSING
