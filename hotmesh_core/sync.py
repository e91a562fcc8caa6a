"""A blocking facade for scripts, the CLI and notebooks: the async API on a background loop.

    hm = SyncHotMesh("demo", workers=[Worker("demo.compose", compose)])
    hm.deploy("assets/apps/demo/app.yaml"); hm.activate("1")
    print(hm.pubsub("demo.greet", {"name": "world"}))
    hm.stop()

Every coroutine method of ``HotMesh`` has its twin here with the same signature, returning the
result instead of a coroutine (``tests/engine/test_sync.py`` checks that none is missing, mypy checks
the types). Callbacks given to ``sub``, ``psub`` and ``listen_events`` run on the loop's thread.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine, Iterable
from pathlib import Path
from typing import Any, TypeVar

from .compiler.model import CompiledApp
from .deadletters import DeadLetter
from .deployment import Plan, VersionInfo
from .hotmesh import JOB_SCAN_LIMIT, HotMesh
from .listener import EventCallback, SubCallback

T = TypeVar("T")


class SyncHotMesh:
    """``SyncHotMesh(app_id, redis_url=None, **options)`` takes ``HotMesh.init``'s arguments."""

    def __init__(self, app_id: str, redis_url: str | None = None, **options: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="hotmesh-loop", daemon=True)
        self._thread.start()
        try:
            self.hm: HotMesh = self._run(HotMesh.init(app_id, redis_url, **options))
        except BaseException:
            self._close_loop()
            raise

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    @property
    def app_id(self) -> str:
        return self.hm.app_id

    @property
    def guid(self) -> str:
        return self.hm.guid

    @property
    def events_generation(self) -> int:
        return self.hm.events_generation

    def members(self) -> list[dict[str, Any]]:
        return self.hm.members()

    def stop(self, drain_seconds: float = 5.0) -> None:
        """Stop the instance (bounded, see ``HotMesh.stop``) and its loop thread."""
        try:
            self._run(self.hm.stop(drain_seconds))
        finally:
            self._close_loop()

    def _close_loop(self) -> None:
        if self._loop.is_closed():
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        if not self._thread.is_alive():
            self._loop.close()

    def __enter__(self) -> SyncHotMesh:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the twins of HotMesh's coroutine methods ----------------------------------------------
    def plan(self, source: str | Path) -> CompiledApp:
        return self._run(self.hm.plan(source))

    def deploy(self, source: str | Path) -> str:
        return self._run(self.hm.deploy(source))

    def review(self, source: str | Path) -> Plan:
        return self._run(self.hm.review(source))

    def activate(self, version: str, *, delay_ms: int | None = None) -> bool:
        return self._run(self.hm.activate(version, delay_ms=delay_ms))

    def versions(self) -> list[VersionInfo]:
        return self._run(self.hm.versions())

    def active_version(self) -> str | None:
        return self._run(self.hm.active_version())

    def source(self, version: str) -> str | None:
        return self._run(self.hm.source(version))

    def compiled(self, version: str) -> CompiledApp | None:
        return self._run(self.hm.compiled(version))

    def roll_call(self, delay: float = 0.25) -> list[dict[str, Any]]:
        return self._run(self.hm.roll_call(delay))

    def stream_stats(self, stream: str, group: str) -> dict[str, int]:
        return self._run(self.hm.stream_stats(stream, group))

    def queue_report(self, topics: Iterable[str] = ()) -> dict[str, Any]:
        return self._run(self.hm.queue_report(topics))

    def throttle(self, ms: int, *, topic: str | None = None, guid: str | None = None) -> int:
        return self._run(self.hm.throttle(ms, topic=topic, guid=guid))

    def pub(self, topic: str, data: dict[str, Any] | None = None, *, pending: float | None = None, search: dict[str, Any] | None = None, markers: dict[str, Any] | None = None, trc: str | None = None) -> str:
        return self._run(self.hm.pub(topic, data, pending=pending, search=search, markers=markers, trc=trc))

    def pubsub(self, topic: str, data: dict[str, Any] | None = None, *, timeout: float | None = None) -> dict[str, Any]:
        return self._run(self.hm.pubsub(topic, data, timeout=timeout))

    def add(self, message: dict[str, Any]) -> str:
        return self._run(self.hm.add(message))

    def get_status(self, jid: str) -> int:
        return self._run(self.hm.get_status(jid))

    def get_state(self, topic: str, jid: str) -> dict[str, Any]:
        return self._run(self.hm.get_state(topic, jid))

    def get_raw(self, jid: str) -> dict[str, str]:
        return self._run(self.hm.get_raw(jid))

    def job_fields(self, jids: list[str], fields: list[str]) -> list[list[str | None]]:
        return self._run(self.hm.job_fields(jids, fields))

    def export(self, jid: str) -> dict[str, Any]:
        return self._run(self.hm.export(jid))

    def scrub(self, jid: str) -> None:
        return self._run(self.hm.scrub(jid))

    def list_jobs(self, *, limit: int = 100, offset: int = 0, newest_first: bool = True, scan_limit: int = JOB_SCAN_LIMIT) -> list[tuple[str, int]]:
        return self._run(self.hm.list_jobs(limit=limit, offset=offset, newest_first=newest_first, scan_limit=scan_limit))

    def resume(self, jid: str, activity: str | None = None, data: dict[str, Any] | None = None, *, merge: bool = True) -> dict[str, Any]:
        return self._run(self.hm.resume(jid, activity, data, merge=merge))

    def rerun(self, jid: str, data: dict[str, Any] | None = None, *, merge: bool = True) -> dict[str, Any]:
        return self._run(self.hm.rerun(jid, data, merge=merge))

    def interrupt(self, topic: str, jid: str, *, reason: str | None = None, throw: bool = True, code: int = 410, expire: int | None = None, descend: bool = False, suppress: bool = False, stack: str | None = None) -> bool:
        return self._run(self.hm.interrupt(topic, jid, reason=reason, throw=throw, code=code, expire=expire, descend=descend, suppress=suppress, stack=stack))

    def hook(self, topic: str, data: dict[str, Any], *, status: str = "success", code: int = 200) -> str | None:
        return self._run(self.hm.hook(topic, data, status=status, code=code))

    def get_stats(self, topic: str, data: dict[str, Any], *, range: str = "1h") -> dict[str, Any]:
        return self._run(self.hm.get_stats(topic, data, range=range))

    def get_ids(self, topic: str, data: dict[str, Any], facets: list[str], *, range: str = "1h") -> dict[str, list[str]]:
        return self._run(self.hm.get_ids(topic, data, facets, range=range))

    def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        return self._run(self.hm.dead_letters(limit))

    def dead_letter(self, letter_id: str) -> DeadLetter | None:
        return self._run(self.hm.dead_letter(letter_id))

    def replay_dead_letter(self, letter_id: str) -> str | None:
        return self._run(self.hm.replay_dead_letter(letter_id))

    def discard_dead_letter(self, letter_id: str) -> bool:
        return self._run(self.hm.discard_dead_letter(letter_id))

    def sub(self, topic: str, callback: SubCallback) -> None:
        return self._run(self.hm.sub(topic, callback))

    def unsub(self, topic: str) -> None:
        return self._run(self.hm.unsub(topic))

    def psub(self, pattern: str, callback: SubCallback) -> None:
        return self._run(self.hm.psub(pattern, callback))

    def punsub(self, pattern: str) -> None:
        return self._run(self.hm.punsub(pattern))

    def watch(self, seconds: float = 30.0) -> None:
        return self._run(self.hm.watch(seconds))

    def listen_events(self, callback: EventCallback) -> Callable[[], None]:
        """As ``HotMesh.listen_events``; the callback runs on the background loop's thread, and the
        function returned stops it (blocking)."""
        stop = self._run(self.hm.listen_events(callback))

        async def stopping() -> None:
            await stop()
        return lambda: self._run(stopping())

