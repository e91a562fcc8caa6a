"""Live activity events: each app's ``HotMesh.listen_events``, fanned out to per-view feeds.

Engines publish ``{"type": "activity", "jid", "aid", "dad", "atp", "status", "code", "ts", "js",
"finished"}`` on ``hmsh:<app>:e:`` while someone watches (``HotMesh.watch``). ``EventHub``
holds one listener per app (the app's own pub/sub connection; the hub serves several apps); each
browser session (or notebook widget) opens a ``Feed`` for an app or a single job and drains it on
its own schedule (every ~200 ms), so one busy page never slows the others and a closed page costs
nothing. ``Feed.generation`` (the app's ``HotMesh.events_generation``) grows after every pub/sub
reconnect: a view that sees it change takes a fresh snapshot, since events published meanwhile
were lost.
"""

from __future__ import annotations

import functools
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from hotmesh_core import HotMeshError

from .mesh import Mesh

if TYPE_CHECKING:
    from panel.io.callbacks import PeriodicCallback

log = logging.getLogger("hotmesh.studio")


class Feed:
    """Events for one app (``jid=None``) or one job, buffered until ``drain``."""

    def __init__(self, hub: EventHub, app_id: str, jid: str | None, maxlen: int = 20_000) -> None:
        self.hub = hub
        self.app_id = app_id
        self.jid = jid
        self.buffer: deque[dict[str, Any]] = deque(maxlen=maxlen)
        self.closed = False

    @property
    def generation(self) -> int:
        """The app's events generation: when it changes, events may have been missed."""
        return self.hub.generation(self.app_id)

    def push(self, event: dict[str, Any]) -> None:
        self.buffer.append(event)

    def drain(self) -> list[dict[str, Any]]:
        events = list(self.buffer)
        self.buffer.clear()
        return events

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.hub.remove(self)


class EventHub:
    """``await hub.add_app(mesh)`` for each app, then ``hub.feed(app_id, jid)``; ``await hub.stop()``."""

    def __init__(self) -> None:
        self.apps: dict[str, Mesh] = {}
        self.feeds: dict[tuple[str, str | None], set[Feed]] = {}
        self.received = 0
        self.taps: dict[str, list[Callable[[dict[str, Any]], None]]] = {}
        self._stops: dict[str, Callable[[], Awaitable[None]]] = {}

    async def add_app(self, mesh: Mesh) -> None:
        """Listen to the live events of ``mesh``'s app (once per app)."""
        app_id = mesh.app_id
        if app_id in self.apps:
            return
        self.apps[app_id] = mesh
        try:
            self._stops[app_id] = await mesh.listen_events(functools.partial(self.dispatch, app_id))
        except BaseException:
            del self.apps[app_id]
            raise

    def generation(self, app_id: str) -> int:
        mesh = self.apps.get(app_id)
        return mesh.events_generation if mesh is not None else 0

    def feed(self, app_id: str, jid: str | None = None) -> Feed:
        feed = Feed(self, app_id, jid)
        self.feeds.setdefault((app_id, jid), set()).add(feed)
        return feed

    def tap(self, app_id: str, callback: Callable[[dict[str, Any]], None]) -> None:
        """Call ``callback(event)`` synchronously for every event of ``app_id`` (server-wide
        aggregates such as the overview's counters; it must be quick and must not raise)."""
        self.taps.setdefault(app_id, []).append(callback)

    def remove(self, feed: Feed) -> None:
        group = self.feeds.get((feed.app_id, feed.jid))
        if group is not None:
            group.discard(feed)
            if not group:
                del self.feeds[(feed.app_id, feed.jid)]

    def dispatch(self, app_id: str, event: dict[str, Any]) -> None:
        self.received += 1
        for tap in self.taps.get(app_id, ()):
            tap(event)
        for key in ((app_id, None), (app_id, event.get("jid"))):
            for feed in self.feeds.get(key, ()):
                feed.push(event)

    async def stop(self) -> None:
        """Stop listening (call it before stopping the apps' ``HotMesh``)."""
        stops, self._stops = self._stops, {}
        self.apps.clear()
        for app_id, stop in stops.items():
            try:
                await stop()
            except HotMeshError as exc:   # Redis gone: the subscription goes with the connection
                log.debug("live events of %s: %s", app_id, exc)


def every(callback: Callable[[], Awaitable[None] | None], period_ms: int) -> PeriodicCallback:
    """A periodic callback of this session that does not flash the page's busy indicator.

    ``pn.state.add_periodic_callback`` marks the page busy on every run, which at 4-5 runs a
    second means a document update each time for nothing.
    """
    import panel as pn
    from panel.io.callbacks import PeriodicCallback

    periodic = PeriodicCallback(callback=callback, period=period_ms, background=True)
    periodic.start()
    doc = pn.state.curdoc
    if doc is not None:
        pn.state._periodic.setdefault(doc, []).append(periodic)   # stopped with the session
    return periodic
