"""Workers for the demo app (topic -> callback)."""

from __future__ import annotations

from typing import Any

from hotmesh_core import HotMeshError, WorkerMessage

#: the code compose fails with when there is nobody to greet (the caller's JobError has it)
NO_NAME = 422


async def compose(message: WorkerMessage) -> dict[str, Any]:
    name = str(message.data.get("name") or "").strip()
    if not name:
        raise HotMeshError("compose: a name is needed", NO_NAME)
    return {"message": f"{message.data.get('greeting', 'hello')}, {name}!"}


def shout(message: WorkerMessage) -> dict[str, Any]:      # sync callbacks run in a thread
    return {"text": message.data["text"].upper()}


WORKERS = {"demo.compose": compose, "demo.shout": shout}
EXAMPLE = {"topic": "demo.greet", "data": {"name": "world", "shout": True}}
