"""``hotmesh studio``: Panel's own ``panel serve`` command, run in this process on the installed
``studio`` folder (``main.py`` and ``app_hooks.py``), as ``panel serve studio`` does from a checkout.

The websocket origins are the address and port served (and ``localhost`` beside ``127.0.0.1``), as
in the Makefile; ``allow`` adds more (``host:port``) for a studio reached through another name.
"""

from __future__ import annotations

import argparse
from importlib import resources
from pathlib import Path

from .runtime import configure

LOOPBACK = ("127.0.0.1", "localhost")
ANY = ("0.0.0.0", "::", "")               # every interface: the loopback names, plus what allow adds


def panel_arguments(folder: Path, port: int, address: str, show: bool, allow: tuple[str, ...] = ()) -> list[str]:
    """The ``panel serve`` arguments (the part after ``serve``) for the studio at ``folder``."""
    hosts = LOOPBACK if address in LOOPBACK or address in ANY else (address,)
    args = [str(folder), "--address", address, "--port", str(port)]
    for origin in [*(f"{host}:{port}" for host in hosts), *allow]:
        args += ["--allow-websocket-origin", origin]
    if show:
        args.append("--show")
    return args


def serve(port: int = 5006, address: str = "127.0.0.1", redis_url: str | None = None, apps: Path | None = None,
          show: bool = False, allow: tuple[str, ...] = ()) -> None:
    """Serve the studio until interrupted: ``http://<address>:<port>/studio``."""
    from panel.command.serve import Serve

    configure(redis_url, apps)              # the shared runtime main.py and app_hooks.py pick up
    folder = Path(str(resources.files("studio")))
    parser = argparse.ArgumentParser(prog="hotmesh studio")
    command = Serve(parser=parser)
    args = parser.parse_args(panel_arguments(folder, port, address, show, allow))
    command.invoke(args)
