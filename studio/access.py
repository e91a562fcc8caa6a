"""What one browser session may do: its user and role, and a read-only ``Mesh`` for viewers.

A viewer's views are built on a ``ReadOnlyMesh``: it forwards what looking needs (versions, jobs,
exports, the fleet's roll call, dead letters, live events) and refuses everything that changes
the app. The views also disable their action buttons and check ``read_only(mesh)`` in each
handler, but the refusal does not depend on them: a crafted click on a disabled button still
reaches a mesh that cannot deploy, activate, throttle, interrupt, signal, start a job or touch a
dead letter.

The role comes from the session's signed ``user`` cookie, set by the studio's login page
(``studio/login.py``) or by Panel's OAuth login. Without sign-in configured there is no user:
the session is served (as an editor, as before) only to a client on this machine.
"""

from __future__ import annotations

import html
import os
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hotmesh_core.compiler import CompiledApp
from hotmesh_core.deadletters import DeadLetter
from hotmesh_core.deployment import Plan, VersionInfo
from hotmesh_core.errors import HotMeshError
from hotmesh_core.hotmesh import JOB_SCAN_LIMIT
from hotmesh_core.keys import Keys
from hotmesh_core.listener import EventCallback

from .auth import AuthConfig, Role, current, is_loopback
from .mesh import Mesh

LOGIN_MODULE_ACTIVE = False      # set when studio/login.py is the server's auth module


@dataclass(frozen=True)
class Access:
    user: str | None          # None: no sign-in configured (a client on this machine)
    role: Role

    @property
    def can_edit(self) -> bool:
        return self.role == "editor"

    def label(self) -> str:
        return f"{self.user or 'local'} ({self.role})"


LOCAL = Access(None, "editor")


class ReadOnlyError(HotMeshError):
    """A viewer tried to change the app: the session's role does not allow it."""

    code = 403


def refusal(action: str) -> str:
    return f"Read-only: a viewer cannot {action}. Ask an editor, or sign in as one."


class ReadOnlyMesh:
    """A ``Mesh`` that can look but not change anything (the studio's viewer role)."""

    def __init__(self, mesh: Mesh) -> None:
        self._mesh = mesh

    @property
    def app_id(self) -> str:
        return self._mesh.app_id

    @property
    def guid(self) -> str:
        return self._mesh.guid

    @property
    def keys(self) -> Keys:
        return self._mesh.keys

    @property
    def events_generation(self) -> int:
        return self._mesh.events_generation

    async def versions(self) -> list[VersionInfo]:
        return await self._mesh.versions()

    async def active_version(self) -> str | None:
        return await self._mesh.active_version()

    async def source(self, version: str) -> str | None:
        return await self._mesh.source(version)

    async def compiled(self, version: str) -> CompiledApp | None:
        return await self._mesh.compiled(version)

    async def review(self, source: str | Path) -> Plan:
        return await self._mesh.review(source)         # compiles and compares: it stores nothing

    async def list_jobs(self, *, limit: int = 100, offset: int = 0, newest_first: bool = True,
                        scan_limit: int = JOB_SCAN_LIMIT) -> list[tuple[str, int]]:
        return await self._mesh.list_jobs(limit=limit, offset=offset, newest_first=newest_first,
                                          scan_limit=scan_limit)

    async def job_fields(self, jids: list[str], fields: list[str]) -> list[list[str | None]]:
        return await self._mesh.job_fields(jids, fields)

    async def export(self, jid: str) -> dict[str, Any]:
        return await self._mesh.export(jid)

    def members(self) -> list[dict[str, Any]]:
        return self._mesh.members()

    async def roll_call(self, delay: float = 0.25) -> list[dict[str, Any]]:
        return await self._mesh.roll_call(delay)

    async def stream_stats(self, stream: str, group: str) -> dict[str, int]:
        return await self._mesh.stream_stats(stream, group)

    async def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        return await self._mesh.dead_letters(limit)

    async def queue_report(self, topics: Iterable[str] = ()) -> dict[str, Any]:
        return await self._mesh.queue_report(topics)

    async def watch(self, seconds: float = 30.0) -> None:
        await self._mesh.watch(seconds)        # the live view: engines publish events while watched

    async def listen_events(self, callback: EventCallback) -> Callable[[], Awaitable[None]]:
        return await self._mesh.listen_events(callback)

    # -- refused ---------------------------------------------------------------------------------
    async def deploy(self, source: str | Path) -> str:
        raise ReadOnlyError(refusal("deploy"))

    async def activate(self, version: str, *, delay_ms: int | None = None) -> bool:
        raise ReadOnlyError(refusal("activate a version"))

    async def pub(self, topic: str, data: dict[str, Any] | None = None) -> str:
        raise ReadOnlyError(refusal("start a job"))

    async def interrupt(self, topic: str, jid: str, *, reason: str | None = None) -> bool:
        raise ReadOnlyError(refusal("interrupt a job"))

    async def hook(self, topic: str, data: dict[str, Any]) -> str | None:
        raise ReadOnlyError(refusal("send a signal"))

    async def resume(self, jid: str, activity: str | None = None, data: dict[str, Any] | None = None, *,
                     merge: bool = True) -> dict[str, Any]:
        raise ReadOnlyError(refusal("resume a job"))

    async def rerun(self, jid: str, data: dict[str, Any] | None = None, *, merge: bool = True) -> dict[str, Any]:
        raise ReadOnlyError(refusal("re-run a job"))

    async def throttle(self, ms: int, *, topic: str | None = None) -> int:
        raise ReadOnlyError(refusal("throttle or pause"))

    async def replay_dead_letter(self, letter_id: str) -> str | None:
        raise ReadOnlyError(refusal("replay a dead letter"))

    async def discard_dead_letter(self, letter_id: str) -> bool:
        raise ReadOnlyError(refusal("discard a dead letter"))


