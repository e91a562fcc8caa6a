"""The runs of an app: a table filterable by status, id, topic, version, time, input values and
the activity a failed run failed at, kept current by the app's live events; and the form that
starts a job.

"Failed at": the job hash does not say which activity failed, so choosing one reads that
activity's entry (``a/<aid><dad>``, its first execution) of every failed run listed, in one round
trip, and keeps the runs whose entry holds an error; live ``failed`` events add to it.

Rows come from ``HotMesh.list_jobs`` plus ``HotMesh.job_fields`` (the status and metadata of every
listed job in one round trip). ``RunsTable`` needs only a ``Mesh`` (a ``HotMesh``) and optionally a
``Feed``, so notebooks can reuse it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pandas as pd
import panel as pn

from hotmesh_core.keys import JobFields

from .events import Feed
from .mesh import Mesh
from .status import job_status, parse_ts
from .theme import STATUS_COLORS, TABLE_CSS

FIELDS = [JobFields.SEMAPHORE, JobFields.meta("tpc"), JobFields.meta("vrs"), JobFields.meta("jc"),
          JobFields.meta("ju"), JobFields.meta("err")]
COLUMNS = ["jid", "status", "topic", "version", "created", "duration", "input"]
SINCE = {"any time": None, "last 5 minutes": 300, "last hour": 3600, "last 24 hours": 86400}
INPUT_CHARS = 160
ANY = "any"


async def fetch_rows(mesh: Mesh, jobs: list[tuple[str, int]], triggers: dict[str, str]) -> list[dict[str, Any]]:
    """One row per ``(jid, created_ms)``: status, topic, version, times and the trigger's input.

    ``job_fields`` reads the metadata and the trigger entry of every graph of the app (a handful
    of fields) of every job in one round trip, so the input comes with the status.
    """
    if not jobs:
        return []
    topics = list(triggers)
    inputs = [JobFields.output(triggers[t], ",0") for t in topics]
    values = await mesh.job_fields([jid for jid, _ in jobs], FIELDS + inputs)
    rows = []
    for (jid, created_ms), value in zip(jobs, values, strict=True):
        if value[0] is None:
            continue
        head, tail = value[:len(FIELDS)], value[len(FIELDS):]
        raw_input = tail[topics.index(head[1])] if head[1] in topics else None
        rows.append(make_row(jid, created_ms, head, raw_input))
    return rows


def make_row(jid: str, created_ms: int, value: list[str | None], raw_input: str | None) -> dict[str, Any]:
    semaphore, topic, version, created, updated, err = value
    created_ms = parse_ts(created) or created_ms
    started, ended = created_ms, parse_ts(updated)
    status = job_status(int(semaphore or 0), bool(err))
    if status == "running":
        duration = "running"
    elif ended and ended > started:
        duration = f"{(ended - started) / 1000:.3f} s"
    else:
        duration = "—"         # the job hash does not record when it finished
    data = ""
    if raw_input:
        try:
            data = json.dumps(json.loads(raw_input), sort_keys=True)
        except (ValueError, AttributeError):
            data = ""
    return {"jid": jid, "status": status, "topic": topic or "", "version": version or "",
            "created_ms": created_ms, "created": _clock(created_ms), "duration": duration,
            "input": data[:INPUT_CHARS]}


def filter_rows(frame: pd.DataFrame, status: str = "all", jid: str = "", topic: str = "all",
                version: str = "all", since_seconds: int | None = None, text: str = "",
                now_ms: int | None = None, jids: set[str] | None = None) -> pd.DataFrame:
    """The rows matching every filter that is set (pure, used by the table and the tests)."""
    if frame.empty:
        return frame
    mask = pd.Series(True, index=frame.index)
    if status != "all":
        mask &= frame["status"] == status
    if jid.strip():
        mask &= frame["jid"].str.contains(jid.strip(), case=False, regex=False)
    if topic != "all":
        mask &= frame["topic"] == topic
    if version != "all":
        mask &= frame["version"] == version
    if since_seconds:
        now_ms = now_ms or int(time.time() * 1000)
        mask &= frame["created_ms"] >= now_ms - since_seconds * 1000
    if text.strip():
        mask &= frame["input"].str.contains(text.strip(), case=False, regex=False)
    if jids is not None:
        mask &= frame["jid"].isin(jids)
    return frame[mask]


def _clock(ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ms / 1000)) + f".{ms % 1000:03d}"


class RunsTable:
    """The runs list; ``on_open(jid)`` is called when a row is clicked."""

    def __init__(self, mesh: Mesh, feed: Feed | None = None, limit: int = 5000,
                 on_open: Callable[[str], Awaitable[None] | None] | None = None) -> None:
        self.mesh = mesh
        self.feed = feed
        self.limit = limit
        self.on_open = on_open
        self.frame = pd.DataFrame(columns=[*COLUMNS, "created_ms"])
        self.triggers: dict[str, str] = {}
        self.addresses: dict[str, str] = {}          # activity id -> the address of its first execution
        self.failed_jids: dict[str, set[str]] = {}   # activity id -> runs that failed there
        self.status = pn.widgets.Select(label="Status", value="all", width=120,
                                        options=["all", "running", "done", "failed", "interrupted"])
        self.jid = pn.widgets.TextInput(label="Job id", placeholder="contains…", width=160)
        self.topic = pn.widgets.Select(label="Topic", options=["all"], width=140)
        self.version = pn.widgets.Select(label="Version", options=["all"], width=90)
        self.since = pn.widgets.Select(label="Created", options=list(SINCE), width=135)
        self.text = pn.widgets.TextInput(label="Input contains", placeholder="e.g. world", width=160)
        self.failed_at = pn.widgets.Select(label="Failed at", options=[ANY], value=ANY, width=130,
                                           css_classes=["hm-runs-failed-at"])
        self.refresh_button = pn.widgets.Button(label="Refresh", color="light", width=80, align="end")
        self.count = pn.pane.HTML("", css_classes=["hm-muted", "hm-runs-count"], align="end", width=120)
        self.message = pn.pane.Alert("", alert_type="danger", visible=False, sizing_mode="stretch_width")
        self.table = pn.widgets.Tabulator(
            self.frame[COLUMNS], pagination="remote", page_size=15, show_index=False, disabled=True,
            selectable=False, sizing_mode="stretch_width", theme="bootstrap5", layout="fit_data_stretch",
            css_classes=["hm-runs-table"], header_align="left", stylesheets=[TABLE_CSS])
        if self.table.style is not None:          # pandas Styler: a colour per status cell
            self.table.style.map(_status_style, subset=["status"])
        # panel awaits coroutine callbacks; Tabulator.on_click's annotation only admits plain functions
        self.table.on_click(self._clicked)   # type: ignore[arg-type]
        for widget in (self.status, self.jid, self.topic, self.version, self.since, self.text):
            widget.param.watch(lambda _e: self.apply_filters(), "value")
        self.failed_at.param.watch(self._failed_at_changed, "value")
        self.refresh_button.on_click(self._refresh_clicked)
        self.panel = pn.Column(
            pn.Row(self.status, self.jid, self.topic, self.version, self.since, self.text, self.failed_at,
                   self.refresh_button, self.count),
            self.message, self.table, sizing_mode="stretch_width")
        self.load_seconds = 0.0

    async def load(self) -> None:
        """Read the newest ``limit`` jobs and show them."""
        started = time.perf_counter()
        try:
            await self._read_triggers()
            jobs = await self.mesh.list_jobs(limit=self.limit)
            rows = await fetch_rows(self.mesh, jobs, self.triggers)
        except Exception as exc:  # noqa: BLE001 - shown in the page
            from .runtime import describe_error

            self.message.object, self.message.visible = f"Could not read runs: {describe_error(exc)}", True
            return
        self.message.visible = False
        self.frame = pd.DataFrame(rows, columns=[*COLUMNS, "created_ms"])
        self.failed_jids.clear()
        self._options()
        if self.failed_at.value != ANY:
            await self.read_failed_at(str(self.failed_at.value))
        self.apply_filters()
        self.load_seconds = time.perf_counter() - started

    async def _read_triggers(self) -> None:
        for info in await self.mesh.versions():
            app = await self.mesh.compiled(info.version)
            if app is not None:
                self.triggers.update(app.subscriptions)
                self.addresses.update({aid: ",0" * (len(a.ancestors) + 1) for aid, a in app.activities.items()
                                       if a.type != "trigger"})

    def _options(self) -> None:
        topics = ["all", *sorted(set(self.frame["topic"]) - {""})]
        versions = ["all", *sorted(set(self.frame["version"]) - {""}, key=_version_key)]
        if list(self.topic.options) != topics:
            self.topic.options = topics
        if list(self.version.options) != versions:
            self.version.options = versions
        activities = [ANY, *sorted(self.addresses)]
        if list(self.failed_at.options) != activities:
            self.failed_at.options = activities

    async def read_failed_at(self, aid: str) -> set[str]:
        """The listed failed runs whose activity ``aid`` holds an error (one round trip)."""
        failed = [str(j) for j in self.frame.loc[self.frame["status"] == "failed", "jid"]] if len(self.frame) else []
        found: set[str] = set()
        if failed:
            field = JobFields.activity(aid, self.addresses.get(aid, ",0,0"))
            for jid, (raw,) in zip(failed, await self.mesh.job_fields(failed, [field]), strict=True):
                if raw and _has_error(raw):
                    found.add(jid)
        self.failed_jids[aid] = self.failed_jids.get(aid, set()) | found
        return self.failed_jids[aid]

    async def show_failed_at(self, aid: str) -> None:
        """Show the failed runs that failed at ``aid`` (the overview's click on a failing activity)."""
        if not self.addresses:
            await self._read_triggers()
            self._options()
        if aid not in self.failed_at.options:
            self.failed_at.options = [*self.failed_at.options, aid]
        await self.read_failed_at(aid)
        self.status.value = "failed"
        self.failed_at.value = aid          # the watcher finds it read: it only filters
        self.apply_filters()

    def _failed_at_changed(self, event: Any) -> None:
        aid = str(event.new)
        if aid == ANY or aid in self.failed_jids:
            self.apply_filters()
            return

        async def read_then_filter() -> None:
            await self.read_failed_at(aid)
            self.apply_filters()

        pn.state.execute(read_then_filter)

    def apply_filters(self) -> None:
        chosen = str(self.failed_at.value)
        jids = None if chosen == ANY else self.failed_jids.get(chosen, set())
        view = filter_rows(self.frame, self.status.value, self.jid.value or "", self.topic.value,
                           self.version.value, SINCE.get(self.since.value), self.text.value or "", jids=jids)
        self.table.value = view[COLUMNS].reset_index(drop=True)
        self.count.object = f"{len(view):,} of {len(self.frame):,} runs"

    async def apply_events(self, events: list[dict[str, Any]]) -> int:
        """Update the rows of the jobs these events are about (new jobs are added on top)."""
        jids = list(dict.fromkeys(e["jid"] for e in events if e.get("jid") and (
            e.get("finished") == 1 or e.get("atp") in ("trigger", "job") or e.get("status") == "failed")))
        if not jids:
            return 0
        for event in events:             # a live failure says where it happened
            if event.get("status") == "failed" and event.get("aid") in self.failed_jids:
                self.failed_jids[event["aid"]].add(event["jid"])
        known = dict(zip(self.frame["jid"], self.frame["created_ms"], strict=True)) if len(self.frame) else {}
        now = int(time.time() * 1000)
        new_triggers = [e for e in events if e.get("atp") == "trigger"]
        created = {e["jid"]: int(e.get("ts") or now) for e in new_triggers}
        jobs = [(jid, int(known.get(jid, created.get(jid, now)))) for jid in jids]
        if new_triggers and not self.triggers:
            await self._read_triggers()
        rows = await fetch_rows(self.mesh, jobs, self.triggers)
        if not rows:
            return 0
        ends = {e["jid"]: e["ts"] for e in events if e.get("finished") == 1 and isinstance(e.get("ts"), int)}
        for row in rows:      # the live event knows when the job finished; the job hash does not
            end = ends.get(row["jid"])
            if end and row["status"] != "running" and end > row["created_ms"]:
                row["duration"] = f"{(end - row['created_ms']) / 1000:.3f} s"
        fresh = pd.DataFrame(rows, columns=[*COLUMNS, "created_ms"])
        rest = self.frame[~self.frame["jid"].isin(fresh["jid"])]
        frame = pd.concat([fresh, rest] if len(rest) else [fresh], ignore_index=True)
        self.frame = frame.sort_values("created_ms", ascending=False, kind="stable").head(self.limit)
        self.frame = self.frame.reset_index(drop=True)
        self._options()
        self.apply_filters()
        return len(rows)

    async def tick(self) -> None:
        if self.feed is not None:
            events = self.feed.drain()
            if events:
                await self.apply_events(events)

    async def _refresh_clicked(self, _event: Any) -> None:
        await self.load()

    async def _clicked(self, event: Any) -> None:
        try:
            jid = str(self.table.value.iloc[event.row]["jid"])
        except (IndexError, KeyError):
            return
        if self.on_open is not None:
            result = self.on_open(jid)
            if result is not None:
                await result


def _has_error(raw: str) -> bool:
    try:
        entry = json.loads(raw)
    except ValueError:
        return False
    return isinstance(entry, dict) and bool(entry.get("err"))


def _status_style(value: Any) -> str:
    color = STATUS_COLORS.get(str(value))
    return f"background-color: {color}; font-weight: 600" if color else ""


def _version_key(label: str) -> tuple[int, Any]:
    return (0, int(label)) if label.isdigit() else (1, label)
