"""Worker callbacks the CLI tests run with ``hotmesh worker TOPIC=module:function``."""

from __future__ import annotations

import time
from typing import Any

from hotmesh_core import WorkerMessage


def double(message: WorkerMessage) -> dict[str, Any]:     # sync: runs in a thread
    time.sleep(float(message.data.get("sleep") or 0))      # a slow callback, for the drain test
    return {"y": int(message.data["x"]) * 2}


async def fail(message: WorkerMessage) -> dict[str, Any]:
    raise RuntimeError("the cli test worker fails on purpose")


not_callable = 42
