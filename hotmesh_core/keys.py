"""Every Redis key and channel name hotmesh_core uses is minted here, and only here.

Key schema (namespace ``hmsh`` by default, ``<app>`` = app id, ``<v>`` = version label)::

    hmsh:<app>:a:                 hash    app registry: id, version (the ACTIVE one), active,
                                          versions/<v> = "deployed:<ts>" | "activated:<ts>"
                                          (the reference's ``hmsh:a:<app>``, moved under the app's
                                          prefix so one ACL rule confines an app; read once at
                                          ``init`` to carry an older deployment over)
    hmsh:<app>:v:                 hash    <v> -> compiled app JSON (what engines execute)
    hmsh:<app>:src:               hash    <v> -> the YAML source as deployed (studio, diff)
    hmsh:<app>:hooks              hash    <hook topic> -> JSON hook rules (app-wide, spec Q14)
    hmsh:<app>:j:<jid>            hash    job state (layout in ``store.py``)
    hmsh:<app>:x:                 stream  engine stream, consumer group ENGINE   (reference name)
    hmsh:<app>:x:<topic>          stream  worker stream per topic, group WORKER  (reference name)
    hmsh:<app>:x-dead             stream  dead letters: unparseable or unattributable messages
    hmsh:<app>:t:                 zset    due timers: member = timer event, score = due ms (Redis TIME)
    hmsh:<app>:w:<role>           string  short leases (scout roles, activation leader)
    hmsh:<app>:r:                 hash    throttles: ":" = all, <topic> = one topic (ms, -1 = paused)
    hmsh:<app>:signals:<t>:<key>  string  open web-hook registration -> "<aid>::<dad>::<gid>::<jid>"
    hmsh:<app>:s:<key>:<ts>       hash    stats buckets (+ ":index:<path>:<value>" lists, ":mdn:<path>" zsets)
    hmsh:<app>:d:<jid>            list    awaited child job ids (interrupt with ``descend``)

Every key and channel of an app starts with ``hmsh:<app>:`` (app ids cannot contain ``:``), so a
Redis ACL user ``~hmsh:<app>:* &hmsh:<app>:*`` runs the app and reaches no other app's data.

Pub/sub channels (not keys)::

    hmsh:<app>:q:                 quorum: ping, pong, activate, throttle, rollcall, work
    hmsh:<app>:q:<guid>           one process: pubsub replies, targeted quorum messages
    hmsh:<app>:q:<topic>          job outcomes (``publishes``) and per-topic quorum messages
    hmsh:<app>:e:                 live activity events of the app's jobs (studio, widgets; the jid is
                                  in each event); published only while a watcher has asked for them
                                  (quorum ``watch`` message). One channel, not one per job, so that
                                  watching needs SUBSCRIBE, not a PSUBSCRIBE pattern: Redis ACLs match
                                  a PSUBSCRIBE pattern literally against ``&`` rules

Redis Cluster: a step is one atomic script over the job hash and the streams it writes, so in a
sharded layout those keys must share a hash slot. The ``shards`` setting is the one place that
changes: with ``shards > 1`` every job is assigned a shard ``{s<n>}`` by its id, the job hash carries
that hash tag, and each shard has its own engine stream carrying the same tag. Registries stay
unsharded (single-key commands). Not done yet: a step that dispatches a worker also adds to that
worker's stream, which is unsharded, so on a real Cluster worker streams must become per shard too
(``worker_stream(topic, jid)`` with the job's tag, workers reading every shard of their topic);
until then ``shards > 1`` keeps the responses on the message path (``Engine.respond_here``,
``streams.Forwarder``). With the default ``shards=1`` no hash tags are added and the layout matches
the reference.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass

from .errors import ValidationError

ENGINE_GROUP = "ENGINE"
WORKER_GROUP = "WORKER"
SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


@dataclass(frozen=True)
class Keys:
    """Mints the keys of one app. Immutable and cheap; one per HotMesh instance."""

    app: str
    namespace: str = "hmsh"
    shards: int = 1

    @property
    def prefix(self) -> str:
        return f"{self.namespace}:{self.app}:"

    # -- registry and versions ---------------------------------------------------------------
    def app_registry(self) -> str:
        return f"{self.prefix}a:"

    def legacy_app_registry(self) -> str:
        """Where the registry lived before it moved under the app's prefix (read by ``init`` only)."""
        return f"{self.namespace}:a:{self.app}"

    def versions(self) -> str:
        return f"{self.prefix}v:"

    def sources(self) -> str:
        return f"{self.prefix}src:"

    def hooks(self) -> str:
        return f"{self.prefix}hooks"

    # -- jobs ----------------------------------------------------------------------------------
    def shard_tag(self, jid: str) -> str:
        if self.shards <= 1:
            return ""
        return f"{{s{zlib.crc32(jid.encode()) % self.shards}}}"

    def job(self, jid: str) -> str:
        return f"{self.prefix}j:{self.shard_tag(jid)}{jid}"

    def dependents(self, jid: str) -> str:
        """Jobs started by ``jid`` that it awaits (interrupt ``descend`` follows them)."""
        return f"{self.prefix}d:{self.shard_tag(jid)}{jid}"

    def job_pattern(self) -> str:
        return f"{self.prefix}j:*"

    # -- streams -------------------------------------------------------------------------------
    def engine_stream(self, jid: str | None = None) -> str:
        """The engine stream; with sharding, the stream of the shard that owns ``jid``."""
        if self.shards <= 1 or jid is None:
            return f"{self.prefix}x:"
        return f"{self.prefix}x:{self.shard_tag(jid)}"

    def engine_streams(self) -> list[str]:
        if self.shards <= 1:
            return [f"{self.prefix}x:"]
        return [f"{self.prefix}x:{{s{n}}}" for n in range(self.shards)]

    def worker_stream(self, topic: str) -> str:
        return f"{self.prefix}x:{topic}"

    def worker_topic(self, stream: str) -> str:
        """The topic of a worker stream (``worker_stream``'s inverse)."""
        return stream[len(self.worker_stream("")):]

    def dead_letters(self) -> str:
        """Messages that could not be parsed or attributed to a job (kept for inspection)."""
        return f"{self.prefix}x-dead"

    # -- time, leases, throttles, signals, stats ----------------------------------------------
    def timers(self) -> str:
        return f"{self.prefix}t:"

    def lease(self, role: str) -> str:
        return f"{self.prefix}w:{role}"

    def throttles(self) -> str:
        return f"{self.prefix}r:"

    def signal(self, hook_topic: str, resolved: str) -> str:
        return f"{self.prefix}signals:{hook_topic}:{resolved}"

    def stats(self, job_key: str, time_slice: str) -> str:
        return f"{self.prefix}s:{job_key}:{time_slice}"

    def stats_index(self, job_key: str, time_slice: str, path: str, value: str) -> str:
        return f"{self.stats(job_key, time_slice)}:index:{path}:{value}"

    def stats_median(self, job_key: str, time_slice: str, path: str) -> str:
        return f"{self.stats(job_key, time_slice)}:mdn:{path}"

    # -- pub/sub channels ----------------------------------------------------------------------
    def quorum_channel(self, target: str = "") -> str:
        return f"{self.prefix}q:{target}"

    def events_channel(self) -> str:
        return f"{self.prefix}e:"


