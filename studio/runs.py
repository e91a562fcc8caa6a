"""The runs of an app: a table filterable by status, id, topic, version, time, input values and
the activity a failed run failed at, and searchable with a query (``studio.query``:
``status:failed data.customer = 42``), kept current by the app's live events; and the form that
starts a job.

The rows live in a ``RunIndex`` (``run_index.py``): built once by a bounded scan with a progress
bar, kept current by live events (the studio's server shares one per app between its sessions),
and filtered in memory on every keystroke. Output fields of a query (``output.total > 10``) are
read for the runs the other clauses leave, batched, then cached; the table shows what is known
and says how many are still being read.

"Failed at": the job hash does not say which activity failed, so choosing one reads that
activity's entry (``a/<aid><dad>``, its first execution) of every failed run listed, in one round
trip, and keeps the runs whose entry holds an error; live ``failed`` events add to it.

``RunsTable`` needs only a ``Mesh`` (a ``HotMesh``) and optionally a ``Feed`` and a shared
``RunIndex``, so notebooks can reuse it.
"""

from __future__ import annotations

import asyncio
import html
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pandas as pd
import panel as pn
from bokeh.models.widgets.tables import HTMLTemplateFormatter

from hotmesh_core.keys import JobFields

from .events import Feed
from .mesh import Mesh
from .query import Query, QueryError, parse
from .run_index import COLUMNS, RunIndex, fetch_rows, make_row
from .theme import STATUS_COLORS, TABLE_CSS

__all__ = ["COLUMNS", "RunsTable", "fetch_rows", "filter_rows", "make_row"]

SINCE = {"any time": None, "last 5 minutes": 300, "last hour": 3600, "last 24 hours": 86400}
ANY = "any"
# A colour per status cell, drawn in the browser for the rows shown: a pandas Styler would style
# every row of the frame in Python on each update (1.3 s at 100,000 rows)
STATUS_FORMATTER = HTMLTemplateFormatter(template=(
    "<div class='hm-run-status' style='margin:-5px -8px;padding:5px 8px;font-weight:600;background-color:"
    "<%= (" + json.dumps(STATUS_COLORS) + ")[value] || 'transparent' %>'><%= value %></div>"))
SEARCH_HELP = ("status:failed · graph:demo.greet · version:2 · since:1h · after:2026-12-01 · id:&lt;prefix&gt; · "
               "data.customer = 42 · output.total &gt; 100 (=, !=, &lt;, &gt;, &lt;=, &gt;=, contains)")


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


