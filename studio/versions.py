"""Versions of an app: which are deployed and which is active, a text and graph diff between any
two, activation (also a roll back to an older one) with the protocol's outcome, and 'edit from
this version' to restore an old definition.

Activating another version goes through the same review as the editor's deploy: what it changes
against the active version, and a confirmation when that breaks running jobs (a roll back that
drops an activity strands the jobs waiting there just like a new version would)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pandas as pd
import panel as pn

from hotmesh_core.compiler import CompiledApp, diff_breaking
from hotmesh_core.deployment import Plan, VersionInfo

from .access import read_only, refusal
from .diff import graph_diffs, text_diff_html
from .editor import activation_text
from .graph import GraphView
from .mesh import Mesh
from .review import build_review
from .review_panel import ReviewPanel
from .runtime import describe_error
from .theme import TABLE_CSS, AlertType


def version_rows(versions: list[VersionInfo]) -> list[dict[str, Any]]:
    """Rows from ``HotMesh.versions``: version, state, deployed/activated stamps (newest first)."""
    rows = [{"version": v.version, "state": "active" if v.active else "deployed", "last event": v.state,
             "at": _stamp(v.at)} for v in versions]
    rows.sort(key=lambda r: (0, int(r["version"])) if r["version"].isdigit() else (1, r["version"]), reverse=True)
    return rows


def _stamp(value: str) -> str:
    if len(value) < 14:
        return value
    return f"{value[0:4]}-{value[4:6]}-{value[6:8]} {value[8:10]}:{value[10:12]}:{value[12:14]} UTC"


class VersionsView:
    def __init__(self, mesh: Mesh, on_edit: Callable[[str, str], Any] | None = None,
                 on_activated: Callable[[str], Awaitable[None] | None] | None = None) -> None:
        self.mesh = mesh
        self.on_edit = on_edit
        self.on_activated = on_activated
        self.rows: list[dict[str, Any]] = []
        self.active: str | None = None
        self.apps: dict[str, tuple[CompiledApp, str]] = {}
        self.table = pn.widgets.Tabulator(pd.DataFrame(columns=["version", "state", "last event", "at"]),
                                          show_index=False, disabled=True, selectable=False, theme="bootstrap5",
                                          sizing_mode="stretch_width", height=200, layout="fit_data_stretch",
                                          css_classes=["hm-versions-table"], stylesheets=[TABLE_CSS])
        self.old = pn.widgets.Select(label="Compare", options=[], width=120)
        self.new = pn.widgets.Select(label="with", options=[], width=120)
        self.graph_topic = pn.widgets.Select(label="Graph", options=[], width=200)
        self.activate_version = pn.widgets.Select(label="Version", options=[], width=120,
                                                  css_classes=["hm-activate-version"])
        self.review = ReviewPanel(self._activate, read_only=read_only(mesh), css="hm-activate")
        self.activate_button = self.review.activate_button
        self.activate_version.param.watch(lambda _e: pn.state.execute(self.review_selected), "value")
        self.edit_button = pn.widgets.Button(label="Edit from this version", color="light", width=180,
                                             align="end")
        self.outcome = pn.pane.Alert("", alert_type="info", visible=False, sizing_mode="stretch_width",
                                     css_classes=["hm-activate-outcome"])
        self.text = pn.pane.HTML("", sizing_mode="stretch_width", css_classes=["hm-text-diff"])
        self.summary = pn.pane.HTML("", sizing_mode="stretch_width")
        self.graph = GraphView(name="diff", height=320)
        self._diffs: dict[str, Any] = {}
        for widget in (self.old, self.new):
            widget.param.watch(lambda _e: pn.state.execute(self.compare), "value")
        self.graph_topic.param.watch(lambda _e: self._show_graph(), "value")
        self.edit_button.on_click(self._edit)
        self.panel = pn.Column(
            pn.Row(pn.Column(pn.pane.HTML("<div class='hm-card-title'>Deployed versions</div>"), self.table,
                             sizing_mode="stretch_width"),
                   pn.Column(pn.pane.HTML("<div class='hm-card-title'>Activate or roll back</div>"),
                             pn.Row(self.activate_version, self.edit_button), self.review.panel,
                             self.outcome, width=460)),
            pn.pane.HTML("<div class='hm-card-title'>Diff</div>"),
            pn.Row(self.old, self.new, self.graph_topic),
            pn.Row(pn.Column(self.text, sizing_mode="stretch_width"),
                   pn.Column(pn.pane.Bokeh(self.graph.figure, sizing_mode="stretch_width"), self.summary,
                             sizing_mode="stretch_width"),
                   sizing_mode="stretch_width"),
            sizing_mode="stretch_width")

    async def load(self) -> None:
        try:
            versions = await self.mesh.versions()
        except Exception as exc:  # noqa: BLE001 - shown in the page
            self._say(f"Could not read versions: {describe_error(exc)}", "danger")
            return
        self.rows = version_rows(versions)
        self.table.value = pd.DataFrame(self.rows, columns=["version", "state", "last event", "at"])
        labels = [r["version"] for r in self.rows]
        active = next((r["version"] for r in self.rows if r["state"] == "active"), None)
        for select in (self.old, self.new, self.activate_version):
            select.options = labels
        self.active = active
        if labels:
            self.new.value = active or labels[0]
            self.old.value = labels[1] if len(labels) > 1 and labels[0] == self.new.value else labels[0]
            self.activate_version.value = labels[0]
        await self.compare()
        await self.review_selected()

    async def review_selected(self) -> None:
        """Show what activating the selected version changes against the active one."""
        version, active = self.activate_version.value, self.active
        target = await self._app(version) if version else None
        if (self.activate_version.value, self.active) != (version, active):
            return                       # a later selection's review is on its way (see ``compare``)
        if target is None:
            self.review.clear()
            return
        current = await self._app(active) if active else None
        if (self.activate_version.value, self.active) != (version, active):
            return
        breaking = diff_breaking(current[0], target[0]) if current is not None else []
        review = build_review(Plan(target[0], [], breaking, active), current[0] if current else None)
        self.review.show(review, deployed=True)

    async def _app(self, version: str) -> tuple[CompiledApp, str] | None:
        if version not in self.apps:
            app = await self.mesh.compiled(version)
            if app is None:
                return None
            self.apps[version] = (app, await self.mesh.source(version) or "")
        return self.apps[version]

    async def compare(self) -> None:
        # Every change of either select schedules a compare, and ``load`` runs one of its own: they
        # overlap while versions are read from Redis. Only a compare whose pair is still the selected
        # one when its reads are done may draw; a stale one (say 2 against 2, half way through
        # ``load``) finishing last would otherwise leave the wrong diff on the page.
        pair = (self.old.value, self.new.value)
        if not pair[0] or not pair[1]:
            self.text.object = "<div class='hm-muted'>No versions deployed yet.</div>"
            return
        old, new = await self._app(pair[0]), await self._app(pair[1])
        if old is None or new is None or (self.old.value, self.new.value) != pair:
            return
        self.text.object = text_diff_html(old[1], new[1], f"version {pair[0]}", f"version {pair[1]}")
        self._diffs = {d.topic: d for d in graph_diffs(old[0], new[0])}
        topics = list(self._diffs)
        self.graph_topic.options = topics
        if self.graph_topic.value not in topics and topics:
            self.graph_topic.value = topics[0]
        self._show_graph()

    def _show_graph(self) -> None:
        diff = self._diffs.get(self.graph_topic.value)
        if diff is None:
            return
        self.graph.show(diff.model)
        self.graph.set_marks(diff.marks)
        counts = {k: sum(1 for v in diff.marks.values() if v == k) for k in ("added", "removed", "changed")}
        details = "".join(f"<li><b>{aid}</b>: {', '.join(fields)}</li>" for aid, fields in diff.changes.items()
                          if fields)
        self.summary.object = (f"<div class='hm-muted hm-diff-summary'>{counts['added']} added · {counts['removed']} "
                               f"removed · {counts['changed']} changed</div>"
                               + (f"<ul class='hm-muted'>{details}</ul>" if details else ""))

    async def _activate(self, _event: Any = None) -> None:
        version = self.activate_version.value
        if read_only(self.mesh):
            return self._say(refusal("activate a version"), "danger")
        if not version:
            return
        review = self.review.review
        if review is None or review.version != version or self.review.gate.blocked() is not None:
            return                          # a crafted click: the button is off until the review allows it
        self._say(f"Activating version {version}…", "info")
        try:
            if await self.mesh.active_version() != review.active:     # another user activated meanwhile
                await self.load()
                self.activate_version.value = version
                await self.review_selected()
                return self._say(f"The active version is now {self.active}: the review was made again, check "
                                 "it before activating.", "warning")
            result = await self.mesh.activate(version)
        except Exception as exc:  # noqa: BLE001 - shown in the page
            self._say(f"Activation of version {version} failed: {describe_error(exc)}", "danger")
            self.review.refresh()
            return
        self._say(f"Version **{version}**: {activation_text(result)}.", "success" if result is not False else "danger")
        await self.load()
        if self.on_activated is not None:
            outcome = self.on_activated(version)
            if outcome is not None:
                await outcome

    async def _edit(self, _event: Any = None) -> None:
        version = self.activate_version.value
        found = await self._app(version) if version else None
        if found is not None and self.on_edit is not None:
            outcome = self.on_edit(version, found[1])
            if outcome is not None:
                await outcome

    def _say(self, text: str, kind: AlertType) -> None:
        self.outcome.alert_type, self.outcome.object, self.outcome.visible = kind, text, True
