"""Fixtures of the fault tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .harness import Fleet


@pytest.fixture
def fleet(redis_url: str, app_id: str, tmp_path: Path) -> Iterator[Fleet]:
    """Engine and worker subprocesses for one test; all stopped (SIGTERM, then SIGKILL) at the end."""
    fleet = Fleet(redis_url, app_id, tmp_path)
    yield fleet
    fleet.stop_all()
