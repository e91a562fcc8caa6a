"""Workers for the orders app."""

from __future__ import annotations

from typing import Any

from hotmesh_core import WorkerMessage


async def reserve(message: WorkerMessage) -> dict[str, Any]:
    return {"reservation": f"R-{message.data['id']}-{message.data.get('items') or 1}"}


async def invoice(message: WorkerMessage) -> dict[str, Any]:
    return {"invoice": f"INV-{message.data['id']}: {message.data['price']:.2f}"}


WORKERS = {"order.reserve": reserve, "order.invoice": invoice}
EXAMPLE = {"topic": "order.placed", "data": {"id": "ord-1", "price": 42.5, "items": 3}}
