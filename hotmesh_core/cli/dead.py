"""Dead letters: ``hotmesh dead list|show|replay|discard`` (the API's ``dead_letters`` and friends)."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from ..deadletters import DeadLetter
from .output import CliError, emit_json, one_line, table
from .runtime import Options, json_option, pass_options, run_client


def _when(letter: DeadLetter) -> str:
    return datetime.fromtimestamp(letter.at_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


@click.group("dead", short_help="List, show, replay or discard dead letters.")
def dead() -> None:
    """Messages that could not be handled (unparseable, or past the delivery cap with no job to
    tell), kept in the app's dead-letter stream with where they came from and why."""


@dead.command("list")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@json_option
@pass_options
def list_letters(options: Options, limit: int) -> None:
    """The newest dead letters first: id, when, stream, reason."""
    letters = run_client(options, lambda hm: hm.dead_letters(limit))
    if options.json:
        emit_json([letter.to_dict() for letter in letters])
        return
    if not letters:
        click.echo(f"no dead letters in app {options.app()}")
        return
    click.echo(table(["ID", "WHEN (UTC)", "STREAM", "REASON"],
                     [(x.id, _when(x), x.stream, one_line(x.reason)[:100]) for x in letters]))


@dead.command("show")
@click.argument("letter_id", metavar="ID")
@pass_options
def show(options: Options, letter_id: str) -> None:
    """One dead letter as JSON, its message included."""
    letter = run_client(options, lambda hm: hm.dead_letter(letter_id))
    if letter is None:
        raise CliError(f"no dead letter {letter_id} in app {options.app()}")
    emit_json(letter.to_dict())


@dead.command("replay")
@click.argument("letter_id", metavar="ID")
@pass_options
def replay(options: Options, letter_id: str) -> None:
    """Put the message back on the stream it came from (and remove the dead letter)."""
    new_id = run_client(options, lambda hm: hm.replay_dead_letter(letter_id))
    if new_id is None:
        raise CliError(f"no dead letter {letter_id} in app {options.app()}")
    click.echo(new_id)


@dead.command("discard")
@click.argument("letter_id", metavar="ID")
@pass_options
def discard(options: Options, letter_id: str) -> None:
    """Remove a dead letter for good."""
    if not run_client(options, lambda hm: hm.discard_dead_letter(letter_id)):
        raise CliError(f"no dead letter {letter_id} in app {options.app()}")
    click.echo(f"discarded {letter_id}")


COMMANDS = [dead]
