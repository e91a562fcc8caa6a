"""Redis access for engines and the API: the app registry, versions, job reads and the step script.

Every job mutation goes through ``step`` (``scripts/step.lua``): one atomic script per engine step.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .errors import RedisPermissionError
from .keys import JobFields, Keys, tag_of
from .seam import Redis, pairs, script
from .util import guid, timestamp

STEP = script("step")
LEASE_RELEASE = script("lease_release")
DELIVER = script("deliver")
#: the message type of a shard's outbox entry (``keys.py``: a write for another shard)
FORWARD = "forward"


@dataclass
class StepSpec:
    """What one engine step writes; turned into the JSON the step script reads."""

    job_key: str
    streams: list[str] = field(default_factory=list)
    create: int | None = None
    gid: str | None = None
    active: int | None = None
    ledger: tuple[str, int] | None = None
    guid: str | None = None
    hset: dict[str, str] = field(default_factory=dict)
    sem: int = 0
    xadd: list[tuple[str, str]] = field(default_factory=list)
    done_expire: int | None = None
    done_message: tuple[str, str] | None = None
    done_publish: list[tuple[str, str]] = field(default_factory=list)
    emit_message: tuple[str, str] | None = None
    ack: tuple[str, str, str] | None = None
    finishing: bool = field(default=False)
    expire: int | None = None
    event: tuple[str, dict[str, Any]] | None = None          # the step's own activity event
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)   # events of folded children
    notify: tuple[str, str] | None = None
    timer: tuple[str, str, int] | None = None
    signal: tuple[str, str, int] | None = None
    unsignal: str | None = None
    incr: list[tuple[str, str, float]] = field(default_factory=list)
    push: list[tuple[str, str]] = field(default_factory=list)
    zadd: list[tuple[str, float, str]] = field(default_factory=list)
    delete: list[str] = field(default_factory=list)
    precheck: int | None = None
    semeq: int | None = None
    count: tuple[int, ...] | None = None     # runaway guard: (steps limit,) or (steps, cycles) limits

    def _stream(self, key: str) -> int:
        if key not in self.streams:
            self.streams.append(key)
        return self.streams.index(key) + 2

    def encode(self) -> str:
        spec: dict[str, Any] = {"sem": str(self.sem)}
        if self.create is not None:
            spec["create"] = str(self.create)
        if self.gid is not None:
            spec["gid"] = self.gid
        if self.active is not None:
            spec["active"] = str(self.active)
        if self.ledger is not None:
            spec["ledger"] = [self.ledger[0], str(self.ledger[1])]
        if self.guid is not None:
            spec["guid"] = JobFields.guid(self.guid)
        if self.hset:
            flat: list[str] = []
            for k, v in self.hset.items():
                flat += (k, v)
            spec["hset"] = flat
        if self.xadd:
            spec["xadd"] = [[self._stream(k), m] for k, m in self.xadd]
        if self.finishing:
            done: dict[str, Any] = {"expire": str(self.done_expire or 0)}
            if self.done_message:
                done["xadd"] = [self._stream(self.done_message[0]), self.done_message[1]]
            elif self.done_publish:
                done["publish"] = [list(target) for target in self.done_publish]
            spec["done"] = done
        if self.emit_message:
            spec["emit"] = [self._stream(self.emit_message[0]), self.emit_message[1]]
        if self.ack:
            spec["ack"] = [self._stream(self.ack[0]), self.ack[1], self.ack[2]]
        if self.expire is not None:
            spec["expire"] = str(self.expire)
        events = ([self.event] if self.event is not None else []) + self.events
        if events:
            spec["events"] = [[channel, json.dumps(body, separators=(",", ":"))] for channel, body in events]
        if self.notify is not None:
            spec["notify"] = [self._stream(self.notify[0]), self.notify[1]]
        if self.timer is not None:
            spec["timer"] = [self._stream(self.timer[0]), self.timer[1], str(int(self.timer[2]))]
        if self.signal is not None:
            spec["signal"] = [self._stream(self.signal[0]), self.signal[1], str(int(self.signal[2]))]
        if self.unsignal is not None:
            spec["unsignal"] = self._stream(self.unsignal)
        if self.incr:
            spec["incr"] = [[self._stream(k), f, repr(float(by))] for k, f, by in self.incr]
        if self.push:
            spec["push"] = [[self._stream(k), v] for k, v in self.push]
        if self.zadd:
            spec["zadd"] = [[self._stream(k), repr(float(score)), m] for k, score, m in self.zadd]
        if self.delete:
            spec["del"] = [self._stream(k) for k in self.delete]
        if self.precheck is not None:
            spec["precheck"] = str(self.precheck)
        if self.semeq is not None:
            spec["semeq"] = str(self.semeq)
        if self.count is not None:
            spec["count"] = [str(limit) for limit in self.count]
        return json.dumps(spec, separators=(",", ":"))


@dataclass(frozen=True)
class StepResult:
    status: str          # ok | exists | gone | inactive | conflict | duplicate | threshold | limit
    semaphore: int = 0
    finished: bool = False
    detail: str = ""


class Store:
    """The app registry, versions and job reads of one app, and the step script, on ``redis``."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys

    def outbox(self, home: str, target: str, value: str, op: str = "xadd") -> tuple[str, str]:
        """``(stream, message)`` that writes ``value`` to ``target`` from a step on ``home``'s
        shard: itself when both share a shard, else a ``forward`` entry in ``home``'s shard's
        engine stream (its outbox; ``Engine.forward`` delivers it)."""
        keys = self.keys
        if keys.shards <= 1 or tag_of(home) == tag_of(target):
            return target, value
        envelope = json.dumps({"type": FORWARD, "metadata": {"guid": guid(), "jid": "", "gid": "", "dad": "",
                                                             "aid": ""},
                               "to": target, "op": op, "value": value}, separators=(",", ":"))
        return keys.engine_stream_of(keys.shard_of_key(home)), envelope

    def localize(self, spec: StepSpec) -> None:
        """Route what ``spec`` writes to other shards through its shard's outbox (``outbox``)."""
        home = spec.job_key
        if self.keys.shards <= 1:
            return
        spec.xadd = [self.outbox(home, stream, message) for stream, message in spec.xadd]
        pushes = []
        for key, value in spec.push:
            if tag_of(key) == tag_of(home):
                pushes.append((key, value))
            else:
                spec.xadd.append(self.outbox(home, key, value, "rpush"))
        spec.push = pushes
        deletes = []
        for key in spec.delete:
            if tag_of(key) == tag_of(home):
                deletes.append(key)
            else:
                spec.xadd.append(self.outbox(home, key, "", "del"))
        spec.delete = deletes
        if spec.notify is not None:
            spec.notify = self.outbox(home, *spec.notify)

    async def deliver(self, target: str, op: str, value: str, source: str, ttl: int) -> bool:
        """Deliver a forwarded write on its target's shard, once per ``source`` (``scripts/deliver.lua``)."""
        return bool(await self.redis.run(DELIVER, [target, self.keys.forwarded(target, source)], [op, value, ttl]))

    async def step(self, spec: StepSpec) -> StepResult:
        self.localize(spec)
        argv = spec.encode()   # registers the streams it names
        raw = await self.redis.run(STEP, [spec.job_key, *spec.streams], [argv])
        status = raw[0]
        if status == "ok":
            return StepResult("ok", int(raw[1]), bool(raw[2]))
        if status in ("inactive", "threshold"):
            return StepResult(status, int(raw[1]))
        return StepResult(status, detail=raw[1] if len(raw) > 1 else "")

    async def ack(self, stream: str, group: str, message_id: str) -> None:
        await self.redis.call("XACK", stream, group, message_id)

    async def add_and_ack(self, stream: str, message: str, ack: tuple[str, str, str]) -> None:
        """Add ``message`` to ``stream`` and ack the consumed entry ``ack`` in one transaction
        (a reply that answers it, a retry that replaces it); through the outbox of ``ack``'s shard
        when ``stream`` is on another."""
        stream, message = self.outbox(ack[0], stream, message)
        await self.redis.transaction([["XADD", stream, "*", "message", message], ["XACK", *ack]])

    async def list_range(self, key: str) -> list[str]:
        values: list[str] = await self.redis.call("LRANGE", key, 0, -1)
        return values

    async def get(self, key: str) -> str | None:
        value: str | None = await self.redis.call("GET", key)
        return value

    async def first(self, keys: list[str]) -> str | None:
        """The value of the first of ``keys`` that holds one (one key per shard: one round trip)."""
        if len(keys) == 1:
            return await self.get(keys[0])
        return next((v for v in await self.redis.pipeline([["GET", k] for k in keys]) if v is not None), None)

    # -- app registry and versions ------------------------------------------------------------
    async def app_record(self) -> dict[str, str]:
        return pairs(await self.redis.call("HGETALL", self.keys.app_registry()))

    async def carry_over_registry(self) -> bool:
        """Move an app registry written before it lived under the app's prefix
        (``hmsh:a:<app>``) to ``hmsh:<app>:a:``, once; True if something moved. Not atomic across
        the two keys on purpose (they may sit on different Cluster shards): the copy is written
        before the old key is deleted, so a crash in between only repeats the copy. A user
        confined to the app's keys cannot read the old key: there is nothing to carry then."""
        registry, legacy = self.keys.app_registry(), self.keys.legacy_app_registry()
        if await self.redis.call("EXISTS", registry):
            return False
        try:
            old = await self.redis.call("HGETALL", legacy)
        except RedisPermissionError:
            return False
        if not old:
            return False
        await self.redis.call("HSET", registry, *old)
        await self.redis.call("DEL", legacy)
        return True

    async def active_version(self) -> str | None:
        record = await self.app_record()
        if record.get("active") == "true" and record.get("version"):
            return record["version"]
        return None

    async def compiled(self, version: str) -> str | None:
        text: str | None = await self.redis.call("HGET", self.keys.versions(), version)
        return text

    async def source(self, version: str) -> str | None:
        text: str | None = await self.redis.call("HGET", self.keys.sources(), version)
        return text

    async def save_version(self, version: str, compiled: str, source: str,
                           hooks: dict[str, str]) -> None:
        """The version's texts first, then its registry entry (the commit point: a crash in between
        leaves texts no registry lists, written again by the next deploy). Single-key commands,
        so the keys may be on different Cluster shards."""
        registry = self.keys.app_registry()
        commands: list[list[Any]] = [
            ["HSET", self.keys.versions(), version, compiled],
            ["HSET", self.keys.sources(), version, source],
        ]
        if hooks:
            commands.append(["HSET", self.keys.hooks(), *[x for kv in hooks.items() for x in kv]])
        await self.redis.pipeline(commands)
        await self.redis.pipeline([["HSETNX", registry, "id", self.keys.app],
                                   ["HSET", registry, f"versions/{version}", f"deployed:{timestamp()}"]])

    async def set_active(self, version: str) -> None:
        await self.redis.call("HSET", self.keys.app_registry(), "id", self.keys.app, "version", version,
                              "active", "true", f"versions/{version}", f"activated:{timestamp()}")

    # -- leases (the scout role, the activation leader) ------------------------------------------
    async def take_lease(self, role: str, holder: str, ms: int, shard: int | None = None) -> bool:
        """Take the lease ``role`` for ``ms`` unless someone holds it (SET NX PX)."""
        return bool(await self.redis.call("SET", self.keys.lease(role, shard), holder, "NX", "PX", int(ms)))

    async def release_lease(self, role: str, holder: str, shard: int | None = None) -> bool:
        """Give the lease up if ``holder`` still holds it (``scripts/lease_release.lua``)."""
        return bool(await self.redis.run(LEASE_RELEASE, [self.keys.lease(role, shard)], [holder]))

    async def lease_held(self, role: str, shard: int | None = None) -> bool:
        return bool(await self.redis.call("EXISTS", self.keys.lease(role, shard)))

    # -- jobs ----------------------------------------------------------------------------------
    async def read_fields(self, jid: str, fields: list[str]) -> list[str | None]:
        values: list[str | None] = await self.redis.call("HMGET", self.keys.job(jid), *fields)
        return values

    async def read_field(self, jid: str, field: str) -> str | None:
        value: str | None = await self.redis.call("HGET", self.keys.job(jid), field)
        return value

    async def read_job(self, jid: str) -> dict[str, str]:
        return pairs(await self.redis.call("HGETALL", self.keys.job(jid)))
