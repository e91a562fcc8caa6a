"""Hook activities that wait (spec 2.4 hook, 2.6, 5.9): time hooks and web hooks.

A time hook registers a timer whose due time the step script computes from the Redis server
clock (``TIME``), so no process clock can fire it early; the scout (``task.py``) later moves due
timers into the engine stream atomically. A web hook registers ``signals:<topic>:<value>`` (the
hook rule's ``expected`` resolved in the job) and ``HotMesh.hook`` finds it by resolving the
rule's ``actual`` against the signal payload.
"""

from __future__ import annotations

import json
from typing import Any

from .. import messages as msgs
from ..compiler.model import Activity, HookRule
from ..context import AppIndex, StepState, entry_fields
from ..errors import PipeError
from ..keys import JobFields
from ..pipe import UNDEFINED, resolve
from ..protocols import StepContext
from ..store import StepSpec
from ..util import guid
from .steps import LEG1_OPEN, activity_meta, expire_seconds, signal_value

SIGNAL_MIN_TTL = 3600


def open_hook(engine: StepContext, index: AppIndex, activity: Activity, state: StepState, spec: StepSpec,
              dad: str) -> bool:
    """Leg 1 of a waiting hook; False when the hook is a pass-through (no sleep, no hook rule)."""
    ctx = state.ctx
    jid, gid = state.meta["jid"], state.meta["gid"]
    waits = False
    if activity.sleep is not None:
        delay = resolve(activity.sleep, ctx)
        if isinstance(delay, int | float) and not isinstance(delay, bool) and delay > 0:
            member = f"sleep::{activity.id}::{dad}::{gid}::{jid}"
            spec.timer = (engine.keys.timers(engine.keys.shard_of(jid)), member, int(delay * 1000))
            waits = True
    if activity.hook_topic:
        rule = index.app.hooks.get(activity.hook_topic)
        if rule is not None:
            value = resolve(rule.expected, ctx)
            if value is UNDEFINED or value is None or value == "":
                raise PipeError(f"hook '{activity.id}': the rule for '{rule.topic}' resolved to no value")
            graph = index.app.graph_of(activity.graph)
            ttl = max(expire_seconds(engine, activity, graph.expire, ctx), SIGNAL_MIN_TTL)
            spec.signal = (engine.keys.signal(rule.topic, signal_value(value), jid),
                           f"{activity.id}::{dad}::{gid}::{jid}", ttl)
            waits = True
    if not waits:
        return False
    entry = {"output": {"metadata": activity_meta(activity, dad, state)}}
    spec.hset.update(entry_fields(activity.id, dad, entry))
    spec.hset[JobFields.ledger(activity.id, dad)] = str(LEG1_OPEN)
    spec.event = engine.event(jid, activity.id, dad, activity.type, "running", 200)
    return True


def signal_context(data: dict[str, Any]) -> dict[str, Any]:
    entry = {"hook": {"data": data}, "output": {"data": data}}
    return {"$self": entry, "$hook": {"data": data}}


def signal_key(engine: StepContext, rule: HookRule, data: dict[str, Any], jid: str) -> str | None:
    """The registration of job ``jid`` a signal with ``data`` meets (None: ``actual`` resolves to nothing)."""
    value = resolve(rule.actual, signal_context(data))
    if value is UNDEFINED or value is None or value == "":
        return None
    return engine.keys.signal(rule.topic, signal_value(value), jid)


def signal_keys(engine: StepContext, rule: HookRule, data: dict[str, Any]) -> list[str]:
    """Where the registration a signal with ``data`` meets may be (one key per shard), or [] when
    ``actual`` resolves to nothing."""
    value = resolve(rule.actual, signal_context(data))
    if value is UNDEFINED or value is None or value == "":
        return []
    return engine.keys.signals(rule.topic, signal_value(value))


async def hook_rule(engine: StepContext, topic: str) -> HookRule | None:
    """The rule for a hook topic (app-wide, spec Q14), from the active version or the hooks hash."""
    try:
        index = await engine.active_app()
        if topic in index.app.hooks:
            return index.app.hooks[topic]
    except Exception:  # noqa: BLE001 - fall back to the app-wide hash
        pass
    raw: str | None = await engine.store.redis.call("HGET", engine.keys.hooks(), topic)
    if raw is None:
        return None
    rules = json.loads(raw)
    first = rules[0] if isinstance(rules, list) else rules
    return HookRule(**first)


async def webhook_message(engine: StepContext, topic: str, data: dict[str, Any], status: str = "success",
                          code: int = 200) -> tuple[str, str] | None:
    """(stream, message) delivering a signal to the hook waiting for it, or None if none waits."""
    rule = await hook_rule(engine, topic)
    if rule is None:
        return None
    where = signal_keys(engine, rule, data)
    if not where:
        return None
    registration = await engine.store.first(where)
    if registration is None:
        return None
    aid, dad, gid, jid = registration.split("::", 3)
    meta = msgs.metadata(jid, gid, dad, aid, topic=topic, message_guid=guid())
    return engine.keys.engine_stream(jid), msgs.build(meta, type=msgs.WEBHOOK, data=data, status=status,
                                                      code=code)
