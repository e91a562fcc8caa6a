"""Who may use the studio, and as what: hashed passwords, the users file, roles, loopback binds.

The studio deploys, activates, throttles, interrupts and signals: whoever reaches its port can do
all of that unless the server asks who they are. So it serves 127.0.0.1 by default and refuses an
address other machines can reach until sign-in is configured, either

- with the studio's own users (a TOML or JSON file, or one user in the environment), whose
  passwords are stored only as scrypt hashes (``hotmesh studio hash-password`` makes one) and
  checked in constant time; or
- with one of Panel's OAuth providers (GitHub, Google, Azure, Okta, GitLab, generic OIDC, ...),
  whose users are viewers unless an editors list names them.

Users file (``--users FILE`` or ``HOTMESH_STUDIO_USERS=FILE``)::

    [users.alice]
    password_hash = "scrypt$16384$8$1$<salt>$<hash>"
    role = "editor"                 # editor | viewer (the default)

    [oauth]
    editors = ["alice@example.com"] # OAuth users who may change things

One user without a file: ``HOTMESH_STUDIO_PASSWORD_HASH`` (an editor named by
``HOTMESH_STUDIO_USER``, ``admin`` by default). OAuth editors also from ``HOTMESH_STUDIO_EDITORS``
(comma separated).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import ipaddress
import json
import os
import secrets
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Role = Literal["editor", "viewer"]
ROLES: tuple[Role, ...] = ("editor", "viewer")
USERS_ENV = "HOTMESH_STUDIO_USERS"
HASH_ENV = "HOTMESH_STUDIO_PASSWORD_HASH"
USER_ENV = "HOTMESH_STUDIO_USER"
EDITORS_ENV = "HOTMESH_STUDIO_EDITORS"
# scrypt's recommended interactive cost: about 50 ms and 16 MiB a check, which also slows guessing
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2 ** 14, 8, 1
_MAX_MEM = 64 * 1024 * 1024


class AuthConfigError(ValueError):
    """The users file or a password hash is unusable: the studio refuses to start with it."""


# -- passwords ------------------------------------------------------------------------------------
def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    """``scrypt$N$r$p$salt$hash`` (base64url): the cost travels with the hash, so it can be raised later."""
    if not password:
        raise AuthConfigError("the password is empty")
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=_MAX_MEM, dklen=32)
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(digest)}"


def _parse(encoded: str) -> tuple[int, int, int, bytes, bytes]:
    try:
        scheme, n, r, p, salt, digest = encoded.split("$")
        if scheme != "scrypt":
            raise ValueError(scheme)
        parsed = int(n), int(r), int(p), _unb64(salt), _unb64(digest)
    except (ValueError, TypeError) as exc:
        raise AuthConfigError("a password hash must look like scrypt$N$r$p$salt$hash "
                              "(made by `hotmesh studio hash-password`)") from exc
    if parsed[0] < 2 or parsed[0] & (parsed[0] - 1) or not parsed[3] or len(parsed[4]) < 16:
        raise AuthConfigError("a password hash has an invalid cost, salt or length")
    return parsed


def verify_password(password: str, encoded: str) -> bool:
    """Whether ``password`` matches ``encoded``; a malformed hash matches nothing."""
    try:
        n, r, p, salt, digest = _parse(encoded)
        candidate = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=_MAX_MEM,
                                   dklen=len(digest))
    except (AuthConfigError, ValueError, MemoryError):
        return False
    return hmac.compare_digest(candidate, digest)


# -- users and roles ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Account:
    name: str
    password_hash: str
    role: Role = "viewer"


@dataclass(frozen=True)
class AuthConfig:
    """The studio's own users (basic sign-in) and the OAuth users who are editors."""

    accounts: Mapping[str, Account] = field(default_factory=dict)
    editors: frozenset[str] = frozenset()

    @property
    def has_users(self) -> bool:
        return bool(self.accounts)

    def check(self, name: str, password: str) -> Account | None:
        """The account when ``password`` is ``name``'s; None otherwise (same cost either way)."""
        account = self.accounts.get(name)
        ok = verify_password(password, account.password_hash if account else _decoy())
        return account if ok and account is not None else None

    def role_of(self, user: str, *, oauth: bool) -> Role:
        """An OAuth user is an editor only when listed; a studio user has the role the file gives."""
        if oauth:
            return "editor" if user in self.editors else "viewer"
        account = self.accounts.get(user)
        return account.role if account is not None else "viewer"


