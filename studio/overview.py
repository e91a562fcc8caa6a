"""The overview: the studio's first page. Is the app healthy, what is failing, where do queues grow?

Two sources, both with a cost that does not grow with the number of jobs:

- **Rates and latencies** come from the engines' own live activity events (``hmsh:<app>:e:``),
  which the studio already receives for the run views. ``OverviewStats`` (one per app per server
  process, fed by the ``EventHub``) counts them per second: a trigger's ``started`` event is a job
  started (or, when the trigger ran in a process nobody watches, such as a client that only
  publishes, the first event of one of the trigger's children), an event with ``finished=1`` a job completed (or failed when its status is
  ``failed``). Per activity it keeps two latency samples: the *step wait* (from the parent
  activity's ``done`` to this activity's first event: the time its transition message spent on the
  engine stream, plus the step) and the *duration* (from ``running`` to ``done``/``failed``: for a
  worker, the dispatch, the queue wait and the callback). Engines publish events only while a
  studio page or widget watches (``HotMesh.watch``), so the figures cover the time since this
  server started counting (shown on the page), not the app's whole history. No job is read.
- **Queues** come from Redis on each refresh (every 2 s while the page is shown): one pipeline of
  ``HotMesh.queue_report`` (XLEN, XINFO GROUPS and two XPENDING per engine and worker stream,
  TIME, ZCARD and ZRANGE of the timers, XLEN of the dead letters) and the quorum's roll call for
  the members and their throttle (a PUBLISH, one XINFO GROUPS per member stream, and the pongs).
"""

from __future__ import annotations

import asyncio
import html
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import pandas as pd
import panel as pn
from bokeh.models import ColumnDataSource, DataRange1d, DatetimeTickFormatter, HoverTool, NumeralTickFormatter
from bokeh.plotting import figure

from hotmesh_core.compiler import CompiledApp

from .fleet import throttle_text
from .graph import bokeh_write
from .mesh import Mesh
from .overview_stats import KINDS, OverviewStats
from .runtime import describe_error
from .theme import TABLE_CSS

#: window label -> (seconds shown, seconds per chart bucket)
WINDOWS = {"last 15 minutes": (900, 10), "last hour": (3600, 30)}
ALL_GRAPHS = "all graphs"
REFRESH_MS = 2000
ROLL_CALL_SECONDS = 0.25
COLORS = {"started": "#2563eb", "completed": "#16a34a", "failed": "#dc2626"}
ACTIVITY_COLUMNS = ["graph", "activity", "type", "runs", "failed", "wait p50", "wait p95", "wait p99",
                    "duration p50", "duration p95", "duration p99"]
STREAM_COLUMNS = ["stream", "group", "length", "backlog", "pending", "oldest pending", "deliveries",
                  "consumers", "pending per consumer"]
FLEET_COLUMNS = ["role", "topic", "process", "pid", "throttle"]
TILE_CSS = """
.hm-tiles { display: flex; flex-wrap: wrap; gap: 10px; margin: 4px 0 6px 0; }
.hm-tile { flex: 1 1 130px; border: 1px solid #e2e8f0; border-radius: 8px; padding: 8px 12px; background: #fff; }
.hm-tile-value { font-size: 24px; font-weight: 700; color: #0f172a; line-height: 1.2; }
.hm-tile-label { font-size: 12px; font-weight: 600; text-transform: uppercase; letter-spacing: .04em; color: #334155; }
.hm-tile.hm-bad { border-color: #fca5a5; background: #fef2f2; }
.hm-tile.hm-bad .hm-tile-value { color: #b91c1c; }
.hm-muted { color: #64748b; font-size: 12px; }
"""


def worker_topics(app: CompiledApp | None, graph: str | None = None) -> list[str]:
    """The static worker topics of ``app`` (of one graph when asked); mapped topics are skipped."""
    if app is None:
        return []
    return list(dict.fromkeys(a.topic for a in app.activities.values()
                              if a.type == "worker" and isinstance(a.topic, str)
                              and (graph is None or a.graph == graph)))


