"""``hotmesh studio``: Panel's own ``panel serve`` command, run in this process on the installed
``studio`` folder (``main.py`` and ``app_hooks.py``), as ``panel serve studio`` does from a checkout.

The websocket origins are the address and port served (and ``localhost`` beside ``127.0.0.1``), as
in the Makefile; ``allow`` adds more (``host:port``) for a studio reached through another name.

Sign-in: with users (``--users`` or the environment, see ``studio.auth``) Bokeh loads
``auth_module.py``; with ``--oauth-provider`` Panel's OAuth login takes over. Either needs a cookie
secret to sign the ``user`` cookie; without one a random secret is made for this process (users sign
in again after a restart). An address other machines can reach is refused without sign-in.
"""

from __future__ import annotations

import argparse
import os
import secrets
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from .auth import AuthConfig, AuthConfigError, bind_refusal
from .auth import configure as configure_users
from .runtime import configure

LOOPBACK = ("127.0.0.1", "localhost")
ANY = ("0.0.0.0", "::", "")               # every interface: the loopback names, plus what allow adds
OAUTH_OPTIONS = ("key", "secret", "redirect_uri", "encryption_key")


@dataclass(frozen=True)
class SignIn:
    """How users sign in: the studio's own users, or an OAuth provider (Panel's), or nobody."""

    users: AuthConfig = field(default_factory=AuthConfig)
    oauth_provider: str | None = None
    oauth: dict[str, str] = field(default_factory=dict)     # key, secret, redirect_uri, encryption_key
    cookie_secret: str | None = None

    @property
    def oauth_on(self) -> bool:
        return bool(self.oauth_provider or os.environ.get("PANEL_OAUTH_PROVIDER"))

    @property
    def configured(self) -> bool:
        return self.users.has_users or self.oauth_on

    def check(self, address: str) -> None:
        """Refuse what cannot work or would expose the studio, before anything is served."""
        if self.users.has_users and self.oauth_on:
            raise AuthConfigError("choose one way to sign in: studio users or --oauth-provider, not both")
        refused = bind_refusal(address, self.configured)
        if refused:
            raise AuthConfigError(refused)

    def arguments(self, folder: Path) -> list[str]:
        """The ``panel serve`` arguments that turn sign-in on (none when it is off)."""
        if not self.configured:
            return []
        args = [] if os.environ.get("PANEL_COOKIE_SECRET") and not self.cookie_secret else \
            ["--cookie-secret", self.cookie_secret or os.environ.get("BOKEH_COOKIE_SECRET") or secrets.token_urlsafe(32)]
        if self.oauth_on:
            args += ["--oauth-provider", self.oauth_provider] if self.oauth_provider else []
            for name in OAUTH_OPTIONS:
                if self.oauth.get(name):
                    args += [f"--oauth-{name.replace('_', '-')}", self.oauth[name]]
            return args
        return [*args, "--auth-module", str(folder / "auth_module.py")]


def panel_arguments(folder: Path, port: int, address: str, show: bool, allow: tuple[str, ...] = (),
                    sign_in: SignIn | None = None) -> list[str]:
    """The ``panel serve`` arguments (the part after ``serve``) for the studio at ``folder``."""
    hosts = LOOPBACK if address in LOOPBACK or address in ANY else (address,)
    args = [str(folder), "--address", address, "--port", str(port)]
    for origin in [*(f"{host}:{port}" for host in hosts), *allow]:
        args += ["--allow-websocket-origin", origin]
    if show:
        args.append("--show")
    return args + (sign_in.arguments(folder) if sign_in is not None else [])


def serve(port: int = 5006, address: str = "127.0.0.1", redis_url: str | None = None, apps: Path | None = None,
          show: bool = False, allow: tuple[str, ...] = (), sign_in: SignIn | None = None) -> None:
    """Serve the studio until interrupted: ``http://<address>:<port>/studio``."""
    from panel.command.serve import Serve

    sign_in = sign_in or SignIn()
    sign_in.check(address)
    configure_users(sign_in.users)          # the users auth_module.py and the sessions pick up
    configure(redis_url, apps)              # the shared runtime main.py and app_hooks.py pick up
    folder = Path(str(resources.files("studio")))
    parser = argparse.ArgumentParser(prog="hotmesh studio")
    command = Serve(parser=parser)
    args = parser.parse_args(panel_arguments(folder, port, address, show, allow, sign_in))
    command.invoke(args)
