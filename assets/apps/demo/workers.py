"""Workers for the demo app (topic -> callback)."""

from __future__ import annotations

from typing import Any

from hotmesh_core import WorkerMessage


async def compose(message: WorkerMessage) -> dict[str, Any]:
    return {"message": f"{message.data.get('greeting', 'hello')}, {message.data['name']}!"}


def shout(message: WorkerMessage) -> dict[str, Any]:      # sync callbacks run in a thread
    return {"text": message.data["text"].upper()}


WORKERS = {"demo.compose": compose, "demo.shout": shout}
EXAMPLE = {"topic": "demo.greet", "data": {"name": "world", "shout": True}}
