"""What ships inside the package: ``hotmesh examples`` (where the example apps are) and
``hotmesh studio`` (serve HotMesh Studio from any folder: the ``[studio]`` extra).

The core never imports ``studio`` (nor Panel, Bokeh, networkx or graphviz): ``studio`` checks
that the extra is installed, then hands over to ``studio.serve`` by name.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

import click

from ..examples import apps_dir, example_apps
from .output import InputError, emit_json
from .runtime import Options, pass_options

NEEDS = ("panel", "bokeh", "networkx", "studio")
INSTALL = "the studio is not installed: pip install 'hotmesh-core[studio]'"


def missing() -> list[str]:
    """The modules of the ``[studio]`` extra this environment lacks."""
    return [name for name in NEEDS if importlib.util.find_spec(name) is None]


@click.command(short_help="Serve HotMesh Studio in the browser.")
@click.option("--port", type=click.IntRange(1, 65535), default=5006, show_default=True)
@click.option("--address", default="127.0.0.1", show_default=True, help="the interface to listen on")
@click.option("--redis-url", "studio_redis_url", metavar="URL",
              help="Redis to use (default: the global --redis-url / $REDIS_URL, else the embedded redis-server)")
@click.option("--apps", type=click.Path(exists=True, file_okay=False, path_type=Path), metavar="DIR",
              help="a folder of apps (<name>/app.yaml + workers.py) to deploy  [default: the example apps]")
@click.option("--show/--no-show", default=False, show_default=True, help="open the page in a browser")
@click.option("--allow-websocket-origin", "allow", multiple=True, metavar="HOST:PORT",
              help="another origin the page may be opened from (the address served is always allowed)")
@pass_options
def studio(options: Options, port: int, address: str, studio_redis_url: str | None, apps: Path | None,
           show: bool, allow: tuple[str, ...]) -> None:
    """Serve HotMesh Studio at http://ADDRESS:PORT/studio (Ctrl-C stops it).

    It deploys the apps (the packaged example apps, or --apps DIR) with their workers running in
    this process, on Redis at --redis-url, else the embedded redis-server.
    """
    if missing():
        raise InputError(INSTALL)
    if apps is not None and not any((folder / "app.yaml").is_file() for folder in apps.iterdir()):
        raise InputError(f"{apps} holds no app: expected {apps}/<name>/app.yaml")
    host = "127.0.0.1" if address in ("0.0.0.0", "::", "") else address
    click.echo(f"HotMesh Studio at http://{host}:{port}/studio", err=True)
    serve = importlib.import_module("studio.serve").serve
    serve(port=port, address=address, redis_url=studio_redis_url or options.redis_url, apps=apps,
          show=show, allow=allow)


@click.command(short_help="Where the example apps are.")
@click.argument("name", required=False)
@pass_options
def examples(options: Options, name: str | None) -> None:
    """List the example apps that ship with hotmesh-core, or print the folder of app NAME:

    \b
      hotmesh deploy "$(hotmesh examples demo)/app.yaml"
      hotmesh worker demo.compose="$(hotmesh examples demo)/workers.py:compose"
    """
    found = {app.manifest.parent.name: app for app in example_apps()}
    if name is not None:
        if name not in found:
            raise InputError(f"no example app {name!r} in {apps_dir()} (there are: {', '.join(sorted(found))})")
        click.echo(str(found[name].manifest.parent))
        return
    rows = [{"name": key, "app": app.app_id, "folder": str(app.manifest.parent),
             "workers": [w.topic for w in app.workers], "example": app.example} for key, app in found.items()]
    if options.json:
        emit_json(rows)
        return
    for row in rows:
        click.echo(f"{row['name']:<10} app {row['app']:<10} {row['folder']}")


COMMANDS = [examples, studio]
