"""Notebook widgets: the studio's views in Jupyter, driven by a blocking ``SyncHotMesh``.

    import panel as pn
    from studio import widgets
    pn.extension(inline=True)                  # inline: renders offline (pn.extension() needs a CDN)
    hm = widgets.connect("demo", workers=[...])
    widgets.dag(hm)                            # the DAG of the active version
    widgets.job_view(hm, jid)                  # a live job: graph coloured by status, timeline, inspector
    widgets.runs(hm); widgets.editor(hm)
    widgets.overview(hm)                       # the studio's overview: job rates, latencies, queues, fleet

Each function returns a small wrapper whose ``view`` is the studio object itself (``GraphView``,
``EditorView``, ``JobView``, ``RunsTable``) and which displays as that view's Panel layout.

The HotMesh of a ``SyncHotMesh`` lives on a background event loop (its Redis connections belong to
that loop). The views' async work therefore runs there: opening a job, its live ticks and the runs
query are scheduled on that loop, and the view gets a ``LoopMesh`` whose coroutine methods (deploy,
activate, hook, interrupt, pub, ...) are forwarded to that loop, so a button clicked in the
notebook (whose callbacks run on the kernel's loop) still talks to Redis from the right loop.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import threading
import time
from collections.abc import Awaitable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import panel as pn
import yaml

from hotmesh_core import HotMesh
from hotmesh_core.compiler import CompiledApp, compile_app, load_manifest
from hotmesh_core.sync import SyncHotMesh

from .editor import EditorView
from .events import EventHub, every
from .graph import GraphView
from .job import JobView
from .model import SIGNAL_KIND, graph_models
from .offline import keep_notebook_stylesheets_inline
from .overview import REFRESH_MS, OverviewView
from .overview_stats import OverviewStats
from .runs import RunsTable
from .runtime import WATCH_RENEW_SECONDS, WATCH_SECONDS
from .theme import CSS

T = TypeVar("T")
keep_notebook_stylesheets_inline()      # live updates must not fetch Panel's CSS from its CDN (offline)
pn.config.raw_css = [*[c for c in pn.config.raw_css if c != CSS], CSS]    # the studio's badges, titles, legend

__all__ = ["connect", "dag", "editor", "job_view", "runs", "overview", "LoopMesh", "Dag", "Editor", "Job", "Runs",
           "Overview"]


def connect(app_id: str, redis_url: str | None = None, **options: Any) -> SyncHotMesh:
    """``SyncHotMesh(app_id, redis_url, **options)``: ``None`` (and no ``REDIS_URL``) starts an
    embedded redis-server. Options are those of ``HotMesh.init`` (``workers=[...]``, ``engine=``)."""
    return SyncHotMesh(app_id, redis_url, **options)


class LoopMesh:
    """A ``HotMesh`` seen from another event loop: coroutine methods run on the mesh's own loop.

    It is a ``studio.mesh.Mesh`` (every attribute is the ``HotMesh``'s, coroutine methods forwarded),
    so the studio's views take it as they take a ``HotMesh``.
    """

    def __init__(self, sync: SyncHotMesh) -> None:
        self._sync = sync
        self._loop: asyncio.AbstractEventLoop = sync._loop

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> asyncio.Future[T]:
        """Run ``coroutine`` on the mesh's loop; the result is awaitable from any running loop."""
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        return asyncio.wrap_future(future)

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        """Run ``coroutine`` on the mesh's loop and block until it is done (from a notebook cell)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._sync.hm, name)
        if not inspect.iscoroutinefunction(attribute):
            return attribute

        @functools.wraps(attribute)
        async def forwarded(*args: Any, **kwargs: Any) -> Any:
            return await self.submit(attribute(*args, **kwargs))

        return forwarded


def _sync(hm: Any) -> SyncHotMesh:
    if isinstance(hm, SyncHotMesh):
        return hm
    raise TypeError(f"expected a SyncHotMesh (see widgets.connect), got {type(hm).__name__}")


class _Widget:
    """Displays as ``self.panel`` in a notebook (``_repr_mimebundle_`` of the Panel layout)."""

    panel: Any

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> Any:
        return self.panel._repr_mimebundle_(include, exclude)

    def servable(self, *args: Any, **kwargs: Any) -> Any:
        return self.panel.servable(*args, **kwargs)


# -- the DAG --------------------------------------------------------------------------------------
def _compiled(app_or_hm: Any) -> CompiledApp:
    if isinstance(app_or_hm, CompiledApp):
        return app_or_hm
    if isinstance(app_or_hm, SyncHotMesh | LoopMesh):
        loop_mesh = LoopMesh(app_or_hm) if isinstance(app_or_hm, SyncHotMesh) else app_or_hm
        hm = loop_mesh._sync.hm

        async def active() -> CompiledApp | None:
            version = await hm.active_version()
            return await hm.compiled(version) if version is not None else None

        app = loop_mesh.run(active())
        if app is None:
            raise ValueError(f"app '{hm.app_id}' has no active version (deploy and activate one)")
        return app
    if isinstance(app_or_hm, HotMesh):
        raise TypeError("pass a SyncHotMesh (widgets.connect), a CompiledApp, YAML text or a path")
    if isinstance(app_or_hm, dict):
        app_or_hm = yaml.safe_dump(app_or_hm, sort_keys=False)
    return compile_app(load_manifest(app_or_hm if isinstance(app_or_hm, str | Path) else str(app_or_hm)))


class Dag(_Widget):
    """The DAG of one graph of an app (``graph``: its ``subscribes`` topic; default the first)."""

    def __init__(self, app: CompiledApp, graph: str | None = None, direction: str = "LR", height: int = 360) -> None:
        self.app = app
        models = {m.topic: m for m in graph_models(app)}
        if graph is not None and graph not in models:
            raise KeyError(f"app '{app.id}' has no graph subscribed to '{graph}' (graphs: {sorted(models)})")
        self.model = models[graph] if graph is not None else next(iter(models.values()))
        self.view = GraphView(name="dag", height=height, direction=direction)
        self.view.show(self.model)
        self.panel = pn.pane.Bokeh(self.view.figure, sizing_mode="stretch_width")

    def summary(self) -> dict[str, Any]:
        return {"topic": self.model.topic, "nodes": [n.id for n in self.model.nodes],
                "edges": [[e.source, e.target, e.kind] for e in self.model.edges]}


def dag(app_or_hm: Any, graph: str | None = None, direction: str = "LR") -> Dag:
    """The DAG of an app: a SyncHotMesh (its active version), a CompiledApp, YAML text or a path."""
    return Dag(_compiled(app_or_hm), graph, direction)


# -- the editor -----------------------------------------------------------------------------------
class Editor(_Widget):
    def __init__(self, hm: SyncHotMesh, text: str | None = None, folder: Path | None = None) -> None:
        self.mesh = LoopMesh(hm)
        self.view = EditorView(mesh=self.mesh, folder=folder, app_id=hm.hm.app_id, height=420)
        if text is not None:
            self.view.load(text, original=True)
        self.panel = self.view.panel

    def load(self, text: str) -> dict[str, Any]:
        """Put ``text`` in the editor and return the check: ``{"ok", "errors", "version", ...}``."""
        self.view.load(text)
        return self.result()

    def result(self) -> dict[str, Any]:
        check = self.view.check
        app = check.app
        return {"ok": check.ok, "errors": [{"message": e["message"], "line": e.get("line")} for e in check.errors],
                "version": app.version if app else None, "warnings": list(check.warnings),
                "annotations": list(self.view.code.annotations or []),
                "deploy_enabled": not self.view.deploy_button.disabled}

    def deploy(self, activate: bool = True, confirm_breaking: bool = False) -> str:
        """What the Deploy button does, from a cell, then (``activate``) the review's Activate button:
        a version with breaking changes is activated only with ``confirm_breaking``. Returns the
        outcome text; ``self.view.review.review`` is the review that was shown."""
        self.mesh.run(self.view._deploy(None))
        review = self.view.review
        if activate and review.gate.deployed:
            review.confirm.value = confirm_breaking
            if review.gate.blocked() is None:
                self.mesh.run(self.view._activate())
        return str(self.view.outcome.object)


def editor(hm: SyncHotMesh, text: str | None = None, folder: Path | None = None) -> Editor:
    """The YAML editor with validation (gutter annotations), a live DAG preview, deploy and activate."""
    return Editor(_sync(hm), text, folder)


# -- a live job ------------------------------------------------------------------------------------
class Job(_Widget):
    def __init__(self, hm: SyncHotMesh, folder: Path | None = None) -> None:
        self.mesh = LoopMesh(hm)
        self.view = JobView(self.mesh, folder=folder, on_open_job=self._open_async)
        self.panel = self.view.panel

    def _open_async(self, jid: str) -> Awaitable[None]:
        async def open_job() -> None:
            await self.mesh.submit(self.view.open(jid))
        return open_job()

    def open(self, jid: str) -> bool:
        """Show job ``jid`` and follow it live (its ticks run on the mesh's loop)."""
        return self.mesh.run(self.view.open(jid))

    def refresh(self) -> None:
        self.mesh.run(self.view.refresh())

    def statuses(self) -> dict[str, str]:
        """``{activity: status}`` as the graph shows it now (what the colours say)."""
        data = self.view.graph.data
        return {aid: status for aid, status, kind in zip(data["id"], data["status"], data["kind"], strict=True)
                if kind != SIGNAL_KIND}

    def colours(self) -> dict[str, str]:
        data = self.view.graph.data
        return dict(zip(data["id"], data["fill"], strict=True))

    def inspect(self, aid: str) -> str:
        """Select ``aid`` in the graph (as a click does) and return the inspector's HTML."""
        self.view.graph.select(aid)
        # Once displayed, the figure's document may hold its events until a frontend connects
        # (a notebook run headless): apply the selection's effect now rather than on unhold.
        self.view._on_select(aid)
        return str(self.view.inspector.object)

    def job_status(self) -> str | None:
        return self.view.state.job_status if self.view.state else None

    def close(self) -> None:
        """Stop following the job (the periodic tick and the event subscription)."""
        view = self.view

        async def close() -> None:
            view.close()
            if view._own_hub and view.hub is not None:
                await view.hub.stop()
                view.hub = None

        self.mesh.run(close())


def job_view(hm: SyncHotMesh, job_id: str, folder: Path | None = None) -> Job:
    """A live job: the DAG coloured by activity status, the Gantt timeline and the inspector."""
    widget = Job(_sync(hm), folder)
    widget.open(job_id)
    return widget


# -- runs ------------------------------------------------------------------------------------------
class _LoopRunsTable(RunsTable):
    """The runs table whose Refresh button (clicked on the kernel's loop) loads on the mesh's loop."""

    def __init__(self, mesh: LoopMesh, limit: int) -> None:
        super().__init__(mesh, limit=limit)
        self.loop_mesh = mesh

    async def _refresh_clicked(self, _event: Any) -> None:
        await self.loop_mesh.submit(self.load())


class Runs(_Widget):
    def __init__(self, hm: SyncHotMesh, limit: int = 500) -> None:
        self.mesh = LoopMesh(hm)
        self.view: RunsTable = _LoopRunsTable(self.mesh, limit)
        self.panel = self.view.panel

    def refresh(self) -> list[dict[str, Any]]:
        self.mesh.run(self.view.load())
        return self.rows()

    def rows(self) -> list[dict[str, Any]]:
        frame = self.view.table.value
        return [] if frame is None else frame.to_dict("records")


def runs(hm: SyncHotMesh, limit: int = 500) -> Runs:
    """The runs table of the app (filter by status, id, topic, version, time, input)."""
    widget = Runs(_sync(hm), limit)
    widget.refresh()
    return widget


# -- the overview ----------------------------------------------------------------------------------
class _LoopOverviewView(OverviewView):
    """The overview whose counters are only touched on the mesh's loop: the event hub feeds them
    there, so a redraw asked from the kernel's thread (the window or graph chosen) is sent there."""

    def __init__(self, mesh: LoopMesh, stats: OverviewStats) -> None:
        self.loop_mesh = mesh
        super().__init__(mesh, stats)

    def redraw(self) -> None:
        if threading.current_thread() is self.loop_mesh._sync._thread:
            super().redraw()
        else:
            self.loop_mesh._loop.call_soon_threadsafe(super().redraw)


class Overview(_Widget):
    """The studio's overview of the app: jobs started, completed and failed per second, step
    latencies per activity, the streams' depth and pending entries, timers, dead letters and the
    fleet. It counts the engines' live events from the moment it is created (it keeps them
    publishing with ``HotMesh.watch``) and reads the queues every ``period_ms``; both run on the
    mesh's loop, so the charts move while other cells run. ``close()`` stops it."""

    def __init__(self, hm: SyncHotMesh, period_ms: int = REFRESH_MS) -> None:
        self.mesh = LoopMesh(hm)
        self.stats = OverviewStats()
        self.view: OverviewView = _LoopOverviewView(self.mesh, self.stats)
        self.view.refresh_every_ms = period_ms
        self.panel = self.view.panel
        self.period_ms = period_ms
        self.hub: EventHub | None = None
        self._ticker: Any = None
        self._watched = 0.0
        self.mesh.run(self._start())

    async def _start(self) -> None:
        hm = self.mesh._sync.hm
        version = await hm.active_version()
        self.view.set_app(await hm.compiled(version) if version is not None else None)
        self.hub = EventHub()
        await self.hub.add_app(hm)
        self.hub.tap(hm.app_id, self.stats.push)
        await self._tick()
        self._ticker = every(self._tick, self.period_ms)

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        if loop.time() - self._watched >= WATCH_RENEW_SECONDS or not self._watched:
            self._watched = loop.time()
            await self.mesh._sync.hm.watch(WATCH_SECONDS)
        await self.view.refresh()

    def refresh(self) -> dict[str, int]:
        """Read the queues now and redraw; the totals of the window shown (``started``, ...)."""
        self.mesh.run(self.view.refresh())
        return self.totals()

    def totals(self) -> dict[str, int]:
        async def totals() -> dict[str, int]:     # on the mesh's loop, where the events are counted
            return dict(self.stats.totals(900))
        return self.mesh.run(totals())

    def wait_for(self, timeout: float = 10.0, **at_least: int) -> dict[str, int]:
        """Block until the totals reach ``at_least`` (e.g. ``completed=3``), then refresh and return
        them: the events of a job reach the overview shortly after ``pubsub`` returns its result."""
        deadline = time.monotonic() + timeout
        while any(self.totals().get(kind, 0) < n for kind, n in at_least.items()):
            if time.monotonic() > deadline:
                raise TimeoutError(f"the overview counted {self.totals()} within {timeout} s, not {at_least}")
            time.sleep(0.05)
        return self.refresh()

    def close(self) -> None:
        """Stop the refresh and the event subscription."""
        async def close() -> None:
            if self._ticker is not None:
                self._ticker.stop()
                self._ticker = None
            if self.hub is not None:
                await self.hub.stop()
                self.hub = None

        self.mesh.run(close())


def overview(hm: SyncHotMesh, period_ms: int = REFRESH_MS) -> Overview:
    """The studio's overview (its first tab) of the app, refreshed live every ``period_ms``."""
    return Overview(_sync(hm), period_ms)
