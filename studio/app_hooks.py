"""Server lifecycle (Bokeh directory-app hooks): start the shared runtime with the server, stop it
with the server, so the first page does not wait for the example apps to deploy."""

import asyncio
import importlib.util
import sys
from pathlib import Path
from typing import Any

if importlib.util.find_spec("studio") is None:   # `panel serve studio` in a checkout with nothing installed
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import studio.app  # noqa: E402,F401  (import the views now, not on the first page)
from studio.runtime import shared  # noqa: E402

_tasks: set[asyncio.Task[Any]] = set()


def on_server_loaded(server_context: Any) -> None:
    try:
        loop = asyncio.get_event_loop()
    except RuntimeError:
        return
    task = loop.create_task(shared().ensure_started())
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)


def on_server_unloaded(server_context: Any) -> None:
    runtime = shared()
    try:
        loop = asyncio.get_event_loop()
    except RuntimeError:
        return
    if loop.is_running():
        task = loop.create_task(runtime.stop())
        _tasks.add(task)
        task.add_done_callback(_tasks.discard)
