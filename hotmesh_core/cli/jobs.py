"""Job commands: pub, pubsub, state, status, export, scrub, hook, interrupt, resume, rerun (all
print JSON). They are top-level commands (``hotmesh pub``) and the ``hotmesh jobs`` group too
(``hotmesh jobs resume``)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import IO, Any, TypeVar

import click

from ..hotmesh import HotMesh
from .output import InputError, emit_json
from .runtime import Options, accepts_json, pass_options, run_client

F = TypeVar("F", bound=Callable[..., Any])


def data_options(command: F) -> F:
    """``--data JSON`` or ``--data-file F`` (``-`` is stdin); with neither, stdin when piped."""
    command = click.option("--data-file", type=click.File("r"), metavar="FILE",
                           help="read the JSON object from FILE ('-' for stdin)")(command)
    return click.option("--data", "data_text", metavar="JSON",
                        help="the input as a JSON object; with neither --data nor --data-file, JSON is "
                             "read from stdin when it is not a terminal (empty input = {})")(command)


def read_data(data_text: str | None, data_file: IO[str] | None) -> dict[str, Any]:
    if data_text is not None and data_file is not None:
        raise InputError("give --data or --data-file, not both")
    if data_text is not None:
        text, source = data_text, "--data"
    elif data_file is not None:
        text, source = data_file.read(), data_file.name
    elif not sys.stdin.isatty():
        text, source = sys.stdin.read(), "stdin"
    else:
        text, source = "", "none"
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON in {source}: {exc}") from None
    if not isinstance(data, dict):
        raise InputError(f"the data in {source} must be a JSON object, not {type(data).__name__}")
    return data


@click.command(short_help="Start a job; print its id.")
@click.argument("topic")
@data_options
@accepts_json
@pass_options
def pub(options: Options, topic: str, data_text: str | None, data_file: IO[str] | None) -> None:
    """Start a job on TOPIC and print {"job_id": ...} (fire and forget)."""
    data = read_data(data_text, data_file)
    jid = run_client(options, lambda hm: hm.pub(topic, data))
    emit_json({"job_id": jid})


@click.command(short_help="Start a job and wait for its output.")
@click.argument("topic")
@data_options
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=30.0, show_default=True,
              metavar="SECONDS", help="how long to wait for the outcome (the job goes on after)")
@accepts_json
@pass_options
def pubsub(options: Options, topic: str, data_text: str | None, data_file: IO[str] | None,
           timeout: float) -> None:
    """Start a job on TOPIC, wait for it and print its output {"metadata", "data"}.

    A job that ends in error exits 1 with its code and message.
    """
    data = read_data(data_text, data_file)
    emit_json(run_client(options, lambda hm: hm.pubsub(topic, data, timeout=timeout)))


@click.command(short_help="Print a job's metadata and data.")
@click.argument("topic")
@click.argument("job_id")
@accepts_json
@pass_options
def state(options: Options, topic: str, job_id: str) -> None:
    """Print the state {"metadata", "data"} of job JOB_ID of TOPIC."""
    emit_json(run_client(options, lambda hm: hm.get_state(topic, job_id)))


@click.command(short_help="Print a job's status (0 = done).")
@click.argument("job_id")
@accepts_json
@pass_options
def status(options: Options, job_id: str) -> None:
    """Print {"job_id", "status"}: 0 is done, more is activities still open, negative is interrupted."""
    emit_json({"job_id": job_id, "status": run_client(options, lambda hm: hm.get_status(job_id))})


@click.command(short_help="Print a job's activity tree.")
@click.argument("job_id")
@accepts_json
@pass_options
def export(options: Options, job_id: str) -> None:
    """Print job JOB_ID as a tree: its process, and each activity at its address."""
    emit_json(run_client(options, lambda hm: hm.export(job_id)))


@click.command(short_help="Delete a job.")
@click.argument("job_id")
@accepts_json
@pass_options
def scrub(options: Options, job_id: str) -> None:
    """Delete job JOB_ID; prints {"job_id", "scrubbed"} (false if there was no such job)."""

    async def action(hm: HotMesh) -> bool:
        existed = bool(await hm.get_raw(job_id))
        await hm.scrub(job_id)
        return existed

    emit_json({"job_id": job_id, "scrubbed": run_client(options, action)})


@click.command(short_help="Signal the hook waiting on a topic.")
@click.argument("topic")
@data_options
@click.option("--status", "signal_status", type=click.Choice(["success", "pending", "error"]),
              default="success", show_default=True,
              help="pending keeps the hook open for more signals")
@click.option("--code", type=int, default=200, show_default=True, help="the signal's status code")
@accepts_json
@pass_options
def hook(options: Options, topic: str, data_text: str | None, data_file: IO[str] | None,
         signal_status: str, code: int) -> None:
    """Send a signal to the hook waiting on TOPIC; prints {"delivered", "id"} (the stream id)."""
    data = read_data(data_text, data_file)
    stream_id = run_client(options, lambda hm: hm.hook(topic, data, status=signal_status, code=code))
    emit_json({"delivered": stream_id is not None, "id": stream_id})


@click.command(short_help="Stop a running job.")
@click.argument("topic")
@click.argument("job_id")
@click.option("--reason", help="the message recorded as the job's error")
@click.option("--throw/--no-throw", default=True, show_default=True,
              help="whether the parent and pubsub callers receive the error")
@click.option("--code", type=int, default=410, show_default=True, help="the error code")
@click.option("--expire", type=click.IntRange(min=0), metavar="SECONDS",
              help="keep the interrupted job this long")
@click.option("--descend", is_flag=True, help="interrupt the child jobs it awaits too")
@accepts_json
@pass_options
def interrupt(options: Options, topic: str, job_id: str, reason: str | None, throw: bool, code: int,
              expire: int | None, descend: bool) -> None:
    """Stop the running job JOB_ID of TOPIC; prints {"job_id", "interrupted"}."""
    done = run_client(options, lambda hm: hm.interrupt(topic, job_id, reason=reason, throw=throw,
                                                       code=code, expire=expire, descend=descend))
    emit_json({"job_id": job_id, "interrupted": done})


def read_edit(data_text: str | None, data_file: IO[str] | None) -> dict[str, Any] | None:
    """The edited input of ``resume``/``rerun``: None (the same input) unless --data or --data-file."""
    if data_text is None and data_file is None:
        return None
    return read_data(data_text, data_file)


edit_options = [
    click.option("--data", "data_text", metavar="JSON",
                 help="input fields to change, as a JSON object merged over the original input "
                      "(without it: the same input)"),
    click.option("--data-file", type=click.File("r"), metavar="FILE",
                 help="read that JSON object from FILE ('-' for stdin)"),
    click.option("--replace", is_flag=True, help="the JSON object replaces the input instead of merging into it"),
]


def with_edit_options(command: F) -> F:
    for option in reversed(edit_options):
        command = option(command)
    return command


@click.command(short_help="Resume a failed job at its failed activity.")
@click.argument("job_id")
@click.option("--activity", metavar="AID", help="the failed activity to resume at (default: the one that failed)")
@with_edit_options
@accepts_json
@pass_options
def resume(options: Options, job_id: str, activity: str | None, data_text: str | None,
           data_file: IO[str] | None, replace: bool) -> None:
    """Re-open failed job JOB_ID at its failed activity with the input that activity received (or
    that input edited with --data) and let it run on. Prints {"jid", "activity", "dad", "input",
    "edited", "at"}. A job that is running, done or interrupted is refused (exit 1, code 409)."""
    data = read_edit(data_text, data_file)
    emit_json(run_client(options, lambda hm: hm.resume(job_id, activity, data, merge=not replace)))


@click.command(short_help="Run a job again as a new job.")
@click.argument("job_id")
@with_edit_options
@accepts_json
@pass_options
def rerun(options: Options, job_id: str, data_text: str | None, data_file: IO[str] | None, replace: bool) -> None:
    """Start a new job of JOB_ID's graph with JOB_ID's input (or that input edited with --data),
    linked to JOB_ID in both jobs' history. Prints {"jid" (the new job), "from", "topic", "input",
    "edited", "at"}."""
    data = read_edit(data_text, data_file)
    emit_json(run_client(options, lambda hm: hm.rerun(job_id, data, merge=not replace)))


JOB_COMMANDS = [pub, pubsub, state, status, export, scrub, hook, interrupt, resume, rerun]


@click.group("jobs", short_help="Start, inspect, resume and re-run jobs.")
def jobs() -> None:
    """The job commands, also available at the top level: "hotmesh jobs pub" is "hotmesh pub"."""


for _command in JOB_COMMANDS:
    jobs.add_command(_command)

COMMANDS = [*JOB_COMMANDS, jobs]
