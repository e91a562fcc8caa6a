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

Shards (Redis Cluster). A step is one atomic script over its job hash and every key it writes, so
those keys share one hash slot: ``Settings.shards`` (``N``) splits an app into N shards, each with
its own hash tag ``{T}`` (``T`` = ``s<n>``, or ``s<n>.<k>`` with the smallest ``k`` that puts the tag in
the n-th of N equal slot ranges, so that the N shards land on N masters of a cluster made by
``redis-cli --cluster create``). A job's shard is ``crc32(jid) % N``; a child job that an ``await``
starts gets an id on its parent's shard unless its graph names its own id (``stats.id``). With
N > 1 the per-shard keys are::

    hmsh:<app>:j:{T}<jid>          job hash            hmsh:<app>:d:{T}<jid>         dependents
    hmsh:<app>:x:{T}               engine stream       hmsh:<app>:x:{T}<topic>       worker stream
    hmsh:<app>:t:{T}               timers              hmsh:<app>:w:{T}time          scout lease
    hmsh:<app>:signals:{T}<t>:<k>  hook registration   hmsh:<app>:s:{T}<key>:<ts>... stats buckets
    hmsh:<app>:f:{T}<src>          delivered-once marker of a forwarded message (``forwarded``)

Everything a step writes is in its job's shard; what belongs to another shard (a result for a
parent there, a signal or interrupt to another job, a child whose id is its own) is written into the
step's own engine stream as a ``forward`` message (the shard's outbox), in the same atomic step.
The engine that reads it delivers it to the target shard with ``scripts/deliver.lua`` (the target
key and its marker share the target's tag, so the delivery is one atomic script there), then acks
it: forwarded at least once, applied once (the marker, then the target's ledger). Registries,
versions, throttles and dead letters stay unsharded: single-key commands only. With the default
N = 1 there are no tags, no forwards, and the layout is the reference's.
"""

from __future__ import annotations

import re
import zlib
from binascii import crc_hqx
from dataclasses import dataclass, field
from functools import lru_cache

from .errors import ValidationError

ENGINE_GROUP = "ENGINE"
WORKER_GROUP = "WORKER"
SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
#: hash slots of a Redis Cluster
SLOTS = 16384


@lru_cache(maxsize=64)
def shard_tags(shards: int) -> tuple[str, ...]:
    """The hash tag of each of ``shards`` shards (with braces): shard n's tag hashes into the n-th
    of ``shards`` equal slot ranges (CRC16 mod 16384, as Redis Cluster)."""
    if shards <= 1:
        return ("",)
    tags = []
    for n in range(shards):
        low, high = n * SLOTS // shards, (n + 1) * SLOTS // shards
        name, k = f"s{n}", 0
        while not low <= crc_hqx(name.encode(), 0) % SLOTS < high:
            name, k = f"s{n}.{k}", k + 1
        tags.append("{" + name + "}")
    return tuple(tags)


def tag_of(key: str) -> str:
    """The ``{hash tag}`` in ``key`` (with braces), or "" when it has none."""
    start = key.find("{")
    if start < 0:
        return ""
    end = key.find("}", start + 1)
    return key[start:end + 1] if end > start + 1 else ""


@dataclass(frozen=True)
class Keys:
    """Mints the keys of one app. Immutable and cheap; one per HotMesh instance."""

    app: str
    namespace: str = "hmsh"
    shards: int = 1
    tags: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tags", shard_tags(self.shards))

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

    # -- shards ----------------------------------------------------------------------------------
    @property
    def shard_ids(self) -> range:
        """0 .. shards - 1 (just 0 unsharded)."""
        return range(len(self.tags))

    def consumed(self, subset: tuple[int, ...] = ()) -> list[int]:
        """The shards a process reads (``Settings.consume_shards``): ``subset``, else every shard."""
        wanted = sorted(set(subset)) or list(self.shard_ids)
        unknown = [n for n in wanted if n not in self.shard_ids]
        if unknown:
            raise ValidationError(f"consume_shards {list(subset)}: app '{self.app}' has {self.shards} shard(s), "
                                  f"numbered 0..{len(self.tags) - 1}; no shard {unknown[0]}")
        return wanted

    def shard_of(self, jid: str) -> int:
        return zlib.crc32(jid.encode()) % self.shards if self.shards > 1 else 0

    def shard_tag(self, jid: str) -> str:
        return self.tags[self.shard_of(jid)] if self.shards > 1 else ""

    def shard_of_key(self, key: str) -> int:
        """The shard a key minted here belongs to (0 for unsharded keys)."""
        tag = tag_of(key)
        return self.tags.index(tag) if tag in self.tags else 0

    # -- jobs ----------------------------------------------------------------------------------
    def job(self, jid: str) -> str:
        return f"{self.prefix}j:{self.shard_tag(jid)}{jid}"

    def dependents(self, jid: str) -> str:
        """Jobs started by ``jid`` that it awaits (interrupt ``descend`` follows them)."""
        return f"{self.prefix}d:{self.shard_tag(jid)}{jid}"

    def job_pattern(self) -> str:
        return f"{self.prefix}j:*"

    # -- streams -------------------------------------------------------------------------------
    def engine_stream(self, jid: str | None = None) -> str:
        """The engine stream of the shard that owns ``jid`` (shard 0 without one)."""
        return f"{self.prefix}x:{self.shard_tag(jid) if jid is not None else self.tags[0]}"

    def engine_stream_of(self, shard: int) -> str:
        return f"{self.prefix}x:{self.tags[shard]}"

    def engine_streams(self) -> list[str]:
        return [f"{self.prefix}x:{tag}" for tag in self.tags]

    def worker_stream(self, topic: str, jid: str | None = None) -> str:
        """The stream of worker ``topic`` on the shard of ``jid`` (shard 0 without one)."""
        return f"{self.prefix}x:{self.shard_tag(jid) if jid is not None else self.tags[0]}{topic}"

    def worker_streams(self, topic: str) -> list[str]:
        return [f"{self.prefix}x:{tag}{topic}" for tag in self.tags]

    def worker_topic(self, stream: str) -> str:
        """The topic of a worker stream (``worker_stream``'s inverse)."""
        rest = stream[len(self.prefix) + 2:]
        return rest[len(tag_of(rest)):] if rest.startswith("{") else rest

    def dead_letters(self) -> str:
        """Messages that could not be parsed or attributed to a job (kept for inspection)."""
        return f"{self.prefix}x-dead"

    def forwarded(self, target: str, source: str) -> str:
        """The delivered-once marker of a forwarded message, on ``target``'s shard (``source``
        names the message: its shard and stream id)."""
        return f"{self.prefix}f:{tag_of(target)}{source}"

    # -- time, leases, throttles, signals, stats ----------------------------------------------
    def timers(self, shard: int = 0) -> str:
        return f"{self.prefix}t:{self.tags[shard]}"

    def lease(self, role: str, shard: int | None = None) -> str:
        return f"{self.prefix}w:{self.tags[shard] if shard is not None else ''}{role}"

    def scout_lease(self, shard: int = 0) -> str:
        """The time scout's lease of one shard (``w:time`` unsharded)."""
        return self.lease("time", shard if self.shards > 1 else None)

    def throttles(self) -> str:
        return f"{self.prefix}r:"

    def signal(self, hook_topic: str, resolved: str, jid: str | None = None) -> str:
        """A web-hook registration on ``jid``'s shard."""
        tag = self.shard_tag(jid) if jid is not None else self.tags[0]
        return f"{self.prefix}signals:{tag}{hook_topic}:{resolved}"

    def signals(self, hook_topic: str, resolved: str) -> list[str]:
        """Where a registration for ``resolved`` may be: one key per shard."""
        return [f"{self.prefix}signals:{tag}{hook_topic}:{resolved}" for tag in self.tags]

    def stats(self, job_key: str, time_slice: str, shard: int = 0) -> str:
        return f"{self.prefix}s:{self.tags[shard]}{job_key}:{time_slice}"

    def stats_index(self, job_key: str, time_slice: str, path: str, value: str, shard: int = 0) -> str:
        return f"{self.stats(job_key, time_slice, shard)}:index:{path}:{value}"

    def stats_median(self, job_key: str, time_slice: str, path: str, shard: int = 0) -> str:
        return f"{self.stats(job_key, time_slice, shard)}:mdn:{path}"

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
