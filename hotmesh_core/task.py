"""The time-hook scout (spec 5.9, fixing Q8): one engine at a time moves due timers into the stream.

The role is a short lease (``SET NX PX``, 15 s by default) that its holder renews every third of
its length and releases on stop, so a dead holder delays timers by one lease, not a minute. Due times and the
"is it due" check both use the Redis server clock inside ``scripts/timers.lua``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random

from .faults import crash_point
from .protocols import Host
from .seam import script
from .util import wait_event

log = logging.getLogger("hotmesh.scout")

TIMERS = script("timers")
ROLE = "time"
BATCH = 200


class TimeScout:
    def __init__(self, hm: Host) -> None:
        self.hm = hm
        self.store = hm.store
        self.lease_ms = int(hm.settings.scout_lease_seconds * 1000)
        self.fidelity = hm.settings.fidelity_seconds
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self.holding = False
        self.fired = 0
        self._stopped = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="time scout")

    def nudge(self) -> None:
        """A timer was just registered: look again now (it may be sooner than the next poll)."""
        self._wake.set()

    async def stop(self) -> None:
        # A flag as well as a cancel: a cancellation that lands inside a redis call can be turned
        # into a retried timeout by the client and lost; the flag ends the loop regardless.
        self._stopped = True
        self._wake.set()
        if self._task:
            self._task.cancel()
            await asyncio.wait({self._task}, timeout=1)
        if self.holding:
            with contextlib.suppress(Exception):      # Redis away: the lease expires by itself
                async with asyncio.timeout(1):
                    await self.store.release_lease(ROLE, self.hm.guid)
            self.holding = False

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        renew_at = 0.0
        while not self._stopped:
            try:
                now = loop.time()
                if not self.holding:
                    self.holding = await self.store.take_lease(ROLE, self.hm.guid, self.lease_ms)
                    renew_at = now + self.lease_ms / 3000
                    if not self.holding:
                        await self._sleep(self.lease_ms / 2000 * (0.5 + random.random()))
                        continue
                elif now >= renew_at:
                    self.holding = await self.store.renew_lease(ROLE, self.hm.guid, self.lease_ms)
                    renew_at = now + self.lease_ms / 3000
                    if not self.holding:
                        continue
                moved, next_ms = await self.store.redis.run(
                    TIMERS, [self.hm.keys.timers(), self.hm.keys.engine_stream()], [BATCH])
                self.fired += int(moved)
                if int(moved):
                    crash_point("scout.after_move")
                if int(moved) >= BATCH:
                    continue
                wait = self.fidelity if int(next_ms) < 0 else min(self.fidelity, int(next_ms) / 1000)
                await self._sleep(min(wait, max(0.0, renew_at - loop.time())) + 0.001)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # redis away: back off, keep trying
                log.warning("time scout: %s", exc)
                self.holding = False
                await asyncio.sleep(0.5 + random.random())

    async def _sleep(self, seconds: float) -> None:
        self._wake.clear()
        await wait_event(self._wake, seconds)

