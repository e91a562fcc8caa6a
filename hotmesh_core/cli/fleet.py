"""Fleet commands: roll-call (who is running, how busy) and throttle (slow down or pause consumers)."""

from __future__ import annotations

from typing import Any

import click

from ..config import PAUSED  # what a paused consumer reports as its throttle (ms)
from .output import emit_json, table
from .runtime import Options, json_option, pass_options, run_client


@click.command("roll-call", short_help="List the running engines and workers.")
@click.option("--delay", type=click.FloatRange(min=0, min_open=True), default=0.5, show_default=True,
              metavar="SECONDS", help="how long to wait for members to answer")
@json_option
@pass_options
def roll_call(options: Options, delay: float) -> None:
    """List every engine and worker of the app that answers: a table, or JSON with --json."""
    profiles: list[dict[str, Any]] = run_client(options, lambda hm: hm.roll_call(delay=delay))
    if options.json:
        emit_json(profiles)
        return
    if not profiles:
        click.echo(f"no engine or worker of app {options.app()} answered within {delay:g} s")
        return
    rows = []
    for p in profiles:
        system = p.get("system") or {}
        counts = " ".join(f"{code}:{n}" for code, n in sorted((p.get("counts") or {}).items()))
        rows.append((p.get("role"), p.get("topic"), p.get("guid"), p.get("stream_depth"),
                     _throttle_label(p.get("throttle")), counts or None, system.get("pid"),
                     system.get("cpu_seconds"), system.get("max_rss_mb")))
    click.echo(table(["ROLE", "TOPIC", "GUID", "DEPTH", "THROTTLE", "COUNTS", "PID", "CPU S", "RSS MB"],
                     rows))
    engines = sum(1 for p in profiles if p.get("role") == "engine")
    click.echo(f"{len(profiles)} member(s): {engines} engine(s), {len(profiles) - engines} worker(s)")


def _throttle_label(value: Any) -> str:
    ms = int(value or 0)
    if ms < 0 or ms >= PAUSED:
        return "paused"
    return f"{ms} ms" if ms else "-"


def _throttle_value(ctx: click.Context, param: click.Parameter, value: str) -> int:
    """Milliseconds to sleep before each read, ``pause`` (-1) or ``resume`` (0)."""
    words = {"pause": -1, "resume": 0}
    if value.lower() in words:
        return words[value.lower()]
    try:
        ms = int(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a number of milliseconds, 'pause' or 'resume'") from None
    if ms < -1:
        raise click.BadParameter("milliseconds must be 0 or more (-1 pauses)")
    return ms


@click.command(short_help="Slow down, pause or resume consumers.",
               context_settings={"ignore_unknown_options": True})   # `throttle -1` is a value
@click.argument("value", metavar="MS|pause|resume", callback=_throttle_value)
@click.option("--topic", help="only the workers of this topic")
@click.option("--guid", help="only this instance (not persisted)")
@json_option
@pass_options
def throttle(options: Options, value: int, topic: str | None, guid: str | None) -> None:
    """Make consumers sleep MS before each read, or 'pause' / 'resume' them.

    Applies to every engine and worker of the app, to the workers of --topic, or to the instance
    --guid. Persisted (except per guid), so processes that start later obey it. Prints how many
    members heard it.
    """
    heard: int = run_client(options, lambda hm: hm.throttle(value, topic=topic, guid=guid))
    if options.json:
        emit_json({"throttle": value, "topic": topic, "guid": guid, "heard": heard})
        return
    scope = f"topic {topic}" if topic else f"guid {guid}" if guid else f"app {options.app()}"
    if guid and topic:
        scope = f"topic {topic} of guid {guid}"
    label = "resumed" if value == 0 else _throttle_label(value)
    click.echo(table(["SCOPE", "THROTTLE", "HEARD BY"], [(scope, label, f"{heard} member(s)")]))


COMMANDS = [roll_call, throttle]