class RunsTable:
    """The runs list; ``on_open(jid)`` is called when a row is clicked."""

    def __init__(self, mesh: Mesh, feed: Feed | None = None, limit: int = 100_000,
                 on_open: Callable[[str], Awaitable[None] | None] | None = None,
                 index: RunIndex | None = None) -> None:
        self.mesh = mesh
        self.feed = feed
        self.limit = limit
        self.on_open = on_open
        self.index = index or RunIndex(mesh, limit)
        self._own_index = index is None          # else the server feeds it from its event hub
        self.query = Query()
        self.shown_version = -1
        self.failed_jids: dict[str, set[str]] = {}   # activity id -> runs that failed there
        self._reading: asyncio.Task[int] | None = None
        self.search = pn.widgets.TextInput(
            label="Search runs", placeholder="e.g. status:failed data.customer = 42", sizing_mode="stretch_width",
            css_classes=["hm-runs-search"])
        self.search_help = pn.pane.HTML(f"<div class='hm-muted' style='font-size:11px'>{SEARCH_HELP}</div>",
                                        sizing_mode="stretch_width")
        self.search_error = pn.pane.HTML("", visible=False, sizing_mode="stretch_width",
                                         css_classes=["hm-runs-search-error"])
        self.progress = pn.indicators.Progress(value=-1, max=100, active=True, visible=False, width=240,
                                               bar_color="primary", css_classes=["hm-runs-progress"])
        self.progress_text = pn.pane.HTML("", visible=False, css_classes=["hm-muted", "hm-runs-progress-text"])
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
        self.count = pn.pane.HTML("", css_classes=["hm-muted", "hm-runs-count"], align="end", width=220)
        self.message = pn.pane.Alert("", alert_type="danger", visible=False, sizing_mode="stretch_width")
        self.table = pn.widgets.Tabulator(
            self.frame[COLUMNS], pagination="remote", page_size=15, show_index=False, disabled=True,
            selectable=False, sizing_mode="stretch_width", theme="bootstrap5", layout="fit_data_stretch",
            css_classes=["hm-runs-table"], header_align="left", stylesheets=[TABLE_CSS],
            formatters={"status": STATUS_FORMATTER})
        # panel awaits coroutine callbacks; Tabulator.on_click's annotation only admits plain functions
        self.table.on_click(self._clicked)   # type: ignore[arg-type]
        for widget in (self.status, self.jid, self.topic, self.version, self.since, self.text):
            widget.param.watch(lambda _e: self.apply_filters(), "value")
        self.search.param.watch(self._search_changed, "value_input")
        self.failed_at.param.watch(self._failed_at_changed, "value")
        self.refresh_button.on_click(self._refresh_clicked)
        self.panel = pn.Column(
            pn.Row(self.search, self.count, sizing_mode="stretch_width"), self.search_help, self.search_error,
            pn.FlexBox(self.status, self.jid, self.topic, self.version, self.since, self.text, self.failed_at,
                       self.refresh_button, flex_wrap="wrap", align_items="flex-end", sizing_mode="stretch_width"),
            pn.Row(self.progress, self.progress_text),
            self.message, self.table, sizing_mode="stretch_width")
        self.load_seconds = 0.0

    @property
    def frame(self) -> pd.DataFrame:
        return self.index.frame

    @property
    def triggers(self) -> dict[str, str]:
        return self.index.triggers

    @property
    def addresses(self) -> dict[str, str]:
        return self.index.addresses

    # -- loading -------------------------------------------------------------------------------
    async def load(self, refresh: bool = True) -> None:
        """Build the index (or with ``refresh=False`` reuse a loaded one) and show the runs; a
        progress bar follows the scan."""
        started = time.perf_counter()
        try:
            if refresh or not self.index.loaded:
                task = self.index.start_load()
                while not task.done():
                    self._show_progress("Reading runs", *self.index.progress)
                    await asyncio.wait([task], timeout=0.2)
                task.result()
            await self.index.sync()
        except Exception as exc:  # noqa: BLE001 - shown in the page
            from .runtime import describe_error

            self.message.object, self.message.visible = f"Could not read runs: {describe_error(exc)}", True
            return
        finally:
            self._hide_progress()
        self.message.visible = False
        self.failed_jids.clear()
        self._options()
        if self.failed_at.value != ANY:
            await self.read_failed_at(str(self.failed_at.value))
        self.apply_filters()
        self.load_seconds = time.perf_counter() - started

    def _show_progress(self, what: str, done: int, total: int) -> None:
        self.progress.value = int(100 * done / total) if total else -1
        self.progress_text.object = f"{what}: {done:,} of {total:,}" if total else f"{what}: listing jobs…"
        self.progress.visible = self.progress_text.visible = True

    def _hide_progress(self) -> None:
        self.progress.visible = self.progress_text.visible = False

    async def _read_triggers(self) -> None:
        await self.index.read_triggers()

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

    # -- failed at -----------------------------------------------------------------------------
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

    # -- search --------------------------------------------------------------------------------
    def _search_changed(self, event: Any) -> None:
        self.set_query(str(event.new or ""))

    def set_query(self, text: str) -> bool:
        """Parse ``text`` and filter by it; False (and the error under the box) when it is malformed."""
        try:
            query = parse(text)
        except QueryError as exc:
            self.search_error.object = (f"<div class='hm-search-error' style='color:#b91c1c'>{html.escape(exc.message)}"
                                        f" at column {exc.column + 1}<pre style='margin:2px 0'>"
                                        f"{html.escape(exc.pointer(text))}</pre></div>")
            self.search_error.visible = True
            return False
        self.search_error.visible = False
        self.query = query
        self.apply_filters()
        if query.output_fields:
            self._read_outputs_soon()
        return True

    def _read_outputs_soon(self) -> None:
        """Read the output fields the query needs of the runs still unknown (one reader at a time)."""
        if self._reading is not None and not self._reading.done():
            self._reading.cancel()
        self._reading = asyncio.ensure_future(self.read_outputs())

    async def read_outputs(self) -> int:
        """Read (batched, cached) the output fields of the query for the runs that need them."""
        query = self.query
        jids = self.index.missing(query)
        if not jids:
            return 0
        paths = [c.path for c in query.output_fields]
        try:
            await self.index.read_outputs(paths, jids, lambda d, t: self._show_progress("Reading outputs", d, t))
        finally:
            self._hide_progress()
        if query is self.query:
            self.apply_filters()
        return len(jids)

    def apply_filters(self) -> None:
        chosen = str(self.failed_at.value)
        jids = None if chosen == ANY else self.failed_jids.get(chosen, set())
        frame = self.frame
        self.shown_version = self.index.version
        if not self.query.empty and len(frame):
            frame = frame[self.index.match(self.query)]
        view = filter_rows(frame, self.status.value, self.jid.value or "", self.topic.value,
                           self.version.value, SINCE.get(self.since.value), self.text.value or "", jids=jids)
        self.table.value = view[COLUMNS].reset_index(drop=True)
        unknown = len(self.index.missing(self.query)) if self.query.output_fields else 0
        note = f" ({unknown:,} being read)" if unknown else ""
        self.count.object = f"{len(view):,} of {len(self.frame):,} runs{note}"

    # -- live ----------------------------------------------------------------------------------
    async def apply_events(self, events: list[dict[str, Any]]) -> int:
        """Update the rows of the jobs these events are about (new jobs are added on top)."""
        for event in events:             # a live failure says where it happened
            if event.get("status") == "failed" and event.get("aid") in self.failed_jids:
                self.failed_jids[event["aid"]].add(event["jid"])
            if self._own_index:
                self.index.push(event)
        changed = await self.index.sync()
        if self.index.version != self.shown_version:
            self._options()
            self.apply_filters()
        return changed

    async def tick(self) -> None:
        events = self.feed.drain() if self.feed is not None else []
        if events or self.index.version != self.shown_version or not self._own_index:
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


def _version_key(label: str) -> tuple[int, Any]:
    return (0, int(label)) if label.isdigit() else (1, label)
