"""The views of one app in one browser session, built the first time their tab is shown.

Building a view creates its Bokeh models, which is the costly part of opening the page, so only
the first tab ('Overview') and 'Apps & graphs' are built up front; the others appear in their
tab's slot on first use.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import panel as pn

from hotmesh_core.compiler import CompiledApp

from .access import LOCAL, Access, for_role
from .apps import AppsView
from .deadletters import DeadLettersView
from .editor import EditorView
from .events import EventHub, Feed
from .fleet import FleetView
from .job import JobView
from .overview import OverviewView
from .overview_stats import OverviewStats
from .run_index import RunIndex
from .runs import RunsTable
from .runtime import AppHandle
from .start import StartJob
from .versions import VersionsView

TABS = ("Overview", "Apps & graphs", "Editor", "Versions", "Runs", "Run detail", "Fleet")
Opener = Callable[[str], Awaitable[None]]


class AppSession:
    def __init__(self, handle: AppHandle, hub: EventHub | None, open_job: Opener,
                 show_tab: Callable[[str], None], on_active: Callable[[], None], access: Access = LOCAL,
                 overview_stats: OverviewStats | None = None, run_index: RunIndex | None = None) -> None:
        self.handle = handle
        self.mesh = for_role(handle.mesh, access)      # a viewer's views get a mesh that cannot change
        self.hub = hub
        self.open_job = open_job
        self.show_tab = show_tab
        self.on_active = on_active
        self.active: CompiledApp | None = None
        self.source: str | None = None
        self.deployed: list[str] = []
        self.apps = AppsView(handle.folder)
        self.slots = {name: pn.Column(sizing_mode="stretch_width") for name in TABS}
        self.slots["Apps & graphs"].objects = [self.apps.panel]
        self.overview_stats = overview_stats or OverviewStats()
        self.run_index = run_index
        self.overview: OverviewView | None = None
        self.editor: EditorView | None = None
        self.versions: VersionsView | None = None
        self.runs: RunsTable | None = None
        self.start: StartJob | None = None
        self.detail: JobView | None = None
        self.fleet: FleetView | None = None
        self.dead_letters: DeadLettersView | None = None
        self.feed: Feed | None = None
        self.job_id = pn.widgets.TextInput(label="Job id", placeholder="paste a job id", width=320,
                                           css_classes=["hm-job-id"])
        self.open_button = pn.widgets.Button(label="Open", color="primary", width=80, align="end",
                                             css_classes=["hm-open-job"])
        self.open_button.on_click(self._open_typed)

    # -- loading -------------------------------------------------------------------------------
    async def load(self) -> None:
        """Read the active version and draw its graphs (the first tab)."""
        mesh = self.mesh
        version = await mesh.active_version()
        self.deployed = [info.version for info in await mesh.versions()]
        self.active, self.source = None, None
        if version is not None:
            self.active = await mesh.compiled(version)
            self.source = await mesh.source(version)
        note = self.handle.notice or ("" if version else "No active version: deploy one in the Editor.")
        self.apps.show(self.active, self.source, note)
        if self.start is not None:
            self.start.set_app(self.active)
        if self.overview is not None:
            self.overview.set_app(self.active)
        if self.versions is not None:
            await self.versions.load()
        if self.editor is not None:
            self.editor.deployed_versions = list(self.deployed)
            self.editor.active_app = self.active

    async def ensure(self, tab: str) -> Any:
        """Build (once) and return the view of ``tab``; later calls refresh what goes stale."""
        mesh = self.mesh
        if tab == "Overview":
            if self.overview is None:
                self.overview = OverviewView(mesh, self.overview_stats, on_failed=self.open_failed)
                self.overview.set_app(self.active)
                self.slots[tab].objects = [self.overview.panel]
            await self.overview.refresh()
        elif tab == "Editor" and self.editor is None:
            self.editor = EditorView(mesh, self.handle.folder, self.handle.app_id, on_deployed=self._deployed)
            self.editor.deployed_versions = list(self.deployed)
            self.editor.active_app = self.active
            self.editor.load(self.source or _read_manifest(self.handle), original=True)
            self.slots[tab].objects = [self.editor.panel]
        elif tab == "Versions" and self.versions is None:
            self.versions = VersionsView(mesh, on_edit=self._edit_version, on_activated=self._activated)
            await self.versions.load()
            self.slots[tab].objects = [self.versions.panel]
        elif tab == "Runs" and self.runs is None:
            self.feed = self.hub.feed(self.handle.app_id) if self.hub else None
            self.runs = RunsTable(mesh, self.feed, on_open=self.open_job, index=self.run_index)
            self.start = StartJob(mesh, on_started=self.open_job, example=self.handle.example)
            self.start.set_app(self.active)
            self.slots[tab].objects = [pn.Column(
                pn.pane.HTML("<div class='hm-card-title'>Start a job</div>"), self.start.panel,
                pn.pane.HTML("<div class='hm-card-title'>Runs</div>"), self.runs.panel,
                sizing_mode="stretch_width")]
            await self.runs.load(refresh=False)      # the page shows its progress bar meanwhile
        elif tab == "Run detail" and self.detail is None:
            self.detail = JobView(mesh, self.hub, self.handle.folder, on_open_job=self.open_job)
            self.slots[tab].objects = [pn.Column(pn.Row(self.job_id, self.open_button), self.detail.panel,
                                                 sizing_mode="stretch_width")]
        elif tab == "Fleet":
            if self.fleet is None:
                self.fleet = FleetView(mesh)
                self.dead_letters = DeadLettersView(mesh)
                self.slots[tab].objects = [pn.Column(self.fleet.panel, self.dead_letters.panel,
                                                     sizing_mode="stretch_width")]
            await self.fleet.load()
            if self.dead_letters is not None:
                await self.dead_letters.load()
        return {"Overview": self.overview, "Apps & graphs": self.apps, "Editor": self.editor, "Versions": self.versions,
                "Runs": self.runs, "Run detail": self.detail, "Fleet": self.fleet}[tab]

    # -- reactions -----------------------------------------------------------------------------
    async def _deployed(self, version: str, activated: bool) -> None:
        if version not in self.deployed:
            self.deployed.append(version)
        if self.versions is not None:
            await self.versions.load()
        if activated:
            await self._activated(version)

    async def _activated(self, version: str) -> None:
        await self.load()
        self.on_active()

    async def _edit_version(self, version: str, source: str) -> None:
        editor = await self.ensure("Editor")
        editor.load(source)
        self.show_tab("Editor")

    async def open(self, jid: str) -> None:
        detail = await self.ensure("Run detail")
        self.job_id.param.update(value=jid, value_input=jid)
        await detail.open(jid)

    async def open_failed(self, aid: str) -> None:
        """The runs list, filtered to the failed runs whose activity ``aid`` failed."""
        runs = await self.ensure("Runs")
        self.show_tab("Runs")
        await runs.show_failed_at(aid)

    async def _open_typed(self, _event: Any = None) -> None:
        jid = (self.job_id.value_input or self.job_id.value or "").strip()
        if jid and self.detail is not None:
            await self.detail.open(jid)

    async def tick(self) -> None:
        if self.runs is not None:
            await self.runs.tick()

    def close(self) -> None:
        if self.detail is not None:
            self.detail.close()
        if self.feed is not None:
            self.feed.close()


def _read_manifest(handle: AppHandle) -> str:
    if handle.folder is not None and (handle.folder / "app.yaml").is_file():
        return (handle.folder / "app.yaml").read_text()
    return ""
