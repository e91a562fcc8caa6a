"""How the CLI prints: JSON for scripts, aligned tables for people, one-line errors."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

import click

from ..errors import HotMeshError, JobError, JobTimeoutError, ManifestError


class CliError(click.ClickException):
    """A failure reported as ``error: <one line>`` on stderr; exit 1."""

    def __init__(self, message: str) -> None:
        super().__init__(one_line(message))

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


class InputError(CliError):
    """A missing setting or an unusable argument (exit 2, like click's usage errors)."""

    exit_code = 2


def one_line(text: str) -> str:
    return " ".join(str(text).split()) or "unknown error"


def emit_json(value: Any) -> None:
    """Compact JSON when piped (one document per line), indented on a terminal."""
    indent = 2 if sys.stdout.isatty() else None
    separators = None if indent else (",", ":")
    click.echo(json.dumps(value, indent=indent, separators=separators, default=str))


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(h) for h in headers]] + [["-" if v is None else str(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells)


def describe(exc: HotMeshError) -> str:
    """One line per error; a manifest error reads ``file:line: activity 'x': reason``."""
    if isinstance(exc, ManifestError):
        where = [f"{exc.file}:{exc.line}" if exc.file and exc.line is not None
                 else exc.file or (f"line {exc.line}" if exc.line is not None else "")]
        if exc.activity:
            where.append(f"activity '{exc.activity}'")
        return ": ".join([w for w in where if w] + [exc.reason])
    if isinstance(exc, JobTimeoutError):
        return f"{exc.message} (code {exc.code}); the job goes on"
    if isinstance(exc, JobError):
        return f"job {exc.job_id} failed with code {exc.code}: {exc.message}"
    return f"{exc.message} (code {exc.code})"
