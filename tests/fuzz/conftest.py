"""Hypothesis profiles for the fuzz suite, and the guard that turns a hang into a failing example.

``ci`` (the default) runs a bounded, derandomized number of examples, so every CI run tries the
same inputs and the whole suite stays well under a minute; ``long`` (``make fuzz``, or
``HOTMESH_FUZZ_PROFILE=long``, or ``--hypothesis-profile=long``) runs thousands of random ones.
No example database is kept: CI starts from a fresh clone, and a failure prints its example (and a
``@reproduce_failure`` blob) to paste in as an ``@example`` regression.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
import redis
from hypothesis import HealthCheck, Phase, settings

from hotmesh_core import HotMesh

from ..conftest import fast_settings
from .support import database_url

# Redis-backed properties keep one HotMesh across examples (a function-scoped fixture on purpose:
# each example snapshots the keys it checks), and their examples are slow next to pure ones.
_SUPPRESSED = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large]

settings.register_profile(
    "ci", max_examples=60, derandomize=True, database=None, deadline=timedelta(seconds=10),
    suppress_health_check=_SUPPRESSED, print_blob=True,
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink])
settings.register_profile(
    "long", max_examples=3000, derandomize=False, database=None, deadline=timedelta(seconds=10),
    suppress_health_check=_SUPPRESSED, print_blob=True)

PROFILE_ENV = "HOTMESH_FUZZ_PROFILE"


def pytest_configure(config: pytest.Config) -> None:
    """``--hypothesis-profile`` wins, then the environment, then ``ci``. Loaded here rather than at
    import so that the option is honoured however this conftest is reached (it may be collected
    after hypothesis' own plugin has configured itself)."""
    chosen = config.getoption("hypothesis_profile", None) or os.environ.get(PROFILE_ENV) or "ci"
    settings.load_profile(chosen)


QUIET_DB = 9
"""The logical database of the fuzz properties that check "nothing written": no engine ever reads
it (engines only run in database 0, the other suites'), so its keys change only by the call under
test, and a whole-database snapshot can be compared exactly."""


@dataclass
class Quiet:
    """A client-only HotMesh (no engine, no worker) on the quiet database, and a Redis client on it."""

    hm: HotMesh
    redis: redis.Redis


@pytest.fixture
async def quiet(redis_url: str, app_id: str) -> AsyncIterator[Quiet]:
    url = database_url(redis_url, QUIET_DB)
    hm = await HotMesh.init(app_id, url, engine=False, settings=fast_settings())
    client = redis.Redis.from_url(url)
    try:
        yield Quiet(hm, client)
    finally:
        client.close()
        await hm.stop()
