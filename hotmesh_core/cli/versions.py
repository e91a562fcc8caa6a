"""Version commands: plan (validate and compare), deploy (store a version), activate (switch)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..compiler import CompiledApp
from ..compiler import plan as compile_plan
from ..errors import ManifestError
from ..hotmesh import HotMesh
from .output import CliError, emit_json, table
from .runtime import Options, json_option, pass_options, run_client

MANIFEST = click.Path(exists=True, dir_okay=False, path_type=Path)


def _manifest_app(options: Options, path: Path) -> tuple[str, CompiledApp, list[str]]:
    """Validate offline (located errors, no Redis needed); the app id defaults to the manifest's."""
    result = compile_plan(path)
    app_id = options.app_id or result.app.id
    if result.app.id != app_id:
        raise ManifestError(f"manifest app.id '{result.app.id}' does not match this app '{app_id}'",
                            file=str(path))
    return app_id, result.app, list(result.warnings)


@click.command(short_help="Store a new version of an app (prints it).")
@click.argument("path", type=MANIFEST)
@json_option
@pass_options
def deploy(options: Options, path: Path) -> None:
    """Compile the app at PATH and store its version beside the running ones; prints the version.

    The active version does not change: run 'hotmesh activate VERSION' next.
    """
    app_id, _, _ = _manifest_app(options, path)
    version = run_client(options, lambda hm: hm.deploy(path), app_id=app_id)
    if options.json:
        emit_json({"app": app_id, "version": version})
    else:
        click.echo(version)


@click.command(short_help="Validate an app; show warnings and breaking changes.")
@click.argument("path", type=MANIFEST)
@json_option
@pass_options
def plan(options: Options, path: Path) -> None:
    """Validate the app at PATH and show its graphs, warnings and breaking changes.

    Breaking changes (removed graphs, activities, transitions, hooks that running jobs may still
    need) are found against the active version, so they need Redis; without a Redis URL only the
    manifest is checked. An invalid manifest prints 'file:line: activity: reason' and exits 1.
    """
    app_id, app, warnings = _manifest_app(options, path)
    breaking: list[str] | None = None
    active: str | None = None
    if options.redis_url:
        async def review(hm: HotMesh) -> tuple[CompiledApp, list[str], list[str] | None, str | None]:
            if not hasattr(hm, "review"):
                return app, warnings, None, None
            found = await hm.review(path)
            return found.app, list(found.warnings), list(found.breaking), getattr(found, "active", None)

        app, warnings, breaking, active = run_client(options, review, app_id=app_id)
    report: dict[str, Any] = {
        "app": app.id, "version": app.version, "active": active,
        "graphs": [{"subscribes": g.subscribes, "publishes": g.publishes, "activities": len(g.activities)}
                   for g in app.graphs],
        "activities": len(app.activities), "warnings": warnings, "breaking": breaking}
    if options.json:
        emit_json(report)
        return
    click.echo(f"app {app.id} version {app.version}: {len(app.graphs)} graph(s), "
               f"{len(app.activities)} activities")
    click.echo(table(["SUBSCRIBES", "PUBLISHES", "ACTIVITIES"],
                     [(g["subscribes"], g["publishes"], g["activities"]) for g in report["graphs"]]))
    click.echo(_listing("warnings", warnings))
    if breaking is None:
        click.echo("breaking changes: not checked (needs --redis-url)")
    else:
        against = f" against active version {active}" if active else ""
        click.echo(_listing(f"breaking changes{against}", breaking))


def _listing(title: str, items: list[str]) -> str:
    if not items:
        return f"{title}: none"
    return "\n".join([f"{title}:"] + [f"  - {item}" for item in items])


@click.command(short_help="Switch the app to a deployed version (quorum).")
@click.argument("version")
@json_option
@pass_options
def activate(options: Options, version: str) -> None:
    """Make VERSION the active one: engines agree through the quorum (engines must be running)."""
    app_id = options.app()
    activated = run_client(options, lambda hm: hm.activate(version))
    if not activated:
        raise CliError(f"version {version} of app {app_id} was not activated")
    if options.json:
        emit_json({"app": app_id, "version": version, "activated": True})
    else:
        click.echo(f"activated version {version} of app {app_id}")


COMMANDS = [plan, deploy, activate]
