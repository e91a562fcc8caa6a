"""hotmesh_core: a reentrant process engine on Redis.

Workflows are YAML graphs compiled into stateless activities; every message an engine or worker
reads from its Redis stream is one atomic, journaled step. See README.md for the delivery contract.
"""

from __future__ import annotations

from .config import Settings
from .errors import (
    AppNotFoundError,
    DuplicateJobError,
    HotMeshError,
    JobCompletedError,
    JobError,
    JobNotFoundError,
    JobTimeoutError,
    ManifestError,
    PayloadTooLargeError,
    PipeError,
    QuorumError,
    TopicNotFoundError,
    ValidationError,
    VersionNotFoundError,
)
from .hotmesh import HotMesh
from .redis_server import RedisServer
from .worker import Worker, WorkerMessage, WorkerResponse

__all__ = [
    "AppNotFoundError", "DuplicateJobError", "HotMesh", "HotMeshError", "JobCompletedError", "JobError",
    "JobNotFoundError", "JobTimeoutError", "ManifestError", "PayloadTooLargeError", "PipeError",
    "QuorumError", "RedisServer", "Settings", "TopicNotFoundError", "ValidationError",
    "VersionNotFoundError", "Worker", "WorkerMessage", "WorkerResponse",
]
__version__ = "0.1.0"
