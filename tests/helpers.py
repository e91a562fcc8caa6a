"""Test helpers shared by all suites."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Callable
from typing import Any


async def assert_eventually(check: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05) -> Any:
    """Poll ``check`` (sync or async) until it returns a truthy value without raising."""
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if asyncio.iscoroutine(result):
                result = await result
            if result:
                return result
        except AssertionError as exc:
            last = exc
        await asyncio.sleep(interval)
    if last:
        raise last
    raise AssertionError(f"condition not met within {timeout}s")


def backlog(redis: Any, stream: str) -> int:
    """Work left in a stream (pending + undelivered): acked entries are trimmed in bulk, so the
    stream's length is not it. A synchronous twin of ``hotmesh_core.streams.backlog``."""
    try:
        groups = redis.xinfo_groups(stream)
    except Exception:
        return 0
    if not groups:
        return int(redis.xlen(stream))
    most = 0
    for group in groups:
        last = group.get("last-delivered-id") or "0-0"
        undelivered = len(redis.xrange(stream, f"({last}", "+"))
        most = max(most, int(group.get("pending") or 0) + undelivered)
    return most


def stop_process(process: subprocess.Popen[Any], grace: float = 10) -> None:
    """SIGTERM, ``grace`` seconds to exit, then SIGKILL."""
    process.terminate()
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)
