"""The studio's server-wide state: one HotMesh per app (engine + the example workers), started once
per server process and shared by every browser session, plus the event hub and the watch lease.

Redis: ``REDIS_URL`` when set, else the embedded redis-server (started once per process). When
Redis cannot be reached the runtime records the error, the page shows it with a retry button, and
the server keeps running.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hotmesh_core import HotMesh, HotMeshError, ManifestError
from hotmesh_core.cluster import connect
from hotmesh_core.errors import ConnectionLostError, RedisTimeoutError
from hotmesh_core.examples import ExampleApp, example_apps

from .events import EventHub
from .overview_stats import OverviewStats
from .run_index import RunIndex

log = logging.getLogger("hotmesh.studio")
WATCH_SECONDS = 30.0
WATCH_RENEW_SECONDS = 10.0


@dataclass
class AppHandle:
    """One app as the studio sees it: its HotMesh, where its YAML lives, its example input."""

    app_id: str
    mesh: HotMesh
    folder: Path | None
    example: dict[str, Any]
    notice: str = ""          # what happened at start (e.g. a version conflict), shown in the page


class StudioRuntime:
    def __init__(self, redis_url: str | None = None, examples: list[ExampleApp] | None = None) -> None:
        self.redis_url = redis_url
        self._examples = examples
        self.apps: dict[str, AppHandle] = {}
        self.hub: EventHub | None = None
        self.state = "idle"            # idle | starting | ready | error
        self.error = ""
        self.sessions = 0
        self._lock = asyncio.Lock()
        self._watcher: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Future[None]] = set()
        self._overview: dict[str, OverviewStats] = {}
        self._runs: dict[str, RunIndex] = {}

    # -- lifecycle -----------------------------------------------------------------------------
    def url(self) -> str:
        if self.redis_url is None:
            url = os.environ.get("REDIS_URL")
            if not url:
                from hotmesh_core.redis_server import embedded_url

                url = embedded_url()
            self.redis_url = url
        return self.redis_url

    async def ensure_started(self) -> bool:
        """Start once (or retry after an error); True when the studio can talk to Redis."""
        async with self._lock:
            if self.state == "ready":
                return True
            self.state, self.error = "starting", ""
            try:
                await self._start()
                self.state = "ready"
            except Exception as exc:   # noqa: BLE001 - shown in the page; the server keeps running
                log.exception("studio runtime failed to start")
                self.error = describe_error(exc, self.redis_url)
                self.state = "error"
                await self._stop_meshes()
            return self.state == "ready"

    async def _start(self) -> None:
        url = self.url()
        probe = connect(url, timeout=3, connect_timeout=3, reconnect_seconds=0)   # fails at once (one Redis or a cluster)
        try:
            await probe.call("PING")
        finally:
            await probe.close()
        examples = self._examples if self._examples is not None else example_apps()
        for example in examples:
            if example.app_id in self.apps:
                continue
            mesh = await HotMesh.init(example.app_id, url, engine=True, workers=example.workers)
            handle = AppHandle(example.app_id, mesh, example.manifest.parent, dict(example.example))
            self.apps[example.app_id] = handle
            try:
                version = await mesh.deploy(example.manifest)
            except ManifestError as exc:
                handle.notice = f"{example.manifest.name} was not deployed: {exc.message}"
                continue
            if await mesh.active_version() is None:
                await mesh.activate(version)
            await _seed(handle)
        first = next(iter(self.apps.values()), None)
        if first is not None:
            if self.hub is None:
                self.hub = EventHub()
            for handle in self.apps.values():
                await self.hub.add_app(handle.mesh)
        if self._watcher is None:
            self._watcher = asyncio.create_task(self._renew_watch(), name="studio watch")

    async def _renew_watch(self) -> None:
        """Keep the engines publishing live events while at least one page is open."""
        while True:
            if self.sessions > 0:
                await self.watch_now()
            await asyncio.sleep(WATCH_RENEW_SECONDS)

    async def watch_now(self) -> None:
        for handle in list(self.apps.values()):
            try:
                await handle.mesh.watch(WATCH_SECONDS)
            except Exception as exc:  # noqa: BLE001 - Redis may be down; the next round retries
                log.warning("watch renewal for %s failed: %s", handle.app_id, exc)

    def session_opened(self) -> None:
        self.sessions += 1
        if self.state == "ready":
            task = asyncio.ensure_future(self.watch_now())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def session_closed(self) -> None:
        self.sessions = max(0, self.sessions - 1)

    async def _stop_meshes(self) -> None:
        if self.hub is not None:          # first: its listeners use the meshes' connections
            await self.hub.stop()
            self.hub = None
            self._overview.clear()            # their taps went with the hub
            self._runs.clear()
        for handle in list(self.apps.values()):
            with contextlib.suppress(Exception):
                await handle.mesh.stop()
        self.apps.clear()

    async def stop(self) -> None:
        if self._watcher:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
            self._watcher = None
        await self._stop_meshes()
        self.state = "idle"

    def overview_stats(self, app_id: str) -> OverviewStats:
        """The overview's counters of ``app_id``, shared by every session of this server and fed
        by the event hub from the moment the first overview asks for them."""
        stats = self._overview.get(app_id)
        if stats is None:
            stats = self._overview[app_id] = OverviewStats()
            if self.hub is not None:
                self.hub.tap(app_id, stats.push)
        return stats

    def run_index(self, app_id: str) -> RunIndex:
        """The runs of ``app_id`` held in memory for search, shared by every session of this server:
        built by the first Runs tab opened, kept current by the event hub from then on."""
        index = self._runs.get(app_id)
        if index is None:
            index = self._runs[app_id] = RunIndex(self.apps[app_id].mesh)
            if self.hub is not None:
                self.hub.tap(app_id, index.push)
        return index

    def mesh(self, app_id: str) -> HotMesh:
        return self.apps[app_id].mesh


async def _seed(handle: AppHandle) -> None:
    """Run the app's example once when it has no jobs yet, so a first visit has a run to open."""
    topic = handle.example.get("topic")
    if not topic or await handle.mesh.list_jobs(limit=1):
        return
    try:
        await handle.mesh.pub(topic, dict(handle.example.get("data") or {}))
    except Exception as exc:  # noqa: BLE001 - a seed run is a nicety, never a reason to fail
        log.warning("example run of %s not started: %s", handle.app_id, exc)


def describe_error(exc: BaseException, url: str | None = None) -> str:
    """A sentence a person can act on, for the errors the studio meets."""
    if isinstance(exc, ConnectionLostError | RedisTimeoutError | ConnectionError | OSError):
        where = f" at {url}" if url else ""
        detail = str(exc).rstrip(". ")
        return f"Redis is unreachable{where}: {detail}. Check that it is running (or set REDIS_URL), then retry."
    if isinstance(exc, HotMeshError):
        return exc.message if not isinstance(exc, ManifestError) else str(exc)
    return f"{type(exc).__name__}: {exc}"


_shared: StudioRuntime | None = None


def configure(redis_url: str | None = None, apps: Path | None = None) -> StudioRuntime:
    """Set the runtime of this server process before it serves (``hotmesh studio --redis-url --apps``):
    ``apps`` is a folder of apps (``<name>/app.yaml`` + ``workers.py``), read now so a bad one fails
    before the server starts; None: the packaged example apps (or ``$HOTMESH_ASSETS``)."""
    global _shared
    _shared = StudioRuntime(redis_url, example_apps(apps) if apps is not None else None)
    return _shared


def shared() -> StudioRuntime:
    """The runtime of this server process (created on first use)."""
    global _shared
    if _shared is None:
        _shared = StudioRuntime()
    return _shared
