"""Server lifecycle (Bokeh directory-app hooks): start the shared runtime with the server, stop it
with the server, so the first page does not wait for the example apps to deploy.

``panel serve studio --address <not loopback>`` without sign-in stops here, before the runtime
starts (``hotmesh studio`` refuses it before serving; ``main.py`` refuses such clients anyway).
"""

import asyncio
import importlib.util
import logging
import os
import sys
from pathlib import Path
from typing import Any

if importlib.util.find_spec("studio") is None:   # `panel serve studio` in a checkout with nothing installed
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import studio.app  # noqa: E402,F401  (import the views now, not on the first page)
from studio.auth import bind_refusal  # noqa: E402
from studio.runtime import shared  # noqa: E402

_tasks: set[asyncio.Task[Any]] = set()
log = logging.getLogger("hotmesh.studio")


def serve_command_refusal(argv: list[str], environ: dict[str, str]) -> str | None:
    """Why a ``panel serve`` command line must not serve the studio (None: it may).

    Only an explicit ``--address``: Bokeh's default (every interface) is left to the per-session
    check, so a plain ``panel serve studio`` keeps working for whoever sits at this machine.
    """
    if len(argv) < 2 or argv[1] != "serve":
        return None                   # `hotmesh studio` checked before serving
    import argparse

    from panel.command.serve import Serve

    parser = argparse.ArgumentParser(add_help=False)
    Serve(parser=parser)
    args, _ = parser.parse_known_args(argv[2:])
    signed_in = any((args.auth_module, environ.get("BOKEH_AUTH_MODULE"), args.basic_auth,
                     environ.get("PANEL_BASIC_AUTH"), args.oauth_provider, environ.get("PANEL_OAUTH_PROVIDER")))
    if args.address is None:
        if not signed_in:
            log.warning("panel serve listens on every interface: the studio answers only this machine's "
                        "browsers until sign-in is configured (or pass --address 127.0.0.1)")
        return None
    return bind_refusal(args.address, signed_in)


def on_server_loaded(server_context: Any) -> None:
    refused = serve_command_refusal(sys.argv, dict(os.environ))
    if refused:
        log.error("%s", refused)
        print(f"error: {refused}", file=sys.stderr, flush=True)
        raise SystemExit(2)           # out of the event loop: the server stops before serving a page
    try:
        loop = asyncio.get_event_loop()
    except RuntimeError:
        return
    task = loop.create_task(shared().ensure_started())
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)


def on_server_unloaded(server_context: Any) -> None:
    runtime = shared()
    try:
        loop = asyncio.get_event_loop()
    except RuntimeError:
        return
    if loop.is_running():
        task = loop.create_task(runtime.stop())
        _tasks.add(task)
        task.add_done_callback(_tasks.discard)
