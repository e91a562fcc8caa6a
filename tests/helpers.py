"""Test helpers shared by all suites."""

from __future__ import annotations

import asyncio
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
