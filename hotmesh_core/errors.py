"""One error tree for the whole library, rooted at :class:`HotMeshError`.

Every error carries a numeric ``code`` (the reference's status codes where one exists) and says
whether retrying the same operation can succeed (``transient``).
"""

from __future__ import annotations

from typing import Any


class HotMeshError(Exception):
    """Base of every error raised by hotmesh_core."""

    code: int = 500
    transient: bool = False

    def __init__(self, message: str, code: int | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        return {"message": self.message, "code": self.code, **self.details}


class ManifestError(HotMeshError):
    """A YAML app (manifest) is invalid; carries the file, line and activity id where known."""

    code = 400

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        activity: str | None = None,
        column: int | None = None,
    ) -> None:
        self.reason = message
        self.file = file
        self.line = line
        self.column = column
        self.activity = activity
        where = []
        if file:
            where.append(file if line is None else f"{file}:{line}")
        elif line is not None:
            where.append(f"line {line}")
        if activity:
            where.append(f"activity '{activity}'")
        prefix = f"{', '.join(where)}: " if where else ""
        super().__init__(prefix + message)

    def to_dict(self) -> dict[str, Any]:
        return {"message": self.reason, "code": self.code, "file": self.file, "line": self.line,
                "column": self.column, "activity": self.activity}


class PipeError(HotMeshError):
    """A mapping or ``@pipe`` expression is invalid or failed to evaluate."""

    code = 400


class ValidationError(HotMeshError):
    """An id, topic or argument given to the API is malformed."""

    code = 400


class PayloadError(ValidationError):
    """A payload holds a value that is not JSON (a non-string key, bytes, a set, a datetime, NaN,
    ±Infinity, any other object) or is nested deeper than the limit; ``path`` names the bad value
    (``job input.items[3].when``). Nothing was written. Code 400, as every ``ValidationError``."""

    @property
    def path(self) -> str:
        return str(self.details.get("path", ""))


class PayloadTooLargeError(HotMeshError):
    """A payload exceeds the configured size cap; nothing was written."""

    code = 413


class DuplicateJobError(HotMeshError):
    """A job with this id already exists."""

    code = 409


class JobNotFoundError(HotMeshError):
    """No job with this id exists (never created, scrubbed or expired)."""

    code = 404


class JobCompletedError(HotMeshError):
    """The job has already completed (or was interrupted), so it cannot be changed."""

    code = 410


class JobNotFailedError(HotMeshError):
    """The job did not fail (it is running, completed without error, or was interrupted), or a
    concurrent resume re-opened it first: there is nothing to resume."""

    code = 409


class AppNotFoundError(HotMeshError):
    """The app has not been deployed, or has no active version."""

    code = 404


class VersionNotFoundError(HotMeshError):
    """The requested app version was never deployed."""

    code = 404


class ShardConfigError(HotMeshError):
    """A ``shards`` setting that differs from the app's recorded shard count (its job keys depend on it)."""

    code = 409


class TopicNotFoundError(HotMeshError):
    """No graph of the active version subscribes to this topic."""

    code = 404


class JobError(HotMeshError):
    """A job ended in error; ``code`` is the job's error code and ``job_id`` names it."""

    def __init__(self, message: str, code: int, job_id: str, error: dict[str, Any] | None = None) -> None:
        super().__init__(message, code, job_id=job_id)
        self.job_id = job_id
        self.error = error or {"message": message, "code": code}


class JobLimitError(HotMeshError):
    """A job went past its graph's ``limits`` (activity steps or cycle iterations per job,
    ``Settings.max_steps`` / ``max_cycles`` by default) and was stopped: code 508 (HTTP's "loop
    detected"), the code of the job's error and of the ``JobError`` its ``pubsub`` caller gets."""

    code = 508


class JobTimeoutError(HotMeshError, TimeoutError):
    """``pubsub`` gave up waiting (code 504); the job itself goes on."""

    code = 504
    transient = True

    def __init__(self, message: str, job_id: str) -> None:
        super().__init__(message, 504, job_id=job_id)
        self.job_id = job_id


class QuorumError(HotMeshError):
    """The engines did not agree on activating a version."""

    code = 503
    transient = True


class RedisError(HotMeshError):
    """Base of the errors that come from Redis itself (raised at the seam, ``wire.py``)."""

    code = 500


class ConnectionLostError(RedisError):
    """Redis could not be reached, or the connection broke and did not come back in time."""

    code = 503
    transient = True


class StaleReadError(RedisError):
    """A message read before Redis went away is not applied on the connection made after it.

    Redis may have come back at an earlier moment of its history (a torn AOF tail, a failover to a
    replica that had not caught up), and the message may be one it no longer has: applying it would
    write a step of a history that never happened. The message stays pending and is delivered again
    if Redis still has it (``seam.FENCE``)."""

    code = 503
    transient = True


class ConnectError(ConnectionLostError):
    """No connection to Redis could be made: the command was never sent, so it is safe to send it
    elsewhere (a Redis Cluster client tries the slot's new owner after a failover)."""


class ClusterError(RedisError):
    """A Redis Cluster is misconfigured or used wrongly: a ``redis+cluster://`` URL at a server
    without cluster support, a ``redis://`` URL at a cluster node (``MOVED``), slots no master
    serves at connect time. The message says what to change."""

    code = 500


class ClusterDownError(ClusterError):
    """The cluster kept answering ``CLUSTERDOWN`` or ``TRYAGAIN`` (a failover or a slot migration
    under way) for longer than ``reconnect_seconds``. Transient."""

    code = 503
    transient = True


class CrossSlotError(ClusterError):
    """The keys of one script, transaction or multi-key command are in different hash slots of a
    Redis Cluster; refused before anything is sent (``keys`` maps each key to its slot)."""

    code = 400


class RedisTimeoutError(RedisError):
    """Redis did not answer within the connection's timeout (a hung or overloaded server)."""

    code = 504
    transient = True


class RedisAuthError(RedisError):
    """Redis refused the credentials (wrong password or user, or none given where one is needed)."""

    code = 401


class RedisPermissionError(RedisError):
    """The Redis ACL user may not run this command or touch this key (``NOPERM``)."""

    code = 403


class RedisOutOfMemoryError(RedisError):
    """Redis is at ``maxmemory`` and refused a write (``OOM``); nothing of the refused command was
    written. Transient: it succeeds once memory is freed."""

    code = 507
    transient = True


class RedisConfigError(RedisError):
    """The Redis server is configured in a way that can lose job state (``maxmemory-policy`` other
    than ``noeviction``); ``Settings.allow_eviction`` / ``HMSH_ALLOW_EVICTION=1`` accepts it."""

    code = 500


class RedisCommandError(RedisError):
    """Redis answered a command with an error; ``reply`` is the error text (``BUSYGROUP ...``)."""

    code = 500

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message, **details)
        self.reply = message

    @property
    def kind(self) -> str:
        """The error's first word (``ERR``, ``BUSYGROUP``, ``NOGROUP``, ``WRONGTYPE``...)."""
        return self.reply.split(" ", 1)[0]


class RedisServerError(HotMeshError):
    """The embedded redis-server could not be found or started."""

    code = 500