async def sample_queues(mesh: Mesh, topics: list[str]) -> tuple[dict[str, Any], list[dict[str, Any]], bool]:
    """The queue report and the fleet's members (roll call; this process's own when none answers),
    read concurrently: the roll call waits ``ROLL_CALL_SECONDS`` for the pongs."""
    report, profiles = await asyncio.gather(mesh.queue_report(topics), mesh.roll_call(ROLL_CALL_SECONDS))
    everyone = bool(profiles)
    return report, (profiles if everyone else mesh.members()), everyone


def stream_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for s in report["streams"]:
        backlog = s["pending"] + (s["lag"] or 0)
        per = ", ".join(f"{name[:10]}: {n}" for name, n in sorted(s["per_consumer"].items())) or "—"
        rows.append({"stream": s["topic"] or "(engine)", "group": s["group"], "length": s["length"],
                     "backlog": backlog, "pending": s["pending"], "oldest pending": _age(s["oldest_age_ms"]),
                     "deliveries": s["oldest_deliveries"] or 0, "consumers": s["consumers"],
                     "pending per consumer": per})
    return rows


def fleet_member_rows(profiles: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"role": p["role"], "topic": p.get("topic") or "(engine)", "process": str(p.get("guid", ""))[:10],
             "pid": str((p.get("system") or {}).get("pid", "")), "throttle": throttle_text(p.get("throttle"))}
            for p in profiles]


def _age(ms: int | None) -> str:
    if ms is None:
        return "—"
    if ms < 1000:
        return f"{ms} ms"
    if ms < 120_000:
        return f"{ms / 1000:.1f} s"
    return f"{ms / 60_000:.1f} min"


def _ms(value: float | None) -> str:
    return "—" if value is None else (f"{value:.0f}" if value >= 10 else f"{value:.1f}")


