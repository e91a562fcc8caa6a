"""``hotmesh``: the command line of hotmesh_core.

Global options: ``--redis-url`` (``$REDIS_URL``), ``--app`` (``$HOTMESH_APP``), ``--json``.
Commands print JSON where a script reads the output (compact when piped, indented on a terminal)
and a table where a person does (``--json`` switches those to JSON too). Errors print one line,
``error: <reason>``, on stderr and exit 1; missing settings and bad arguments exit 2.

Layout: ``runtime`` (options, connection, error translation), ``output`` (JSON, tables, error
lines), one module per group of commands: ``versions``, ``jobs``, ``fleet``, ``processes``,
``packaged`` (examples, studio).
"""

from __future__ import annotations

import logging
import sys

import click

from . import dead, fleet, jobs, packaged, processes, versions
from .runtime import HotMeshGroup, Options

__all__ = ["cli", "main"]


@click.group("hotmesh", cls=HotMeshGroup, context_settings={"help_option_names": ["-h", "--help"],
                                                 "max_content_width": 100})
@click.option("--redis-url", envvar="REDIS_URL", metavar="URL",
              help="redis://host:port/db, rediss://... or unix:///path.sock  [env: REDIS_URL]")
@click.option("--app", "app_id", envvar="HOTMESH_APP", metavar="APP_ID",
              help="the app id  [env: HOTMESH_APP; deploy and plan default to the manifest's]")
@click.option("--json", "as_json", is_flag=True, help="print JSON where the default is a table or text")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
              default="warning", show_default=True, envvar="HOTMESH_LOG_LEVEL",
              help="library logging, on stderr  [env: HOTMESH_LOG_LEVEL]")
@click.version_option(package_name="hotmesh-core", prog_name="hotmesh")
@click.pass_context
def cli(ctx: click.Context, redis_url: str | None, app_id: str | None, as_json: bool, log_level: str) -> None:
    """HotMesh: deploy YAML workflow apps, run engines and workers, start and inspect jobs."""
    logging.basicConfig(level=log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    ctx.obj = Options(redis_url or None, app_id or None, as_json)


for _module in (versions, jobs, fleet, dead, processes, packaged):
    for _command in _module.COMMANDS:
        cli.add_command(_command)


def main() -> None:
    """The ``hotmesh`` console script."""
    cli.main(prog_name="hotmesh")