@functools.cache
def _decoy() -> str:
    """Checked when the name is unknown, so a wrong name costs what a wrong password costs."""
    return hash_password(secrets.token_urlsafe(12))


def _account(name: str, entry: Any, where: str) -> Account:
    if not isinstance(entry, dict) or not isinstance(entry.get("password_hash"), str):
        raise AuthConfigError(f"{where}: user {name!r} needs a password_hash (hotmesh studio hash-password)")
    role = entry.get("role", "viewer")
    if role not in ROLES:
        raise AuthConfigError(f"{where}: user {name!r} has role {role!r}; roles are editor and viewer")
    _parse(entry["password_hash"])
    return Account(name, entry["password_hash"], role)


def parse_users(document: Mapping[str, Any], where: str = "users file") -> AuthConfig:
    users = document.get("users", {})
    oauth = document.get("oauth", {})
    if not isinstance(users, dict) or not isinstance(oauth, dict):
        raise AuthConfigError(f"{where}: [users.<name>] and [oauth] must be tables")
    unknown = set(document) - {"users", "oauth"}
    if unknown:
        raise AuthConfigError(f"{where}: unknown section(s) {sorted(unknown)}; expected users and oauth")
    editors = oauth.get("editors", [])
    if not isinstance(editors, list) or not all(isinstance(e, str) for e in editors):
        raise AuthConfigError(f"{where}: oauth.editors must be a list of user names")
    return AuthConfig({name: _account(name, entry, where) for name, entry in users.items()}, frozenset(editors))


def load_users(path: Path) -> AuthConfig:
    """Read a users file: TOML, or JSON when it ends in ``.json``."""
    try:
        text = path.read_text()
        document = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except OSError as exc:
        raise AuthConfigError(f"cannot read the users file {path}: {exc.strerror}") from None
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise AuthConfigError(f"the users file {path} is not valid {path.suffix.lstrip('.') or 'TOML'}: "
                              f"{exc}") from None
    if not isinstance(document, dict):
        raise AuthConfigError(f"the users file {path} must hold a table of users")
    return parse_users(document, str(path))


def from_environment(environ: Mapping[str, str] | None = None, users: Path | None = None,
                     editors: tuple[str, ...] = ()) -> AuthConfig:
    """The users file (``users`` or ``$HOTMESH_STUDIO_USERS``), plus the one-user and editors variables."""
    env = os.environ if environ is None else environ
    path = users or (Path(env[USERS_ENV]) if env.get(USERS_ENV) else None)
    config = load_users(path) if path is not None else AuthConfig()
    accounts = dict(config.accounts)
    if env.get(HASH_ENV):
        name = env.get(USER_ENV) or "admin"
        accounts[name] = _account(name, {"password_hash": env[HASH_ENV], "role": "editor"}, HASH_ENV)
    listed = {e.strip() for e in env.get(EDITORS_ENV, "").split(",") if e.strip()}
    return AuthConfig(accounts, config.editors | listed | set(editors))


_current: AuthConfig | None = None


def configure(config: AuthConfig) -> AuthConfig:
    """Set this server process's users (``hotmesh studio --users``) before it serves."""
    global _current
    _current = config
    return _current


def current() -> AuthConfig:
    """This process's users: as configured, else read from the environment on first use."""
    global _current
    if _current is None:
        _current = from_environment()
    return _current


# -- addresses ------------------------------------------------------------------------------------
def is_loopback(address: str | None) -> bool:
    """Whether only this machine can reach ``address``; every-interface and unknown names are not."""
    if not address:
        return False              # None or "": Tornado listens on every interface
    if address.lower() == "localhost":
        return True
    try:
        ip = ipaddress.ip_address(address.strip("[]").split("%")[0])
    except ValueError:
        return False              # a host name: it may resolve to anything
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def bind_refusal(address: str | None, authenticated: bool) -> str | None:
    """Why serving on ``address`` is refused (None when it is fine)."""
    if authenticated or is_loopback(address):
        return None
    where = address or "every interface"
    return (f"refusing to serve the studio on {where} without sign-in: anyone who reaches the port could "
            "deploy, activate, throttle, interrupt and signal. Serve on 127.0.0.1 (the default), or "
            "configure users (--users FILE or HOTMESH_STUDIO_USERS, passwords from `hotmesh studio "
            "hash-password`) or an OAuth provider (--oauth-provider ...).")
