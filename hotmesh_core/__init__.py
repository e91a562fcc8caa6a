"""hotmesh_core: a reentrant process engine on Redis.

Workflows are YAML graphs compiled into stateless activities; every message an engine or worker
reads from its Redis stream is one atomic, journaled step. See README.md for the delivery contract.
"""

from __future__ import annotations

import logging

from .config import Settings
from .deadletters import DeadLetter
from .deployment import Plan, VersionInfo
from .errors import (
    AppNotFoundError,
    ConnectionLostError,
    DuplicateJobError,
    HotMeshError,
    JobCompletedError,
    JobError,
    JobLimitError,
    JobNotFailedError,
    JobNotFoundError,
    JobTimeoutError,
    ManifestError,
    PayloadError,
    PayloadTooLargeError,
    PipeError,
    QuorumError,
    RedisAuthError,
    RedisCommandError,
    RedisConfigError,
    RedisError,
    RedisOutOfMemoryError,
    RedisPermissionError,
    RedisTimeoutError,
    ShardConfigError,
    StaleReadError,
    TopicNotFoundError,
    ValidationError,
    VersionNotFoundError,
)
from .hotmesh import HotMesh
from .redis_server import RedisServer
from .sync import SyncHotMesh
from .worker import PARK, Worker, WorkerMessage, WorkerResponse

__all__ = [
    "AppNotFoundError", "ConnectionLostError", "DeadLetter", "DuplicateJobError", "HotMesh", "HotMeshError",
    "JobCompletedError", "JobError", "JobLimitError", "JobNotFailedError", "JobNotFoundError", "JobTimeoutError", "ManifestError",
    "PayloadError", "PayloadTooLargeError", "PipeError", "Plan", "QuorumError", "RedisAuthError", "RedisCommandError", "RedisConfigError",
    "RedisError", "RedisOutOfMemoryError", "RedisPermissionError", "RedisServer", "RedisTimeoutError",
    "Settings", "ShardConfigError", "StaleReadError", "SyncHotMesh", "TopicNotFoundError", "ValidationError", "VersionInfo", "VersionNotFoundError",
    "PARK", "Worker", "WorkerMessage", "WorkerResponse",
]
__version__ = "0.1.0"          # the one place the version is written (pyproject reads it)

# A library logs and lets the application decide where it goes: every logger of hotmesh_core is
# "hotmesh" or below it ("hotmesh.engine", "hotmesh.worker", ..., "hotmesh.studio").
_log = logging.getLogger("hotmesh")
if not any(isinstance(handler, logging.NullHandler) for handler in _log.handlers):
    _log.addHandler(logging.NullHandler())
