"""What the parts of a HotMesh instance need from each other, as protocols (no behaviour here).

The parts sit in layers and import downwards only; what a lower part needs from a higher one is
described here and handed in by ``HotMesh`` (``hotmesh.py`` wires them):

- ``Host``: the shared pieces of one instance (Redis connection, store, keys, settings, guid, app id)
  that its time scout, workers and quorum use. ``HotMesh`` satisfies it.
- ``StepContext``: what an activity step (``activities/``) needs from the engine running it.
  ``Engine`` satisfies it.
- ``EngineControl``: what the quorum drives in its own process's engine (counts, the version
  switch-over, live events). ``Engine`` satisfies it.
- ``RespondHere``: a worker's reply handled in this process (``Engine.respond_here``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from .config import Settings
from .context import AppIndex
from .keys import Keys
from .seam import Redis
from .store import Store
from .tracing import Telemetry

#: ``(message, ack)`` -> True when the reply was handled here (its leg 2 run and the worker's
#: input acked in one step); False to send it through the engine stream.
RespondHere = Callable[[dict[str, Any], tuple[str, str, str]], Awaitable[bool]]


class Parts(Protocol):
    """The store, keys and settings of one app in one process."""

    @property
    def store(self) -> Store: ...

    @property
    def keys(self) -> Keys: ...

    @property
    def settings(self) -> Settings: ...

    @property
    def telemetry(self) -> Telemetry | None:
        """Spans and metrics (``tracing.py``); None while tracing is off."""
        ...


class Host(Parts, Protocol):
    """The shared pieces of one HotMesh instance."""

    @property
    def app_id(self) -> str: ...

    @property
    def guid(self) -> str: ...

    @property
    def redis(self) -> Redis: ...


class StepContext(Parts, Protocol):
    """What an activity step needs from the engine running it."""

    def event(self, jid: str, aid: str, dad: str, atp: str, status: str,
              code: int) -> tuple[str, dict[str, Any]] | None:
        """The live event a step publishes, or None while nobody watches."""
        ...

    async def app(self, version: str) -> AppIndex:
        """The compiled app of ``version``."""
        ...

    async def active_app(self) -> AppIndex:
        """The active version's compiled app."""
        ...

    async def index_for_job(self, jid: str) -> AppIndex | None:
        """The compiled app version a job runs under (None when the job is gone)."""
        ...

    def timer_registered(self) -> None:
        """A step just registered a timer (the time scout may want to look sooner)."""
        ...


class EngineControl(Protocol):
    """What the quorum reads and drives in its own process's engine."""

    @property
    def counts(self) -> dict[str, int]: ...

    def check_version_until(self, version: str) -> None:
        """Re-read the active version on every message until ``version`` is active."""
        ...

    def watch(self, seconds: float) -> None:
        """Publish live activity events for the next ``seconds``."""
        ...
