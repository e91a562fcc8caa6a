"""Versions of an app: compile a manifest for this app, store it, compare it with the active one.

``deploy`` stores a compiled version beside the running ones (the compiled JSON, the YAML source
as deployed, the app-wide hook rules) in one transaction, then creates the consumer groups of the
streams the version reads (the engine streams, each worker topic's stream). Activation is the
quorum's (``quorum.py``).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from .compiler import CompiledApp, diff_breaking, load_manifest
from .compiler import plan as compile_plan
from .errors import ManifestError
from .keys import ENGINE_GROUP, WORKER_GROUP, Keys
from .store import Store
from .streams import ensure_group

log = logging.getLogger("hotmesh.deploy")


@dataclass(frozen=True)
class Plan:
    """What ``review`` found: the compiled app, warnings, and breaking changes against ``active``."""

    app: CompiledApp
    warnings: list[str]
    breaking: list[str]
    active: str | None


@dataclass(frozen=True)
class VersionInfo:
    """One deployed version: its label, ``deployed`` or ``activated`` and when, and whether it is
    the active one now."""

    version: str
    state: str
    at: str
    active: bool


def compile_for(app_id: str, source: str | Path) -> tuple[CompiledApp, list[str], str]:
    """Load, validate and compile ``source`` (a path or YAML text) as a version of ``app_id``:
    the app, its warnings and the YAML text as deployed. Raises ``ManifestError``."""
    manifest = load_manifest(source)
    result = compile_plan(manifest)
    if result.app.id != app_id:
        raise ManifestError(f"manifest app.id '{result.app.id}' does not match this app '{app_id}'",
                            file=manifest.file)
    return result.app, list(result.warnings), manifest.text


async def deploy(store: Store, keys: Keys, source: str | Path) -> str:
    """Compile and store a version; the active version does not change. Deploying the same
    version again with the same content is a no-op; with other content, a ``ManifestError``.
    The warnings ``plan`` would show are logged (``hotmesh.deploy``): they do not stop a deploy."""
    app, warnings, text = compile_for(keys.app, source)
    for warning in warnings:
        log.warning("app %s version %s: %s", app.id, app.version, warning)
    compiled = app.to_json()
    existing = await store.compiled(app.version)
    if existing is not None and existing != compiled:
        raise ManifestError(f"version '{app.version}' of app '{app.id}' is already deployed with other "
                            "content; deploy it under a new version label")
    hooks = {topic: json.dumps([rule.__dict__]) for topic, rule in app.hooks.items()}
    await store.save_version(app.version, compiled, text, hooks)
    streams = [(stream, ENGINE_GROUP) for stream in keys.engine_streams()] + [
        (stream, WORKER_GROUP) for a in app.activities.values()
        if a.type == "worker" and isinstance(a.topic, str) and not a.topic.startswith("{")
        for stream in keys.worker_streams(a.topic)]
    for stream, group in streams:
        await ensure_group(store.redis, stream, group)
    return app.version


async def review(store: Store, keys: Keys, source: str | Path) -> Plan:
    """Validate ``source`` and compare it with the active version: warnings, and the breaking
    changes (removed activities, transitions, hooks) that would strand running jobs."""
    app, warnings, _ = compile_for(keys.app, source)
    breaking: list[str] = []
    active = await store.active_version()
    if active is not None:
        raw = await store.compiled(active)
        if raw is not None:
            breaking = diff_breaking(CompiledApp.from_json(raw), app)
    return Plan(app, warnings, breaking, active)


async def versions(store: Store) -> list[VersionInfo]:
    """Every deployed version, oldest first, with its state and whether it is active."""
    record = await store.app_record()
    active = record.get("version") if record.get("active") == "true" else None
    out = []
    for field, value in record.items():
        if field.startswith("versions/"):
            state, _, at = value.partition(":")
            version = field.split("/", 1)[1]
            out.append(VersionInfo(version, state, at, version == active))
    out.sort(key=lambda v: (v.at, v.version))
    return out
