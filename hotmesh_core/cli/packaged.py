"""What ships inside the package: ``hotmesh examples`` (where the example apps are) and
``hotmesh studio`` (serve HotMesh Studio from any folder: the ``[studio]`` extra).

The core never imports ``studio`` (nor Panel, Bokeh, networkx or graphviz): ``studio`` checks
that the extra is installed, then hands over to ``studio.serve`` by name.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
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


@click.group(short_help="Serve HotMesh Studio in the browser.", invoke_without_command=True)
@click.option("--port", type=click.IntRange(1, 65535), default=5006, show_default=True)
@click.option("--address", default="127.0.0.1", show_default=True,
              help="the interface to listen on; another than loopback needs sign-in (--users or --oauth-provider)")
@click.option("--redis-url", "studio_redis_url", metavar="URL",
              help="Redis to use (default: the global --redis-url / $REDIS_URL, else the embedded redis-server)")
@click.option("--apps", type=click.Path(exists=True, file_okay=False, path_type=Path), metavar="DIR",
              help="a folder of apps (<name>/app.yaml + workers.py) to deploy  [default: the example apps]")
@click.option("--show/--no-show", default=False, show_default=True, help="open the page in a browser")
@click.option("--allow-websocket-origin", "allow", multiple=True, metavar="HOST:PORT",
              help="another origin the page may be opened from (the address served is always allowed)")
@click.option("--users", type=click.Path(exists=True, dir_okay=False, path_type=Path), metavar="FILE",
              help="sign in with these users (TOML or JSON: [users.<name>] password_hash, role)  "
                   "[default: $HOTMESH_STUDIO_USERS]")
@click.option("--oauth-provider", metavar="NAME", help="sign in with Panel's OAuth provider NAME (github, google, "
              "azure, okta, gitlab, generic, ...)  [default: $PANEL_OAUTH_PROVIDER]")
@click.option("--oauth-key", metavar="KEY", help="the OAuth client id  [default: $PANEL_OAUTH_KEY]")
@click.option("--oauth-secret", metavar="SECRET", help="the OAuth client secret  [default: $PANEL_OAUTH_SECRET]")
@click.option("--oauth-redirect-uri", metavar="URL", help="the OAuth redirect URL (the studio's public address)")
@click.option("--oauth-encryption-key", metavar="KEY", help="encrypts the OAuth tokens in cookies (panel oauth-secret)")
@click.option("--editor", "editors", multiple=True, metavar="USER",
              help="an OAuth user who may change things (others are viewers); also [oauth] editors in --users")
@click.option("--cookie-secret", metavar="SECRET",
              help="signs the sign-in cookie  [default: $PANEL_COOKIE_SECRET, else random for this process]")
@pass_options
@click.pass_context
def studio(ctx: click.Context, options: Options, port: int, address: str, studio_redis_url: str | None,
           apps: Path | None, show: bool, allow: tuple[str, ...], users: Path | None, oauth_provider: str | None,
           oauth_key: str | None, oauth_secret: str | None, oauth_redirect_uri: str | None,
           oauth_encryption_key: str | None, editors: tuple[str, ...], cookie_secret: str | None) -> None:
    """Serve HotMesh Studio at http://ADDRESS:PORT/studio (Ctrl-C stops it).

    It deploys the apps (the packaged example apps, or --apps DIR) with their workers running in
    this process, on Redis at --redis-url, else the embedded redis-server. It serves 127.0.0.1
    unless --address says otherwise, and another address only with sign-in: studio users
    (--users FILE; `hotmesh studio hash-password` makes their hashes) or an OAuth provider.
    """
    if ctx.invoked_subcommand is not None:
        return
    if missing():
        raise InputError(INSTALL)
    if apps is not None and not any((folder / "app.yaml").is_file() for folder in apps.iterdir()):
        raise InputError(f"{apps} holds no app: expected {apps}/<name>/app.yaml")
    auth = importlib.import_module("studio.auth")
    serving = importlib.import_module("studio.serve")
    oauth = {"key": oauth_key, "secret": oauth_secret, "redirect_uri": oauth_redirect_uri,
             "encryption_key": oauth_encryption_key}
    try:
        sign_in = serving.SignIn(auth.from_environment(users=users, editors=editors), oauth_provider,
                                 {k: v for k, v in oauth.items() if v}, cookie_secret)
        sign_in.check(address)
    except auth.AuthConfigError as exc:
        raise InputError(str(exc)) from None
    host = "127.0.0.1" if address in ("0.0.0.0", "::", "") else address
    how = " (sign-in: OAuth)" if sign_in.oauth_on else (" (sign-in: studio users)" if sign_in.configured else "")
    click.echo(f"HotMesh Studio at http://{host}:{port}/studio{how}", err=True)
    serving.serve(port=port, address=address, redis_url=studio_redis_url or options.redis_url, apps=apps,
                  show=show, allow=allow, sign_in=sign_in)


@studio.command("hash-password", short_help="Hash a studio password for the users file.")
@click.option("--stdin", "from_stdin", is_flag=True, help="read the password from the first line of stdin")
def hash_password(from_stdin: bool) -> None:
    """Print the scrypt hash of a password (asked twice, not echoed), for a users file:

    \b
      [users.alice]
      password_hash = "<what this prints>"
      role = "editor"
    """
    auth = importlib.import_module("studio.auth")
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        click.echo(auth.hash_password(password))
    except auth.AuthConfigError as exc:
        raise InputError(str(exc)) from None


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