def read_only(mesh: Mesh | None) -> bool:
    """Whether the views built on ``mesh`` must not offer changes."""
    return isinstance(mesh, ReadOnlyMesh)


def for_role(mesh: Mesh, access: Access) -> Mesh:
    return mesh if access.can_edit else ReadOnlyMesh(mesh)


# -- the session's access -------------------------------------------------------------------------
def cookie_secret() -> str | None:
    """The secret the ``user`` cookie is signed with (``--cookie-secret`` or the environment)."""
    import panel as pn

    secret = pn.config.cookie_secret or os.environ.get("BOKEH_COOKIE_SECRET")
    return str(secret) if secret else None


def signed_user(cookies: dict[str, str], secret: str | None) -> str | None:
    """The user named by the signed ``user`` cookie (an unsigned or forged one names nobody)."""
    from tornado.web import decode_signed_value

    raw = cookies.get("user")
    if not raw or not secret:
        return None
    value = decode_signed_value(secret, "user", raw)
    return value.decode() if value else None


def sign_in_configured() -> bool:
    import panel as pn

    return LOGIN_MODULE_ACTIVE or bool(pn.config.oauth_provider) or bool(pn.config.basic_auth)


def decide(client: str | None, user: str | None, signed_in: bool, oauth: bool,
           config: AuthConfig) -> Access | str:
    """The session's access, or why it is refused (a sentence for the page)."""
    if signed_in:
        if user is None:
            return "Sign in first: this studio requires it."
        return Access(user, config.role_of(user, oauth=oauth))
    if is_loopback(client):
        return LOCAL
    return (f"This studio serves only its own machine until sign-in is configured, and this request came "
            f"from {client or 'another machine'}. Ask whoever runs it to configure users "
            "(hotmesh studio --users FILE, passwords made by hotmesh studio hash-password) or an OAuth "
            "provider (hotmesh studio --oauth-provider ...), or to open it to you through an SSH tunnel "
            "to 127.0.0.1.")


def session_access() -> Access | str:
    """The access of the current Panel session (see ``decide``)."""
    import panel as pn

    context: Any = pn.state.curdoc.session_context if pn.state.curdoc else None
    request = getattr(context, "request", None)
    if request is None:
        return "No request: the studio is served by `hotmesh studio` or `panel serve studio`."
    cookies = dict(request.cookies or {})
    user = signed_user(cookies, cookie_secret())
    oauth = bool(pn.config.oauth_provider)
    return decide(getattr(request, "remote_ip", None), user, sign_in_configured(), oauth, current())


def refused_page(reason: str) -> Any:
    """A page that says why this session is refused, and nothing about the apps."""
    import panel as pn

    return pn.Column(
        pn.pane.HTML("<h2>HotMesh Studio</h2>"),
        pn.pane.Alert(html.escape(reason), alert_type="danger", css_classes=["hm-refused"]),
        sizing_mode="stretch_width", max_width=760)
