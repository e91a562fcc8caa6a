"""A live job: the DAG coloured by activity status, the Gantt timeline, the inspector and actions.

Live protocol: open a feed on the job's event channel first, then take the export snapshot, then
apply every buffered event (``JobState`` merges monotonically, so order does not matter). A
periodic callback drains the feed every 200 ms and applies one batched update. ``JobView`` needs
only a ``Mesh`` (a ``HotMesh``, and optionally a shared ``EventHub``), so a notebook can use it as is.
"""

from __future__ import annotations

import html
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import panel as pn

from hotmesh_core import JobNotFoundError
from hotmesh_core.compiler import CompiledApp

from .access import read_only, refusal
from .events import EventHub, Feed, every
from .graph import GraphView
from .inspector import activity_yaml, inspector_html
from .mesh import Mesh
from .model import graph_model
from .resume import ResumePanel, attempt_rows, history_html
from .runtime import describe_error
from .status import JobState
from .theme import AlertType, legend_html
from .timeline import Timeline

TICK_MS = 200


class JobView:
    def __init__(self, mesh: Mesh, hub: EventHub | None = None, folder: Path | None = None,
                 on_open_job: Callable[[str], Awaitable[None] | None] | None = None) -> None:
        self.mesh = mesh
        self.hub = hub
        self._own_hub = hub is None
        self.folder = folder
        self.on_open_job = on_open_job
        self.jid: str | None = None
        self.state: JobState | None = None
        self.export: dict[str, Any] | None = None
        self.app: CompiledApp | None = None
        self.source: str | None = None
        self.feed: Feed | None = None
        self.events_applied = 0
        self._generation = 0
        self._ticks = 0
        self._callback: Any = None
        self._apps: dict[str, tuple[CompiledApp, str | None]] = {}
        self.graph = GraphView(name="detail", height=340)
        self.graph.on_select(self._on_select)
        self.timeline = Timeline()
        self.header = pn.pane.HTML("", sizing_mode="stretch_width", css_classes=["hm-job-header"])
        self.message = pn.pane.Alert("", alert_type="danger", visible=False, sizing_mode="stretch_width",
                                     css_classes=["hm-job-message"])
        self.inspector = pn.pane.HTML("<div class='hm-muted'>Click an activity in the graph to inspect "
                                      "it.</div>", sizing_mode="stretch_width", css_classes=["hm-inspector-pane"])
        self.interrupt_button = pn.widgets.Button(label="Interrupt", color="danger", width=100,
                                                  css_classes=["hm-interrupt"])
        self.rerun_button = pn.widgets.Button(label="Re-run", color="primary", width=110,
                                              css_classes=["hm-rerun"])
        self.resume = ResumePanel(self._resume, self._say)
        self.history = pn.pane.HTML("", sizing_mode="stretch_width", css_classes=["hm-history-pane"])
        self.hook_topic = pn.widgets.Select(label="Hook topic", options=[], width=180)
        self.hook_data = pn.widgets.TextInput(label="Signal data (JSON)", value="{}", width=220,
                                              css_classes=["hm-signal-data"])
        self.hook_button = pn.widgets.Button(label="Send signal", color="warning", width=110,
                                             css_classes=["hm-signal"])
        self.read_only = read_only(mesh)
        for button in (self.interrupt_button, self.rerun_button, self.hook_button):
            button.disabled = self.read_only
        self.interrupt_button.on_click(self._interrupt)
        self.rerun_button.on_click(self._rerun)
        self.hook_button.on_click(self._signal)
        actions = pn.Row(self.interrupt_button, self.rerun_button, pn.Spacer(width=20), self.hook_topic,
                         self.hook_data, self.hook_button, align="end")
        self.empty = pn.pane.HTML("<div class='hm-muted hm-empty'>No run open. Start a job or click a run in "
                                  "the Runs tab, or paste a job id.</div>")
        self.body = pn.Column(
            actions,
            self.resume.panel,
            pn.Row(pn.Column(pn.pane.Bokeh(self.graph.figure, sizing_mode="stretch_width"),
                             pn.pane.HTML(legend_html("status")),
                             pn.pane.HTML("<div class='hm-card-title'>Timeline</div>"),
                             pn.pane.Bokeh(self.timeline.figure, sizing_mode="stretch_width"),
                             pn.pane.HTML("<div class='hm-card-title'>History</div>"), self.history,
                             sizing_mode="stretch_width"),
                   pn.Column(pn.pane.HTML("<div class='hm-card-title'>Inspector</div>"), self.inspector,
                             width=400, styles={"border-left": "1px solid #e2e8f0", "padding-left": "10px"}),
                   sizing_mode="stretch_width"),
            sizing_mode="stretch_width", visible=False)
        self.panel = pn.Column(self.header, self.message, self.empty, self.body, sizing_mode="stretch_width")

    # -- open / close --------------------------------------------------------------------------
    async def open(self, jid: str) -> bool:
        """Show job ``jid`` live; False (and a message in the page) when it cannot be opened."""
        self.close()
        jid = jid.strip()
        self.message.visible = False
        if self.hub is None:
            self.hub = EventHub()
        if self._own_hub:
            await self.hub.add_app(self.mesh)
            await self.mesh.watch(30)
        self.feed = self.hub.feed(self.mesh.app_id, jid)      # subscribe first ...
        try:
            export = await self.mesh.export(jid)              # ... then snapshot
        except JobNotFoundError:
            return self._fail(f"No job with id '{html.escape(jid)}' in app {self.mesh.app_id} "
                              "(it may have expired or been scrubbed).")
        except Exception as exc:  # noqa: BLE001 - shown in the page
            return self._fail(describe_error(exc))
        self.jid = jid
        self.state = JobState(jid)
        self._generation = self.feed.generation
        await self._load(export)
        buffered = self.feed.drain()                          # ... then what arrived meanwhile
        self.state.apply(buffered)
        if _finishing(buffered):
            await self.refresh()                               # the snapshot predates the outcome
        self._render()
        self.empty.visible, self.body.visible = False, True
        self._callback = every(self._tick, TICK_MS)
        return True

    def _fail(self, text: str) -> bool:
        self.close()
        self.message.object = text
        self.message.visible = True
        self.header.object = ""
        self.graph.clear()
        self.timeline.update([])
        self.empty.visible, self.body.visible = True, False
        return False

    def close(self) -> None:
        if self._callback is not None:
            self._callback.stop()
            self._callback = None
        if self.feed is not None:
            self.feed.close()
            self.feed = None

    async def _load(self, export: dict[str, Any]) -> None:
        assert self.state is not None
        self.export = export
        meta = export.get("metadata", {})
        version = str(meta.get("vrs") or "")
        if version not in self._apps:
            app = await self.mesh.compiled(version)
            source = await self.mesh.source(version)
            if app is None:
                raise JobNotFoundError(f"version {version} of the job is not deployed", job_id=self.jid)
            self._apps[version] = (app, source)
        self.app, self.source = self._apps[version]
        topic = meta.get("tpc") or ""
        graph = next((g for g in self.app.graphs if g.subscribes == topic), self.app.graphs[0])
        self.graph.show(graph_model(self.app, graph))
        hooks = list(self.app.hooks)
        self.hook_topic.options = hooks
        if self.hook_topic.value not in hooks:
            self.hook_topic.value = hooks[0] if hooks else None
        for widget in (self.hook_topic, self.hook_data, self.hook_button):
            widget.visible = bool(hooks)
        self.state.load_export(export)

    # -- live updates --------------------------------------------------------------------------
    async def _tick(self) -> None:
        if self.feed is None or self.state is None or self.hub is None:
            return
        self._ticks += 1
        if self._own_hub and self._ticks % 50 == 0:
            await self.mesh.watch(30)
        if self.feed.generation != self._generation:     # reconnected: events may have been lost
            self._generation = self.feed.generation
            await self.refresh()
            return
        events = self.feed.drain()
        running = self.state.job_status == "running"
        if events and self.state.job_status == "failed":   # a failed run moving again: resumed elsewhere
            self.events_applied += len(events)
            await self.refresh()
            return
        if not events:
            if running and self._ticks % 5 == 0:
                self.timeline.update(self._timeline_rows())    # running bars grow
            return
        changed = self.state.apply(events)
        self.events_applied += len(events)
        if _finishing(events) or (self.graph.selected and self.graph.selected in changed):
            await self.refresh()
        elif changed:
            self._render()

    async def refresh(self) -> None:
        """Take a fresh snapshot (outputs for the inspector, or after a reconnect)."""
        if self.jid is None or self.state is None:
            return
        try:
            export = await self.mesh.export(self.jid)
        except Exception as exc:  # noqa: BLE001 - e.g. the job expired while open
            self.message.object, self.message.visible = describe_error(exc), True
            return
        if len(export.get("history") or []) != len((self.export or {}).get("history") or []):
            self.state = JobState(self.jid)     # resumed: statuses move back, which merges never do
        self.export = export
        self.state.load_export(export)
        self._render()

    def _render(self) -> None:
        if self.state is None or self.graph.model is None:
            return
        aids = [n.id for n in self.graph.model.nodes]
        self.graph.set_statuses(self.state.statuses(aids))
        self.timeline.update(self._timeline_rows())
        self.header.object = self._header_html()
        self.interrupt_button.disabled = self.state.job_status != "running" or self.read_only
        self.rerun_button.disabled = self.state.job_status == "running" or self.read_only
        self.resume.show(self.export, self.state.job_status == "failed", self.read_only)
        self.history.object = history_html(self.export)
        if self.graph.selected:
            self._show_inspector(self.graph.selected)

    def _timeline_rows(self) -> list[dict[str, Any]]:
        """The executions, and the failed attempts resumes replaced (from the run's history)."""
        assert self.state is not None
        return sorted(attempt_rows(self.export) + self.state.timeline(), key=lambda r: (r["start"], r["dad"]))

    def _header_html(self) -> str:
        assert self.state is not None
        meta = (self.export or {}).get("metadata", {})
        status = self.state.job_status
        err = meta.get("err")
        error = ""
        if err:
            try:
                error = json.loads(err).get("message", err) if isinstance(err, str) else str(err)
            except ValueError:
                error = str(err)
        cells = [("job", self.jid), ("topic", meta.get("tpc")), ("version", meta.get("vrs")),
                 ("created", meta.get("jc")), ("events applied", self.events_applied)]
        trace = meta.get("trc")
        if trace and trace != "0" * 32:     # look the job up in the tracing backend by this id
            cells.append(("trace", trace))
        info = " ".join(f"<span class='hm-muted'>{k}</span> <code>{html.escape(str(v))}</code>" for k, v in cells)
        return (f"<div class='hm-title'>Run <span class='hm-badge hm-status-{status} hm-job-status' "
                f"data-status='{status}'>{status}</span></div><div>{info}</div>"
                + (f"<div style='color:#b91c1c'>error: {html.escape(error)}</div>" if error else ""))

    # -- inspector -----------------------------------------------------------------------------
    def _on_select(self, aid: str | None) -> None:
        if aid is None:
            return
        self._show_inspector(aid)

    def _show_inspector(self, aid: str) -> None:
        if self.app is None or self.state is None:
            return
        activity = self.app.activities.get(aid)
        text = activity_yaml(activity, self.source, self.folder) if activity else ""
        self.inspector.object = inspector_html(activity, aid, self.export, self.state.node_status(aid), text)

    # -- actions -------------------------------------------------------------------------------
    def _say(self, text: str, kind: AlertType = "success") -> None:
        self.message.alert_type, self.message.object, self.message.visible = kind, text, True

    def _topic(self) -> str:
        return str((self.export or {}).get("metadata", {}).get("tpc") or "")

    async def _interrupt(self, _event: Any = None) -> None:
        if self.read_only:
            return self._say(refusal("interrupt a job"), "danger")
        if self.jid is None:
            return
        if not hasattr(self.mesh, "interrupt"):
            self._say("Interrupt is not available in this engine version.", "warning")
            return
        try:
            await self.mesh.interrupt(self._topic(), self.jid, reason="interrupted from the studio")
            self._say(f"Interrupt sent to job {self.jid}.", "info")
        except Exception as exc:  # noqa: BLE001 - shown in the page
            self._say(f"Interrupt failed: {describe_error(exc)}", "danger")

    async def _signal(self, _event: Any = None) -> None:
        if self.read_only:
            return self._say(refusal("send a signal"), "danger")
        if not hasattr(self.mesh, "hook"):
            self._say("Hook signals are not available in this engine version.", "warning")
            return
        try:
            data = json.loads(self.hook_data.value_input or self.hook_data.value or "{}")
            if not isinstance(data, dict):
                raise ValueError("signal data must be a JSON object")
        except ValueError as exc:
            self._say(f"Invalid signal data: {exc}", "danger")
            return
        topic = self.hook_topic.value
        if not topic:
            self._say("This app has no hook topics to signal.", "warning")
            return
        try:
            found = await self.mesh.hook(topic, data)
            self._say(f"Signal sent on {topic}." if found else f"No hook is waiting for this signal on {topic}.",
                      "info" if found else "warning")
        except Exception as exc:  # noqa: BLE001 - shown in the page
            self._say(f"Signal failed: {describe_error(exc)}", "danger")

    async def _rerun(self, _event: Any = None) -> None:
        """A new job with this run's input (``HotMesh.rerun``: linked both ways in the history)."""
        if self.read_only:
            return self._say(refusal("start a job"), "danger")
        if self.jid is None:
            return
        try:
            jid = str((await self.mesh.rerun(self.jid))["jid"])
        except Exception as exc:  # noqa: BLE001 - e.g. a duplicate job id taken from the input
            self._say(f"Re-run failed: {describe_error(exc)}", "danger")
            return
        await self._show_job(jid)

    async def _resume(self, aid: str, data: dict[str, Any] | None) -> None:
        """Resume this failed run at ``aid`` (``HotMesh.resume``), then watch it go on."""
        if self.read_only:
            return self._say(refusal("resume a job"), "danger")
        if self.jid is None:
            return
        try:
            await self.mesh.resume(self.jid, aid, data)
        except Exception as exc:  # noqa: BLE001 - e.g. it was resumed from elsewhere first
            self._say(f"Resume failed: {describe_error(exc)}", "danger")
            return
        await self.open(self.jid)              # a fresh view: the failed step is running again
        self._say(f"Resumed job {self.jid} from {aid}" + (" with edited input." if data else "."), "info")

    async def _show_job(self, jid: str) -> None:
        if self.on_open_job is not None:
            result = self.on_open_job(jid)
            if result is not None:
                await result
        else:
            await self.open(jid)


def _finishing(events: list[dict[str, Any]]) -> bool:
    """Whether ``events`` end the job: its outcome (outputs, error) is then read again."""
    return any(e.get("finished") == 1 or e.get("status") == "interrupted" for e in events)