# -- the page -------------------------------------------------------------------------------------
class OverviewView:
    """The overview of one app in one browser session; ``refresh()`` every ``REFRESH_MS`` while
    shown. ``on_failed(aid)`` is called when a row of an activity that failed is clicked."""

    def __init__(self, mesh: Mesh, stats: OverviewStats,
                 on_failed: Callable[[str], Awaitable[None]] | None = None) -> None:
        self.mesh = mesh
        self.stats = stats
        self.on_failed = on_failed
        self.app: CompiledApp | None = None
        self.report: dict[str, Any] = {}
        self.refreshes = 0
        self.refresh_ms = 0.0
        self.refresh_every_ms = REFRESH_MS        # how often the owner calls refresh (said in the note)
        self._busy = False
        self.window = pn.widgets.RadioButtonGroup(options=list(WINDOWS), value="last 15 minutes",
                                                  color="light", css_classes=["hm-overview-window"])
        self.graph = pn.widgets.Select(options=[ALL_GRAPHS], value=ALL_GRAPHS, width=220,
                                       css_classes=["hm-overview-graph"])
        self.summary = pn.pane.HTML("", sizing_mode="stretch_width", css_classes=["hm-overview-summary"],
                                   stylesheets=[TILE_CSS])
        self.source = ColumnDataSource({"time": [], **{k: [] for k in KINDS}}, name="overview-rates")
        self.figure = figure(name="overview-plot", x_axis_type="datetime", height=240, sizing_mode="stretch_width",
                             tools="xpan,xwheel_zoom,reset", toolbar_location="right", outline_line_color=None,
                             background_fill_color="#fbfcfe", y_axis_label="jobs per second")
        self.figure.toolbar.logo = None
        for kind in KINDS:
            self.figure.step(x="time", y=kind, source=self.source, color=COLORS[kind], line_width=2, mode="after",
                             legend_label=kind)
        self.figure.add_tools(HoverTool(tooltips=[("time", "@time{%H:%M:%S}"), ("started", "@started{0.00}/s"),
                                                  ("completed", "@completed{0.00}/s"), ("failed", "@failed{0.00}/s")],
                                        formatters={"@time": "datetime"}, mode="vline"))
        self.figure.xaxis.formatter = DatetimeTickFormatter(minutes="%H:%M", hourmin="%H:%M", seconds="%H:%M:%S")
        self.figure.yaxis.formatter = NumeralTickFormatter(format="0.[00]")
        self.figure.legend.location = "top_left"
        self.figure.legend.orientation = "horizontal"
        self.figure.legend.background_fill_alpha = 0.6
        self.figure.y_range = DataRange1d(start=0)
        self.figure.yaxis.axis_label_text_font_style = "normal"
        self.activities = self._table(ACTIVITY_COLUMNS, "hm-overview-activities")
        if self.activities.style is not None:
            self.activities.style.map(_failed_style, subset=["failed"])
        self.activities.on_click(self._clicked)   # type: ignore[arg-type]
        self.streams = self._table(STREAM_COLUMNS, "hm-overview-streams")
        self.fleet = self._table(FLEET_COLUMNS, "hm-overview-fleet")
        self.note = pn.pane.HTML("", sizing_mode="stretch_width", css_classes=["hm-muted", "hm-overview-note"])
        self.message = pn.pane.Alert("", alert_type="danger", visible=False, sizing_mode="stretch_width")
        self.window.param.watch(lambda _e: self.redraw(), "value")
        self.graph.param.watch(lambda _e: self.redraw(), "value")
        card = "<div class='hm-card-title'>{}</div>"
        self.panel = pn.Column(
            pn.Row(self.window, self.graph), self.summary, self.message,
            pn.pane.Bokeh(self.figure, sizing_mode="stretch_width"),
            pn.pane.HTML(card.format("Activities (click one that failed for its failed runs)")), self.activities,
            pn.pane.HTML(card.format("Streams")), self.streams,
            pn.pane.HTML(card.format("Fleet")), self.fleet, self.note,
            sizing_mode="stretch_width", css_classes=["hm-overview"])

    @staticmethod
    def _table(columns: list[str], css: str) -> pn.widgets.Tabulator:
        return pn.widgets.Tabulator(pd.DataFrame(columns=columns), show_index=False, disabled=True,
                                    selectable=False, theme="bootstrap5", sizing_mode="stretch_width",
                                    layout="fit_data_stretch", css_classes=[css], stylesheets=[TABLE_CSS])

    def set_app(self, app: CompiledApp | None) -> None:
        self.app = app
        self.stats.set_app(app)
        graphs = [ALL_GRAPHS, *(g.subscribes for g in app.graphs)] if app else [ALL_GRAPHS]
        if list(self.graph.options) != graphs:
            self.graph.options = graphs
        if self.graph.value not in graphs:
            self.graph.value = ALL_GRAPHS

    def _chosen_graph(self) -> str | None:
        return None if self.graph.value in (None, ALL_GRAPHS) else str(self.graph.value)

    async def refresh(self) -> None:
        """Read the queues and the fleet (a fixed number of Redis commands), then redraw."""
        if self._busy:
            return
        self._busy = True
        started = time.perf_counter()
        try:
            report, profiles, everyone = await sample_queues(self.mesh, worker_topics(self.app))
        except Exception as exc:  # noqa: BLE001 - shown in the page; the next refresh retries
            self.message.object, self.message.visible = f"Could not read the queues: {describe_error(exc)}", True
            return
        finally:
            self._busy = False
        self.message.visible = False
        self.report = report
        self.streams_frame = pd.DataFrame(stream_rows(report), columns=STREAM_COLUMNS)
        self.fleet.value = pd.DataFrame(fleet_member_rows(profiles), columns=FLEET_COLUMNS)
        self.everyone = everyone
        self.refreshes += 1
        self.refresh_ms = (time.perf_counter() - started) * 1000
        self.redraw()

    def redraw(self) -> None:
        """Charts and tables from the counters (no I/O): also on a window or graph change."""
        window_s, step_s = WINDOWS.get(str(self.window.value), WINDOWS["last 15 minutes"])
        graph = self._chosen_graph()
        aids = ({aid for aid, a in self.app.activities.items() if a.graph == graph}
                if self.app is not None and graph is not None else None)
        now_ms = int(time.time() * 1000)
        data = self.stats.rates(window_s, step_s, aids, now_ms)
        bokeh_write(lambda: setattr(self.source, "data", data), self.source)
        totals = self.stats.totals(window_s, aids, now_ms)
        self.activities.value = pd.DataFrame(self.activity_rows(window_s, graph, now_ms), columns=ACTIVITY_COLUMNS)
        if self.report:
            topics = set(worker_topics(self.app, graph)) if graph is not None else None
            frame = getattr(self, "streams_frame", pd.DataFrame(columns=STREAM_COLUMNS))
            if topics is not None:
                frame = frame[(frame["group"] == "ENGINE") | frame["stream"].isin(topics)]
            self.streams.value = frame.reset_index(drop=True)
        self.summary.object = self._summary(totals, window_s)
        since = self.stats.since_ms
        self.note.object = (
            "Rates and latencies are counted from the engines' live events"
            + (f" since {time.strftime('%H:%M:%S', time.gmtime(since / 1000))} UTC" if since else " (none yet)")
            + ", while a studio page or notebook widget is open. Wait: from the parent activity's end to this activity's start "
            "(engine stream + step); duration: from its start to its end (for a worker: queue + callback). "
            f"Queues and fleet: read from Redis every {self.refresh_every_ms / 1000:g} s while this page is shown, "
            f"{self.report.get('commands', 0)} commands in one pipeline plus the roll call"
            + ("" if getattr(self, "everyone", True) else " (nobody answered it: this server's own members)")
            + ".")

    def activity_rows(self, window_s: int, graph: str | None = None,
                      now_ms: int | None = None) -> list[dict[str, Any]]:
        if self.app is None:
            return []
        counts = self.stats.per_activity(window_s, now_ms)
        rows: list[dict[str, Any]] = []
        for aid, activity in self.app.activities.items():
            if activity.type == "trigger" or (graph is not None and activity.graph != graph):
                continue
            wait, duration = self.stats.latency(aid, window_s, now_ms)
            seen = counts.get(aid, Counter())
            rows.append({"graph": activity.graph, "activity": aid, "type": activity.type, "runs": seen["ran"],
                         "failed": seen["activity failed"], "wait p50": _ms(wait.p50), "wait p95": _ms(wait.p95),
                         "wait p99": _ms(wait.p99), "duration p50": _ms(duration.p50),
                         "duration p95": _ms(duration.p95), "duration p99": _ms(duration.p99)})
        rows.sort(key=lambda r: (-int(r["failed"]), r["graph"], r["activity"]))
        return rows

    def _summary(self, totals: Counter[str], window_s: int) -> str:
        report = self.report
        streams = report.get("streams", [])
        backlog = sum(s["pending"] + (s["lag"] or 0) for s in streams)
        oldest = max((s["oldest_age_ms"] or 0 for s in streams), default=0)
        due = report.get("next_timer_ms")
        if due is None:
            next_due = "none"
        else:
            wait = due - int(report.get("now_ms") or time.time() * 1000)
            next_due = "now" if wait <= 0 else f"in {_age(wait)}"

        def tile(label: str, value: Any, css: str, note: str = "") -> str:
            return (f"<div class='hm-tile {css}' data-value='{html.escape(str(value))}'>"
                    f"<div class='hm-tile-value'>{html.escape(str(value))}</div>"
                    f"<div class='hm-tile-label'>{html.escape(label)}</div>"
                    f"<div class='hm-muted'>{html.escape(note)}</div></div>")

        minutes = window_s // 60
        per = f"last {minutes} min" if minutes < 60 else "last hour"
        failed = totals["failed"]
        return "<div class='hm-tiles'>" + "".join([
            tile("jobs started", totals["started"], "hm-ov-started", per),
            tile("completed", totals["completed"], "hm-ov-completed", per),
            tile("failed", failed, "hm-ov-failed" + (" hm-bad" if failed else ""), per),
            tile("backlog", backlog, "hm-ov-backlog", f"oldest pending {_age(oldest) if oldest else '—'}"),
            tile("timers waiting", report.get("timers", "—"), "hm-ov-timers", f"next due {next_due}"),
            tile("dead letters", report.get("dead_letters", "—"),
                 "hm-ov-dead" + (" hm-bad" if report.get("dead_letters") else ""), "see Fleet"),
        ]) + "</div>"

    async def _clicked(self, event: Any) -> None:
        try:
            row = self.activities.value.iloc[event.row]
        except (IndexError, KeyError):
            return
        if int(str(row["failed"])) > 0 and self.on_failed is not None:
            await self.on_failed(str(row["activity"]))


def _failed_style(value: Any) -> str:
    try:
        bad = int(value) > 0
    except (TypeError, ValueError):
        bad = False
    return "background-color: #fca5a5; font-weight: 600; text-decoration: underline" if bad else ""
