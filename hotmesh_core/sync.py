"""A blocking facade for scripts, the CLI and notebooks: the async API on a background loop.

    hm = SyncHotMesh("demo", workers=[Worker("demo.compose", compose)])
    hm.deploy("assets/apps/demo/app.yaml"); hm.activate("1")
    print(hm.pubsub("demo.greet", {"name": "world"}))
    hm.stop()
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from .hotmesh import HotMesh

T = TypeVar("T")


class SyncHotMesh:
    def __init__(self, app_id: str, redis_url: str | None = None, **options: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="hotmesh-loop", daemon=True)
        self._thread.start()
        self.hm: HotMesh = self._run(HotMesh.init(app_id, redis_url, **options))

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.hm, name)
        if not inspect.iscoroutinefunction(attribute):
            return attribute

        @functools.wraps(attribute)
        def blocking(*args: Any, **kwargs: Any) -> Any:
            return self._run(attribute(*args, **kwargs))

        return blocking

    def stop(self) -> None:
        try:
            self._run(self.hm.stop())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
            self._loop.close()

    def __enter__(self) -> SyncHotMesh:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
