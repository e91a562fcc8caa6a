"""What every command shares: the global options, the client connection and error translation."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import click

from ..errors import HotMeshError
from ..hotmesh import HotMesh
from .output import CliError, InputError, describe

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

NO_URL = "no Redis URL: pass --redis-url or set REDIS_URL (start one with 'hotmesh redis')"
NO_APP = "no app id: pass --app or set HOTMESH_APP"


@dataclass(frozen=True)
class Options:
    """The global options, shared by every command through the click context."""

    redis_url: str | None
    app_id: str | None
    json: bool

    def url(self) -> str:
        if not self.redis_url:
            raise InputError(NO_URL)
        return self.redis_url

    def app(self) -> str:
        if not self.app_id:
            raise InputError(NO_APP)
        return self.app_id


pass_options = click.make_pass_decorator(Options)


def json_option(command: F, hidden: bool = False) -> F:
    """``--json`` after the command name too (``hotmesh roll-call --json``), same as before it."""

    def force_json(ctx: click.Context, param: click.Parameter, value: bool) -> None:
        if value:
            ctx.obj = replace(ctx.find_object(Options) or Options(None, None, False), json=True)

    return click.option("--json", is_flag=True, expose_value=False, callback=force_json,
                        hidden=hidden, help="print JSON instead of a table or text")(command)


def accepts_json(command: F) -> F:
    """A hidden no-op ``--json`` on commands that always print JSON, so habits do not fail."""
    return json_option(command, hidden=True)


class HotMeshGroup(click.Group):
    """Turns library and connection errors into one line on stderr (``HOTMESH_DEBUG=1`` re-raises)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.Abort, click.ClickException):
            raise
        except HotMeshError as exc:
            raise CliError(describe(exc)) from exc
        except OSError as exc:
            raise CliError(str(exc)) from exc
        except Exception as exc:
            if os.environ.get("HOTMESH_DEBUG"):
                raise
            raise CliError(f"internal error: {type(exc).__name__}: {exc} "
                           "(set HOTMESH_DEBUG=1 for the traceback)") from exc


async def connect(options: Options, app_id: str | None = None, **init: Any) -> HotMesh:
    url = options.url()
    app = app_id or options.app()
    return await HotMesh.init(app, url, **init)


def run_client(options: Options, action: Callable[[HotMesh], Awaitable[T]],
               app_id: str | None = None) -> T:
    """Run ``action`` with a client-only instance (no consumers) of the app, then stop it."""

    async def run() -> T:
        hm = await connect(options, app_id, engine=False)
        try:
            return await action(hm)
        finally:
            await hm.stop()

    return asyncio.run(run())
