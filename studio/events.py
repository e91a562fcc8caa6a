"""Live activity events: one Redis pattern subscriber per process, fanned out to per-view feeds.

Engines publish ``{"type": "activity", "jid", "aid", "dad", "atp", "status", "code", "ts", "js",
"finished"}`` on ``hmsh:<app>:e:<jid>`` while someone watches (``HotMesh.watch``). ``EventHub``
holds the one subscription; each browser session (or notebook widget) opens a ``Feed`` for an app
or a single job and drains it on its own schedule (every ~200 ms), so one busy page never slows
the others and a closed page costs nothing. ``generation`` grows after every reconnect: a view
that sees it change takes a fresh snapshot, since events published meanwhile were lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger("hotmesh.studio")


class Feed:
    """Events for one app (``jid=None``) or one job, buffered until ``drain``."""

    def __init__(self, hub: EventHub, app_id: str, jid: str | None, maxlen: int = 20_000) -> None:
        self.hub = hub
        self.app_id = app_id
        self.jid = jid
        self.buffer: deque[dict[str, Any]] = deque(maxlen=maxlen)
        self.closed = False

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
    """``await hub.add_app(app_id, pattern)`` then ``hub.feed(app_id, jid)``; ``await hub.stop()``."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.pubsub = client.pubsub(ignore_subscribe_messages=True)
        self.patterns: dict[str, str] = {}          # pattern -> app id
        self.feeds: dict[tuple[str, str | None], set[Feed]] = {}
        self.generation = 0
        self.received = 0
        self._task: asyncio.Task[None] | None = None

    async def add_app(self, app_id: str, pattern: str) -> None:
        if pattern in self.patterns:
            return
        self.patterns[pattern] = app_id
        await self.pubsub.psubscribe(pattern)
        if self._task is None:
            self._task = asyncio.create_task(self._listen(), name="studio events")

    def feed(self, app_id: str, jid: str | None = None) -> Feed:
        feed = Feed(self, app_id, jid)
        self.feeds.setdefault((app_id, jid), set()).add(feed)
        return feed

    def remove(self, feed: Feed) -> None:
        group = self.feeds.get((feed.app_id, feed.jid))
        if group is not None:
            group.discard(feed)
            if not group:
                del self.feeds[(feed.app_id, feed.jid)]

    def dispatch(self, app_id: str, event: dict[str, Any]) -> None:
        self.received += 1
        for key in ((app_id, None), (app_id, event.get("jid"))):
            for feed in self.feeds.get(key, ()):
                feed.push(event)

    async def _listen(self) -> None:
        backoff = 0.1
        while True:
            try:
                message = await self.pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                backoff = 0.1
            except asyncio.CancelledError:
                raise
            except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
                log.warning("studio event subscription lost (%s); reconnecting", exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                with contextlib.suppress(Exception):
                    await self.pubsub.connect()
                    await self.pubsub.on_connect(self.pubsub.connection)
                    self.generation += 1
                continue
            if not message or message.get("type") != "pmessage":
                continue
            app_id = self.patterns.get(message.get("pattern") or "")
            try:
                event = json.loads(message["data"])
            except (TypeError, ValueError):
                continue
            if app_id and isinstance(event, dict):
                self.dispatch(app_id, event)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        with contextlib.suppress(Exception):
            await self.pubsub.aclose()


def every(callback: Any, period_ms: int) -> Any:
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
