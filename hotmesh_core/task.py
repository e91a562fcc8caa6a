"""The time-hook scout (spec 5.9, fixing Q8): one engine at a time moves due timers into the stream.

Every call is one script, ``scripts/scout.lua``: it takes or keeps the scout lease (``hmsh:<app>:w:time``,
15 s) while a timer is near, moves the due ones, and gives the lease up as soon as no timer is near,
so an idle app costs almost nothing: the holder polls at most every ``fidelity`` seconds and only
while it holds the lease; everyone else sleeps until the lease would expire (a dead holder delays
timers by one lease, not a minute), the next timer they know of, a nudge, or ``IDLE_POLL_SECONDS``.

A step that registers a timer nudges its own process's scout after it commits: the scout runs the
script at once and either sees a holder (which polls within ``fidelity``) or takes the free lease.
The idle poll covers only a process killed between that commit and its nudge. Due times and the
"is it due" check both use the Redis server clock.
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

SCOUT = script("scout")
IDLE_POLL_SECONDS = 120.0          # the poll of a scout that knows of no near timer
ROLE = "time"
BATCH = 200


class TimeScout:
    """The scout of one shard's timers (``keys.py``; one shard unless the app is sharded)."""

    def __init__(self, hm: Host, shard: int = 0) -> None:
        self.hm = hm
        self.shard = shard
        keys = hm.keys
        # the lease, the timers and the stream share the shard's hash tag: one script, one slot
        self.script_keys = [keys.lease(ROLE, shard if keys.shards > 1 else None), keys.timers(shard),
                            keys.engine_stream_of(shard)]
        self.store = hm.store
        self.lease_ms = int(hm.settings.scout_lease_seconds * 1000)
        self.fidelity = hm.settings.fidelity_seconds
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self.holding = False
        self.fired = 0
        self.polls = 0
        self._stopped = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"time scout {self.shard}")

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
                    await self.store.release_lease(ROLE, self.hm.guid,
                                                   self.shard if self.hm.keys.shards > 1 else None)
            self.holding = False

    async def _run(self) -> None:
        horizon_ms = max(int(self.fidelity * 1000), self.lease_ms)
        while not self._stopped:
            try:
                holding, moved, ms = await self.store.redis.run(
                    SCOUT, self.script_keys, [self.hm.guid, self.lease_ms, horizon_ms, BATCH])
                self.holding, moved, ms = bool(holding), int(moved), int(ms)
                self.polls += 1
                self.fired += moved
                if moved:
                    crash_point("scout.after_move")
                if moved >= BATCH:
                    continue
                if self.holding:          # a timer is near: poll again by then, within fidelity
                    wait = self.fidelity if ms < 0 else min(self.fidelity, ms / 1000)
                elif ms < 0:              # no timer at all
                    wait = IDLE_POLL_SECONDS
                else:                     # another holds the lease, or the next timer is far
                    wait = min(IDLE_POLL_SECONDS, ms / 1000 + random.random() * 0.2)
                await self._sleep(wait + 0.001)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # redis away: back off, keep trying
                log.warning("time scout: %s", exc)
                self.holding = False
                await asyncio.sleep(0.5 + random.random())

    async def _sleep(self, seconds: float) -> None:
        self._wake.clear()
        await wait_event(self._wake, seconds)