def check_id(kind: str, value: object) -> str:
    """Validate an app id, topic, job id or version label: ``[A-Za-z0-9._-]``, 1 to 128 chars."""
    if not isinstance(value, str) or not SAFE_ID.match(value):
        raise ValidationError(
            f"invalid {kind} {value!r}: use 1 to 128 characters from A-Z a-z 0-9 . _ -"
        )
    return value


class JobFields:
    """Field names inside a job hash ``hmsh:<app>:j:<jid>`` (spec 4.2, redesigned for clarity).

    ``:``                 the job semaphore (HINCRBY): children still to finish; <= 0 done;
                          < -100,000,000 interrupted; -1 pending (created with ``pending``)
    ``:done``             how many times the job completed (always 1; checked by the fault tests)
    ``:n`` / ``:c``       steps taken / cycle iterations run, against the job's limits (``step.lua``,
                          ``limits:`` of the graph, ``Settings.max_steps`` / ``max_cycles``)
    ``m/<key>``           job metadata: jid gid tpc app vrs trc ngn key ts jc ju pj pg pd pa px src err;
                          traced jobs also spn tps ps (see ``tracing.py``)
    ``d/<path>``          job data (``$job.data``), one field per job-map leaf, serializer-encoded
    ``a/<aid><dad>``      one activity execution's metadata, JSON (``ac``, ``au``, ``err``, ...; the
                          id, address, type and subtype come from the field name and the app)
    ``o/<aid><dad>``      its output data, ``i/<aid><dad>`` its input data, ``h/<aid><dad>`` the data of
                          the signal that woke it (JSON; absent when none). Small separate values keep
                          small jobs in Redis' compact hash encoding (values up to 64 bytes)
    ``l/<aid><dad>``      the activity's 15-digit collation ledger at that address (spec 5.4)
    ``g/<guid>``          a leg-2 message already applied while the leg stayed open (duplicate guard)
    ``_<name>``           search fields; ``-<name>`` markers (literal names, as in the reference)
    """

    SEMAPHORE = ":"
    META = ("jid", "gid", "tpc", "app", "vrs", "trc", "ngn", "key", "ts", "jc", "ju",
            "pj", "pg", "pd", "pa", "px", "src", "err")

    @staticmethod
    def meta(key: str) -> str:
        return "m/" + key

    @staticmethod
    def data(path: str) -> str:
        return "d/" + path

    @staticmethod
    def activity(aid: str, dad: str) -> str:
        return f"a/{aid}{dad}"

    @staticmethod
    def output(aid: str, dad: str) -> str:
        return f"o/{aid}{dad}"

    @staticmethod
    def entry(aid: str, dad: str) -> tuple[str, str, str, str]:
        """The fields of one activity entry: metadata, output, input, hook."""
        address = aid + dad
        return "a/" + address, "o/" + address, "i/" + address, "h/" + address

    @staticmethod
    def ledger(aid: str, dad: str) -> str:
        return f"l/{aid}{dad}"

    @staticmethod
    def guid(guid: str) -> str:
        return "g/" + guid


META_FIELDS = tuple(JobFields.meta(k) for k in JobFields.META)
